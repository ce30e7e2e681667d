"""Image classifiers for judging and using generated data: ``small-cnn`` and ``resnet18``.

Both take ``(N, C, H, W)`` images in ``[-1, 1]`` and return class logits.
:func:`make_classifier` builds one by name; there is no registry, because
these networks are measuring instruments (the ``classifier`` and ``cas``
metrics, ``ganzoo augment``), not components users swap in.
"""

from __future__ import annotations

import torch
from torch import nn

from ganzoo.contract.components import DataSpec
from ganzoo.errors import GanzooError, unknown_choice

#: The names :func:`make_classifier` accepts.
CLASSIFIERS: tuple[str, ...] = ("small-cnn", "resnet18")


class SmallCNN(nn.Module):
    """Two conv blocks, a ``feature_dim`` feature layer and a linear head.

    98.5% on MNIST after two epochs, about 20 s on 2 CPU cores (the
    ``classifier`` metric's evaluator is this network).

    Args:
        shape: ``(C, H, W)`` of the images; ``H`` and ``W`` at least 4.
        num_classes: the number of logits.
        channels: output channels of the two conv blocks.
        feature_dim: size of the penultimate layer.
    """

    def __init__(self, shape: tuple[int, ...], num_classes: int, channels: tuple[int, int] = (16, 32),
                 feature_dim: int = 128) -> None:
        super().__init__()
        in_channels, height, width = shape
        first, second = channels
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, first, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # first x H/2 x W/2
            nn.Conv2d(first, second, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # second x H/4 x W/4
            nn.Flatten(),
            nn.Linear(second * (height // 4) * (width // 4), feature_dim), nn.ReLU(),  # feature_dim
        )  # fmt: skip
        self.head = nn.Linear(feature_dim, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate-layer features, ``(N, feature_dim)``."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def resnet18(shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """torchvision's ResNet-18 (random init) adapted to 28-32 px images.

    The ImageNet stem (7x7 conv with stride 2, then max-pooling) would shrink
    a 32 px image to 8 px before the first block; as in the usual CIFAR
    variant it becomes a 3x3 conv with stride 1 and no pooling.
    """
    from torchvision.models import resnet18 as torchvision_resnet18

    net = torchvision_resnet18(weights=None, num_classes=num_classes)
    net.conv1 = nn.Conv2d(shape[0], 64, kernel_size=3, stride=1, padding=1, bias=False)
    net.maxpool = nn.Identity()
    return net


def make_classifier(name: str, spec: DataSpec) -> nn.Module:
    """A freshly initialised classifier ``name`` (see :data:`CLASSIFIERS`) for images like ``spec``'s.

    Initialisation draws from torch's global RNG: seed it first.
    """
    if name not in CLASSIFIERS:
        raise unknown_choice("classifier", name, CLASSIFIERS)
    check_classifiable(spec)
    if name == "small-cnn":
        return SmallCNN(spec.shape, spec.num_classes)
    return resnet18(spec.shape, spec.num_classes)


def check_classifiable(spec: DataSpec, purpose: str = "the classifier") -> None:
    """Raise ``GanzooError`` (naming ``purpose``) unless ``spec`` is labelled images of at least 4x4 pixels."""
    if not spec.is_image:
        raise GanzooError(f"{purpose} needs image data (C, H, W); these samples have shape {spec.shape}")
    if spec.num_classes < 2:
        raise GanzooError(f"{purpose} needs a dataset with at least 2 classes; this one has {spec.num_classes}")
    if min(spec.shape[1:]) < 4:
        raise GanzooError(f"{purpose} needs images of at least 4x4 pixels; these are {spec.shape}")
