"""The ``sagan`` and ``sagan-unconditional`` architectures: SAGAN (Zhang, Goodfellow, Metaxas & Odena 2019,
"Self-Attention Generative Adversarial Networks") on the SNGAN ResNet, for square images of size 32, 48 or 64.

The paper's recipe applied to the networks of :mod:`ganzoo_plugins.architectures.sngan`:

- a self-attention block (:mod:`ganzoo_plugins.architectures.blocks.attention`)
  in each network, at half the image size: in G after the second-to-last
  residual block, in D after the first. At 32 px that is StudioGAN's
  CIFAR-10 SAGAN configuration (``src/configs/CIFAR10/SAGAN.yaml``:
  ``attn_g_loc: [2]``, ``attn_d_loc: [1]``, both 16 x 16 maps); the paper
  itself reports 128-px ImageNet only;
- spectral normalisation in the generator as well as the discriminator
  (``defaults``, section 4.1); the conditional batch norm gains stay exempt;
- class conditioning as in the paper: conditional batch norm in G and a
  projection discriminator (``sagan``). ``sagan-unconditional`` drops the
  labels.

Widths follow the SNGAN reference of each size (StudioGAN's CIFAR-10 SAGAN
uses the same 256/128 ResNet). The paper's two-timescale learning rates
(G 1e-4, D 4e-4, Adam betas 0, 0.9) and hinge loss are training settings,
not part of the architecture: pass them with ``--lr-g``, ``--lr-d``,
``--betas`` and ``--loss hinge``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import ganzoo
from ganzoo_plugins.architectures.sngan import ResNetArchitecture


class SAGANArchitecture(ResNetArchitecture):
    """Class-conditional SAGAN: self-attention, conditional BN in G, projection D, spectral norm in both."""

    name = "sagan"
    description = ("SAGAN (Zhang et al. 2019): SNGAN ResNet with self-attention, conditional BN + projection, "
                   "spectral norm in G and D; 32, 48 or 64 px.")
    conditional = True
    attention = True
    defaults: ClassVar[Mapping[str, Any]] = {"spectral_norm": "both"}


class UnconditionalSAGANArchitecture(ResNetArchitecture):
    """SAGAN without labels: the SNGAN ResNet with self-attention and spectral norm in both networks."""

    name = "sagan-unconditional"
    description = ("Unconditional SAGAN: SNGAN ResNet with self-attention, spectral norm in G and D; "
                   "32, 48 or 64 px.")
    attention = True
    defaults: ClassVar[Mapping[str, Any]] = {"spectral_norm": "both"}


@ganzoo.hookimpl
def register_architectures(register):
    """Register ``sagan`` and ``sagan-unconditional``."""
    register(SAGANArchitecture())
    register(UnconditionalSAGANArchitecture())
