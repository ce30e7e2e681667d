"""f-divergence style GAN losses: non-saturating, minimax and least-squares.

All of them are computed from raw logits, never from probabilities: with
``softplus(x) = log(1 + e^x)``, ``-log(sigmoid(x)) = softplus(-x)`` and
``-log(1 - sigmoid(x)) = softplus(x)``, which stay finite for any logit.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

import ganzoo
from ganzoo import Loss


class _LogisticLoss(Loss):
    """The shared discriminator of the Goodfellow et al. (2014) losses.

    D is a logistic classifier of real (label 1) against fake (label 0), so it
    minimises the binary cross-entropy ``-log D(x) - log(1 - D(G(z)))``.
    Subclasses choose only the generator's objective.
    """

    def discriminator_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        """Binary cross-entropy of real logits against 1 and fake logits against 0:
        ``mean(softplus(-real_logits)) + mean(softplus(fake_logits))``."""
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


class NonSaturatingLoss(_LogisticLoss):
    """The non-saturating GAN loss.

    Goodfellow et al., 2014, "Generative Adversarial Nets", Sec. 3. The
    generator maximises ``log D(G(z))`` instead of minimising
    ``log(1 - D(G(z)))``: same fixed point, but strong gradients early in
    training when D confidently rejects the samples.
    """

    name = "bce"
    description = "Non-saturating GAN loss (binary cross-entropy; Goodfellow et al. 2014)."

    def generator_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        """``-mean(log sigmoid(fake_logits))``, i.e. ``mean(softplus(-fake_logits))``."""
        return F.softplus(-fake_logits).mean()


class MinimaxLoss(_LogisticLoss):
    """The original saturating minimax GAN loss.

    Goodfellow et al., 2014, "Generative Adversarial Nets", Eq. 1. The
    generator minimises ``log(1 - D(G(z)))`` directly. Its gradient vanishes
    when D rejects the samples, which is why the paper recommends the
    non-saturating form (``bce``) in practice; kept for comparison.
    """

    name = "minimax"
    description = "Original saturating minimax GAN loss (Goodfellow et al. 2014)."

    def generator_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        """``mean(log(1 - sigmoid(fake_logits)))``, i.e. ``-mean(softplus(fake_logits))``."""
        return -F.softplus(fake_logits).mean()


class LeastSquaresLoss(Loss):
    """Least-squares GAN loss (Mao et al., 2017, "Least Squares Generative Adversarial Networks").

    Uses the paper's 0-1 coding ``a = 0, b = 1, c = 1`` (Eq. 9): D regresses
    real logits to 1 and fake logits to 0, G pushes fake logits to 1.
    """

    name = "mse"
    description = "Least-squares GAN loss (LSGAN; Mao et al. 2017)."

    def discriminator_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        """``0.5 * mean((real_logits - 1)^2) + 0.5 * mean(fake_logits^2)``."""
        return 0.5 * (real_logits - 1).pow(2).mean() + 0.5 * fake_logits.pow(2).mean()

    def generator_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        """``0.5 * mean((fake_logits - 1)^2)``."""
        return 0.5 * (fake_logits - 1).pow(2).mean()


@ganzoo.hookimpl
def register_losses(register: Callable[[Loss], None]) -> None:
    """Register ``bce``, ``minimax`` and ``mse``."""
    register(NonSaturatingLoss())
    register(MinimaxLoss())
    register(LeastSquaresLoss())
