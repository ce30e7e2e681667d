"""The hinge GAN loss."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

import ganzoo
from ganzoo import Loss


class HingeLoss(Loss):
    """The hinge GAN loss.

    Lim & Ye, 2017, "Geometric GAN"; Miyato et al., 2018, "Spectral
    Normalization for Generative Adversarial Networks". D is a soft-margin
    classifier with margin 1 on each side; G maximises the critic's raw
    output on its samples.
    """

    name = "hinge"
    description = "Hinge loss (Geometric GAN; Lim & Ye 2017, Miyato et al. 2018)."

    def discriminator_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        """``mean(relu(1 - real_logits)) + mean(relu(1 + fake_logits))``."""
        return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()

    def generator_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        """``-mean(fake_logits)``."""
        return -fake_logits.mean()


@ganzoo.hookimpl
def register_losses(register: Callable[[Loss], None]) -> None:
    """Register ``hinge``."""
    register(HingeLoss())
