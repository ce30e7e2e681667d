"""The augmentations of a run: resolving ``--augment`` and applying the pipes where D reads its inputs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ganzoo.contract.components import DataSpec
from ganzoo.registry.loading import Registry
from ganzoo.training.component_state import component_tensors, load_component_tensors, refuse_repeats
from ganzoo.registry.options import parse_component_spec, resolve_options


@dataclass(frozen=True)
class AugmentationChoice:
    """One augmentation of a run, resolved: its name and typed options."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """What ``config.json`` records under ``resolved.augmentations``."""
        return {"name": self.name,
                "options": {k: list(v) if isinstance(v, tuple) else v for k, v in self.options.items()}}


def resolve_augmentations(specs: Sequence[str], registry: Registry) -> list[AugmentationChoice]:
    """``--augment`` values, checked and typed; GanzooErrors name the bad value and the choices."""
    choices = []
    for text in specs:
        name, given = parse_component_spec(text, "--augment")
        augmentation = registry.augmentation(name)
        options = resolve_options(augmentation.options, given, owner=f"augmentation '{name}'",
                                  flag=f"--augment {name}:")
        choices.append(AugmentationChoice(name, options))
    refuse_repeats([choice.name for choice in choices], "--augment", "augmentation")
    return choices


class Augmenting(nn.Module):
    """The built pipes of one run, in the order given: ``data`` for real-only ones, ``forward`` for the rest."""

    def __init__(self, choices: Sequence[AugmentationChoice], registry: Registry, spec: DataSpec) -> None:
        super().__init__()
        self.choices = list(choices)
        augmentations = [registry.augmentation(choice.name) for choice in self.choices]
        self.pipes = nn.ModuleList(a.build(spec, **c.options) for a, c in zip(augmentations, self.choices))
        self._real_only = [a.real_only for a in augmentations]

    def data(self, real: torch.Tensor) -> torch.Tensor:
        """The real batch through the real-only pipes (dataset augmentations such as flips)."""
        return self._through(real, real_only=True)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Any batch D is about to see, through the pipes that transform everything D sees."""
        return self._through(images, real_only=False)

    def _through(self, images: torch.Tensor, real_only: bool) -> torch.Tensor:
        # Pipes see float32 images outside autocast whatever the precision (a bf16 fake from G included):
        # resampling and colour matrices keep their accuracy, and D's autocast casts its own inputs.
        pipes = [pipe for pipe, only in zip(self.pipes, self._real_only) if only == real_only]
        if not pipes:
            return images
        with torch.autocast(device_type=images.device.type, enabled=False):
            images = images.float()
            for pipe in pipes:
                images = pipe(images)
        return images

    @torch.no_grad()
    def observe(self, real_logits: torch.Tensor, mean_over_processes: Callable[[torch.Tensor], torch.Tensor],
                global_batch: int) -> None:
        """Every pipe's ``observe`` after a discriminator update."""
        for pipe in self.pipes:
            pipe.observe(real_logits, mean_over_processes, global_batch)

    def log_values(self) -> dict[str, torch.Tensor]:
        """Every pipe's values for the log records."""
        values: dict[str, torch.Tensor] = {}
        for pipe in self.pipes:
            values.update(pipe.log_values())
        return values

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """Every pipe's buffers, as ``augmentation.<index>.<name>.<buffer>`` checkpoint entries."""
        return component_tensors("augmentation", [choice.name for choice in self.choices], self.pipes)

    def load_state_tensors(self, tensors: dict[str, torch.Tensor], path: object) -> None:
        """Restore what :meth:`state_tensors` saved; GanzooError when the checkpoint lacks an entry."""
        load_component_tensors("augmentation", [choice.name for choice in self.choices], self.pipes, tensors, path)
