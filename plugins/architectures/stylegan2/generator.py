"""The StyleGAN2 generator: mapping network, synthesis network, style mixing and truncation."""

from __future__ import annotations

import torch
from torch import nn

from ganzoo_plugins.architectures.stylegan2.mapping import MappingNetwork
from ganzoo_plugins.architectures.stylegan2.synthesis import SynthesisNetwork


class Generator(nn.Module):
    """``z`` (and, when conditional, labels) to images, through ``w = mapping(z)`` and ``synthesis(ws)``.

    The two halves are submodules so that techniques can work in W: ``generator.mapping(z)`` returns
    ``ws`` of shape ``(N, num_ws, w_dim)`` (one copy of ``w`` per synthesis layer) and
    ``generator.synthesis(ws)`` the images, which is what a path-length regularizer needs.

    The output is the last toRGB sum, linear as in the reference: it is not squashed into [-1, 1], and
    training pulls it to the data's range. ganzoo clamps to [-1, 1] wherever samples are written or
    scored, as the reference does when it saves images.

    Args:
        z_dim: size of ``z``.
        w_dim: size of ``w``.
        resolution: the images' height and width (a power of two).
        img_channels: channels of the images (1 or 3).
        channel_base, channel_max: feature maps at resolution ``r`` are ``min(channel_base // r, channel_max)``.
        mapping_layers: depth of the mapping network.
        style_mixing: probability that a training batch mixes two latents (see :meth:`forward`).
        num_classes: classes of the label input; 0 for an unconditional generator.

    Attributes:
        truncation_psi: the truncation trick (Karras et al. 2019, StyleGAN appendix B; 2020, section 5):
            1.0 (the default) leaves ``w`` alone; any other value replaces every ``w`` by
            ``w_avg + psi * (w - w_avg)``, with ``w_avg`` the running mean of ``w`` that the mapping
            network tracks in training mode. 0 gives every sample the average latent. It applies in
            every mode; set it on a sampling copy, not on the network being trained.
        num_ws: how many latents the synthesis network reads.
    """

    def __init__(self, z_dim: int, w_dim: int, resolution: int, img_channels: int, channel_base: int,
                 channel_max: int, mapping_layers: int, style_mixing: float, num_classes: int = 0) -> None:
        super().__init__()
        self.z_dim, self.num_classes, self.style_mixing = z_dim, num_classes, float(style_mixing)
        self.synthesis = SynthesisNetwork(w_dim, resolution, img_channels, channel_base, channel_max)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(z_dim, w_dim, self.num_ws, mapping_layers, num_classes)
        self.truncation_psi = 1.0

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images ``(N, img_channels, resolution, resolution)`` (float32) for ``z`` ``(N, z_dim)``.

        Style mixing regularisation (Karras et al. 2019, StyleGAN section 3.1): in training mode, with
        probability ``style_mixing`` per batch, a second latent is drawn and the synthesis layers from
        a random crossover point on read its ``w`` instead. The coin, crossover and second ``z`` come
        from torch's global RNG (which ganzoo checkpoints); with probability 0 nothing is drawn.
        """
        ws = self.mapping(z, labels, truncation_psi=self.truncation_psi)
        if self.training and self.style_mixing > 0 and float(torch.rand(())) < self.style_mixing:
            cutoff = int(torch.randint(1, self.num_ws, ()))
            other = self.mapping(torch.randn_like(z), labels, truncation_psi=self.truncation_psi, update_w_avg=False)
            ws = torch.cat([ws[:, :cutoff], other[:, cutoff:]], dim=1)
        return self.synthesis(ws)
