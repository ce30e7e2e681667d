"""The ``mlp`` architecture: the fully connected GAN of Goodfellow et al. 2014.

Works for any data shape: samples are flattened for the discriminator and
the generator's output is reshaped to ``spec.shape``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import nn

import ganzoo

GENERATOR_WIDTHS = (256, 512, 1024)
DISCRIMINATOR_WIDTHS = (512, 256)


class MLPArchitecture(ganzoo.Architecture):
    """Fully connected generator and discriminator for data of any shape."""

    name = "mlp"
    description = "Vanilla GAN multilayer perceptrons, for images or vectors of any shape."
    options = {
        "generator_widths": GENERATOR_WIDTHS,
        "discriminator_widths": DISCRIMINATOR_WIDTHS,
    }

    def build(
        self,
        spec: ganzoo.DataSpec,
        latent_dim: int,
        generator_widths: Sequence[int] = GENERATOR_WIDTHS,
        discriminator_widths: Sequence[int] = DISCRIMINATOR_WIDTHS,
    ) -> tuple[nn.Module, nn.Module]:
        """Build the networks; see :meth:`ganzoo.Architecture.build`.

        Args:
            generator_widths: hidden layer sizes from ``z`` towards the sample.
            discriminator_widths: hidden layer sizes from the sample towards the logit.
        """
        g_widths = checked_widths("generator_widths", generator_widths)
        d_widths = checked_widths("discriminator_widths", discriminator_widths)
        return generator_net(latent_dim, g_widths, spec.shape), _discriminator(spec.shape, d_widths)


def checked_widths(option: str, value: Sequence[int], arch: str = "mlp") -> tuple[int, ...]:
    """``value`` as a tuple of positive ints, or a one-line error naming ``arch`` and ``option``."""
    widths = tuple(int(w) for w in value)
    if not widths or any(w <= 0 for w in widths):
        raise ganzoo.GanzooError(f"{arch} option {option} must be one or more positive ints; got {value!r}")
    return widths


def generator_net(latent_dim: int, widths: tuple[int, ...], shape: tuple[int, ...]) -> nn.Sequential:
    """``(N, latent_dim)`` inputs to ``(N, *shape)`` samples in [-1, 1] (shared with ``cmlp``)."""
    # No BatchNorm on the first layer, as in the reference vanilla-GAN MLP:
    # it would normalise away the scale of the raw noise.
    layers: list[nn.Module] = [nn.Linear(latent_dim, widths[0]), nn.LeakyReLU(0.2)]
    for width_in, width_out in zip(widths, widths[1:]):
        layers += [nn.Linear(width_in, width_out), nn.BatchNorm1d(width_out), nn.LeakyReLU(0.2)]
    layers += [
        nn.Linear(widths[-1], math.prod(shape)),
        nn.Tanh(),
        nn.Unflatten(1, shape),  # (N, *shape)
    ]
    return nn.Sequential(*layers)


def _discriminator(shape: tuple[int, ...], widths: tuple[int, ...]) -> nn.Sequential:
    return nn.Sequential(
        *discriminator_body(shape, widths),
        nn.Linear(widths[-1], 1),
        nn.Flatten(0),  # (N,) raw logits: the loss owns the link function
    )


def discriminator_body(shape: tuple[int, ...], widths: tuple[int, ...]) -> list[nn.Module]:
    """Flatten, then the hidden layers: samples to ``(N, widths[-1])`` features (shared with ``cmlp``)."""
    layers: list[nn.Module] = [nn.Flatten()]  # (N, prod(shape))
    for width_in, width_out in zip((math.prod(shape), *widths), widths):
        layers += [nn.Linear(width_in, width_out), nn.LeakyReLU(0.2)]
    return layers


@ganzoo.hookimpl
def register_architectures(register):
    """Register the ``mlp`` architecture."""
    register(MLPArchitecture())
