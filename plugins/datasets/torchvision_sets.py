"""MNIST and CIFAR-10, read through torchvision and held in memory.

``mnist`` reads torchvision's layout, ``ROOT/MNIST/raw/*-ubyte``. ``cifar10``
reads, in this order:

1. an image-folder copy ``ROOT/cifar10/{train,test}/<class>/*.{png,jpg,jpeg}``
   (the class folders are CIFAR-10's ten class names; labels follow
   torchvision's class order). Decoding 50,000 small images takes seconds, so
   the decoded tensor is cached as a safetensors file in ``$GANZOO_CACHE``
   (default ``~/.cache/ganzoo``, see :func:`cache_dir`), never in the data root, which may be
   read-only. The cache key is the folder's resolved path, its file count and
   its newest mtime, so editing the folder invalidates it.
2. torchvision's ``CIFAR10`` (the official python archive,
   ``ROOT/cifar-10-batches-py``), downloaded when allowed.

Missing data is a :class:`ganzoo.GanzooError` naming the directory to fill.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import tarfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.torch
import torch
from PIL import Image

import ganzoo
from ganzoo import DataSpec, GanzooError, InMemoryDataset, atomic_path, cache_root

#: CIFAR-10's classes in torchvision's (the official) label order.
CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip
MNIST_FILES: tuple[str, ...] = (
    "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
)  # fmt: skip
CIFAR10_FOLDER_EXTENSIONS: tuple[str, ...] = (".jpeg", ".jpg", ".png")

_ROOT_HINT = "or choose another data root with --data-root or the GANZOO_DATA environment variable"
# torchvision's downloader opens URLs without a timeout: on a network that
# drops packets (rather than failing DNS) it would wait forever.
_DOWNLOAD_TIMEOUT_S = 30.0
_CACHE_VERSION = 1


class MNIST(ganzoo.Dataset):
    """LeCun et al.'s handwritten digits: 60,000 train / 10,000 test, 1x28x28."""

    name = "mnist"
    description = "MNIST handwritten digits, 1x28x28, 10 classes (torchvision)"
    spec = DataSpec((1, 28, 28), 10, tuple(str(digit) for digit in range(10)))

    def load(self, root: str, train: bool = True, download: bool = True, **_: Any) -> InMemoryDataset:
        root_path = Path(root).expanduser()
        raw_dir = (root_path / "MNIST" / "raw").absolute()
        dataset = _via_torchvision(
            lambda: _torchvision_datasets().MNIST(str(root_path), train=train, download=download),
            download,
            created=raw_dir,
            missing=f"MNIST is missing: put {', '.join(MNIST_FILES)} (uncompressed) in {raw_dir}/",
        )
        return InMemoryDataset(dataset.data.unsqueeze(1), dataset.targets)


class CIFAR10(ganzoo.Dataset):
    """Krizhevsky's 32x32 colour images: 50,000 train / 10,000 test, 10 classes."""

    name = "cifar10"
    description = "CIFAR-10, 3x32x32, 10 classes (image-folder copy or torchvision)"
    spec = DataSpec((3, 32, 32), 10, CIFAR10_CLASSES)

    def load(self, root: str, train: bool = True, download: bool = True, **_: Any) -> InMemoryDataset:
        root_path = Path(root).expanduser()
        split = "train" if train else "test"
        folder = root_path / "cifar10" / split
        if folder.is_dir():
            return load_cifar10_folder(folder)
        dataset = _via_torchvision(
            lambda: _torchvision_datasets().CIFAR10(str(root_path), train=train, download=download),
            download,
            created=root_path.absolute(),
            missing=(
                f"CIFAR-10 ({split} split) is missing: put an image-folder copy in "
                f"{folder.absolute()}/<class>/ (classes {', '.join(CIFAR10_CLASSES)}) or the official "
                f"python archive's cifar-10-batches-py/ in {root_path.absolute()}/"
            ),
        )
        images = torch.from_numpy(dataset.data).permute(0, 3, 1, 2).contiguous()
        return InMemoryDataset(images, torch.tensor(dataset.targets))


# --- torchvision downloads ---------------------------------------------------


def _via_torchvision(make: Callable[[], Any], download: bool, created: Path, missing: str) -> Any:
    """Run a torchvision dataset constructor, turning missing data into a GanzooError.

    ``created`` is the deepest directory torchvision makes while downloading;
    those of its directories that did not exist before are removed again when
    the download fails and they are still empty.
    """
    new_dirs = [path for path in (created, *created.parents) if not path.exists()]
    try:
        with _socket_timeout(_DOWNLOAD_TIMEOUT_S):
            return make()
    except (RuntimeError, OSError, EOFError, tarfile.TarError) as error:
        for path in new_dirs:  # deepest first
            with contextlib.suppress(OSError):
                path.rmdir()
        why = f"download failed: {_short_reason(error)}" if download else "downloading is off: --no-download"
        raise GanzooError(f"{missing} {_ROOT_HINT} ({why})") from error


@contextlib.contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    """Give sockets a default timeout for the duration, unless one is already set."""
    previous = socket.getdefaulttimeout()
    if previous is None:
        socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def _short_reason(error: BaseException) -> str:
    """The most specific single line of a (possibly chained, multi-line) exception."""
    while error.__cause__ is not None or error.__context__ is not None:
        error = error.__cause__ or error.__context__
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    reason = lines[-1] if lines else type(error).__name__
    return reason if len(reason) <= 160 else reason[:157] + "..."


# --- the CIFAR-10 image-folder copy -----------------------------------------


def load_cifar10_folder(directory: Path) -> InMemoryDataset:
    """Decode (or fetch from the cache) a CIFAR-10 image-folder split.

    Args:
        directory: ``.../cifar10/train`` or ``.../cifar10/test``, holding one
            folder per CIFAR-10 class.
    """
    files, labels, newest_mtime = _cifar10_files(directory)
    key = f"{_CACHE_VERSION}|{directory.resolve()}|{len(files)}|{newest_mtime}"
    cache_file = cache_dir() / f"cifar10-{directory.name}-{hashlib.sha256(key.encode()).hexdigest()[:20]}.safetensors"
    cached = _read_cache(cache_file, len(files))
    if cached is not None:
        return InMemoryDataset(cached, labels)
    images = _decode_images(files)
    _write_cache(cache_file, {"images": images, "labels": labels})
    return InMemoryDataset(images, labels)


def _cifar10_files(directory: Path) -> tuple[list[str], torch.Tensor, int]:
    """The split's image paths, their labels and the newest mtime (ns) among them and their folders.

    ``os.scandir`` keeps this to a fraction of a second for 50,000 files,
    which is what a cached load costs.
    """
    found = sorted(entry.name for entry in os.scandir(directory) if entry.is_dir() and not entry.name.startswith("."))
    if found != sorted(CIFAR10_CLASSES):
        raise GanzooError(
            f"{directory.resolve()} must hold exactly the CIFAR-10 class folders "
            f"{', '.join(CIFAR10_CLASSES)}; found {', '.join(found) or 'none'}"
        )
    files: list[str] = []
    labels: list[int] = []
    # Folder mtimes catch a rename or a delete-plus-add that keeps the count.
    newest = directory.stat().st_mtime_ns
    for label, name in enumerate(CIFAR10_CLASSES):
        with os.scandir(directory / name) as entries:
            images = sorted(
                (entry for entry in entries if entry.name.lower().endswith(CIFAR10_FOLDER_EXTENSIONS)),
                key=lambda entry: entry.name,
            )
        if not images:
            raise GanzooError(
                f"no images in {(directory / name).resolve()}/ (accepted: {', '.join(CIFAR10_FOLDER_EXTENSIONS)})"
            )
        newest = max(newest, (directory / name).stat().st_mtime_ns, *(entry.stat().st_mtime_ns for entry in images))
        files += [entry.path for entry in images]
        labels += [label] * len(images)
    return files, torch.tensor(labels, dtype=torch.long), newest


def _decode_images(files: list[str]) -> torch.Tensor:
    """All ``files`` as one ``(N, 3, 32, 32)`` uint8 tensor.

    JPEGs are decoded in one batched torchvision call, the fastest way
    measured on a 2-core CPU: about 2 s for the 50,000 train images plus 1 s
    to read them, where PIL took 8 s and a thread pool was no faster. PIL
    decodes everything else, and any batch torchvision rejects, file by file.
    """
    images: list[torch.Tensor | None] = [None] * len(files)
    jpegs = [i for i, path in enumerate(files) if path.lower().endswith((".jpg", ".jpeg"))]
    decoder = _jpeg_decoder()
    if jpegs and decoder is not None:
        decode_jpeg, ImageReadMode = decoder
        data = [torch.frombuffer(bytearray(Path(files[i]).read_bytes()), dtype=torch.uint8) for i in jpegs]
        with warnings.catch_warnings(), contextlib.suppress(RuntimeError):  # a bad file: PIL names it below
            warnings.simplefilter("ignore", DeprecationWarning)  # torchvision 0.29 points to torchcodec
            for i, image in zip(jpegs, decode_jpeg(data, mode=ImageReadMode.RGB)):
                images[i] = image
    for i, image in enumerate(ganzoo.track(images, f"decoding {len(files):,} images")):
        if image is None:
            images[i] = image = _decode_with_pil(files[i])
        if image.shape != (3, 32, 32):
            raise GanzooError(f"{files[i]} is {tuple(image.shape[1:])} pixels; CIFAR-10 images are 32x32")
    return torch.stack(images)


def _torchvision_datasets():
    # Imported on use: registering plugins must stay cheap (torchvision costs ~1 s to import).
    import torchvision.datasets

    return torchvision.datasets


def _jpeg_decoder():
    try:  # deprecated in torchvision 0.29 (for torchcodec) but by far the fastest
        from torchvision.io import ImageReadMode, decode_jpeg
    except ImportError:  # pragma: no cover - a future torchvision: PIL decodes all
        return None
    return decode_jpeg, ImageReadMode


def _decode_with_pil(path: str) -> torch.Tensor:
    try:
        with Image.open(path) as image:
            pixels = np.array(image.convert("RGB"))
    except (OSError, ValueError) as error:
        raise GanzooError(f"cannot decode image {path}: {_short_reason(error)}") from error
    return torch.from_numpy(pixels).permute(2, 0, 1)


def cache_dir() -> Path:
    """Where decoded datasets are cached: ``$GANZOO_CACHE/datasets``.

    Without ``GANZOO_CACHE``: ``$XDG_CACHE_HOME/ganzoo/datasets``, else
    ``~/.cache/ganzoo/datasets``.
    """
    return cache_root() / "datasets"


def _read_cache(path: Path, count: int) -> torch.Tensor | None:
    """The cached images, or None when absent or unusable (it is then rewritten)."""
    try:
        images = safetensors.torch.load_file(str(path))["images"]
    except (OSError, KeyError, RuntimeError, ValueError, safetensors.SafetensorError):
        return None
    if images.dtype != torch.uint8 or tuple(images.shape) != (count, 3, 32, 32):
        return None
    return images


def _write_cache(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    """Write atomically (a temp file, then a rename) so readers never see half a file."""
    try:
        with atomic_path(path) as temp:
            safetensors.torch.save_file(tensors, str(temp))
    except OSError as error:  # an unwritable cache only costs speed
        warnings.warn(f"ganzoo: could not cache decoded images in {path.parent}: {error}", stacklevel=3)


@ganzoo.hookimpl
def register_datasets(register):
    register(MNIST())
    register(CIFAR10())
