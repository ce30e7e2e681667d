"""Building blocks for class-conditional networks: conditional batch norm and discriminator heads.

- Conditional batch norm (de Vries et al. 2017; Miyato & Koyama 2018, for
  the generator): batch statistics shared by all classes, a gain and bias
  per class.
- Projection head (Miyato & Koyama 2018): ``logit = psi(phi(x)) + <embed(y), phi(x)>``.
- Auxiliary classifier head (ACGAN, Odena et al. 2017): the discriminator
  also predicts the class; it returns ``(logits, class_logits)`` and ganzoo's
  trainer adds the cross-entropy terms (see docs/plugins.md).
"""

from __future__ import annotations

import torch
from torch import nn

import ganzoo

HEADS = ("projection", "acgan")


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm2d without its own affine transform, then a per-class gain and bias."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        # Spectral norm of a generator must not rescale the per-class gains, which start at one.
        self.gain = ganzoo.exempt_from_spectral_norm(nn.Embedding(num_classes, channels))
        self.bias = ganzoo.exempt_from_spectral_norm(nn.Embedding(num_classes, channels))
        nn.init.ones_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        gain = self.gain(labels)[:, :, None, None]
        bias = self.bias(labels)[:, :, None, None]
        return self.norm(x) * gain + bias


class ProjectionHead(nn.Module):
    """Adversarial logit from features ``(N, F)``: a linear term plus the projection on the class embedding."""

    def __init__(self, features: int, num_classes: int) -> None:
        super().__init__()
        self.linear = nn.Linear(features, 1)
        self.embedding = nn.Embedding(num_classes, features)
        nn.init.normal_(self.embedding.weight, std=features**-0.5)

    def forward(self, features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.linear(features).reshape(-1) + (self.embedding(labels) * features).sum(dim=1)


class AuxiliaryClassifierHead(nn.Module):
    """Adversarial logit and class logits from features ``(N, F)``; labels are not an input (ACGAN)."""

    def __init__(self, features: int, num_classes: int) -> None:
        super().__init__()
        self.linear = nn.Linear(features, 1)
        self.classifier = nn.Linear(features, num_classes)

    def forward(self, features: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.linear(features).reshape(-1), self.classifier(features)


class ConditionalDiscriminator(nn.Module):
    """``body`` maps samples to features; ``head`` turns features and labels into the output.

    The body's output is summed over any spatial dimensions (global sum
    pooling, as in the projection discriminator) to give ``(N, F)``.
    """

    def __init__(self, body: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.body = body
        self.head = head

    def forward(self, samples: torch.Tensor, labels: torch.Tensor):
        features = self.body(samples)
        if features.dim() > 2:
            features = features.sum(dim=tuple(range(2, features.dim())))
        return self.head(features, labels)


def make_head(head: str, features: int, num_classes: int, arch: str) -> nn.Module:
    """The discriminator head ``head`` names, or a one-line error listing :data:`HEADS`."""
    if head == "projection":
        return ProjectionHead(features, num_classes)
    if head == "acgan":
        return AuxiliaryClassifierHead(features, num_classes)
    raise ganzoo.GanzooError(f"{arch} option head must be one of {', '.join(HEADS)}; got {head!r}")


def require_classes(spec: ganzoo.DataSpec, arch: str) -> int:
    """The number of classes, or a one-line error when the data has none."""
    if spec.num_classes < 2:
        raise ganzoo.GanzooError(f"{arch} is class-conditional and needs labelled data with 2 or more classes; "
                                 f"this dataset has {spec.num_classes}")
    return spec.num_classes
