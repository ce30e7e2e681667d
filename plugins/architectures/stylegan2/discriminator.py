"""The StyleGAN2 discriminator: 'resnet' or 'orig' blocks, minibatch standard deviation, a 4x4 epilogue.

Karras et al. 2020, figure 7 and section 4.1: the paper's default is the residual discriminator;
stylegan2-ada-pytorch's CIFAR-10 configuration uses the plain ('orig') one. Each block runs two 3x3
convolutions at its resolution, the second downsampling with the [1, 3, 3, 1] filter; 'resnet' adds a
filtered 1x1 shortcut and scales the sum by sqrt(1/2). The epilogue appends the minibatch standard
deviation (Karras et al. 2018, ProGAN section 3), then a 3x3 convolution and two linear layers.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ganzoo_plugins.architectures.stylegan2.layers import EqualConv2d, EqualLinear
from ganzoo_plugins.architectures.stylegan2.mapping import MappingNetwork
from ganzoo_plugins.architectures.stylegan2.synthesis import channels_at

#: Depth of the conditional discriminator's label mapping: the reference's default, which its
#: CIFAR-10 configuration does not change.
LABEL_MAPPING_LAYERS = 8
ARCHITECTURES = ("orig", "resnet")


class DiscriminatorBlock(nn.Module):
    """Two 3x3 convolutions at one resolution, halving it; the first block also reads the image (fromRGB).

    Args:
        in_channels: channels of the features coming in; 0 for the first block, which reads the image.
        tmp_channels, out_channels: channels after the first and the second convolution.
        img_channels: channels of the image, for fromRGB.
        architecture: ``orig`` or ``resnet`` (adds a 1x1 shortcut).
    """

    def __init__(self, in_channels: int, tmp_channels: int, out_channels: int, img_channels: int,
                 architecture: str) -> None:
        super().__init__()
        self.first, self.residual = in_channels == 0, architecture == "resnet"
        if self.first:
            self.fromrgb = EqualConv2d(img_channels, tmp_channels, 1, activation="lrelu")
        self.conv0 = EqualConv2d(tmp_channels, tmp_channels, 3, activation="lrelu")
        self.conv1 = EqualConv2d(tmp_channels, out_channels, 3, activation="lrelu", down=True)
        if self.residual:
            self.skip = EqualConv2d(tmp_channels, out_channels, 1, bias=False, down=True)

    def forward(self, x: torch.Tensor | None, img: torch.Tensor) -> torch.Tensor:
        """Features at half the resolution of ``x`` (of ``img`` for the first block)."""
        if self.first:
            x = self.fromrgb(img)  # state size. tmp_channels x R x R
        if self.residual:
            # Both branches scaled by sqrt(1/2) keep the sum's variance that of one branch.
            shortcut = self.skip(x, gain=math.sqrt(0.5))
            return shortcut + self.conv1(self.conv0(x), gain=math.sqrt(0.5))
        return self.conv1(self.conv0(x))  # state size. out_channels x R/2 x R/2


def group_size_for(batch: int, group_size: int) -> int:
    """The minibatch-std group size for ``batch``: ``group_size``, or the largest divisor of ``batch`` below it.

    The reference asserts that the batch divides into groups; ganzoo's batches (a last short one, a
    penalty on part of a batch) need not, so the group shrinks to the nearest size that divides it.
    """
    size = max(1, min(group_size, batch))
    while batch % size:
        size -= 1
    return size


class MinibatchStd(nn.Module):
    """Append the mean standard deviation over groups of samples as extra feature maps (ProGAN section 3).

    The batch is split into groups of ``group_size`` samples (sample ``i`` joins group ``i mod N/G``, as
    in the reference) and the channels into ``num_channels`` parts; each part's standard deviation
    across its group, averaged over channels and pixels, becomes one constant feature map of every
    sample in the group. Computed in float32.
    """

    def __init__(self, group_size: int, num_channels: int = 1) -> None:
        super().__init__()
        self.group_size, self.num_channels = group_size, num_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W)`` to ``(N, C + num_channels, H, W)``."""
        batch, channels, height, width = x.shape
        group, parts = group_size_for(batch, self.group_size), self.num_channels
        y = x.float().reshape(group, -1, parts, channels // parts, height, width)
        y = (y - y.mean(dim=0)).square().mean(dim=0)  # variance over the group: (N/G) x F x C/F x H x W
        y = (y + 1e-8).sqrt().mean(dim=(2, 3, 4))  # (N/G) x F
        y = y.reshape(-1, parts, 1, 1).repeat(group, 1, height, width)
        return torch.cat([x, y.to(x.dtype)], dim=1)


class DiscriminatorEpilogue(nn.Module):
    """Minibatch std, a 3x3 convolution and two linear layers on the 4x4 features; one logit or a projection."""

    def __init__(self, channels: int, mbstd_group: int, out_features: int) -> None:
        super().__init__()
        self.mbstd = MinibatchStd(mbstd_group)
        self.conv = EqualConv2d(channels + 1, channels, 3, activation="lrelu")
        self.fc = EqualLinear(channels * 16, channels, activation="lrelu")
        self.out = EqualLinear(channels, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, 4, 4)`` to ``(N, out_features)``."""
        x = self.conv(self.mbstd(x))  # state size. C x 4 x 4
        return self.out(self.fc(x.flatten(1)))


class Discriminator(nn.Module):
    """Images ``(N, img_channels, R, R)`` to raw logits ``(N,)``, float32; with classes, a projection on labels.

    Args:
        resolution, img_channels: the images' size and channels.
        channel_base, channel_max: as for the generator (widths mirror it, resolution for resolution).
        architecture: ``orig`` or ``resnet``.
        mbstd_group: group size of the minibatch standard deviation.
        num_classes: with classes (stylegan2-ada's conditional discriminator), the labels go through a
            mapping network to ``cmap`` (width of the 4x4 features), the epilogue outputs as many
            features, and the logit is their dot product with ``cmap`` over sqrt(width).
    """

    def __init__(self, resolution: int, img_channels: int, channel_base: int, channel_max: int, architecture: str,
                 mbstd_group: int, num_classes: int = 0) -> None:
        super().__init__()
        self.num_classes = num_classes
        resolutions = [2**i for i in range(int(math.log2(resolution)), 2, -1)]
        self.blocks = nn.ModuleList(
            DiscriminatorBlock(channels_at(res, channel_base, channel_max) if res < resolution else 0,
                               channels_at(res, channel_base, channel_max),
                               channels_at(res // 2, channel_base, channel_max), img_channels, architecture)
            for res in resolutions
        )
        width = channels_at(4, channel_base, channel_max)
        self.cmap_dim = width if num_classes else 0
        if num_classes:
            self.mapping = MappingNetwork(0, width, None, LABEL_MAPPING_LAYERS, num_classes, w_avg_beta=None)
        self.epilogue = DiscriminatorEpilogue(width, mbstd_group, self.cmap_dim or 1)

    def forward(self, img: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Raw logits, one per image (no sigmoid: the loss owns the link function)."""
        x = None
        for block in self.blocks:
            x = block(x, img)  # state size. C x R/2 x R/2, down to 4 x 4
        x = self.epilogue(x)
        if self.num_classes:
            cmap = self.mapping(None, labels)
            x = (x * cmap).sum(dim=1, keepdim=True) / math.sqrt(self.cmap_dim)
        return x.float().reshape(-1)
