"""Pack the embedded ``mnist-mini`` dataset from torchvision's MNIST files.

    python tools/pack_mnist_mini.py --mnist-root ../shared/data

Takes the first 500 digits of each class from MNIST's training file and the
first 100 of each class from its test file (file order, so the selection is
reproducible from the official files) and writes, per split, the labels then
the 28x28 uint8 images, unchanged, as one xz-compressed file under
``plugins/datasets/data/``. See docs/user-guide.md (Data) for provenance and licence.
"""

from __future__ import annotations

import argparse
import lzma
from pathlib import Path

import numpy as np

SPLITS = {"train": ("train", 500), "test": ("t10k", 100)}
OUT_DIR = Path(__file__).resolve().parents[1] / "plugins" / "datasets" / "data"


def _read_idx(path: Path, offset: int) -> np.ndarray:
    return np.frombuffer(path.read_bytes(), np.uint8, offset=offset)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mnist-root", required=True, help="a directory holding MNIST/raw/*-ubyte")
    args = parser.parse_args()
    raw = Path(args.mnist_root) / "MNIST" / "raw"
    for split, (prefix, per_class) in SPLITS.items():
        images = _read_idx(raw / f"{prefix}-images-idx3-ubyte", 16).reshape(-1, 28 * 28)
        labels = _read_idx(raw / f"{prefix}-labels-idx1-ubyte", 8)
        chosen = np.concatenate([np.flatnonzero(labels == digit)[:per_class] for digit in range(10)])
        chosen.sort()  # keep MNIST's own order rather than grouping by class
        payload = labels[chosen].tobytes() + images[chosen].tobytes()
        target = OUT_DIR / f"mnist_mini_{split}.xz"
        target.write_bytes(lzma.compress(payload, preset=9 | lzma.PRESET_EXTREME))
        print(f"{target}: {len(chosen)} digits, {target.stat().st_size / 1e3:.0f} kB")


if __name__ == "__main__":
    main()
