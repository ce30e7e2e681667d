"""Build the real-data layout ganzoo's tests read, from the standard MNIST and CIFAR-10 downloads.

The layout (``../shared/README.md``; tests find it through ``$GANZOO_TEST_DATA``)::

    DATA_ROOT/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte   the idx files, uncompressed
    DATA_ROOT/cifar10/{train,test}/<class>/NNNN.jpg                      CIFAR-10 as JPEG image folders

Usage::

    python tools/make_test_data.py --mnist DIR --cifar10 cifar-10-python.tar.gz --out DATA_ROOT

``--mnist`` is a directory holding the four MNIST idx files, plain or as the
``.gz`` files torchvision downloads (a torchvision root with ``MNIST/raw/``
inside works too); ``--cifar10`` is the official python archive, whose pickled
batches are read straight from the tar file. Either source may be left out.
The script never touches the network, and each dataset is built in a hidden
folder that is renamed into place only when complete, so an interrupted run
leaves nothing half-written and can simply be run again.
"""

from __future__ import annotations

import argparse
import gzip
import pickle
import shutil
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

MNIST_FILES = {  # name -> (idx magic number, image dimensions after the count)
    "train-images-idx3-ubyte": (0x803, (28, 28)),
    "train-labels-idx1-ubyte": (0x801, ()),
    "t10k-images-idx3-ubyte": (0x803, (28, 28)),
    "t10k-labels-idx1-ubyte": (0x801, ()),
}
CIFAR_TRAIN_BATCHES = tuple(f"data_batch_{index}" for index in range(1, 6))
CIFAR_TEST_BATCH = "test_batch"
CIFAR_META = "batches.meta"
JPEG_QUALITY = 95
MNIST_OUTPUT = Path("MNIST", "raw")  # inside --out
CIFAR_OUTPUT = Path("cifar10")

WHERE_TO_GET_THEM = """\
where to get the files (on a machine with internet access):
  MNIST     train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and
            t10k-labels-idx1-ubyte.gz from torchvision's mirrors, https://ossci-datasets.s3.amazonaws.com/mnist/
            (or http://yann.lecun.com/exdb/mnist/); torchvision.datasets.MNIST(ROOT, download=True) puts
            them in ROOT/MNIST/raw/
  CIFAR-10  https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz (md5 c58f30108f718f92721af3b95e74349a)

then point the tests at the result: GANZOO_TEST_DATA=DATA_ROOT python -m pytest -q
"""


class InputError(Exception):
    """A missing or invalid input: reported as one line and exit code 2."""


class OneLineArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one ``Error:`` line like every other input error."""

    def error(self, message: str):
        raise InputError(f"{message} (see --help)")


def user_path(text: str) -> Path:
    """A path from the command line, with ``~`` expanded even when the shell left it alone."""
    return Path(text).expanduser()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line: the sources, at least one of them, and the output root."""
    parser = OneLineArgumentParser(
        prog="make_test_data.py",
        description="Build ganzoo's test-data layout (MNIST idx files, CIFAR-10 JPEG image folders) "
        "from the standard downloads, without network access.",
        epilog=WHERE_TO_GET_THEM,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--mnist", type=user_path, metavar="DIR", help="holds the four MNIST idx files (.gz or not)")
    parser.add_argument("--cifar10", type=user_path, metavar="TAR_GZ", help="the official cifar-10-python.tar.gz")
    parser.add_argument("--out", type=user_path, required=True, metavar="DATA_ROOT", help="where to write the layout")
    args = parser.parse_args(argv)
    if args.mnist is None and args.cifar10 is None:
        raise InputError("nothing to do: give --mnist DIR, --cifar10 cifar-10-python.tar.gz or both (see --help)")
    return args


# --- MNIST ------------------------------------------------------------------------


def mnist_source_dir(directory: Path) -> Path:
    """The folder that holds the MNIST files: ``directory`` itself or a torchvision root's ``MNIST/raw``."""
    if not directory.is_dir():
        raise InputError(f"--mnist {directory} is not a directory")
    for candidate in (directory, directory / "MNIST" / "raw"):
        if any((candidate / name).is_file() or (candidate / f"{name}.gz").is_file() for name in MNIST_FILES):
            return candidate
    raise InputError(f"no MNIST files in {directory}: expected {', '.join(MNIST_FILES)} (or their .gz)")


def read_mnist_file(directory: Path, name: str) -> bytes:
    """One idx file's bytes, gunzipped when only the ``.gz`` download is there."""
    plain, packed = directory / name, directory / f"{name}.gz"
    try:
        if plain.is_file():
            return plain.read_bytes()
        if packed.is_file():
            return gzip.decompress(packed.read_bytes())
    except (OSError, EOFError) as error:  # gzip.BadGzipFile is an OSError
        raise InputError(f"cannot read {packed}: {error}") from error
    raise InputError(f"MNIST file missing: neither {plain} nor {packed} exists")


def idx_count(data: bytes, name: str) -> int:
    """The item count of an idx file, once its header matches its kind and its length."""
    magic, dims = MNIST_FILES[name]
    header = 4 + 4 * (1 + len(dims))
    if len(data) < header or int.from_bytes(data[:4], "big") != magic:
        raise InputError(f"{name} is not an MNIST idx file (wrong magic number or too short)")
    shape = tuple(int.from_bytes(data[at:at + 4], "big") for at in range(4, header, 4))
    if shape[1:] != dims or len(data) != header + int(np.prod(shape)):
        raise InputError(f"{name} is damaged: its header says {shape} but it holds {len(data) - header} bytes")
    return shape[0]


def load_mnist(directory: Path) -> dict[str, bytes]:
    """All four idx files, checked: right headers, as many labels as images in each split."""
    source = mnist_source_dir(directory)
    files = {name: read_mnist_file(source, name) for name in MNIST_FILES}
    for split in ("train", "t10k"):
        images = idx_count(files[f"{split}-images-idx3-ubyte"], f"{split}-images-idx3-ubyte")
        labels = idx_count(files[f"{split}-labels-idx1-ubyte"], f"{split}-labels-idx1-ubyte")
        if images != labels:
            raise InputError(f"MNIST {split} files disagree: {images} images but {labels} labels")
    return files


def write_mnist(files: dict[str, bytes], folder: Path) -> None:
    """The uncompressed idx files, as torchvision's ``MNIST(root, download=False)`` reads them."""
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)


# --- CIFAR-10 -----------------------------------------------------------------------


class BatchUnpickler(pickle.Unpickler):
    """Unpickles CIFAR-10 batches, refusing any global a batch does not need.

    The archive's format is pickle, and a crafted pickle runs code when loaded;
    a real batch only rebuilds numpy arrays (and, from Python 3 pickles, bytes).
    """

    ALLOWED = frozenset({
        ("numpy", "ndarray"), ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
        ("_codecs", "encode"),
    })  # fmt: skip

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"unexpected global {module}.{name}")
        return super().find_class(module, name)


def unpickle_batch(archive: tarfile.TarFile, member: tarfile.TarInfo, tar_path: Path) -> dict:
    """One pickled batch, as the dict the official format defines (bytes keys)."""
    name = Path(member.name).name
    try:
        batch = BatchUnpickler(archive.extractfile(member), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as error:
        raise InputError(f"cannot unpickle {name} in {tar_path}: {error}") from error
    if not isinstance(batch, dict):
        raise InputError(f"{name} in {tar_path} is not a CIFAR-10 batch (a {type(batch).__name__})")
    return batch


def read_batches(tar_path: Path) -> dict[str, dict]:
    """Every batch of the archive (in any folder inside it), by file name, in one pass over the tar file."""
    wanted = {*CIFAR_TRAIN_BATCHES, CIFAR_TEST_BATCH, CIFAR_META}
    try:
        # One pass in the archive's order: a .tar.gz cannot seek backwards without decompressing again.
        with tarfile.open(tar_path) as archive:
            batches = {Path(member.name).name: unpickle_batch(archive, member, tar_path)
                       for member in archive if member.isfile() and Path(member.name).name in wanted}
    except tarfile.ReadError as error:  # its message lists every compression tried, one per line
        raise InputError(f"cannot read {tar_path}: not a tar archive, or a damaged one") from error
    except (tarfile.TarError, OSError, EOFError) as error:
        raise InputError(f"cannot read {tar_path}: {error}") from error
    missing = sorted(wanted - set(batches))
    if missing:
        raise InputError(f"{tar_path} holds no {', '.join(missing)}: is it cifar-10-python.tar.gz, the python version?")
    return batches


def batch_arrays(batch: dict, name: str, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """A batch's images as N x 32 x 32 x 3 uint8 and its labels, checked against the format."""
    data, labels = batch.get(b"data"), np.asarray(batch.get(b"labels", []))
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2 and data.shape[1] == 3072):
        raise InputError(f"{name} is not a CIFAR-10 batch: b'data' must be a uint8 N x 3072 array")
    if labels.shape != (len(data),) or (labels.size and not 0 <= labels.min() <= labels.max() < num_classes):
        raise InputError(f"{name} is not a CIFAR-10 batch: b'labels' must be {len(data)} labels below {num_classes}")
    # Each row is the red, then the green, then the blue 32 x 32 plane, row-major.
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def load_cifar10(tar_path: Path) -> tuple[list[str], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """The class names and both splits' (images, labels) from the official python archive."""
    if not tar_path.is_file():
        raise InputError(f"--cifar10 {tar_path} does not exist (download cifar-10-python.tar.gz, see --help)")
    batches = read_batches(tar_path)
    labels = batches[CIFAR_META].get(b"label_names")
    if not (isinstance(labels, list) and labels and all(isinstance(label, bytes) for label in labels)):
        raise InputError(f"{CIFAR_META} in {tar_path} has no b'label_names' list")
    names = [label.decode() for label in labels]
    splits = {}
    for split, batch_names in (("train", CIFAR_TRAIN_BATCHES), ("test", (CIFAR_TEST_BATCH,))):
        parts = [batch_arrays(batches[name], name, len(names)) for name in batch_names]
        splits[split] = (np.concatenate([images for images, _ in parts]), np.concatenate([lab for _, lab in parts]))
    return names, splits


def write_cifar_split(images: np.ndarray, labels: np.ndarray, names: list[str], folder: Path) -> None:
    """One split as ``<class>/NNNN.jpg``, numbered per class in the archive's order."""
    for label, name in enumerate(names):
        (folder / name).mkdir(parents=True)
        for index, image in enumerate(images[labels == label]):
            # 4:4:4 keeps full-resolution colour: halving it would smear every 32x32 image.
            Image.fromarray(image).save(folder / name / f"{index:04d}.jpg", quality=JPEG_QUALITY, subsampling=0)


def write_cifar10(names: list[str], splits: dict[str, tuple[np.ndarray, np.ndarray]], folder: Path) -> None:
    """Both splits' image folders under ``folder``."""
    for split, (images, labels) in splits.items():
        write_cifar_split(images, labels, names, folder / split)


# --- writing into place -------------------------------------------------------------


def partial_path(target: Path) -> Path:
    """The hidden folder a dataset is built in before it is renamed to ``target``."""
    return target.with_name(f".{target.name}.partial")


def write_atomically(target: Path, write: Callable[[Path], None]) -> None:
    """Build ``target`` with ``write(folder)`` in a hidden folder, then rename it into place.

    A leftover of an interrupted run is removed first: only a complete
    dataset ever has the final name.
    """
    partial = partial_path(target)
    if partial.exists():
        shutil.rmtree(partial)
    partial.parent.mkdir(parents=True, exist_ok=True)
    try:
        write(partial)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    partial.rename(target)


def check_outputs(args: argparse.Namespace) -> None:
    """Stop before any work when ``--out`` is unusable or an output is already there: never overwrite data."""
    if args.out.exists() and not args.out.is_dir():
        raise InputError(f"--out {args.out} is not a directory")
    for source, output in ((args.mnist, MNIST_OUTPUT), (args.cifar10, CIFAR_OUTPUT)):
        if source is not None and (args.out / output).exists():
            raise InputError(f"{args.out / output} already exists: remove it first to rebuild it")


def main(argv: list[str] | None = None) -> int:
    """Read and check every source given, then write each dataset into place."""
    try:
        args = parse_args(argv)
        check_outputs(args)
        mnist = load_mnist(args.mnist) if args.mnist is not None else None
        cifar = load_cifar10(args.cifar10) if args.cifar10 is not None else None
    except InputError as error:
        print("Error:", " ".join(str(error).split()), file=sys.stderr)
        return 2
    if mnist is not None:
        write_atomically(args.out / MNIST_OUTPUT, lambda folder: write_mnist(mnist, folder))
        print(f"MNIST: {len(mnist)} idx files in {args.out / MNIST_OUTPUT}")
    if cifar is not None:
        write_atomically(args.out / CIFAR_OUTPUT, lambda folder: write_cifar10(*cifar, folder))
        counts = " and ".join(f"{len(labels)} {split}" for split, (_, labels) in cifar[1].items())
        print(f"CIFAR-10: {counts} images in {args.out / CIFAR_OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
