"""BigGAN's building blocks (Brock, Donahue & Simonyan 2019, "Large Scale GAN Training for High Fidelity
Natural Image Synthesis", section 3 and appendix B).

- :class:`LatentConditionalBatchNorm2d`: batch norm whose per-sample gain and
  bias are linear maps of a conditioning vector (the shared class embedding
  concatenated with a chunk of ``z``), with the gain centred at one.
- :class:`BigGANGeneratorBlock`: the pre-activation up-block driven by it.
- :func:`orthogonal_init_`: the orthogonal initialisation of every linear,
  convolution and embedding weight.

Order of operations and layer shapes follow POSTECH-CVLab/PyTorch-StudioGAN
``src/models/big_resnet.py`` and ``src/utils/ops.py``, which agree with
ajbrock/BigGAN-PyTorch ``layers.py`` (``ccbn``, ``GBlock``, ``DBlock``) on
everything but the batch-norm epsilon (StudioGAN's 1e-4 is used here). No
layer is spectrally normalised here; the engine does that for the whole
network, the conditional batch norm's linear maps included, as in both
references.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

#: Batch-norm epsilon of StudioGAN's BigGAN (``ops.batchnorm_2d``); BigGAN-PyTorch uses 1e-5.
BN_EPS = 1e-4

INITIALISED_LAYERS = (nn.Conv2d, nn.Linear, nn.Embedding)


def orthogonal_init_(network: nn.Module) -> nn.Module:
    """Orthogonal weights for every Conv2d, Linear and Embedding of ``network``, zero biases; returns it.

    Both references initialise this way (``G_init = D_init = 'ortho'``);
    StudioGAN also zeroes the biases. Blocks reused from other modules
    (self-attention, the first discriminator block) are re-initialised too.
    """
    for module in network.modules():
        if isinstance(module, INITIALISED_LAYERS):
            nn.init.orthogonal_(module.weight)
            if getattr(module, "bias", None) is not None:
                nn.init.zeros_(module.bias)
    return network


class LatentConditionalBatchNorm2d(nn.Module):
    """``BN(x) * (1 + W_g c) + W_b c`` for a conditioning vector ``c`` of ``condition_dim`` per sample.

    The batch norm has no affine transform of its own. ``W_g`` and ``W_b`` are
    bias-free linear layers, so at ``c = 0`` the block is a plain batch norm;
    the ``1 +`` keeps the gain near one whatever scale spectral norm gives them.
    """

    def __init__(self, channels: int, condition_dim: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, eps=BN_EPS, affine=False)
        self.gain = nn.Linear(condition_dim, channels, bias=False)
        self.bias = nn.Linear(condition_dim, channels, bias=False)

    def forward(self, x: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        gain = 1 + self.gain(condition)[:, :, None, None]
        bias = self.bias(condition)[:, :, None, None]
        return self.norm(x) * gain + bias


class BigGANGeneratorBlock(nn.Module):
    """``CBN -> ReLU -> upsample x2 -> conv3x3 -> CBN -> ReLU -> conv3x3`` plus ``upsample -> conv1x1``.

    Both conditional batch norms read the same conditioning vector; the block
    is called as ``block(x, condition)``. Upsampling is nearest-neighbour; the
    shortcut always has a 1x1 convolution, as the block always upsamples.
    """

    def __init__(self, in_channels: int, out_channels: int, condition_dim: int) -> None:
        super().__init__()
        self.norm1 = LatentConditionalBatchNorm2d(in_channels, condition_dim)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, 1, 1)
        self.norm2 = LatentConditionalBatchNorm2d(out_channels, condition_dim)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(F.relu(self.norm1(x, condition)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.norm2(self.conv1(h), condition)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))
