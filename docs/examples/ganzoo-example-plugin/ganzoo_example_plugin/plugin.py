"""An example ganzoo plugin: one loss, one architecture and one dataset.

``pyproject.toml`` names this module in the ``ganzoo`` entry-point group, so
ganzoo imports it and calls the three ``register_*`` functions below. Each
hands instances of :class:`ganzoo.Loss`, :class:`ganzoo.Architecture` and
:class:`ganzoo.Dataset` subclasses to the ``register`` callback. Component
names must not clash with any other installed plugin's (``ganzoo
list-plugins`` shows them all).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

import ganzoo
from ganzoo import DataSpec, GanzooError, InMemoryDataset


class SmoothedBCELoss(ganzoo.Loss):
    """The non-saturating GAN loss with one-sided label smoothing.

    Salimans et al., 2016, "Improved Techniques for Training GANs", Sec. 3.4:
    the discriminator's target for real samples is ``1 - smoothing`` instead
    of 1, which keeps it from growing overconfident. Fake samples keep the
    target 0: smoothing that side too would reward the generator for
    samples where there is no data. The generator's objective is the usual
    non-saturating one (Goodfellow et al. 2014).

    Args:
        smoothing: how far the real target is moved from 1, in ``[0, 1)``.

    Attributes:
        smoothing: the value in force (0.1 for the registered ``bce-smooth``).
    """

    name = "bce-smooth"
    description = "Non-saturating GAN loss with one-sided label smoothing 0.1 (Salimans et al. 2016)."

    def __init__(self, smoothing: float = 0.1) -> None:
        if not 0.0 <= smoothing < 1.0:
            raise ValueError(f"smoothing must lie in [0, 1), got {smoothing}")
        self.smoothing = smoothing

    def discriminator_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of real logits against ``1 - smoothing`` and of fake logits against 0.

        Args:
            real_logits: D's logits on real samples, shape ``(N,)``.
            fake_logits: D's logits on generated samples, shape ``(M,)``.

        Returns:
            ``mean(t * softplus(-real) + (1 - t) * softplus(real)) + mean(softplus(fake))``
            with ``t = 1 - smoothing``: computed from logits, so finite for any value.
        """
        real_target = torch.full_like(real_logits, 1.0 - self.smoothing)
        real_term = F.binary_cross_entropy_with_logits(real_logits, real_target)
        return real_term + F.softplus(fake_logits).mean()

    def generator_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        """``mean(softplus(-fake_logits))``, i.e. ``-mean(log sigmoid(fake_logits))``.

        Args:
            fake_logits: D's logits on generated samples, shape ``(N,)``.

        Returns:
            The scalar loss to minimise.
        """
        return F.softplus(-fake_logits).mean()


class TinyMLPArchitecture(ganzoo.Architecture):
    """A one-hidden-layer generator and discriminator for data of any shape.

    Small enough to train on the CPU in seconds: meant for 2-D toys and
    smoke tests, not for images.
    """

    name = "tiny-mlp"
    description = "One-hidden-layer MLP generator and discriminator, for data of any shape."
    options = {"width": 64}

    def build(self, spec: DataSpec, latent_dim: int, width: int = 64) -> tuple[nn.Module, nn.Module]:
        """Build the networks; see :meth:`ganzoo.Architecture.build`.

        Args:
            width: size of the hidden layer of both networks.
        """
        if isinstance(width, bool) or not isinstance(width, int) or width < 1:
            raise GanzooError(f"tiny-mlp option width must be a positive int, got {width!r}")
        size = math.prod(spec.shape)
        generator = nn.Sequential(
            nn.Linear(latent_dim, width),  # (N, width)
            nn.ReLU(),
            nn.Linear(width, size),  # (N, size)
            nn.Tanh(),  # samples in [-1, 1], as the contract requires
            nn.Unflatten(1, spec.shape),  # (N, *spec.shape)
        )
        discriminator = nn.Sequential(
            nn.Flatten(),  # (N, size)
            nn.Linear(size, width),  # (N, width)
            nn.LeakyReLU(0.2),
            nn.Linear(width, 1),  # (N, 1)
            nn.Flatten(0),  # (N,) raw logits: the loss owns the link function
        )
        return generator, discriminator


NUM_SAMPLES = 2000
LINE_END = 0.8
NOISE_STD = 0.02
_SEEDS = {True: 0, False: 1}  # train, test


class Line2DDataset(ganzoo.Dataset):
    """2-D points on the diagonal segment from ``(-0.8, -0.8)`` to ``(0.8, 0.8)``.

    Positions along the segment are uniform; each point gets isotropic
    Gaussian noise of std 0.02. The data is generated in memory from a fixed
    seed per split, so every load returns the same samples.
    """

    name = "line2d"
    description = "2,000 2-D points on the segment (-0.8,-0.8)-(0.8,0.8) plus small noise, in memory."
    spec = DataSpec((2,), 1, ("line",))

    def load(self, root: str, train: bool = True, download: bool = True, **options: Any) -> InMemoryDataset:
        """Generate the split; ``root`` and ``download`` are unused (nothing is read from disk)."""
        generator = torch.Generator().manual_seed(_SEEDS[bool(train)])
        position = (torch.rand(NUM_SAMPLES, 1, generator=generator) * 2 - 1) * LINE_END  # (N, 1)
        noise = NOISE_STD * torch.randn(NUM_SAMPLES, 2, generator=generator)  # (N, 2)
        # 10 sigma would be needed to leave [-1, 1]; the clamp makes the contract hold regardless.
        return InMemoryDataset((position + noise).clamp(-1.0, 1.0))


@ganzoo.hookimpl
def register_losses(register: Callable[[ganzoo.Loss], None]) -> None:
    """Register ``bce-smooth``."""
    register(SmoothedBCELoss())


@ganzoo.hookimpl
def register_architectures(register: Callable[[ganzoo.Architecture], None]) -> None:
    """Register ``tiny-mlp``."""
    register(TinyMLPArchitecture())


@ganzoo.hookimpl
def register_datasets(register: Callable[[ganzoo.Dataset], None]) -> None:
    """Register ``line2d``."""
    register(Line2DDataset())
