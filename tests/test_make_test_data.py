"""Tests for tools/make_test_data.py: fake official downloads in, the test-data layout out.

The fakes follow the official formats exactly (idx files, gzipped or not; the
CIFAR-10 python archive's pickled batches), only with a few images each.
"""

from __future__ import annotations

import gzip
import io
import pickle
import random
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torchvision

from tests.conftest import REPO

SCRIPT = REPO / "tools" / "make_test_data.py"
CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
TRAIN_PER_CLASS, TEST_PER_CLASS = 3, 2
MNIST_COUNTS = {"train": 6, "t10k": 4}


def make_test_data(*args: str | Path) -> subprocess.CompletedProcess:
    """Run the script as a user would."""
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True, timeout=120)


# --- fake downloads -------------------------------------------------------------------


def idx_bytes(array: np.ndarray) -> bytes:
    """An idx file: magic 0x08 (unsigned bytes) and the rank, then each dimension as a big-endian int32."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(size.to_bytes(4, "big") for size in array.shape)
    return header + array.astype(np.uint8).tobytes()


def fake_mnist(folder: Path) -> dict[str, bytes]:
    """Tiny MNIST files: the train split as torchvision's .gz downloads, the test split already gunzipped."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    files = {}
    for split, count in MNIST_COUNTS.items():
        files[f"{split}-images-idx3-ubyte"] = idx_bytes(rng.integers(0, 256, (count, 28, 28)))
        files[f"{split}-labels-idx1-ubyte"] = idx_bytes(rng.integers(0, 10, count))
    for name, data in files.items():
        if name.startswith("train"):
            (folder / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)
    return files


def smooth_image(label: int, index: int) -> np.ndarray:
    """A 32x32 RGB image with gentle gradients, which JPEG keeps within a few levels."""
    y, x = np.mgrid[0:32, 0:32]
    red = 40 + 4 * x + 3 * index
    green = 30 + 5 * y
    blue = np.full((32, 32), 20 + 20 * label)
    return np.stack([red, green, blue], axis=-1).astype(np.uint8)


def cifar_rows(images: np.ndarray) -> np.ndarray:
    """The official row layout: N x 3072, the red plane, then green, then blue, each row-major."""
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2)).reshape(len(images), 3072)


def add_member(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    """One file of the archive, in its official top folder."""
    info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def fake_split(per_class: int, first_index: int, shuffle) -> tuple[np.ndarray, list[int]]:
    """``per_class`` images of every class in shuffled order, as N x 32 x 32 x 3 images and their labels."""
    labels = [label for label in range(len(CIFAR_CLASSES)) for _ in range(per_class)]
    shuffle(labels)
    seen = [first_index] * len(CIFAR_CLASSES)
    images = []
    for label in labels:
        images.append(smooth_image(label, seen[label]))
        seen[label] += 1
    return np.stack(images), labels


def pickled_batch(name: str, images: np.ndarray, labels: list[int]) -> bytes:
    """A batch as the official archive holds it (Python 2's cPickle, protocol 2): bytes keys, N x 3072 uint8."""
    filenames = [f"{name}_{index}.png".encode() for index in range(len(labels))]
    batch = {b"batch_label": name.encode(), b"labels": labels, b"data": cifar_rows(images), b"filenames": filenames}
    return pickle.dumps(batch, protocol=2)


def fake_cifar10(path: Path, meta: bytes | None = None) -> dict[str, tuple[np.ndarray, list[int]]]:
    """A tiny cifar-10-python.tar.gz; returns each split's images (N x 32 x 32 x 3) and labels in archive order."""
    shuffle = random.Random(0).shuffle
    splits = {"train": fake_split(TRAIN_PER_CLASS, 0, shuffle), "test": fake_split(TEST_PER_CLASS, 10, shuffle)}
    images, labels = splits["train"]
    size = len(labels) // 5
    members = {
        f"data_batch_{batch + 1}": pickled_batch(f"data_batch_{batch + 1}", images[batch * size:(batch + 1) * size],
                                                 labels[batch * size:(batch + 1) * size])
        for batch in range(5)
    }
    members["test_batch"] = pickled_batch("test_batch", *splits["test"])
    members["batches.meta"] = meta or pickle.dumps(
        {b"num_cases_per_batch": 10000, b"label_names": [name.encode() for name in CIFAR_CLASSES], b"num_vis": 3072},
        protocol=2,
    )
    members["readme.html"] = b"<html></html>"
    names = sorted(members)
    shuffle(names)  # the official archive is not in batch order either
    with tarfile.open(path, "w:gz") as archive:
        for name in names:
            add_member(archive, name, members[name])
    return splits


@pytest.fixture(scope="module")
def downloads(tmp_path_factory) -> tuple[Path, dict[str, bytes], Path, dict]:
    """The fake MNIST folder and its files' contents, the fake CIFAR-10 archive and its splits."""
    root = tmp_path_factory.mktemp("downloads")
    mnist_files = fake_mnist(root / "mnist")
    cifar_splits = fake_cifar10(root / "cifar-10-python.tar.gz")
    return root / "mnist", mnist_files, root / "cifar-10-python.tar.gz", cifar_splits


# --- tests ------------------------------------------------------------------------------


def test_builds_the_layout_torchvision_reads(downloads, tmp_path):
    mnist_dir, mnist_files, cifar_tar, cifar_splits = downloads
    out = tmp_path / "data"
    result = make_test_data("--mnist", mnist_dir, "--cifar10", cifar_tar, "--out", out)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert "30 train and 20 test images" in result.stdout

    assert sorted(path.name for path in out.iterdir()) == ["MNIST", "cifar10"]
    assert not [path for path in out.rglob(".*")]  # no build folder left behind
    raw = out / "MNIST" / "raw"
    assert {path.name: path.read_bytes() for path in raw.iterdir()} == mnist_files
    mnist_test = torchvision.datasets.MNIST(str(out), train=False, download=False)
    assert len(mnist_test) == MNIST_COUNTS["t10k"]
    assert mnist_test.data.numpy().tobytes() == mnist_files["t10k-images-idx3-ubyte"][16:]

    for split, per_class in (("train", TRAIN_PER_CLASS), ("test", TEST_PER_CLASS)):
        folder = out / "cifar10" / split
        assert sorted(path.name for path in folder.iterdir()) == sorted(CIFAR_CLASSES)
        for name in CIFAR_CLASSES:
            assert sorted(path.name for path in (folder / name).iterdir()) == [f"{i:04d}.jpg" for i in range(per_class)]
        dataset = torchvision.datasets.ImageFolder(str(folder))
        assert dataset.classes == sorted(CIFAR_CLASSES) and len(dataset) == per_class * len(CIFAR_CLASSES)
        images, labels = cifar_splits[split]
        by_class = {name: images[np.asarray(labels) == label] for label, name in enumerate(CIFAR_CLASSES)}
        for (path, class_index), (pixels, _) in zip(dataset.samples, dataset):
            # NNNN.jpg is its class's NNNN-th image in archive order, within JPEG's error at quality 95.
            expected = by_class[dataset.classes[class_index]][int(Path(path).stem)]
            error = np.abs(np.asarray(pixels, dtype=np.int16) - expected.astype(np.int16))
            assert pixels.size == (32, 32) and error.max() <= 4 and error.mean() < 1, (path, error.max())


def test_an_interrupted_build_is_redone_and_a_finished_one_kept(downloads, tmp_path):
    _, _, cifar_tar, _ = downloads
    out = tmp_path / "data"
    leftover = out / ".cifar10.partial" / "train" / "cat"  # what a killed run leaves behind
    leftover.mkdir(parents=True)
    (leftover / "0000.jpg").write_bytes(b"half")
    result = make_test_data("--cifar10", cifar_tar, "--out", out)
    assert result.returncode == 0, result.stderr
    assert sorted(path.name for path in out.iterdir()) == ["cifar10"]
    assert len(list((out / "cifar10").rglob("*.jpg"))) == 50

    again = make_test_data("--cifar10", cifar_tar, "--out", out)
    assert again.returncode == 2
    assert again.stderr == f"Error: {out / 'cifar10'} already exists: remove it first to rebuild it\n"


HOSTILE_PICKLE = b"cos\nsystem\n(S'touch pwned'\ntR."  # calls os.system when unpickled


def bad_input(case: str, root: Path) -> list[str | Path]:
    """The script's arguments for one kind of bad input, with the files it needs made under ``root``."""
    archive, mnist_dir = root / "cifar-10-python.tar.gz", root / "mnist"
    if case == "no source":
        return []
    if case == "not a tar file":
        archive.write_bytes(b"not a tar file")
    elif case == "hostile pickle":
        fake_cifar10(archive, meta=HOSTILE_PICKLE)
    elif case in ("missing MNIST file", "damaged MNIST file"):
        fake_mnist(mnist_dir)
        labels = mnist_dir / "t10k-labels-idx1-ubyte"
        labels.unlink() if case == "missing MNIST file" else labels.write_bytes(labels.read_bytes()[:-1])
        return ["--mnist", mnist_dir]
    return ["--cifar10", archive]


@pytest.mark.parametrize(("case", "message"), [
    ("no source", "nothing to do"),
    ("missing archive", "does not exist"),
    ("not a tar file", "not a tar archive"),
    ("hostile pickle", "unexpected global os.system"),
    ("missing MNIST file", "MNIST file missing"),
    ("damaged MNIST file", "is damaged"),
])  # fmt: skip
def test_bad_input_is_one_error_line_and_writes_nothing(case, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where the hostile pickle would write
    out = tmp_path / "data"
    result = make_test_data(*bad_input(case, tmp_path), "--out", out)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("Error: ") and result.stderr.endswith("\n"), result.stderr
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    assert not out.exists() and not (tmp_path / "pwned").exists()
