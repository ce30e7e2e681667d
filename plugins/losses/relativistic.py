"""Relativistic average GAN losses: ``ragan`` and ``rahinge``.

Jolicoeur-Martineau, 2019, "The relativistic discriminator: a key element
missing from standard GAN" (ICLR), section 4.2 and Algorithm 2; the formulas
follow the reference implementation (github.com/AlexiaJM/RelativisticGAN,
``GAN_losses_iter.py``, loss types RaSGAN and RaHingeGAN).

The discriminator judges how much more realistic a real sample is than the
average fake, and the reverse:

    real_rel = C(x_r) - mean(C(x_f)),    fake_rel = C(x_f) - mean(C(x_r)).

The generator's loss is the discriminator's with the two roles swapped, so it
also needs C on real data; these losses set ``generator_needs_real`` and the
trainer passes those logits (detached: the generator's gradient reaches both
terms through the fake logits and their mean).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

import ganzoo
from ganzoo import Loss


def _relative(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(real_logits - mean(fake_logits), fake_logits - mean(real_logits))``."""
    return real_logits - fake_logits.mean(), fake_logits - real_logits.mean()


class RelativisticAverageLoss(Loss):
    """RaSGAN (Jolicoeur-Martineau 2019): the standard GAN loss on relativistic average logits.

    D minimises ``(mean(softplus(-real_rel)) + mean(softplus(fake_rel))) / 2``,
    i.e. ``-(E[log sigmoid(real_rel)] + E[log(1 - sigmoid(fake_rel))]) / 2``;
    G minimises the same with real and fake swapped (the halving is the
    reference code's). The paper trains it with DCGAN's
    Adam settings (lr 2e-4, betas (0.5, 0.999), one D step per G step), which
    are ganzoo's defaults, so it declares no ``defaults``.
    """

    name = "ragan"
    description = "Relativistic average standard GAN loss (RaSGAN; Jolicoeur-Martineau 2019)."
    generator_needs_real = True

    def discriminator_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        """``(mean(softplus(-(r - mean(f)))) + mean(softplus(f - mean(r)))) / 2``."""
        real_rel, fake_rel = _relative(real_logits, fake_logits)
        return (F.softplus(-real_rel).mean() + F.softplus(fake_rel).mean()) / 2

    def generator_loss(self, fake_logits: torch.Tensor, real_logits: torch.Tensor) -> torch.Tensor:
        """``(mean(softplus(r - mean(f))) + mean(softplus(-(f - mean(r))))) / 2``."""
        real_rel, fake_rel = _relative(real_logits, fake_logits)
        return (F.softplus(real_rel).mean() + F.softplus(-fake_rel).mean()) / 2


class RelativisticAverageHingeLoss(Loss):
    """RaHingeGAN (Jolicoeur-Martineau 2019): the hinge loss on relativistic average logits.

    D minimises ``(mean(relu(1 - real_rel)) + mean(relu(1 + fake_rel))) / 2``;
    G minimises ``(mean(relu(1 + real_rel)) + mean(relu(1 - fake_rel))) / 2``,
    the same with the roles swapped (unlike the plain hinge loss, whose G term is
    ``-mean(C(x_f))``).
    """

    name = "rahinge"
    description = "Relativistic average hinge loss (RaHingeGAN; Jolicoeur-Martineau 2019)."
    generator_needs_real = True

    def discriminator_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        """``(mean(relu(1 - (r - mean(f)))) + mean(relu(1 + (f - mean(r))))) / 2``."""
        real_rel, fake_rel = _relative(real_logits, fake_logits)
        return (F.relu(1 - real_rel).mean() + F.relu(1 + fake_rel).mean()) / 2

    def generator_loss(self, fake_logits: torch.Tensor, real_logits: torch.Tensor) -> torch.Tensor:
        """``(mean(relu(1 + (r - mean(f)))) + mean(relu(1 - (f - mean(r))))) / 2``."""
        real_rel, fake_rel = _relative(real_logits, fake_logits)
        return (F.relu(1 + real_rel).mean() + F.relu(1 - fake_rel).mean()) / 2


@ganzoo.hookimpl
def register_losses(register: Callable[[Loss], None]) -> None:
    """Register ``ragan`` and ``rahinge``."""
    register(RelativisticAverageLoss())
    register(RelativisticAverageHingeLoss())
