"""The ``sngan`` and ``sngan-projection`` architectures: the ResNets of Miyato et al. 2018 ("Spectral
Normalization for Generative Adversarial Networks", Tables 4 and 5) and Miyato & Koyama 2018 ("cGANs with
Projection Discriminator"), for square images of size 32, 48 or 64.

- 32 px (CIFAR-10, Table 4): G ``z -> linear -> 256 x 4 x 4``, three
  upsampling blocks of 256, ``BN -> ReLU -> conv3x3 -> tanh``; D an
  optimized block of 128, a downsampling block and two plain blocks of 128,
  ReLU, global sum pooling, linear.
- 48 px (STL-10, Table 5): G from ``512 x 6 x 6`` halving to 64; D 64, 128,
  256, 512 (each halving the map) and a last block of 1024 at 3 x 3.
- 64 px (Miyato & Koyama's 64-px ImageNet networks, ``ch = 64``): G from
  ``1024 x 4 x 4`` through four blocks to 64; D 64 to 1024 in five halving blocks.

Widths, block layout and the Glorot-uniform initialisation follow the
authors' chainer code, pfnet-research/sngan_projection (``gen_models/resnet_32.py``,
``resnet_64.py``, ``dis_models/snresnet_32.py``, ``snresnet_64.py``), and for
48 px mimicry's ``torch_mimicry/nets/sngan/sngan_48.py``, which follows Table 5.
One difference: upsampling is nearest-neighbour, as in the chainer code
(mimicry interpolates bilinearly).

``sngan-projection`` makes the generator's batch norms class-conditional
and gives D the projection head ``linear(phi) + <embed(y), phi>``; its
embedding is spectrally normalised with the rest of D, as in the paper.
Both networks are defined with a spectrally normalised discriminator
(``defaults``); the engine applies it. The SAGAN variants in
:mod:`ganzoo_plugins.architectures.sagan` reuse these networks with
self-attention added.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

import ganzoo
from ganzoo_plugins.architectures.blocks.attention import MIN_CHANNELS, SelfAttention
from ganzoo_plugins.architectures.blocks.residual import (
    DiscriminatorBlock,
    GeneratorBlock,
    OptimizedDiscriminatorBlock,
    glorot_,
)
from ganzoo_plugins.architectures.options import width_option
from ganzoo_plugins.architectures.conditioning import ConditionalDiscriminator, ProjectionHead, require_classes


@dataclass(frozen=True)
class ResNetPlan:
    """The layout of the ResNet pair for one image size.

    Attributes:
        bottom: side of the generator's first feature map (the linear layer's output).
        generator: channels of each generator stage, as divisors of ``generator_width``:
            the first is the linear layer's output, each next one a block's.
        discriminator: channels of each discriminator block (the first is the
            optimized block), as divisors of ``discriminator_width``.
        downsample: whether each discriminator block halves the map.
        reference: ``(generator_width, discriminator_width)`` of the published network.
    """

    bottom: int
    generator: tuple[int, ...]
    discriminator: tuple[int, ...]
    downsample: tuple[bool, ...]
    reference: tuple[int, int]


PLANS: dict[int, ResNetPlan] = {
    32: ResNetPlan(4, (1, 1, 1, 1), (1, 1, 1, 1), (True, True, False, False), (256, 128)),  # 4 -> 32; 32 -> 8
    48: ResNetPlan(6, (1, 2, 4, 8), (16, 8, 4, 2, 1), (True, True, True, True, False), (512, 1024)),  # 6 -> 48; 48 -> 3
    64: ResNetPlan(4, (1, 2, 4, 8, 16), (16, 8, 4, 2, 1), (True, True, True, True, True), (1024, 1024)),  # 4 -> 64; 64 -> 2
}

WIDTH_OPTIONS = {"generator_width": "auto", "discriminator_width": "auto"}


class ResNetGenerator(nn.Module):
    """``z -> linear -> C0 x b x b``, upsampling residual blocks, ``BN -> ReLU -> conv3x3 -> tanh``.

    Called as ``generator(z)``, or ``generator(z, labels)`` when built with
    ``num_classes`` > 0 (conditional batch norm in every block; the last
    batch norm is unconditional, as in the reference). With ``attention``, a
    self-attention block follows the second-to-last residual block, at half
    the image size.
    """

    def __init__(self, latent_dim: int, widths: list[int], bottom: int, channels: int, num_classes: int = 0,
                 attention: bool = False) -> None:
        super().__init__()
        self.bottom = bottom
        self.linear = glorot_(nn.Linear(latent_dim, bottom * bottom * widths[0]))
        self.blocks = nn.ModuleList(GeneratorBlock(width_in, width_out, upsample=True, num_classes=num_classes)
                                    for width_in, width_out in itertools.pairwise(widths))
        self.attention_after = len(self.blocks) - 1 if attention else -1
        self.attention = SelfAttention(widths[-2]) if attention else None
        self.norm = nn.BatchNorm2d(widths[-1])
        self.output = glorot_(nn.Conv2d(widths[-1], channels, 3, 1, 1))

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        x = self.linear(z).reshape(len(z), -1, self.bottom, self.bottom)  # state size. widths[0] x b x b
        for index, block in enumerate(self.blocks, start=1):
            x = block(x, labels)  # state size. widths[index] x (b * 2**index) x (b * 2**index)
            if index == self.attention_after:
                x = self.attention(x)  # state size unchanged
        return torch.tanh(self.output(F.relu(self.norm(x))))  # state size. channels x size x size


class GlobalSumPool(nn.Module):
    """``(N, C, H, W) -> (N, C)`` by summing over positions (the reference pools by sum, not mean)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.sum(dim=(2, 3))


def discriminator_body(channels: int, widths: list[int], downsample: tuple[bool, ...],
                       attention: bool = False) -> nn.Sequential:
    """The discriminator up to its features: residual blocks and the final ReLU, ``(N, widths[-1], k, k)``.

    With ``attention``, a self-attention block follows the first block, at half the image size.
    """
    layers: list[nn.Module] = [OptimizedDiscriminatorBlock(channels, widths[0])]  # state size. widths[0] x size/2 x size/2
    if attention:
        layers.append(SelfAttention(widths[0]))
    for width_in, width_out, down in zip(widths, widths[1:], downsample[1:]):
        layers.append(DiscriminatorBlock(width_in, width_out, downsample=down))  # state size. width_out x (halved if down)
    layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def build_resnet(spec: ganzoo.DataSpec, latent_dim: int, generator_width: int | str, discriminator_width: int | str,
                 *, arch: str, num_classes: int = 0, attention: bool = False) -> tuple[nn.Module, nn.Module]:
    """The ResNet pair for ``spec``: conditional (projection D) when ``num_classes`` > 0, with
    self-attention in both networks when ``attention``."""
    plan = plan_for(spec.shape, arch)
    g_reference, d_reference = plan.reference
    g_width = width_option(generator_width, g_reference, max(plan.generator), "generator_width", arch)
    d_width = width_option(discriminator_width, d_reference, max(plan.discriminator), "discriminator_width", arch)
    g_widths = [g_width // divisor for divisor in plan.generator]
    d_widths = [d_width // divisor for divisor in plan.discriminator]
    if attention and min(g_widths[-2], d_widths[0]) < MIN_CHANNELS:
        raise ganzoo.GanzooError(
            f"{arch}'s self-attention needs at least {MIN_CHANNELS} channels where it sits; at size {spec.shape[1]} "
            f"that takes generator_width >= {MIN_CHANNELS * plan.generator[-2]} and "
            f"discriminator_width >= {MIN_CHANNELS * plan.discriminator[0]}")
    generator = ResNetGenerator(latent_dim, g_widths, plan.bottom, spec.shape[0], num_classes, attention)
    body = discriminator_body(spec.shape[0], d_widths, plan.downsample, attention)
    if num_classes > 0:
        head = ProjectionHead(d_widths[-1], num_classes)
        glorot_(head.linear)
        nn.init.xavier_uniform_(head.embedding.weight)  # the reference's Glorot-uniform embedding
        return generator, ConditionalDiscriminator(body, head)
    linear = glorot_(nn.Linear(d_widths[-1], 1))
    return generator, nn.Sequential(body, GlobalSumPool(), linear, nn.Flatten(0))  # (N,) raw logits


def plan_for(shape: tuple[int, ...], arch: str) -> ResNetPlan:
    """The :data:`PLANS` entry for ``shape``, or a GanzooError naming the supported sizes."""
    if len(shape) != 3 or shape[1] != shape[2] or shape[1] not in PLANS:
        *smaller, largest = sorted(PLANS)
        raise ganzoo.GanzooError(f"{arch} supports square images of size {', '.join(map(str, smaller))} or "
                                 f"{largest}; got shape {tuple(shape)}")
    return PLANS[shape[1]]


class ResNetArchitecture(ganzoo.Architecture):
    """The SNGAN ResNet pair; subclasses pick conditioning and self-attention.

    Attributes:
        attention: add SAGAN's self-attention block to both networks.
    """

    options: ClassVar[Mapping[str, Any]] = WIDTH_OPTIONS
    defaults: ClassVar[Mapping[str, Any]] = {"spectral_norm": "discriminator"}
    attention = False

    def build(self, spec: ganzoo.DataSpec, latent_dim: int, generator_width: int | str = "auto",
              discriminator_width: int | str = "auto") -> tuple[nn.Module, nn.Module]:
        """Build the networks; see :meth:`ganzoo.Architecture.build`.

        Args:
            generator_width: channels of the generator's first stage (the
                linear layer's output; later stages keep or halve it as the
                reference does). ``auto``: the reference's (256 at 32 px, 512
                at 48, 1024 at 64).
            discriminator_width: channels of the discriminator's last block
                (earlier blocks keep or halve it). ``auto``: the reference's
                (128 at 32 px, 1024 at 48 and 64).
        """
        classes = require_classes(spec, self.name) if self.conditional else 0
        return build_resnet(spec, latent_dim, generator_width, discriminator_width, arch=self.name,
                            num_classes=classes, attention=self.attention)


class SNGANArchitecture(ResNetArchitecture):
    """The unconditional SNGAN ResNet (Miyato et al. 2018)."""

    name = "sngan"
    description = "SNGAN ResNet (Miyato et al. 2018) for 32, 48 or 64 px; spectral norm in D by default."


class SNGANProjectionArchitecture(ResNetArchitecture):
    """The class-conditional SNGAN ResNet: conditional BN in G, projection D (Miyato & Koyama 2018)."""

    name = "sngan-projection"
    description = ("Conditional SNGAN ResNet (Miyato & Koyama 2018): conditional BN in G, projection D; "
                   "32, 48 or 64 px.")
    conditional = True


@ganzoo.hookimpl
def register_architectures(register):
    """Register ``sngan`` and ``sngan-projection``."""
    register(SNGANArchitecture())
    register(SNGANProjectionArchitecture())
