"""Training a classifier on ``(images, labels)`` tensors with a fixed budget, and measuring its accuracy.

Shared by the ``cas`` metric and ``ganzoo augment``: the same budget (optimizer
steps, batch size, learning-rate schedule) for every training set is what
makes their accuracies comparable. Given the seed, a training is a pure
function of its inputs on the CPU: the seed fixes the initial weights and the
batch order.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganzoo.contract.progress import track
from ganzoo.evaluation.classifier_nets import make_classifier
from ganzoo.contract.components import DataSpec
from ganzoo.errors import GanzooError


@dataclass(frozen=True)
class TrainingBudget:
    """How long and how a classifier trains: Adam, learning rate cosine-annealed to 0 over ``steps``.

    Every step draws a full batch; the training set is reshuffled (by the
    seed) each time it is used up, so small sets are seen many times.
    """

    steps: int = 2000
    batch_size: int = 128
    learning_rate: float = 1e-3
    weight_decay: float = 5e-4

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1:
            raise GanzooError(f"the classifier needs at least 1 step and a positive batch size; got steps={self.steps}, "
                              f"batch_size={self.batch_size}")
        if not self.learning_rate > 0 or self.weight_decay < 0:
            raise GanzooError(f"the classifier's learning rate must be positive and weight decay >= 0; got "
                              f"learning_rate={self.learning_rate:g}, weight_decay={self.weight_decay:g}")

    def to_json(self) -> dict:
        """The budget, with the optimizer and schedule spelled out, for protocols."""
        return {**asdict(self), "optimizer": "adam", "schedule": "cosine annealing to 0"}


def train_classifier(name: str, spec: DataSpec, images: torch.Tensor, labels: torch.Tensor, budget: TrainingBudget,
                     seed: int, device: torch.device) -> nn.Module:
    """A classifier ``name`` trained on ``images`` (float, in [-1, 1]) and ``labels``; returned in eval mode.

    The caller's global RNG is left untouched.
    """
    if len(images) == 0 or len(images) != len(labels):
        raise GanzooError(f"cannot train a classifier on {len(images)} images with {len(labels)} labels")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = make_classifier(name, spec).to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=budget.learning_rate, weight_decay=budget.weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=budget.steps)
    order = torch.Generator().manual_seed(seed)
    net.train()
    for indices in track(batch_indices(len(images), budget.batch_size, budget.steps, order),
                         f"training a {name} classifier", budget.steps):
        loss = F.cross_entropy(net(images[indices].to(device)), labels[indices].to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
    return net.eval()


def batch_indices(count: int, batch_size: int, steps: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """``steps`` batches of ``min(batch_size, count)`` indices from consecutive shuffles of ``range(count)``."""
    size = min(batch_size, count)
    pending = torch.empty(0, dtype=torch.long)
    for _ in range(steps):
        while len(pending) < size:
            pending = torch.cat([pending, torch.randperm(count, generator=generator)])
        yield pending[:size]
        pending = pending[size:]


def labelled_batches(
    data: torch.utils.data.Dataset, batch_size: int, generator: torch.Generator | None = None
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """``(samples in [-1, 1], labels)`` batches of ``data``; shuffled when ``generator`` is given.

    In-memory datasets are indexed a batch at a time; any other dataset goes
    through a DataLoader.
    """
    if hasattr(data, "batch"):
        order = torch.randperm(len(data), generator=generator) if generator is not None else torch.arange(len(data))
        for start in range(0, len(data), batch_size):
            samples, labels = data.batch(order[start : start + batch_size])
            yield samples, labels.cpu()
        return
    shuffle = generator is not None
    loader = torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=shuffle, generator=generator)
    for samples, labels in loader:
        yield samples.float(), torch.as_tensor(labels).long()


def dataset_labels(data: torch.utils.data.Dataset) -> torch.Tensor:
    """All labels of ``data`` as a CPU long tensor (read without decoding samples when it is in memory)."""
    if hasattr(data, "labels"):
        return torch.as_tensor(data.labels).long().cpu()
    return torch.cat([labels for _, labels in labelled_batches(data, 1024)])


def dataset_tensors(data: torch.utils.data.Dataset, indices: torch.Tensor,
                    batch_size: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
    """The samples (float32 in [-1, 1], on the CPU) and labels of ``data`` at ``indices``."""
    if hasattr(data, "batch"):
        chunks = [data.batch(indices[start : start + batch_size]) for start in range(0, len(indices), batch_size)]
    else:
        subset = torch.utils.data.Subset(data, indices.tolist())
        chunks = list(labelled_batches(subset, batch_size))
    return torch.cat([x.float().cpu() for x, _ in chunks]), torch.cat([y.long().cpu() for _, y in chunks])


@torch.inference_mode()
def class_correct_counts(net: nn.Module, data: torch.utils.data.Dataset, batch_size: int, device: torch.device,
                         num_classes: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Per true class (at least ``num_classes`` entries): samples of ``data`` that ``net`` classifies
    correctly, and samples in all."""
    correct = torch.zeros(num_classes, dtype=torch.long)
    total = torch.zeros(num_classes, dtype=torch.long)
    for samples, labels in labelled_batches(data, batch_size):
        hits = net(samples.to(device)).argmax(1).cpu() == labels
        size = max(len(total), int(labels.max()) + 1 if len(labels) else 0)
        correct = F.pad(correct, (0, size - len(correct))) + torch.bincount(labels[hits], minlength=size)
        total = F.pad(total, (0, size - len(total))) + torch.bincount(labels, minlength=size)
    return correct, total


def classifier_accuracy(net: nn.Module, data: torch.utils.data.Dataset, batch_size: int, device: torch.device) -> float:
    """The fraction of ``data`` that ``net`` classifies correctly."""
    correct, total = class_correct_counts(net, data, batch_size, device)
    return int(correct.sum()) / max(int(total.sum()), 1)
