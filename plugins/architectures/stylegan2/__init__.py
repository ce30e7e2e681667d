"""The ``stylegan2`` and ``stylegan2-conditional`` architectures, in pure PyTorch.

StyleGAN2: Karras, Laine, Aittala, Hellsten, Lehtinen and Aila 2020, "Analyzing and Improving the Image
Quality of StyleGAN" (CVPR): a mapping network from ``z`` to ``w``, a synthesis network of modulated and
demodulated convolutions with noise inputs and 'skip' RGB outputs, and a residual discriminator with
minibatch standard deviation; equalised learning rate throughout.

The option defaults are the CIFAR-10 configuration of Karras, Aittala, Hellsten, Laine, Lehtinen and
Aila 2020, "Training Generative Adversarial Networks with Limited Data" (NeurIPS), as its reference
implementation NVlabs/stylegan2-ada-pytorch sets it (``train.py --cfg cifar``, networks in
``training/networks.py``): 512 feature maps at every resolution up to 32 (``channel_base`` 32768,
``channel_max`` 512), a 2-layer mapping network, ``w`` of 512, the non-residual ('orig')
discriminator, minibatch-std groups of 32 and no style mixing. The paper's own defaults (and
stylegan2-ada's other configurations) are ``mapping_layers=8``, ``d_architecture=resnet``,
``mbstd_group=4`` and ``style_mixing=0.9``. The rest of that configuration (Adam lr 0.0025 with
betas (0, 0.99), R1 with gamma 0.01, batch 64, G EMA, no path-length penalty) is training
settings, which a recipe sets; the engine's regularizer plugins own R1 and any path-length penalty.

Left out from the reference: its fp16 layers and their activation clamping (``conv_clamp``; bf16 has
float32's range), the 'skip' discriminator and the 'orig'/'resnet' generators, and constant noise.
"""

from __future__ import annotations

import math
from typing import Any

from torch import nn

import ganzoo
from ganzoo_plugins.architectures.options import positive_int
from ganzoo_plugins.architectures.conditioning import require_classes
from ganzoo_plugins.architectures.stylegan2.discriminator import ARCHITECTURES, Discriminator
from ganzoo_plugins.architectures.stylegan2.generator import Generator
from ganzoo_plugins.architectures.stylegan2.synthesis import channels_at

#: Image sizes supported: powers of two, from 16 (the discriminator needs blocks above its 4x4 epilogue)
#: up to 1024, the reference's largest.
SIZES = (16, 32, 64, 128, 256, 512, 1024)

#: The CIFAR-10 configuration of stylegan2-ada-pytorch (``--cfg cifar``).
CIFAR_OPTIONS = {
    "channel_base": 32768,
    "channel_max": 512,
    "mapping_layers": 2,
    "w_dim": 512,
    "d_architecture": "orig",
    "mbstd_group": 32,
    "style_mixing": 0.0,
}


class StyleGAN2Architecture(ganzoo.Architecture):
    """StyleGAN2's generator and discriminator (Karras et al. 2020), with stylegan2-ada's CIFAR-10 defaults.

    Spectral normalisation is not part of StyleGAN2 (it relies on equalised learning rate and R1), so
    :attr:`defaults` is empty; ``--spectral-norm`` finds no ``nn.Linear``/``nn.Conv2d`` to normalise here.
    """

    name = "stylegan2"
    description = ("StyleGAN2 (Karras et al. 2020): mapping net, modulated convs, skip G, orig/resnet D; "
                   "square images of 16 to 1024 px (defaults: stylegan2-ada's CIFAR-10 config).")
    options = dict(CIFAR_OPTIONS)

    def build(self, spec: ganzoo.DataSpec, latent_dim: int, **options: Any) -> tuple[nn.Module, nn.Module]:
        """Build the networks; see :meth:`ganzoo.Architecture.build`.

        Args:
            channel_base, channel_max: feature maps at resolution ``r`` are
                ``min(channel_base // r, channel_max)`` in both networks (32768 and 512: 512 everywhere up to 64).
            mapping_layers: depth of the mapping network (2 for CIFAR-10; 8 in the paper).
            w_dim: size of the intermediate latent ``w`` (512).
            d_architecture: ``orig`` (CIFAR-10) or ``resnet`` (the paper's).
            mbstd_group: samples per minibatch-std group (32 for CIFAR-10; 4 in the paper); it shrinks to a
                divisor of the batch when the batch is smaller or does not divide.
            style_mixing: per-batch probability of style mixing in training (0 for CIFAR-10; 0.9 in the paper).
        """
        return self._build(spec, latent_dim, 0, options)

    def _build(self, spec: ganzoo.DataSpec, latent_dim: int, num_classes: int,
               options: dict[str, Any]) -> tuple[nn.Module, nn.Module]:
        values = {**CIFAR_OPTIONS, **options}
        resolution = image_size(spec.shape, self.name)
        channel_base, channel_max, mapping_layers, w_dim, mbstd_group = (
            positive_int(values[key], key, self.name)
            for key in ("channel_base", "channel_max", "mapping_layers", "w_dim", "mbstd_group"))
        if channels_at(resolution, channel_base, channel_max) < 1:
            raise ganzoo.GanzooError(f"{self.name} option channel_base must be at least the image size "
                                     f"{resolution} (it is divided by the resolution); got {channel_base}")
        architecture = str(values["d_architecture"]).strip().lower()
        if architecture not in ARCHITECTURES:
            raise ganzoo.unknown_choice("d_architecture", architecture, ARCHITECTURES, where=f"for {self.name}")
        style_mixing = float(values["style_mixing"])
        if not 0.0 <= style_mixing <= 1.0 or isinstance(values["style_mixing"], bool):
            raise ganzoo.GanzooError(f"{self.name} option style_mixing is a probability in [0, 1]; "
                                     f"got {values['style_mixing']!r}")
        channels = spec.shape[0]
        generator = Generator(latent_dim, w_dim, resolution, channels, channel_base, channel_max, mapping_layers,
                              style_mixing, num_classes)
        discriminator = Discriminator(resolution, channels, channel_base, channel_max, architecture, mbstd_group,
                                      num_classes)
        return generator, discriminator


class ConditionalStyleGAN2Architecture(StyleGAN2Architecture):
    """Class-conditional StyleGAN2 as in stylegan2-ada: a label embedding joins ``z`` in the mapping network;
    the discriminator projects its features on a mapped label embedding (Miyato & Koyama 2018)."""

    name = "stylegan2-conditional"
    description = ("Class-conditional StyleGAN2 (stylegan2-ada): label embedding in the mapping net, "
                   "projection discriminator; 16 to 1024 px.")
    conditional = True

    def build(self, spec: ganzoo.DataSpec, latent_dim: int, **options: Any) -> tuple[nn.Module, nn.Module]:
        """Build the networks; the options are those of :class:`StyleGAN2Architecture`."""
        return self._build(spec, latent_dim, require_classes(spec, self.name), options)


def image_size(shape: tuple[int, ...], arch: str) -> int:
    """The side of a square image ``shape`` of a supported size; GanzooError naming the sizes otherwise."""
    if len(shape) != 3 or shape[1] != shape[2] or shape[1] not in SIZES:
        *smaller, largest = SIZES
        sizes = f"{', '.join(map(str, smaller))} or {largest}"
        raise ganzoo.GanzooError(f"{arch} supports square images of size {sizes}; got shape {shape}")
    assert math.log2(shape[1]).is_integer()
    return shape[1]


@ganzoo.hookimpl
def register_architectures(register):
    """Register ``stylegan2`` and ``stylegan2-conditional``."""
    register(StyleGAN2Architecture())
    register(ConditionalStyleGAN2Architecture())
