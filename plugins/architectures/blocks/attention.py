"""The self-attention block of SAGAN (Zhang, Goodfellow, Metaxas & Odena 2019, "Self-Attention Generative
Adversarial Networks", section 3).

Every position of a feature map attends to every other: with ``f = theta(x)``
and ``g = phi(x)`` (1x1 convolutions to C/8 channels) and ``h = g'(x)`` (to
C/2), ``attention = softmax(f^T g)`` weights the values ``h``, a last 1x1
convolution maps them back to C channels, and the block returns
``x + gamma * o`` with ``gamma`` a learnable scalar that starts at 0, so the
network begins as if the block were not there and learns how much
non-local evidence to use.

Keys and values are max-pooled 2x2 first, which quarters the attention
matrix; that is the official SAGAN code (brain-research/self-attention-gan,
``non_local.py``) as BigGAN-PyTorch, StudioGAN (``src/utils/ops.py``,
``SelfAttention``) and mimicry use it; the paper's equations omit it. The
convolutions have no bias, as there.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganzoo_plugins.architectures.blocks.residual import glorot_

#: The fewest channels a block takes: the query/key width C/8 must be at least 1.
MIN_CHANNELS = 8


class SelfAttention(nn.Module):
    """``x + gamma * conv1x1(softmax(theta(x)^T pool(phi(x))) applied to pool(g(x)))`` on ``(N, C, H, W)`` maps.

    ``H`` and ``W`` must be even (the keys and values are pooled 2x2).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        if channels < MIN_CHANNELS:
            raise ValueError(f"self-attention needs at least {MIN_CHANNELS} channels, got {channels}")
        self.theta = glorot_(nn.Conv2d(channels, channels // 8, 1, bias=False))
        self.phi = glorot_(nn.Conv2d(channels, channels // 8, 1, bias=False))
        self.g = glorot_(nn.Conv2d(channels, channels // 2, 1, bias=False))
        self.out = glorot_(nn.Conv2d(channels // 2, channels, 1, bias=False))
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, height, width = x.shape
        queries = self.theta(x).flatten(2)  # (N, C/8, HW)
        keys = F.max_pool2d(self.phi(x), 2).flatten(2)  # (N, C/8, HW/4)
        values = F.max_pool2d(self.g(x), 2).flatten(2)  # (N, C/2, HW/4)
        attention = torch.softmax(queries.transpose(1, 2) @ keys, dim=-1)  # (N, HW, HW/4), rows sum to 1
        attended = (values @ attention.transpose(1, 2)).reshape(n, -1, height, width)  # (N, C/2, H, W)
        return x + self.gamma * self.out(attended)
