"""The ``biggan`` and ``biggan-unconditional`` architectures: BigGAN (Brock, Donahue & Simonyan 2019, "Large
Scale GAN Training for High Fidelity Natural Image Synthesis") for square images of size 32 or 64.

What makes it BigGAN rather than SAGAN (section 3 and appendix B of the paper):

- a shared class embedding (``shared_dim``) replaces per-class batch-norm
  tables: every conditional batch norm computes its gain and bias by a
  linear map of ``[embed(y), z_k]`` (:mod:`~ganzoo_plugins.architectures.blocks.biggan_blocks`);
- a hierarchical latent: ``z`` is split into equal chunks, the first to the
  linear layer, one per generator block;
- ResNet blocks with those batch norms, SAGAN's self-attention
  (:mod:`~ganzoo_plugins.architectures.blocks.attention`) in both networks,
  a projection discriminator, orthogonal initialisation, and spectral norm
  in G and D (``defaults``; the engine applies it). The shared embedding is
  exempt, as in both references (BigGAN-PyTorch's ``BigGAN.py`` keeps it
  plain because normalising it was seen to wreck G at random); the batch
  norms' linear maps are normalised.

Widths, latent split and attention placement follow PyTorch-StudioGAN's
BigGAN (``src/models/big_resnet.py``): at 32 px its CIFAR-10 configuration
``src/configs/CIFAR10/BigGAN.yaml`` (``g_conv_dim = d_conv_dim = 96``, so G
384 channels throughout from 4 x 4 and D 192; ``z_dim`` 80 in 4 chunks of 20;
``g_shared_dim`` 128; attention after G block 2 and D block 1, both at
16 x 16); at 64 px its ``64`` layout with the 64-px ImageNet configurations'
width (``src/configs/Baby_ImageNet/BigGAN.yaml``: ``g_conv_dim = 80``, so G
1280 halving to 80, D 80 doubling to 1280; attention at 32 x 32). The CIFAR
script of ajbrock/BigGAN-PyTorch (``scripts/launch_cifar_ema.sh``) trains a
narrower network without attention, shared embedding or hierarchical ``z``;
it is not the one followed. Training settings (hinge loss, learning rates,
D steps, EMA) are the recipe's, not the architecture's.
"""

from __future__ import annotations

from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn

import ganzoo
from ganzoo_plugins.architectures.blocks.attention import MIN_CHANNELS, SelfAttention
from ganzoo_plugins.architectures.blocks.biggan_blocks import (
    BN_EPS,
    BigGANGeneratorBlock,
    orthogonal_init_,
)
from ganzoo_plugins.architectures.blocks.residual import DiscriminatorBlock, OptimizedDiscriminatorBlock
from ganzoo_plugins.architectures.conditioning import ConditionalDiscriminator, ProjectionHead, require_classes
from ganzoo_plugins.architectures.options import positive_int, width_option
from ganzoo_plugins.architectures.sngan import GlobalSumPool, ResNetPlan

PLANS: dict[int, ResNetPlan] = {
    32: ResNetPlan(4, (1, 1, 1, 1), (1, 1, 1, 1), (True, True, False, False), (384, 192)),  # 4 -> 32; 32 -> 8
    64: ResNetPlan(4, (1, 2, 4, 8, 16), (16, 8, 4, 2, 1), (True, True, True, True, False), (1280, 1280)),  # 4 -> 64; 64 -> 4
}

#: ``attention=auto``: the side of the maps the self-attention block sits at in the reference of each size.
REFERENCE_ATTENTION = {32: 16, 64: 32}

#: The reference's latent size at each size, named in the error for a latent that does not split evenly.
REFERENCE_LATENT = {32: 80, 64: 100}

#: Size of the shared class embedding (``g_shared_dim``) in every reference configuration.
REFERENCE_SHARED_DIM = 128


class BigGANGenerator(nn.Module):
    """``z_0 -> linear -> C0 x 4 x 4``, one conditional up-block per chunk ``z_k``, ``BN -> ReLU -> conv3x3 -> tanh``.

    Called as ``generator(z, labels)``, or ``generator(z)`` when built with
    ``num_classes = 0``: each block's batch norms are then driven by its
    chunk of ``z`` alone. With ``attention_after = k`` > 0, self-attention
    follows block ``k``.
    """

    def __init__(self, latent_dim: int, widths: list[int], bottom: int, channels: int, num_classes: int,
                 shared_dim: int, attention_after: int) -> None:
        super().__init__()
        self.bottom = bottom
        self.chunk = latent_dim // len(widths)
        # A plain embedding: the engine's spectral norm must leave it alone, as both references do.
        self.shared = ganzoo.exempt_from_spectral_norm(nn.Embedding(num_classes, shared_dim)) if num_classes else None
        condition_dim = self.chunk + (shared_dim if num_classes else 0)
        self.linear = nn.Linear(self.chunk, bottom * bottom * widths[0])
        self.blocks = nn.ModuleList(BigGANGeneratorBlock(width_in, width_out, condition_dim)
                                    for width_in, width_out in pairwise(widths))
        self.attention_after = attention_after
        self.attention = SelfAttention(widths[attention_after]) if attention_after else None
        self.norm = nn.BatchNorm2d(widths[-1], eps=BN_EPS)
        self.output = nn.Conv2d(widths[-1], channels, 3, 1, 1)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        first, *chunks = torch.split(z, self.chunk, dim=1)
        shared = self.shared(labels) if self.shared is not None else None
        x = self.linear(first).reshape(len(z), -1, self.bottom, self.bottom)  # state size. widths[0] x 4 x 4
        for index, (block, chunk) in enumerate(zip(self.blocks, chunks), start=1):
            condition = chunk if shared is None else torch.cat([shared, chunk], dim=1)
            x = block(x, condition)  # state size. widths[index] x (4 * 2**index) x (4 * 2**index)
            if index == self.attention_after:
                x = self.attention(x)  # state size unchanged
        return torch.tanh(self.output(F.relu(self.norm(x))))  # state size. channels x size x size


def discriminator_body(channels: int, widths: list[int], downsample: tuple[bool, ...],
                       attention_after: int) -> nn.Sequential:
    """Residual blocks and the final ReLU, ``(N, widths[-1], k, k)``; self-attention after block ``attention_after``."""
    blocks = [OptimizedDiscriminatorBlock(channels, widths[0])]  # state size. widths[0] x size/2 x size/2
    blocks += [DiscriminatorBlock(width_in, width_out, downsample=down, wide=True)  # state size. width_out x (halved if down)
               for width_in, width_out, down in zip(widths, widths[1:], downsample[1:])]
    layers: list[nn.Module] = []
    for index, block in enumerate(blocks, start=1):
        layers.append(block)
        if index == attention_after:
            layers.append(SelfAttention(widths[index - 1]))  # state size unchanged
    layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def build_biggan(spec: ganzoo.DataSpec, latent_dim: int, *, arch: str, num_classes: int, generator_width: int | str,
                 discriminator_width: int | str, shared_dim: int | str, attention: int | str) -> tuple[nn.Module, nn.Module]:
    """The BigGAN pair for ``spec``: conditional (shared embedding, projection D) when ``num_classes`` > 0."""
    size = spec.shape[1] if len(spec.shape) == 3 and spec.shape[1] == spec.shape[2] else 0
    if size not in PLANS:
        raise ganzoo.GanzooError(f"{arch} supports square images of size 32 or 64; got shape {tuple(spec.shape)}")
    plan = PLANS[size]
    chunks = len(plan.generator)
    if latent_dim % chunks:
        below = latent_dim - latent_dim % chunks
        nearest = " and ".join(str(m) for m in (below, below + chunks) if m > 0)
        raise ganzoo.GanzooError(
            f"{arch} splits z into {chunks} equal chunks at {size} px (one for the first layer, one per generator "
            f"block), so latent_dim must be a multiple of {chunks}, such as the reference's {REFERENCE_LATENT[size]} "
            f"or the nearest, {nearest}; got {latent_dim}")
    g_reference, d_reference = plan.reference
    g_width = width_option(generator_width, g_reference, max(plan.generator), "generator_width", arch)
    d_width = width_option(discriminator_width, d_reference, max(plan.discriminator), "discriminator_width", arch)
    g_widths = [g_width // divisor for divisor in plan.generator]
    d_widths = [d_width // divisor for divisor in plan.discriminator]
    g_after, d_after = attention_places(attention, size, plan, arch)
    attended = ([g_widths[g_after]] if g_after else []) + ([d_widths[d_after - 1]] if d_after else [])
    if min(attended, default=MIN_CHANNELS) < MIN_CHANNELS:
        raise ganzoo.GanzooError(
            f"{arch}'s self-attention needs at least {MIN_CHANNELS} channels where it sits; widen generator_width "
            f"or discriminator_width, or move it with the attention option (0 turns it off)")
    shared = positive_int(shared_dim, "shared_dim", arch) if num_classes else 0
    generator = BigGANGenerator(latent_dim, g_widths, plan.bottom, spec.shape[0], num_classes, shared, g_after)
    body = discriminator_body(spec.shape[0], d_widths, plan.downsample, d_after)
    if num_classes:
        discriminator: nn.Module = ConditionalDiscriminator(body, ProjectionHead(d_widths[-1], num_classes))
    else:
        discriminator = nn.Sequential(body, GlobalSumPool(), nn.Linear(d_widths[-1], 1), nn.Flatten(0))  # (N,) logits
    return orthogonal_init_(generator), orthogonal_init_(discriminator)


def attention_places(attention: int | str, size: int, plan: ResNetPlan, arch: str) -> tuple[int, int]:
    """``(generator block, discriminator block)`` the self-attention follows (1-based; 0 for none).

    ``attention`` is the side of the feature maps it attends over: after the
    generator block producing that side and the first discriminator block
    producing it. Only sides both networks produce are valid.
    """
    text = str(attention).strip().lower()
    side = REFERENCE_ATTENTION[size] if text == "auto" else (int(text) if text.isdigit() else -1)
    g_sides = [plan.bottom * 2**k for k in range(1, len(plan.generator))]
    d_sides, current = [], size
    for down in plan.downsample:
        current //= 2 if down else 1
        d_sides.append(current)
    valid = sorted(set(g_sides) & set(d_sides))
    if side == 0:
        return 0, 0
    if side not in valid:
        raise ganzoo.GanzooError(f"{arch} option attention must be auto, 0 (none) or a feature-map side both networks "
                                 f"have at {size} px ({', '.join(map(str, valid))}); got {attention!r}")
    return g_sides.index(side) + 1, d_sides.index(side) + 1


class BigGANArchitecture(ganzoo.Architecture):
    """Class-conditional BigGAN: shared embedding, hierarchical z, conditional BN, projection D."""

    name = "biggan"
    description = ("BigGAN (Brock et al. 2019): shared class embedding, hierarchical z, self-attention, "
                   "projection D, spectral norm in G and D; 32 or 64 px.")
    options = {"generator_width": "auto", "discriminator_width": "auto", "shared_dim": REFERENCE_SHARED_DIM,
               "attention": "auto"}
    conditional = True
    defaults = {"spectral_norm": "both"}

    def build(self, spec: ganzoo.DataSpec, latent_dim: int, generator_width: int | str = "auto",
              discriminator_width: int | str = "auto", shared_dim: int | str = REFERENCE_SHARED_DIM,
              attention: int | str = "auto") -> tuple[nn.Module, nn.Module]:
        """Build the networks; see :meth:`ganzoo.Architecture.build`.

        Args:
            generator_width: channels of the generator's first stage: 4 x the
                reference's ``g_conv_dim`` at 32 px, kept by every stage; 16 x it
                at 64 px, halving at each block. ``auto``: the reference's (384
                at 32 px, 1280 at 64).
            discriminator_width: channels of the discriminator's last block: 2 x
                ``d_conv_dim`` at 32 px, kept by every block; 16 x it at 64 px,
                reached by doubling. ``auto``: the reference's (192 at 32 px, 1280 at 64).
            shared_dim: size of the shared class embedding (128 in the reference).
            attention: side of the feature maps the self-attention block works on
                in both networks, 0 for none. ``auto``: the reference's (16 at 32 px,
                32 at 64).

        Raises:
            GanzooError: for another image size, a ``latent_dim`` that does not
                split into equal chunks, or an option out of range.
        """
        return build_biggan(spec, latent_dim, arch=self.name, num_classes=require_classes(spec, self.name),
                            generator_width=generator_width, discriminator_width=discriminator_width,
                            shared_dim=shared_dim, attention=attention)


class UnconditionalBigGANArchitecture(ganzoo.Architecture):
    """BigGAN without labels: each block's batch norms are driven by its chunk of z alone; plain linear D head."""

    name = "biggan-unconditional"
    description = ("Unconditional BigGAN (StudioGAN's BigGAN-Uncond): hierarchical z, self-attention, "
                   "spectral norm in G and D; 32 or 64 px.")
    options = {"generator_width": "auto", "discriminator_width": "auto", "attention": "auto"}
    defaults = {"spectral_norm": "both"}

    def build(self, spec: ganzoo.DataSpec, latent_dim: int, generator_width: int | str = "auto",
              discriminator_width: int | str = "auto", attention: int | str = "auto") -> tuple[nn.Module, nn.Module]:
        """Build the networks; see :meth:`ganzoo.Architecture.build` and, for the options,
        :meth:`BigGANArchitecture.build`."""
        return build_biggan(spec, latent_dim, arch=self.name, num_classes=0, generator_width=generator_width,
                            discriminator_width=discriminator_width, shared_dim=0, attention=attention)


@ganzoo.hookimpl
def register_architectures(register):
    """Register ``biggan`` and ``biggan-unconditional``."""
    register(BigGANArchitecture())
    register(UnconditionalBigGANArchitecture())
