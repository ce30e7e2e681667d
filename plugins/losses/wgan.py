"""The original Wasserstein GAN, with weight clipping."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

import ganzoo
from ganzoo import Loss


class WassersteinClippedLoss(Loss):
    """WGAN (Arjovsky, Chintala & Bottou, 2017, "Wasserstein GAN"), Algorithm 1.

    The critic maximises ``E[D(real)] - E[D(fake)]`` and is kept in a compact
    set of weights, and so Lipschitz, by clipping every one of its parameters
    to ``[-clip, clip]`` after each of its updates. The defaults are the
    paper's and its reference code's (github.com/martinarjovsky/WassersteinGAN):
    clip 0.01, 5 critic steps per generator step, RMSprop with learning rate
    5e-5 for both networks. Unlike WGAN-GP, batch norm in the critic is
    allowed (the paper's DCGAN critic has it). The reference code's extra
    critic steps early in training (100 per G step for the first 25 G steps
    and every 500th) are not reproduced: ``n_critic`` is constant here.

    Attributes:
        clip: the clipping bound ``c``.
    """

    name = "wgan"
    description = "Wasserstein loss with weight clipping (WGAN; Arjovsky et al. 2017)."
    defaults = {"n_critic": 5, "lr_g": 5e-5, "lr_d": 5e-5, "optimizer": "rmsprop"}

    def __init__(self, clip: float = 0.01) -> None:
        self.clip = clip

    def discriminator_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        """The negated Wasserstein estimate, ``mean(fake_logits) - mean(real_logits)``."""
        return fake_logits.mean() - real_logits.mean()

    def generator_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        """``-mean(fake_logits)``."""
        return -fake_logits.mean()

    def after_discriminator_step(self, discriminator: nn.Module) -> None:
        """Clip every critic parameter to ``[-clip, clip]`` (batch-norm scales and shifts too, as the reference)."""
        for parameter in discriminator.parameters():
            parameter.clamp_(-self.clip, self.clip)


@ganzoo.hookimpl
def register_losses(register: Callable[[Loss], None]) -> None:
    """Register ``wgan``."""
    register(WassersteinClippedLoss())
