"""StyleGAN2's building blocks in plain PyTorch: equalised-learning-rate layers, the modulated convolution, resampling.

Equalised learning rate (Karras et al. 2018, ProGAN section 4.1): every weight is stored as a draw from N(0, 1)
and multiplied at run time by ``lr_multiplier / sqrt(fan_in)``; biases by ``lr_multiplier``. Adam's step on the
stored parameter is then the same size for every layer whatever its fan-in, and ``lr_multiplier`` scales it
(0.01 in the mapping network). Resampling uses the fixed [1, 3, 3, 1] binomial filter of the reference
(``upfirdn2d`` there) as depthwise (transposed) convolutions, so every op has PyTorch's own double backward and
R1 can differentiate the discriminator twice.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

#: The low-pass filter applied when resampling, before normalisation to unit sum (the reference's default).
RESAMPLE_TAPS = (1.0, 3.0, 3.0, 1.0)

#: Gain after a leaky ReLU of slope 0.2: sqrt(2) keeps the activations' second moment (He et al. 2015).
LRELU_GAIN = math.sqrt(2.0)
LRELU_SLOPE = 0.2


def resample_filter() -> torch.Tensor:
    """The 4x4 separable binomial filter, normalised to sum 1."""
    taps = torch.tensor(RESAMPLE_TAPS)
    kernel = torch.outer(taps, taps)
    return kernel / kernel.sum()


def blur(x: torch.Tensor, kernel: torch.Tensor, pad: int, gain: float = 1.0, stride: int = 1) -> torch.Tensor:
    """Filter every channel of ``x`` with ``kernel`` (zero padding ``pad`` on each side), optionally strided."""
    channels = x.shape[1]
    weight = (kernel * gain).to(x.dtype)[None, None].expand(channels, 1, *kernel.shape)
    return F.conv2d(F.pad(x, [pad] * 4), weight, stride=stride, groups=channels)


def upsample_2x(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Double the size of ``x`` by zero insertion and the 4x4 filter (gain 4, so a constant image stays constant)."""
    channels = x.shape[1]
    weight = (kernel * 4).to(x.dtype)[None, None].expand(channels, 1, *kernel.shape)
    # A stride-2 transposed convolution inserts the zeros; padding 1 trims it to exactly 2H x 2W.
    return F.conv_transpose2d(x, weight, stride=2, padding=1, groups=channels)


def bias_act(x: torch.Tensor, bias: torch.Tensor | None, activation: str, gain: float = 1.0) -> torch.Tensor:
    """``x + bias`` (broadcast over dimension 1), then the activation (``linear`` or ``lrelu``), times ``gain``."""
    if bias is not None:
        x = x + bias.to(x.dtype).reshape(1, -1, *([1] * (x.dim() - 2)))
    if activation == "lrelu":
        x = F.leaky_relu(x, LRELU_SLOPE)
    return x * gain if gain != 1 else x


def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Scale each row of ``x`` to unit mean square (the mapping network's input normalisation)."""
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


class EqualLinear(nn.Module):
    """A fully connected layer with equalised learning rate and an optional learning-rate multiplier.

    Args:
        in_features, out_features: sizes of the input and output.
        bias: add a learned bias before the activation.
        activation: ``linear`` or ``lrelu`` (slope 0.2, output scaled by sqrt(2)).
        lr_multiplier: scales both the run-time weight gain and the bias gain (0.01 in the mapping network).
        bias_init: the bias's initial value (1 for the style affines, so styles start near 1).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, activation: str = "linear",
                 lr_multiplier: float = 1.0, bias_init: float = 0.0) -> None:
        super().__init__()
        self.activation = activation
        # Stored as N(0, 1/lr_multiplier^2): times weight_gain the layer starts as N(0, 1/fan_in).
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init))) if bias else None
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier
        self.act_gain = LRELU_GAIN if activation == "lrelu" else 1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``activation(x @ (weight * weight_gain).T + bias * bias_gain)``."""
        bias = self.bias * self.bias_gain if self.bias is not None else None
        return bias_act(F.linear(x, self.weight * self.weight_gain), bias, self.activation, self.act_gain)


class EqualConv2d(nn.Module):
    """A square convolution with equalised learning rate, 'same' padding and optional 2x filtered downsampling.

    Args:
        in_channels, out_channels, kernel_size: as for :class:`torch.nn.Conv2d`.
        bias: add a learned bias (initialised to 0) before the activation.
        activation: ``linear`` or ``lrelu`` (slope 0.2, output scaled by sqrt(2)).
        down: halve the resolution: low-pass filter first, then a stride-2 convolution.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True,
                 activation: str = "linear", down: bool = False) -> None:
        super().__init__()
        self.activation, self.down, self.kernel_size = activation, down, kernel_size
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size**2)
        self.act_gain = LRELU_GAIN if activation == "lrelu" else 1.0
        self.register_buffer("resample_filter", resample_filter(), persistent=False)

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        """Convolve, add the bias, activate, and scale by ``gain`` on top of the activation's own gain."""
        weight = (self.weight * self.weight_gain).to(x.dtype)
        if self.down:
            # Padding k//2 + 1 per side before the filter makes the strided output exactly H/2 x W/2.
            x = blur(x, self.resample_filter, pad=self.kernel_size // 2 + 1)
            x = F.conv2d(x, weight, stride=2)
        else:
            x = F.conv2d(x, weight, padding=self.kernel_size // 2)
        return bias_act(x, self.bias, self.activation, self.act_gain * gain)


def modulated_weight(weight: torch.Tensor, styles: torch.Tensor, demodulate: bool = True) -> torch.Tensor:
    """Each sample's convolution weight, ``(N, out, in, k, k)`` in float32: ``weight`` scaled per input channel by
    ``styles`` ``(N, in)`` and, with ``demodulate``, each output channel divided by its L2 norm (eq. 1 and 3)."""
    per_sample = weight.float().unsqueeze(0) * styles.float()[:, None, :, None, None]
    if demodulate:
        per_sample = per_sample * (per_sample.square().sum(dim=(2, 3, 4), keepdim=True) + 1e-8).rsqrt()
    return per_sample


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool = True,
                     up: bool = False, kernel: torch.Tensor | None = None) -> torch.Tensor:
    """StyleGAN2's modulated convolution (Karras et al. 2020, section 2.2, eq. 1-3), as one grouped convolution.

    Each sample ``i`` is convolved with its own weight ``weight * styles[i]`` (scaling the input channels);
    with ``demodulate`` every output channel's weight is then divided by its L2 norm, so unit-variance
    inputs give unit-variance outputs. The batch is folded into the channel dimension and convolved with
    ``groups = N``. Styles, modulation and demodulation are computed in float32 whatever the autocast
    precision, so bf16 cannot underflow the norms.

    Args:
        x: ``(N, in_channels, H, W)``.
        weight: ``(out_channels, in_channels, k, k)``, shared by the batch.
        styles: ``(N, in_channels)``, the per-sample channel scales.
        demodulate: normalise each sample's output-channel weights to unit norm.
        up: double the resolution (a stride-2 transposed convolution, then the 4x4 filter ``kernel``).
        kernel: the resampling filter; needed when ``up``.

    Returns:
        ``(N, out_channels, H, W)``, or ``2H x 2W`` with ``up``.
    """
    batch, in_channels, height, width = x.shape
    out_channels, _, size, _ = weight.shape
    per_sample = modulated_weight(weight, styles, demodulate)
    x = x.reshape(1, batch * in_channels, height, width)
    if up:
        assert kernel is not None and size == 3, "upsampling is defined for 3x3 kernels with a filter"
        # conv_transpose2d wants (groups * in, out, k, k); the 2H+1 output is filtered back to 2H with padding 1.
        grouped = per_sample.transpose(1, 2).reshape(batch * in_channels, out_channels, size, size)
        x = F.conv_transpose2d(x, grouped.to(x.dtype), stride=2, groups=batch)
        x = blur(x, kernel, pad=1, gain=4.0)
    else:
        grouped = per_sample.reshape(batch * out_channels, in_channels, size, size)
        x = F.conv2d(x, grouped.to(x.dtype), padding=size // 2, groups=batch)
    return x.reshape(batch, out_channels, *x.shape[2:])
