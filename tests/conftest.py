"""Shared fixtures: the data on disk (real, or the embedded digits in MNIST's layout), and the CLI.

``data_root`` is the real MNIST / CIFAR-10 copy beside the repository
(``../shared/data``, or ``$GANZOO_TEST_DATA``). On a fresh clone without it,
``data_root`` is a session directory holding the embedded ``mnist-mini``
digits (5,000 train / 1,000 test) written as MNIST's four idx files, so every
test that needs real labelled digits, not all 70,000 of them, still runs.
``full_data_root`` is for the few tests that need the full sets by nature
(an accuracy only 60,000 training digits reach, CIFAR-10's images); it skips
without them.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def real_data_root() -> Path | None:
    """The real data directory, or None when it is not on this machine."""
    root = Path(os.environ.get("GANZOO_TEST_DATA", SHARED_DATA))
    return root if (root / "MNIST" / "raw").is_dir() else None


@pytest.fixture(scope="session")
def data_root(tmp_path_factory) -> Path:
    """Real MNIST (and CIFAR-10) where present, else the embedded digits in MNIST's layout."""
    return real_data_root() or write_mnist_layout(tmp_path_factory.mktemp("embedded-mnist"))


@pytest.fixture(scope="session")
def full_data_root() -> Path:
    """The real full MNIST and CIFAR-10 copy; skips where only the embedded digits exist."""
    root = real_data_root()
    if root is None:
        pytest.skip("needs the full MNIST / CIFAR-10 copy (../shared/data or $GANZOO_TEST_DATA)")
    return root


def write_mnist_layout(root: Path) -> Path:
    """``root`` with ``MNIST/raw/*-ubyte`` files holding the ``mnist-mini`` digits (idx format, big-endian)."""
    from ganzoo.registry import load_registry

    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    mini = load_registry().dataset("mnist-mini")
    for split, train in (("train", True), ("t10k", False)):
        data = mini.load(str(root), train=train)
        images = data.samples.numpy().astype(np.uint8).reshape(len(data), 28, 28)
        labels = np.asarray(data.labels, dtype=np.uint8)
        header = np.array([2051, len(images), 28, 28], dtype=">i4").tobytes()
        (raw / f"{split}-images-idx3-ubyte").write_bytes(header + images.tobytes())
        (raw / f"{split}-labels-idx1-ubyte").write_bytes(np.array([2049, len(labels)], dtype=">i4").tobytes()
                                                        + labels.tobytes())
    return root


CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


@pytest.fixture(scope="session")
def colour_data(data_root, tmp_path_factory) -> list[str]:
    """``ganzoo run`` options for labelled 32 px colour images with CIFAR-10's classes.

    Real CIFAR-10 where present; else a ``folder`` dataset of random images in
    CIFAR-10's class folders (4 per class and split), for tests of what a
    colour conditional model does, not of what it learns.
    """
    if (data_root / "cifar10" / "test").is_dir():
        return ["--data", "cifar10", "--data-root", str(data_root)]
    from PIL import Image

    root = tmp_path_factory.mktemp("colour-folder")
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for name in CIFAR10_CLASSES:
            folder = root / split / name
            folder.mkdir(parents=True)
            for index in range(4):
                Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(folder / f"{index}.png")
    return ["--data", "folder", "--data-root", str(root), "--data-option", "size=32"]


def split_size(data_root: Path, train: bool, name: str = "mnist") -> int:
    """How many samples a split of ``name`` under ``data_root`` holds (60,000 / 10,000 for real MNIST)."""
    from ganzoo.registry import load_registry

    return len(load_registry().dataset(name).load(str(data_root), train=train, download=False))


@pytest.fixture(scope="session")
def conditional_run(tmp_path_factory, data_root):
    """A tiny class-conditional MLP (``cmlp``) trained for one step on MNIST: a conditional generator to sample."""
    from tests.helpers import invoke

    out = tmp_path_factory.mktemp("cmlp") / "run"
    result = invoke("run", "--arch", "cmlp", "--loss", "bce", "--data", "mnist", "--data-root", data_root, "--steps", 1,
                    "--batch-size", 8, "--arch-option", "generator_widths=16", "--arch-option",
                    "discriminator_widths=16", "--out", out)
    assert result.exit_code == 0, result.output
    return out
