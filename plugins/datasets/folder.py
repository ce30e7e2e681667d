"""The ``folder`` dataset: any directory of images, one sub-folder per class.

Layout (the same as torchvision's ``ImageFolder``)::

    ROOT/<class>/**/*.png|jpg|...        one split, used for train and test
    ROOT/train/<class>/...  ROOT/test/<class>/...   separate splits

``ROOT`` is the data root itself (``--data-root``). Class labels are the
sorted names of the train split's sub-folders; a sub-folder without images
is not a class. Images are decoded one item at a time, since a folder can be
far larger than memory, and resized like the DCGAN/ImageNet recipes do: the
shorter side to ``size``, then a centre crop to ``size`` x ``size``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from PIL import Image

import ganzoo
from ganzoo import DataSpec, GanzooError

#: File extensions (lower case) the folder dataset reads.
IMAGE_EXTENSIONS: tuple[str, ...] = (".bmp", ".gif", ".jpeg", ".jpg", ".png", ".webp")

_CHANNEL_MODES = {1: "L", 3: "RGB"}


def list_images(directory: Path, extensions: tuple[str, ...] = IMAGE_EXTENSIONS) -> list[Path]:
    """All image files under ``directory`` (recursively, hidden entries skipped), sorted."""
    return sorted(
        path
        for path in directory.rglob("*")
        if path.suffix.lower() in extensions
        and path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(directory).parts)
    )


class FolderImages(torch.utils.data.Dataset):
    """Image files decoded lazily: items are ``(float (C, size, size) in [-1, 1], label)``.

    Args:
        files: the image paths.
        labels: one class index per file.
        size: the side of the square output.
        channels: 3 for RGB, 1 for grayscale.
    """

    def __init__(self, files: list[Path], labels: list[int], size: int, channels: int) -> None:
        self.files = files
        self.labels = torch.tensor(labels, dtype=torch.long)
        self.size = size
        self.channels = channels

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        with Image.open(self.files[index]) as image:
            image = image.convert(_CHANNEL_MODES[self.channels])
        import torchvision.transforms.v2.functional as TF  # on use: keeps plugin loading cheap

        pixels = TF.pil_to_tensor(image)
        pixels = TF.resize(pixels, [self.size], antialias=True)  # shorter side -> size
        pixels = TF.center_crop(pixels, [self.size, self.size])
        return pixels.float().div_(127.5).sub_(1.0), int(self.labels[index])


class ImageFolderDataset(ganzoo.Dataset):
    """Images in class sub-folders of the data root, resized to a square."""

    name = "folder"
    description = "your own images: one sub-folder per class under --data-root (optional train/ and test/)"
    # The real spec depends on the folder: the trainer calls spec_for().
    spec = DataSpec((3, 64, 64), 0)
    options = {"size": 64, "channels": 3}

    def spec_for(self, root: str, size: int = 64, channels: int = 3, **_: Any) -> DataSpec:
        size, channels = _check_options(size, channels)
        class_names = tuple(_class_files(_split_dir(Path(root), train=True)))
        return DataSpec((channels, size, size), len(class_names), class_names)

    def load(
        self, root: str, train: bool = True, download: bool = True, size: int = 64, channels: int = 3, **_: Any
    ) -> FolderImages:
        size, channels = _check_options(size, channels)
        train_dir, directory = _split_dir(Path(root), True), _split_dir(Path(root), train)
        train_files = _class_files(train_dir)
        split_files = train_files if directory == train_dir else _class_files(directory)
        index = {name: label for label, name in enumerate(train_files)}
        files: list[Path] = []
        labels: list[int] = []
        for name, class_files in split_files.items():
            if name not in index:
                raise GanzooError(
                    f"class folder '{name}' in {directory.resolve()} is not a class of the train split "
                    f"{train_dir.resolve()} (classes: {', '.join(index)})"
                )
            files += class_files
            labels += [index[name]] * len(class_files)
        return FolderImages(files, labels, size, channels)


def _check_options(size: Any, channels: Any) -> tuple[int, int]:
    try:
        size_int, channels_int = int(size), int(channels)
    except (TypeError, ValueError):
        raise GanzooError(f"folder dataset: size and channels must be integers, got size={size!r} channels={channels!r}") from None
    if isinstance(size, bool) or str(size_int) != str(size).strip() or size_int < 1:
        raise GanzooError(f"folder dataset: size must be a positive integer, got {size!r}")
    if isinstance(channels, bool) or channels_int not in _CHANNEL_MODES:
        raise GanzooError(f"folder dataset: channels must be 3 (RGB) or 1 (grayscale), got {channels!r}")
    return size_int, channels_int


def _split_dir(root: Path, train: bool) -> Path:
    """``root/train`` or ``root/test`` when that split exists, else ``root``."""
    if not root.is_dir():
        raise GanzooError(
            f"image folder {root.resolve()} does not exist: set --data-root (or GANZOO_DATA) "
            "to a directory with one sub-folder of images per class"
        )
    split = root / ("train" if train else "test")
    return split if split.is_dir() else root


def _class_files(directory: Path) -> dict[str, list[Path]]:
    """Class name -> its image files, for the non-hidden sub-folders that hold images."""
    found = {}
    for sub in sorted(directory.iterdir()):
        if sub.is_dir() and not sub.name.startswith("."):
            files = list_images(sub)
            if files:
                found[sub.name] = files
    if not found:
        accepted = ", ".join(IMAGE_EXTENSIONS)
        loose = " (images directly in it must move into a sub-folder, e.g. all/)" if list_images(directory) else ""
        raise GanzooError(
            f"no images in class sub-folders of {directory.resolve()}{loose}: "
            f"put them in {directory.resolve()}/<class>/ with one of the extensions {accepted}"
        )
    return found


@ganzoo.hookimpl
def register_datasets(register):
    register(ImageFolderDataset())
