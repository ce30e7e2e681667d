"""DiffAugment (Zhao, Liu, Lin, Zhu & Han 2020)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from ganzoo_plugins.transforms import random_cutout, random_translation

import ganzoo
from ganzoo import Augmentation, AugmentPipe, DataSpec

POLICIES = ("color", "translation", "cutout")


def random_color(images: torch.Tensor) -> torch.Tensor:
    """DiffAugment's color: brightness ``+U[-0.5, 0.5]``, saturation ``x U[0, 2]``, contrast ``x U[0.5, 1.5]``."""
    n = images.shape[0]
    shape = (n, 1, 1, 1)
    images = images + (torch.rand(shape, device=images.device, dtype=images.dtype) - 0.5)
    mean = images.mean(dim=1, keepdim=True)
    images = (images - mean) * (torch.rand(shape, device=images.device, dtype=images.dtype) * 2) + mean
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    return (images - mean) * (torch.rand(shape, device=images.device, dtype=images.dtype) + 0.5) + mean


class _DiffAugmentPipe(AugmentPipe):
    def __init__(self, policy: tuple[str, ...], translation: float, cutout: float) -> None:
        super().__init__()
        self.policy, self.translation, self.cutout = policy, translation, cutout

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        for name in self.policy:
            if name == "color":
                images = random_color(images)
            elif name == "translation":
                images = random_translation(images, self.translation)
            else:
                images = random_cutout(images, self.cutout)
        return images


class DiffAugment(Augmentation):
    """DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training").

    The same random, differentiable transforms of every batch D sees, real
    and fake, in both networks' updates, applied every time (no probability):
    ``color`` (brightness, saturation, contrast), ``translation`` (up to 1/8
    of the image, zero-filled) and ``cutout`` (a zero square of half the
    image's side), in the order of ``policy``; ranges and order as the
    authors' reference code (github.com/mit-han-lab/data-efficient-gans),
    whose CIFAR-10 policy is all three.
    """

    name = "diffaugment"
    description = "DiffAugment: color, translation, cutout on everything D sees (Zhao et al. 2020)."
    options = {"policy": POLICIES, "translation": 0.125, "cutout": 0.5}

    def build(self, spec: DataSpec, **options: Any) -> AugmentPipe:
        """The pipe; GanzooError for vector data or an unknown policy."""
        if not spec.is_image:
            raise ganzoo.GanzooError(f"--augment diffaugment transforms images; this dataset's samples have shape "
                                     f"{spec.shape}")
        policy = tuple(options["policy"])
        unknown = [name for name in policy if name not in POLICIES]
        if unknown or not policy:
            raise ganzoo.unknown_choice("--augment diffaugment policy", unknown[0] if unknown else "", POLICIES)
        return _DiffAugmentPipe(policy, float(options["translation"]), float(options["cutout"]))


@ganzoo.hookimpl
def register_augmentations(register: Callable[[Augmentation], None]) -> None:
    """Register ``diffaugment``."""
    register(DiffAugment())
