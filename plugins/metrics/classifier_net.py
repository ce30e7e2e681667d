"""The CNN evaluators behind the ``classifier`` metric: their recipes and training.

The evaluator is a domain classifier trained on the dataset's own train
split, so it needs no download. Its penultimate layer supplies features for a
Fréchet distance and its softmax supplies class predictions for mode
coverage. Two networks:

- ``small-cnn``, the core's :class:`ganzoo.SmallCNN`, trained with Adam: the
  grayscale recipe (:data:`GRAYSCALE_RECIPE`, 98.5% on MNIST in 20 s);
- ``vgg``, :class:`VggNet` (pairs of 3x3 conv + batch norm + ReLU per stage,
  max pooling, global max pooling; the CIFAR VGG of Simonyan & Zisserman
  2015 at small widths), trained with SGD + Nesterov under a one-cycle
  schedule (Smith & Topin 2019), label smoothing, flips and translations:
  the colour recipe (:data:`COLOUR_RECIPE`): 84.8% on the CIFAR-10 test set
  after 8 epochs (about an hour on 2 CPU cores without AVX-512, once; the
  accuracy is recorded with every result).

Everything that determines the trained weights is in :class:`EvaluatorRecipe`,
whose :meth:`~EvaluatorRecipe.digest` keys the cache.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

import ganzoo
from ganzoo import SmallCNN, labelled_batches, resolve_precision

__all__ = ["COLOUR_RECIPE", "GRAYSCALE_RECIPE", "EvaluatorRecipe", "VggNet", "build_trained_evaluator",
           "evaluator_network", "flip_and_translate", "recipe_for", "train_evaluator", "training_precision"]

# Bump when a network or a training loop changes in a way the recipe fields do not show.
_RECIPE_VERSION = 2

NETWORKS = ("small-cnn", "vgg")


@dataclass(frozen=True)
class EvaluatorRecipe:
    """How the evaluator is built and trained.

    ``network`` ``small-cnn`` trains with Adam at ``learning_rate``; ``vgg``
    with SGD (Nesterov momentum 0.9, ``weight_decay``) under a one-cycle
    schedule peaking at ``learning_rate``. ``label_smoothing`` and
    ``augment`` (random horizontal flips and translations by up to
    ``augment`` pixels, reflect-padded; 0 for none) apply to both.
    """

    network: str = "small-cnn"
    channels: tuple[int, ...] = (16, 32)
    feature_dim: int = 128
    epochs: int = 2
    batch_size: int = 128
    learning_rate: float = 2e-3
    weight_decay: float = 0.0
    label_smoothing: float = 0.0
    augment: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.network not in NETWORKS:
            raise ValueError(f"unknown evaluator network '{self.network}'; choices: {', '.join(NETWORKS)}")

    def to_json(self) -> dict:
        return {**asdict(self), "channels": list(self.channels), "version": _RECIPE_VERSION}

    def digest(self) -> str:
        """A short hash of everything that determines the trained weights."""
        return hashlib.sha256(json.dumps(self.to_json(), sort_keys=True).encode()).hexdigest()[:16]


#: MNIST-like data: 98.5% test accuracy on MNIST in two epochs (about 20 s on 2 CPU cores).
GRAYSCALE_RECIPE = EvaluatorRecipe()

#: Colour images of 16 px and more: 84.8% CIFAR-10 test accuracy (docs/evaluation.md).
COLOUR_RECIPE = EvaluatorRecipe(network="vgg", channels=(32, 64, 128), feature_dim=128, epochs=8, batch_size=256,
                                learning_rate=0.2, weight_decay=5e-4, label_smoothing=0.1, augment=2)


def recipe_for(shape: tuple[int, ...]) -> EvaluatorRecipe:
    """The documented recipe for images of ``shape`` ``(C, H, W)``: colour of 16 px and more gets the VGG."""
    channels, height, width = shape[0], shape[1], shape[2]
    return COLOUR_RECIPE if channels == 3 and min(height, width) >= 16 else GRAYSCALE_RECIPE


class VggNet(nn.Module):
    """Stages of two 3x3 conv + batch norm + ReLU, each but the last followed by 2x2 max pooling, then a global max.

    Args:
        shape: ``(C, H, W)`` of the images.
        num_classes: the number of logits.
        channels: the width of each stage.
        feature_dim: size of the penultimate layer; a linear layer + ReLU
            maps the pooled ``channels[-1]`` features to it when they differ.
    """

    def __init__(self, shape: tuple[int, ...], num_classes: int, channels: tuple[int, ...], feature_dim: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width_in = shape[0]
        for index, width in enumerate(channels):
            for conv_in in (width_in, width):  # width x H' x W', H' halved by every stage before
                layers += [nn.Conv2d(conv_in, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
            if index < len(channels) - 1:
                layers.append(nn.MaxPool2d(2))
            width_in = width
        layers += [nn.AdaptiveMaxPool2d(1), nn.Flatten()]  # channels[-1]
        if feature_dim != width_in:
            layers += [nn.Linear(width_in, feature_dim), nn.ReLU()]  # feature_dim
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(feature_dim, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate-layer features, ``(N, feature_dim)``."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def evaluator_network(shape: tuple[int, int, int], num_classes: int, recipe: EvaluatorRecipe) -> nn.Module:
    """The untrained network ``recipe`` names, sized for ``shape`` and ``num_classes``."""
    if recipe.network == "vgg":
        return VggNet(shape, num_classes, recipe.channels, recipe.feature_dim)
    return SmallCNN(shape, num_classes, tuple(recipe.channels), recipe.feature_dim)


def train_evaluator(
    net: nn.Module, train: torch.utils.data.Dataset, recipe: EvaluatorRecipe, device: torch.device
) -> None:
    """Train ``net`` in place for ``recipe.epochs`` epochs (shuffling and augmentation seeded by the recipe)."""
    shuffle = torch.Generator().manual_seed(recipe.seed)
    steps_per_epoch = -(-len(train) // recipe.batch_size)
    if recipe.network == "vgg":
        optimizer = torch.optim.SGD(net.parameters(), lr=recipe.learning_rate, momentum=0.9, nesterov=True,
                                    weight_decay=recipe.weight_decay)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, recipe.learning_rate,
                                                       total_steps=recipe.epochs * steps_per_epoch)
        net.to(memory_format=torch.channels_last)
    else:
        optimizer = torch.optim.Adam(net.parameters(), lr=recipe.learning_rate, weight_decay=recipe.weight_decay)
        schedule = None
    # bf16 where the CPU or GPU has it natively halves the VGG's time; the small CNN stays in float32.
    low_precision = training_precision(recipe, device) == "bf16"
    net.train()
    for _ in ganzoo.track(range(recipe.epochs), f"training the {recipe.network} evaluator ({recipe.epochs} epochs)"):
        for samples, labels in labelled_batches(train, recipe.batch_size, shuffle):
            samples = samples.to(device)
            if recipe.augment:
                samples = flip_and_translate(samples, recipe.augment, shuffle)
            with torch.autocast(device.type, torch.bfloat16, enabled=low_precision):
                logits = net(samples)
            loss = F.cross_entropy(logits.float(), labels.to(device), label_smoothing=recipe.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if schedule is not None:
                schedule.step()
    net.to(memory_format=torch.contiguous_format).eval()


def flip_and_translate(images: torch.Tensor, pixels: int, rng: torch.Generator) -> torch.Tensor:
    """Each image flipped left-right with probability 1/2 and shifted by up to ``pixels`` in each direction
    (reflect padding, then a random crop of the original size)."""
    count, _, height, width = images.shape
    flip = torch.rand(count, generator=rng) < 0.5
    images = torch.where(flip.to(images.device)[:, None, None, None], images.flip(3), images)
    padded = F.pad(images, (pixels,) * 4, mode="reflect")
    shifts = torch.randint(0, 2 * pixels + 1, (count, 2), generator=rng)
    rows = (shifts[:, 0, None] + torch.arange(height)).to(images.device)  # (N, H)
    columns = (shifts[:, 1, None] + torch.arange(width)).to(images.device)  # (N, W)
    index = torch.arange(count, device=images.device)[:, None, None]
    cropped = padded.permute(0, 2, 3, 1)[index, rows[:, :, None], columns[:, None, :]]  # N x H x W x C
    return cropped.permute(0, 3, 1, 2).contiguous()


def training_precision(recipe: EvaluatorRecipe, device: torch.device) -> str:
    """``bf16`` for the VGG where ``device`` computes it natively, else ``fp32`` (the metric records which)."""
    return resolve_precision("auto", device) if recipe.network == "vgg" else "fp32"


def build_trained_evaluator(
    shape: tuple[int, int, int],
    num_classes: int,
    recipe: EvaluatorRecipe,
    train: torch.utils.data.Dataset,
    device: torch.device,
) -> nn.Module:
    """A new evaluator, initialised from ``recipe.seed`` and trained on ``train``."""
    with torch.random.fork_rng(devices=[]):  # init runs on the CPU; keep the caller's RNG untouched
        torch.manual_seed(recipe.seed)
        net = evaluator_network(shape, num_classes, recipe).to(device)
        train_evaluator(net, train, recipe, device)
    return net
