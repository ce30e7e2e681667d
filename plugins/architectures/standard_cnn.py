"""The ``standard-cnn`` architecture: the "standard CNN" of Miyato et al. 2018 ("Spectral Normalization for
Generative Adversarial Networks", Table 3), for square images of size 32, 48 or 64.

With its discriminator spectrally normalised (the architecture's default)
this is SNDCGAN, the network behind the paper's standard-CNN CIFAR-10 and
STL-10 results:

- G: ``z -> linear -> 512 x M x M``, three ``deconv4x4 stride 2 -> BN ->
  ReLU`` layers halving the channels to 64, ``conv3x3 -> tanh``; M = 4 at
  32 px, 6 at 48 px.
- D: seven convolutions, ``conv3x3 s1`` and ``conv4x4 s2`` alternating
  (64, 64, 128, 128, 256, 256, 512 channels), each followed by LeakyReLU
  0.1, and a linear layer on the flattened ``512 x M x M`` map. No batch
  norm: spectral normalisation replaces it.

Widths and layer order follow the paper's table, as mimicry
(``torch_mimicry/nets/sndcgan/sndcgan_32.py``, ``_48.py``) and StudioGAN
(``src/models/deep_conv.py``, 32 px only) implement it; the 64-px network
is mimicry's ``sndcgan_64.py`` (one more stage on each side: G from
``1024 x 4 x 4``, D up to 1024 channels). The initialisation, N(0, 0.02)
weights and zero biases, is that of the authors' chainer library
(pfnet-research/chainer-gan-lib, ``common/net.py``).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any, ClassVar

from torch import nn

import ganzoo

#: image size -> (M, the side of the generator's first and the discriminator's last map; stride-2 stages).
PLANS: dict[int, tuple[int, int]] = {32: (4, 3), 48: (6, 3), 64: (4, 4)}

#: Standard deviation of the reference's normal initialisation.
INIT_STD = 0.02
LEAKY_SLOPE = 0.1


class StandardCNNArchitecture(ganzoo.Architecture):
    """Miyato et al. 2018's standard CNN generator and discriminator (SNDCGAN with spectral norm in D)."""

    name = "standard-cnn"
    description = ("Standard CNN of Miyato et al. 2018 (SNDCGAN: spectral norm in D by default) "
                   "for 32, 48 or 64 px.")
    options: ClassVar[Mapping[str, Any]] = {"base_width": 64}
    defaults: ClassVar[Mapping[str, Any]] = {"spectral_norm": "discriminator"}

    def build(self, spec: ganzoo.DataSpec, latent_dim: int, base_width: int = 64) -> tuple[nn.Module, nn.Module]:
        """Build the networks; see :meth:`ganzoo.Architecture.build`.

        Args:
            base_width: channels of the generator's last hidden layer and of
                the discriminator's first layer; they double at each stride-2
                stage inwards (64 in the paper: 512 at the 4 x 4 end).
        """
        bottom, stages = _plan(spec.shape, self.name)
        if isinstance(base_width, bool) or not isinstance(base_width, int) or base_width <= 0:
            raise ganzoo.GanzooError(f"{self.name} option base_width must be a positive int; got {base_width!r}")
        widths = [base_width * 2**k for k in range(stages + 1)]  # e.g. 64, 128, 256, 512
        generator = _generator(latent_dim, widths, bottom, spec.shape[0])
        discriminator = _discriminator(spec.shape[0], widths, bottom)
        generator.apply(_init)
        discriminator.apply(_init)
        return generator, discriminator


def _plan(shape: tuple[int, ...], arch: str) -> tuple[int, int]:
    if len(shape) != 3 or shape[1] != shape[2] or shape[1] not in PLANS:
        *smaller, largest = sorted(PLANS)
        raise ganzoo.GanzooError(f"{arch} supports square images of size {', '.join(map(str, smaller))} or "
                                 f"{largest}; got shape {tuple(shape)}")
    return PLANS[shape[1]]


def _generator(latent_dim: int, widths: list[int], bottom: int, channels: int) -> nn.Sequential:
    # The reference has no activation between the linear layer and the first deconvolution.
    layers: list[nn.Module] = [
        nn.Linear(latent_dim, bottom * bottom * widths[-1]),
        nn.Unflatten(1, (widths[-1], bottom, bottom)),  # state size. 512 x M x M (base width 64, 3 stages)
    ]
    for width_in, width_out in zip(widths[:0:-1], widths[-2::-1]):
        layers += [
            nn.ConvTranspose2d(width_in, width_out, 4, 2, 1),
            nn.BatchNorm2d(width_out),
            nn.ReLU(),
        ]  # state size. width_out x twice the side, e.g. 256 x 8 x 8 at 32 px
    layers += [nn.Conv2d(widths[0], channels, 3, 1, 1), nn.Tanh()]  # state size. channels x size x size
    return nn.Sequential(*layers)


def _discriminator(channels: int, widths: list[int], bottom: int) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(channels, widths[0], 3, 1, 1), nn.LeakyReLU(LEAKY_SLOPE)]
    # state size. 64 x size x size
    for width_in, width_out in itertools.pairwise(widths):
        layers += [
            nn.Conv2d(width_in, width_in, 4, 2, 1),
            nn.LeakyReLU(LEAKY_SLOPE),  # state size. width_in x half the side, e.g. 64 x 16 x 16 at 32 px
            nn.Conv2d(width_in, width_out, 3, 1, 1),
            nn.LeakyReLU(LEAKY_SLOPE),  # state size. width_out x the same side, e.g. 128 x 16 x 16
        ]
    layers += [
        nn.Flatten(),  # (N, 512 * M * M)
        nn.Linear(widths[-1] * bottom * bottom, 1),
        nn.Flatten(0),  # (N,) raw logits: the loss owns the link function
    ]
    return nn.Sequential(*layers)


def _init(module: nn.Module) -> None:
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, INIT_STD)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


@ganzoo.hookimpl
def register_architectures(register):
    """Register the ``standard-cnn`` architecture."""
    register(StandardCNNArchitecture())
