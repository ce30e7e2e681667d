"""Class-conditional architectures: ``cmlp`` and ``cdcgan``.

Both take ``(z, labels)`` in the generator and ``(x, labels)`` in the
discriminator (``conditional = True`` in the contract) and share their layer
plans with the unconditional ``mlp`` and ``dcgan``:

- ``cmlp``: the generator reads ``z`` concatenated with a learned label
  embedding (Mirza & Osindero 2014).
- ``cdcgan``: the generator's batch norms are conditional (a gain and bias
  per class).

The discriminator head is the option ``head``: ``projection`` (Miyato &
Koyama 2018, the default) or ``acgan`` (an auxiliary classifier, Odena et
al. 2017). Every built-in loss works with both.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

import ganzoo
from ganzoo_plugins.architectures.conditioning import (
    ConditionalBatchNorm2d,
    ConditionalDiscriminator,
    make_head,
    require_classes,
)
from ganzoo_plugins.architectures.dcgan import Plan, discriminator_body, layer_plan
from ganzoo_plugins.architectures.init import dcgan_init_
from ganzoo_plugins.architectures.mlp import (
    DISCRIMINATOR_WIDTHS,
    GENERATOR_WIDTHS,
    checked_widths,
    generator_net,
)
from ganzoo_plugins.architectures.mlp import discriminator_body as mlp_discriminator_body


class ConditionalMLPArchitecture(ganzoo.Architecture):
    """Fully connected conditional GAN: label embedding in G, projection or ACGAN head in D."""

    name = "cmlp"
    description = "Conditional MLP GAN (label embedding in G; projection or ACGAN discriminator head)."
    conditional = True
    options = {
        "generator_widths": GENERATOR_WIDTHS,
        "discriminator_widths": DISCRIMINATOR_WIDTHS,
        "embedding_dim": 50,
        "head": "projection",
    }

    def build(self, spec: ganzoo.DataSpec, latent_dim: int, generator_widths: Sequence[int] = GENERATOR_WIDTHS,
              discriminator_widths: Sequence[int] = DISCRIMINATOR_WIDTHS, embedding_dim: int = 50,
              head: str = "projection") -> tuple[nn.Module, nn.Module]:
        """Build the networks; see :meth:`ganzoo.Architecture.build`.

        Args:
            generator_widths, discriminator_widths: hidden sizes, as for ``mlp``.
            embedding_dim: size of the label embedding the generator reads beside ``z``.
            head: ``projection`` or ``acgan``.
        """
        classes = require_classes(spec, self.name)
        g_widths = checked_widths("generator_widths", generator_widths, self.name)
        d_widths = checked_widths("discriminator_widths", discriminator_widths, self.name)
        if int(embedding_dim) <= 0:
            raise ganzoo.GanzooError(f"cmlp option embedding_dim must be a positive int; got {embedding_dim!r}")
        generator = EmbeddingGenerator(generator_net(latent_dim + int(embedding_dim), g_widths, spec.shape),
                                       classes, int(embedding_dim))
        discriminator = ConditionalDiscriminator(
            nn.Sequential(*mlp_discriminator_body(spec.shape, d_widths)), make_head(head, d_widths[-1], classes, self.name)
        )
        return generator, discriminator


class EmbeddingGenerator(nn.Module):
    """A generator network fed ``[z, embed(labels)]``."""

    def __init__(self, network: nn.Module, num_classes: int, embedding_dim: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(num_classes, embedding_dim)
        self.network = network

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.network(torch.cat([z, self.embedding(labels)], dim=1))


class ConditionalDCGANArchitecture(ganzoo.Architecture):
    """DCGAN with conditional batch norm in G and a projection or ACGAN head in D."""

    name = "cdcgan"
    description = "Conditional DCGAN for 28/32/64 px (conditional batch norm in G; projection or ACGAN head)."
    conditional = True
    options = {"base_width": "auto", "discriminator_batch_norm": True, "head": "projection"}

    def build(self, spec: ganzoo.DataSpec, latent_dim: int, base_width: int | str = "auto",
              discriminator_batch_norm: bool = True, head: str = "projection") -> tuple[nn.Module, nn.Module]:
        """Build the networks; see :meth:`ganzoo.Architecture.build`.

        Args:
            base_width, discriminator_batch_norm: as for ``dcgan``.
            head: ``projection`` or ``acgan``.
        """
        classes = require_classes(spec, self.name)
        plan, widths = layer_plan(spec.shape, base_width, self.name)
        generator = ConditionalDCGANGenerator(latent_dim, widths, spec.shape[0], plan, classes)
        body = nn.Sequential(*discriminator_body(spec.shape[0], widths[::-1], plan[::-1], bool(discriminator_batch_norm)))
        discriminator = ConditionalDiscriminator(body, make_head(head, widths[0], classes, self.name))
        generator.apply(dcgan_init_)
        discriminator.apply(dcgan_init_)
        return generator, discriminator


class ConditionalDCGANGenerator(nn.Module):
    """The DCGAN generator of ``plan`` with each BatchNorm made class-conditional."""

    def __init__(self, latent_dim: int, widths: list[int], channels: int, plan: Plan, num_classes: int) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.convolutions = nn.ModuleList()
        self.norms = nn.ModuleList()
        for width_in, width_out, (kernel, stride, padding) in zip([latent_dim, *widths], widths, plan):
            self.convolutions.append(nn.ConvTranspose2d(width_in, width_out, kernel, stride, padding, bias=False))
            self.norms.append(ConditionalBatchNorm2d(width_out, num_classes))
        kernel, stride, padding = plan[-1]
        self.output = nn.ConvTranspose2d(widths[-1], channels, kernel, stride, padding)

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        x = z.reshape(len(z), self.latent_dim, 1, 1)  # (N, latent_dim) x 1 x 1
        for convolution, norm in zip(self.convolutions, self.norms):
            x = torch.relu(norm(convolution(x), labels))  # (width_out) x next size of the plan
        return torch.tanh(self.output(x))  # (channels) x size x size


@ganzoo.hookimpl
def register_architectures(register):
    """Register ``cmlp`` and ``cdcgan``."""
    register(ConditionalMLPArchitecture())
    register(ConditionalDCGANArchitecture())
