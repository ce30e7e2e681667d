"""Residual blocks of the SNGAN ResNets (Miyato et al. 2018, "Spectral Normalization for Generative
Adversarial Networks", Tables 4-5; Miyato & Koyama 2018, "cGANs with Projection Discriminator").

The blocks are those of Gulrajani et al. 2017's WGAN-GP ResNet as Miyato et
al. configured them: pre-activation, two 3x3 convolutions per block, the
resolution changed inside the block (nearest-neighbour upsampling before the
first convolution of a generator block, 2x2 average pooling after the second
of a discriminator block) and a learnable 1x1 shortcut wherever the shape
changes. Order of operations, hidden widths and the initialisation (Glorot
uniform, gain sqrt(2) on the residual convolutions and 1 on the shortcuts,
zero biases) follow the authors' code, pfnet-research/sngan_projection
(``gen_models/resblocks.py``, ``dis_models/resblocks.py``); mimicry's
``torch_mimicry/nets/modules/resblocks.py`` is the same network in PyTorch.

No layer here is spectrally normalised: ``--spectral-norm`` (or the
architecture's default) does that for the whole network.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ganzoo_plugins.architectures.conditioning import ConditionalBatchNorm2d

#: Glorot-uniform gain of the convolutions on the residual path (1 on shortcuts and other layers).
RESIDUAL_GAIN = math.sqrt(2.0)


def glorot_(layer: nn.Module, gain: float = 1.0) -> nn.Module:
    """Glorot-uniform weights with ``gain`` and a zero bias, as chainer's ``GlorotUniform`` initialiser; returns ``layer``."""
    nn.init.xavier_uniform_(layer.weight, gain)
    if getattr(layer, "bias", None) is not None:
        nn.init.zeros_(layer.bias)
    return layer


class GeneratorBlock(nn.Module):
    """``BN -> ReLU -> upsample x2 -> conv3x3 -> BN -> ReLU -> conv3x3`` plus a shortcut.

    The batch norms are class-conditional (:class:`ConditionalBatchNorm2d`,
    a gain and bias per class) when ``num_classes`` > 0; the block is then
    called as ``block(x, labels)``. The shortcut is the input itself, or a
    1x1 convolution of the (upsampled) input when the channels change or
    the block upsamples.
    """

    def __init__(self, in_channels: int, out_channels: int, upsample: bool = True, num_classes: int = 0) -> None:
        super().__init__()
        self.upsample = upsample
        self.norm1 = _batch_norm(in_channels, num_classes)
        self.conv1 = glorot_(nn.Conv2d(in_channels, out_channels, 3, 1, 1), RESIDUAL_GAIN)
        self.norm2 = _batch_norm(out_channels, num_classes)
        self.conv2 = glorot_(nn.Conv2d(out_channels, out_channels, 3, 1, 1), RESIDUAL_GAIN)
        learnable = in_channels != out_channels or upsample
        self.shortcut = glorot_(nn.Conv2d(in_channels, out_channels, 1)) if learnable else None

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = F.relu(_normalise(self.norm1, x, labels))
        if self.upsample:
            h = F.interpolate(h, scale_factor=2, mode="nearest")
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(_normalise(self.norm2, self.conv1(h), labels)))
        return h + (x if self.shortcut is None else self.shortcut(x))


class DiscriminatorBlock(nn.Module):
    """``ReLU -> conv3x3 -> ReLU -> conv3x3 [-> avgpool 2]`` plus a shortcut.

    The hidden width is the input width, as in the SNGAN reference, or with
    ``wide`` the output width (BigGAN-PyTorch's ``D_wide``). The shortcut is
    the input itself, or ``conv1x1 [-> avgpool 2]`` when the channels change
    or the block downsamples.
    """

    def __init__(self, in_channels: int, out_channels: int, downsample: bool = True, wide: bool = False) -> None:
        super().__init__()
        self.downsample = downsample
        hidden = out_channels if wide else in_channels
        self.conv1 = glorot_(nn.Conv2d(in_channels, hidden, 3, 1, 1), RESIDUAL_GAIN)
        self.conv2 = glorot_(nn.Conv2d(hidden, out_channels, 3, 1, 1), RESIDUAL_GAIN)
        learnable = in_channels != out_channels or downsample
        self.shortcut = glorot_(nn.Conv2d(in_channels, out_channels, 1)) if learnable else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Not in place: x is still needed by the shortcut.
        h = self.conv2(F.relu(self.conv1(F.relu(x))))
        skip = x if self.shortcut is None else self.shortcut(x)
        if self.downsample:
            h, skip = F.avg_pool2d(h, 2), F.avg_pool2d(skip, 2)
        return h + skip


class OptimizedDiscriminatorBlock(nn.Module):
    """The discriminator's first block: ``conv3x3 -> ReLU -> conv3x3 -> avgpool 2``, shortcut ``avgpool 2 -> conv1x1``.

    No activation before the first convolution (the input is the image), and
    the shortcut pools before its convolution, which is cheaper at full
    resolution.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = glorot_(nn.Conv2d(in_channels, out_channels, 3, 1, 1), RESIDUAL_GAIN)
        self.conv2 = glorot_(nn.Conv2d(out_channels, out_channels, 3, 1, 1), RESIDUAL_GAIN)
        self.shortcut = glorot_(nn.Conv2d(in_channels, out_channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.avg_pool2d(self.conv2(F.relu(self.conv1(x))), 2)
        return h + self.shortcut(F.avg_pool2d(x, 2))


def _batch_norm(channels: int, num_classes: int) -> nn.Module:
    return ConditionalBatchNorm2d(channels, num_classes) if num_classes > 0 else nn.BatchNorm2d(channels)


def _normalise(norm: nn.Module, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    return norm(x, labels) if isinstance(norm, ConditionalBatchNorm2d) else norm(x)
