"""The ``dcgan`` architecture: Radford et al. 2015, for square images of size 28, 32 or 64.

Each size has its own layer plan: a transposed-convolution stack that grows
``z`` from 1x1 to exactly the image size, run backwards by the discriminator.
"""

from __future__ import annotations

from torch import nn

import ganzoo
from ganzoo_plugins.architectures.init import dcgan_init_
from ganzoo_plugins.architectures.options import width_option

# (kernel, stride, padding) of each generator layer, starting from z as a
# 1x1 map. Conv2d with the same triples, in reverse order, maps each size back
# exactly. Each size needs its own plan: running the 64x64 stack on 32x32
# data silently produces 64x64 fakes.
Plan = tuple[tuple[int, int, int], ...]

PLANS: dict[int, Plan] = {
    28: ((3, 1, 0), (3, 2, 0), (4, 2, 1), (4, 2, 1)),  # 1 -> 3 -> 7 -> 14 -> 28
    32: ((4, 1, 0), (4, 2, 1), (4, 2, 1), (4, 2, 1)),  # 1 -> 4 -> 8 -> 16 -> 32
    64: ((4, 1, 0), (4, 2, 1), (4, 2, 1), (4, 2, 1), (4, 2, 1)),  # 1 -> 4 -> ... -> 64
}


#: ``base_width=auto``: the width of the reference network for each size. At 32 pixels, the CIFAR-10 DCGAN of
#: the classic pytorch/examples-style loop and of other zoos' CIFAR tables, 512-256-128 from 4x4 (the quality
#: study in docs/benchmarks.md measured the thinner 256-128-64 clearly worse); at 64 pixels pytorch/examples'
#: ngf = ndf = 64 (512-256-128-64); at 28 the MNIST DCGAN's 256-128-64.
REFERENCE_WIDTHS = {28: 64, 32: 128, 64: 64}


class DCGANArchitecture(ganzoo.Architecture):
    """Deep convolutional generator and discriminator for square images (Radford et al. 2015)."""

    name = "dcgan"
    description = "DCGAN (Radford et al. 2015) for square images of size 28, 32 or 64."
    options = {"base_width": "auto", "discriminator_batch_norm": True}

    def build(
        self,
        spec: ganzoo.DataSpec,
        latent_dim: int,
        base_width: int | str = "auto",
        discriminator_batch_norm: bool = True,
    ) -> tuple[nn.Module, nn.Module]:
        """Build the networks; see :meth:`ganzoo.Architecture.build`.

        Args:
            base_width: channels of the generator's last hidden layer and of
                the discriminator's first; they double at each layer inwards.
                ``auto`` (default): the reference width for the image size
                (:data:`REFERENCE_WIDTHS`: 128 at 32 pixels, 64 at 28 and 64).
            discriminator_batch_norm: False for critics whose loss penalises
                per-sample gradients (WGAN-GP), which BatchNorm would couple.
        """
        plan, widths = layer_plan(spec.shape, base_width, self.name)
        generator = _generator(latent_dim, widths, spec.shape[0], plan)
        discriminator = _discriminator(spec.shape[0], widths[::-1], plan[::-1], bool(discriminator_batch_norm))
        generator.apply(dcgan_init_)
        discriminator.apply(dcgan_init_)
        return generator, discriminator


def layer_plan(shape: tuple[int, ...], base_width: int, arch: str) -> tuple[Plan, list[int]]:
    """The layer plan for ``shape`` and the hidden widths from the 1x1 end outwards
    (e.g. 512, 256, 128, 64 for size 64 and base width 64)."""
    if len(shape) != 3 or shape[1] != shape[2] or shape[1] not in PLANS:
        *smaller, largest = sorted(PLANS)
        sizes = f"{', '.join(map(str, smaller))} or {largest}"
        raise ganzoo.GanzooError(f"{arch} supports square images of size {sizes}; got shape {shape}")
    width = width_for(shape[1], base_width, arch)
    plan = PLANS[shape[1]]
    return plan, [width * 2**k for k in reversed(range(len(plan) - 1))]


def width_for(size: int, base_width: int | str, arch: str) -> int:
    """``base_width`` as a number: ``auto`` is the reference width for ``size``; GanzooError for anything else."""
    return width_option(base_width, REFERENCE_WIDTHS[size], 1, "base_width", arch)


def _generator(latent_dim: int, widths: list[int], channels: int, plan: Plan) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Unflatten(1, (latent_dim, 1, 1))]  # (N, latent_dim) x 1 x 1
    for width_in, width_out, (kernel, stride, padding) in zip([latent_dim, *widths], widths, plan):
        # Bias is dropped where BatchNorm follows: its shift would cancel it.
        layers += [
            nn.ConvTranspose2d(width_in, width_out, kernel, stride, padding, bias=False),
            nn.BatchNorm2d(width_out),
            nn.ReLU(),
        ]  # state size. (width_out) x next size of the plan, e.g. 512 x 4 x 4 for size 64
    kernel, stride, padding = plan[-1]
    layers += [
        nn.ConvTranspose2d(widths[-1], channels, kernel, stride, padding),
        nn.Tanh(),
    ]  # state size. (channels) x size x size
    return nn.Sequential(*layers)


def _discriminator(channels: int, widths: list[int], plan: Plan, batch_norm: bool) -> nn.Sequential:
    kernel, stride, padding = plan[-1]
    return nn.Sequential(
        *discriminator_body(channels, widths, plan, batch_norm),
        nn.Conv2d(widths[-1], 1, kernel, stride, padding),  # state size. 1 x 1 x 1
        nn.Flatten(0),  # (N,) raw logits: the loss owns the link function
    )


def discriminator_body(channels: int, widths: list[int], plan: Plan, batch_norm: bool) -> list[nn.Module]:
    """The discriminator's convolutions up to its last hidden map, ``widths[-1] x k x k``
    with ``k`` the last kernel of ``plan`` (shared with the conditional ``cdcgan``)."""
    layers: list[nn.Module] = []  # input (channels) x size x size
    for index, (width_in, width_out, (kernel, stride, padding)) in enumerate(
        zip([channels, *widths], widths, plan)
    ):
        # No BatchNorm on the input layer (Radford et al. 2015, section 3).
        normalise = batch_norm and index > 0
        layers.append(nn.Conv2d(width_in, width_out, kernel, stride, padding, bias=not normalise))
        if normalise:
            layers.append(nn.BatchNorm2d(width_out))
        layers.append(nn.LeakyReLU(0.2))
        # state size. (width_out) x previous size of the plan, e.g. 64 x 32 x 32 for size 64
    return layers


@ganzoo.hookimpl
def register_architectures(register):
    """Register the ``dcgan`` architecture."""
    register(DCGANArchitecture())
