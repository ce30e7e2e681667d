"""``mnist-mini``: 6,000 real MNIST digits shipped inside the package.

The first 500 digits of each class from MNIST's training file (5,000) and the
first 100 of each class from its test file (1,000), in the files' own order,
pixels unchanged (uint8, 1x28x28). Packed by ``tools/pack_mnist_mini.py``
into two xz files of about 0.84 MB together, so ganzoo trains on real images
on a machine with no network and no data directory. MNIST is by Yann LeCun,
Corinna Cortes and Christopher J. C. Burges, distributed under CC BY-SA 3.0;
see docs/user-guide.md (Data).
"""

from __future__ import annotations

import lzma
from importlib import resources
from typing import Any

import numpy as np
import torch

import ganzoo
from ganzoo import DataSpec, InMemoryDataset

_PIXELS = 28 * 28


class MnistMini(ganzoo.Dataset):
    """A class-balanced 6,000-digit subset of MNIST held in the package: 5,000 train / 1,000 test."""

    name = "mnist-mini"
    description = "MNIST subset shipped with ganzoo (500 train / 100 test digits per class), 1x28x28, offline"
    spec = DataSpec((1, 28, 28), 10, tuple(str(digit) for digit in range(10)))

    def load(self, root: str, train: bool = True, download: bool = True, **_: Any) -> InMemoryDataset:
        split = "train" if train else "test"
        packed = resources.files("ganzoo_plugins.datasets").joinpath("data", f"mnist_mini_{split}.xz").read_bytes()
        payload = np.frombuffer(lzma.decompress(packed), np.uint8)
        count = payload.size // (1 + _PIXELS)
        labels = torch.from_numpy(payload[:count].astype(np.int64))
        images = torch.from_numpy(payload[count:].copy()).view(count, 1, 28, 28)
        return InMemoryDataset(images, labels)


@ganzoo.hookimpl
def register_datasets(register):
    register(MnistMini())
