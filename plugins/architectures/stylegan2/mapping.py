"""StyleGAN's mapping network: the noise ``z`` (and optionally a class label) to the intermediate latent ``w``."""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import nn

from ganzoo_plugins.architectures.stylegan2.layers import EqualLinear, normalize_2nd_moment

#: Learning-rate multiplier of the mapping layers (Karras et al. 2019, StyleGAN appendix C; the reference's 0.01).
MAPPING_LR_MULTIPLIER = 0.01
#: Decay of the running average of ``w`` that truncation pulls towards (the reference's ``w_avg_beta``).
W_AVG_BETA = 0.995


class MappingNetwork(nn.Module):
    """An MLP from ``z`` (normalised to unit second moment) to ``w``, optionally fed a label embedding.

    ``z`` is scaled to unit mean square; with classes, a learned embedding of the one-hot label is
    normalised the same way and concatenated to it. ``num_layers`` equalised-lr linear layers with leaky
    ReLUs follow, all of width ``w_dim`` and learning-rate multiplier 0.01. In training mode the batch
    mean of ``w`` is folded into the buffer ``w_avg`` (decay 0.995), the centre truncation moves towards.

    Args:
        z_dim: size of ``z``; 0 for a label-only mapping (the conditional discriminator's).
        w_dim: size of ``w`` and of every hidden layer.
        num_ws: copies of ``w`` to return, one per synthesis layer; None returns ``(N, w_dim)``.
        num_layers: linear layers after the input.
        num_classes: classes of the label input; 0 for none.
        w_avg_beta: decay of ``w_avg``; None keeps no average (and so allows no truncation).
    """

    def __init__(self, z_dim: int, w_dim: int, num_ws: int | None, num_layers: int, num_classes: int = 0,
                 w_avg_beta: float | None = W_AVG_BETA) -> None:
        super().__init__()
        self.z_dim, self.w_dim, self.num_ws, self.num_classes = z_dim, w_dim, num_ws, num_classes
        self.w_avg_beta = w_avg_beta
        embed_dim = w_dim if num_classes else 0
        if num_classes:
            self.embed = EqualLinear(num_classes, embed_dim)
        widths = [z_dim + embed_dim] + [w_dim] * num_layers
        self.layers = nn.ModuleList(
            EqualLinear(width_in, width_out, activation="lrelu", lr_multiplier=MAPPING_LR_MULTIPLIER)
            for width_in, width_out in itertools.pairwise(widths)
        )
        if w_avg_beta is not None:
            self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: torch.Tensor | None, labels: torch.Tensor | None = None, truncation_psi: float = 1.0,
                update_w_avg: bool = True) -> torch.Tensor:
        """``w`` for each row of ``z``: ``(N, num_ws, w_dim)``, or ``(N, w_dim)`` when ``num_ws`` is None.

        Args:
            z: ``(N, z_dim)`` noise; None when ``z_dim`` is 0.
            labels: ``(N,)`` class indices, for a mapping with classes.
            truncation_psi: 1 returns ``w`` itself; otherwise ``w_avg + psi * (w - w_avg)``.
            update_w_avg: False leaves ``w_avg`` alone even in training mode (the second latent of style mixing).
        """
        parts = []
        if self.z_dim:
            parts.append(normalize_2nd_moment(z.float()))
        if self.num_classes:
            one_hot = F.one_hot(labels.long(), self.num_classes).float()
            parts.append(normalize_2nd_moment(self.embed(one_hot).float()))
        x = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        for layer in self.layers:
            x = layer(x)
        x = x.float()  # under bf16 autocast the layers return bf16; w and its average stay float32
        if self.w_avg_beta is not None and self.training and update_w_avg:
            with torch.no_grad():
                self.w_avg.copy_(x.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        if self.num_ws is not None:
            x = x.unsqueeze(1).repeat(1, self.num_ws, 1)
        if truncation_psi != 1:
            if self.w_avg_beta is None:
                raise ValueError("truncation needs a mapping network that tracks w_avg")
            x = self.w_avg.lerp(x, truncation_psi)
        return x
