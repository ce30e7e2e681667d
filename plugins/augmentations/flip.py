"""Plain horizontal flips of the real data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from ganzoo_plugins.transforms import random_flip

import ganzoo
from ganzoo import Augmentation, AugmentPipe, DataSpec


class _FlipPipe(AugmentPipe):
    def __init__(self, probability: float) -> None:
        super().__init__()
        self.probability = probability

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return random_flip(images, self.probability)


class Flip(Augmentation):
    """Horizontal flips of the real batch, a dataset augmentation (StyleGAN2's ``--mirror``, Karras et al. 2020).

    Each real image is mirrored left-right with ``probability`` 0.5; fakes
    are not flipped, since flipped real images are real images (for data
    whose mirror image is as natural as the original: not digits or text).
    """

    name = "flip"
    description = "x-flips of the real data with probability 0.5 (dataset augmentation, as StyleGAN2's --mirror 2020)."
    options = {"probability": 0.5}
    real_only = True

    def build(self, spec: DataSpec, **options: Any) -> AugmentPipe:
        """The pipe; GanzooError for vector data or a probability outside [0, 1]."""
        if not spec.is_image:
            raise ganzoo.GanzooError(f"--augment flip mirrors images; this dataset's samples have shape {spec.shape}")
        probability = float(options["probability"])
        if not 0 <= probability <= 1:
            raise ganzoo.GanzooError(f"--augment flip: probability must lie in [0, 1], got {probability}")
        return _FlipPipe(probability)


@ganzoo.hookimpl
def register_augmentations(register: Callable[[Augmentation], None]) -> None:
    """Register ``flip``."""
    register(Flip())
