"""Balanced consistency regularization (Zhao et al. 2020)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from ganzoo_plugins.transforms import random_flip, random_translation
from torch import nn

import ganzoo
from ganzoo import CriticBatch, DataSpec, Regularizer


class _ConsistencyTerm(nn.Module):
    def __init__(self, real: float, fake: float, translation: float, flip: bool) -> None:
        super().__init__()
        self.real, self.fake, self.translation, self.flip = real, fake, translation, flip

    def transform(self, images: torch.Tensor) -> torch.Tensor:
        images = random_translation(images, self.translation)
        return random_flip(images) if self.flip else images

    def forward(self, batch: CriticBatch) -> torch.Tensor:
        total = batch.real_logits.new_zeros(())
        for scale, samples, logits in ((self.real, batch.real, batch.real_logits),
                                       (self.fake, batch.fake, batch.fake_logits)):
            if scale:
                transformed = batch.discriminator(self.transform(samples.detach())).reshape(-1).float()
                total = total + scale * (logits.float() - transformed).pow(2).mean()
        return total


class BalancedConsistency(Regularizer):
    """bCR (Zhao, Zhang, Chen, Singh & Zhang 2020, "Improved Consistency Regularization for GANs", Algorithm 1).

    ``weight * (real * mean((D(x) - D(T(x)))^2) + fake * mean((D(G(z)) -
    D(T(G(z))))^2))`` with ``T`` a random translation by up to 1/8 of the image
    each way (4 pixels at 32) and a random horizontal flip, the paper's
    CIFAR-10 transform; weight 10, the paper's lambda_real = lambda_fake = 10.
    ``fake=0`` gives the real-only consistency regularization of Zhang et al.
    (2020, ICLR). ``T`` is applied before D's own input augmentations. Image
    data only.
    """

    name = "cr"
    description = "Balanced consistency regularization: D(x) close to D(flip/translate x) (Zhao et al. 2020)."
    options = {"real": 1.0, "fake": 1.0, "translation": 0.125, "flip": True}
    weight = 10.0
    needs_input_gradients = False

    def build(self, spec: DataSpec, **options: Any) -> nn.Module:
        """The term; GanzooError for vector data, which has no pixels to translate."""
        if not spec.is_image:
            raise ganzoo.GanzooError(f"--reg cr transforms images; this dataset's samples have shape {spec.shape}")
        return _ConsistencyTerm(float(options["real"]), float(options["fake"]), float(options["translation"]),
                                bool(options["flip"]))


@ganzoo.hookimpl
def register_regularizers(register: Callable[[Regularizer], None]) -> None:
    """Register ``cr``."""
    register(BalancedConsistency())
