"""Wasserstein GAN with gradient penalty."""

from __future__ import annotations

from collections.abc import Callable

import torch

import ganzoo
from ganzoo import Loss


class WassersteinGPLoss(Loss):
    """WGAN-GP (Gulrajani et al., 2017, "Improved Training of Wasserstein GANs").

    The critic estimates the Wasserstein-1 distance ``E[D(real)] - E[D(fake)]``
    and is kept close to 1-Lipschitz by the ``gp`` regularizer, its default:
    ``10 * mean((||grad D(x_hat)|| - 1)^2)`` on random real/fake interpolates
    (Algorithm 1). ``--reg`` replaces it (``--reg gp:weight=5``, ``--reg
    r1:gamma=1``) and ``--reg none`` drops it. The other defaults are the
    paper's: 5 critic steps per generator step, Adam with lr 1e-4 and betas
    (0, 0.9), and no batch norm in the critic, since it couples the samples
    whose per-sample gradients are penalised.
    """

    name = "wgan-gp"
    description = "Wasserstein loss with gradient penalty (WGAN-GP; Gulrajani et al. 2017)."
    defaults = {
        "n_critic": 5,
        "lr_g": 1e-4,
        "lr_d": 1e-4,
        "betas": (0.0, 0.9),
        "architecture_options": {"discriminator_batch_norm": False},
        "regularizers": ("gp",),
    }

    def discriminator_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        """The negated Wasserstein estimate, ``mean(fake_logits) - mean(real_logits)``.

        Args:
            real_logits: the critic's outputs on real samples, shape ``(N,)``.
            fake_logits: the critic's outputs on generated samples, shape ``(M,)``.

        Returns:
            The scalar loss to minimise.
        """
        return fake_logits.mean() - real_logits.mean()

    def generator_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        """``-mean(fake_logits)``.

        Args:
            fake_logits: the critic's outputs on generated samples, shape ``(N,)``.

        Returns:
            The scalar loss to minimise.
        """
        return -fake_logits.mean()


@ganzoo.hookimpl
def register_losses(register: Callable[[Loss], None]) -> None:
    """Register ``wgan-gp``."""
    register(WassersteinGPLoss())
