"""StyleGAN2's synthesis network: a learned 4x4 constant grown by modulated convolutions, 'skip' RGB outputs.

Karras et al. 2020, figure 2d (the revised style block) and figure 7 ('skip' generator): each resolution
has two modulated 3x3 convolutions (the first upsamples), per-pixel noise with a learned strength after
each, and a modulated 1x1 toRGB whose output is added to the upsampled image of the resolution below.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ganzoo_plugins.architectures.stylegan2.layers import (
    LRELU_GAIN,
    EqualLinear,
    bias_act,
    modulated_conv2d,
    resample_filter,
    upsample_2x,
)


class SynthesisLayer(nn.Module):
    """A modulated, demodulated 3x3 convolution, then noise, bias and a leaky ReLU.

    Args:
        in_channels, out_channels: channels in and out.
        w_dim: size of ``w``; a learned affine map (bias initialised to 1) turns it into the styles.
        resolution: the output's height and width (the noise's size).
        up: double the input's resolution.
    """

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, up: bool = False) -> None:
        super().__init__()
        self.resolution, self.up = resolution, up
        self.affine = EqualLinear(w_dim, in_channels, bias_init=1.0)
        # No run-time gain: demodulation divides out the weight's scale.
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 3, 3))
        self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.register_buffer("resample_filter", resample_filter(), persistent=False)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """``x``: ``(N, in_channels, R, R)`` (``R/2`` with ``up``); ``w``: ``(N, w_dim)``."""
        styles = self.affine(w)
        # Fresh noise from the global RNG, one channel broadcast over all feature maps.
        noise = torch.randn(x.shape[0], 1, self.resolution, self.resolution, device=x.device) * self.noise_strength
        x = modulated_conv2d(x, self.weight, styles, up=self.up, kernel=self.resample_filter)
        return bias_act(x + noise, self.bias, "lrelu", LRELU_GAIN)


class ToRGB(nn.Module):
    """A modulated 1x1 convolution to image channels, without demodulation (an image is not normalised)."""

    def __init__(self, in_channels: int, img_channels: int, w_dim: int) -> None:
        super().__init__()
        self.affine = EqualLinear(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(img_channels, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(img_channels))
        self.weight_gain = 1 / math.sqrt(in_channels)  # equalised lr, applied through the styles

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """``x``: ``(N, in_channels, R, R)``; returns ``(N, img_channels, R, R)`` in float32."""
        styles = self.affine(w) * self.weight_gain
        x = modulated_conv2d(x, self.weight, styles, demodulate=False)
        return bias_act(x, self.bias, "linear").float()


class SynthesisBlock(nn.Module):
    """One resolution: (upsampling conv,) conv, toRGB; the first block starts from a learned constant.

    It reads ``num_conv + 1`` latents: one per convolution and one for toRGB, which shares its latent
    with the next block's first convolution (the reference's layout of ``ws``).
    """

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, img_channels: int) -> None:
        super().__init__()
        self.first = in_channels == 0
        self.num_conv = 1 if self.first else 2
        if self.first:
            self.const = nn.Parameter(torch.randn(out_channels, resolution, resolution))
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=True)
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution)
        self.torgb = ToRGB(out_channels, img_channels, w_dim)
        self.register_buffer("resample_filter", resample_filter(), persistent=False)

    def forward(self, x: torch.Tensor | None, img: torch.Tensor | None,
                ws: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Features and the running image at this resolution; ``ws``: ``(N, num_conv + 1, w_dim)``."""
        if self.first:
            x = self.const.unsqueeze(0).repeat(ws.shape[0], 1, 1, 1)  # state size. C x 4 x 4
        else:
            x = self.conv0(x, ws[:, 0])  # state size. C x R x R, up from R/2
        x = self.conv1(x, ws[:, self.num_conv - 1])
        rgb = self.torgb(x, ws[:, self.num_conv])  # state size. img_channels x R x R
        if img is not None:
            with torch.autocast(img.device.type, enabled=False):  # the image sum stays float32, as in the reference
                img = upsample_2x(img.float(), self.resample_filter)
        img = rgb if img is None else img + rgb
        return x, img


def channels_at(resolution: int, channel_base: int, channel_max: int) -> int:
    """Feature maps at ``resolution``: ``min(channel_base // resolution, channel_max)``, as in the reference."""
    return min(channel_base // resolution, channel_max)


class SynthesisNetwork(nn.Module):
    """``ws`` of shape ``(N, num_ws, w_dim)`` to images ``(N, img_channels, resolution, resolution)``.

    Blocks run at 4, 8, ..., ``resolution``; the image is the sum of every block's toRGB output,
    each upsampled to the final size with the [1, 3, 3, 1] filter.

    Attributes:
        num_ws: how many latents a forward pass reads (2 per resolution from 4 to ``resolution``).
    """

    def __init__(self, w_dim: int, resolution: int, img_channels: int, channel_base: int, channel_max: int) -> None:
        super().__init__()
        self.w_dim, self.resolution = w_dim, resolution
        resolutions = [2**i for i in range(2, int(math.log2(resolution)) + 1)]
        self.blocks = nn.ModuleList(
            SynthesisBlock(channels_at(res // 2, channel_base, channel_max) if res > 4 else 0,
                           channels_at(res, channel_base, channel_max), w_dim, res, img_channels)
            for res in resolutions
        )
        self.num_ws = sum(block.num_conv for block in self.blocks) + 1

    def forward(self, ws: torch.Tensor) -> torch.Tensor:
        """The images for ``ws``; a float32 tensor whatever the autocast precision."""
        if ws.dim() != 3 or ws.shape[1] != self.num_ws:
            raise ValueError(f"synthesis expects ws of shape (N, {self.num_ws}, {self.w_dim}), got {tuple(ws.shape)}")
        x = img = None
        index = 0
        for block in self.blocks:
            x, img = block(x, img, ws[:, index:index + block.num_conv + 1])
            index += block.num_conv
        return img
