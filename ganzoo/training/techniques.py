"""The composable techniques of a run, as one value the trainer takes: regularizers, augmentations, EMA.

The trainer calls them at fixed points of its step (docs/design.md); this
module owns what they add to checkpoints and log records, so a new technique
changes the step in one place at most.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ganzoo.storage.checkpoint import load_module, module_tensors
from ganzoo.training.augmentation import Augmenting
from ganzoo.training.ema import GeneratorAverage
from ganzoo.training.regularization import Regularization


@dataclass
class Techniques:
    """The techniques a run adds to the plain adversarial step.

    Attributes:
        regularization: the ``--reg`` terms, added to every discriminator
            update they are due at (None: none).
        augmentation: the ``--augment`` pipes, applied wherever D reads its
            input (None: none).
        ema_decay, ema_start: ``--ema``: the generator's weights are averaged
            after every generator update (None: no average).
        average: the average itself, made by :meth:`attach`.
    """

    regularization: Regularization | None = None
    augmentation: Augmenting | None = None
    ema_decay: float | None = None
    ema_start: int = 0
    average: GeneratorAverage | None = field(default=None, init=False)

    def attach(self, generator: nn.Module) -> Techniques:
        """Start the EMA of ``generator`` (the trainer's, after its memory-format change); returns self."""
        if self.ema_decay is not None:
            self.average = GeneratorAverage(generator, self.ema_decay, self.ema_start)
        return self

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """Everything the techniques hold, as checkpoint entries."""
        tensors: dict[str, torch.Tensor] = {}
        for part in (self.regularization, self.augmentation):
            if part is not None:
                tensors.update(part.state_tensors())
        if self.average is not None:
            tensors.update(module_tensors("ema_generator", self.average.network))
        return tensors

    def replicated_tensors(self) -> dict[str, torch.Tensor]:
        """The state data-parallel ranks hold identical: all of it but the EMA's copied batch-norm statistics,
        which are per rank like G's own unless ``--sync-bn``."""
        tensors = self.state_tensors()
        if self.average is not None:
            parameters = {f"ema_generator.{name}" for name, _ in self.average.network.named_parameters()}
            tensors = {k: v for k, v in tensors.items() if not k.startswith("ema_generator.") or k in parameters}
        return tensors

    def load_state_tensors(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any], path: object) -> None:
        """Restore what :meth:`state_tensors` saved (GanzooError naming a missing entry)."""
        for part in (self.regularization, self.augmentation):
            if part is not None:
                part.load_state_tensors(tensors, path)
        if self.average is not None:
            load_module("ema_generator", self.average.network, tensors, path)
            self.average.updates = int(meta.get("step", 0))  # one generator update per step

    def logged_values(self) -> dict[str, torch.Tensor]:
        """Scalars for the log records (ADA's p), still on the device."""
        return self.augmentation.log_values() if self.augmentation is not None else {}
