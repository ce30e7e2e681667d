"""The regularizers of a run: resolving ``--reg`` (or the loss's defaults) and applying them in D's (or G's) update.

:func:`resolve_regularizers` turns specification strings into
:class:`RegularizerChoice` values (checked, with every option typed) before a
run directory exists; :class:`Regularization` holds the built terms of one
run and adds their weighted penalties to each discriminator update.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ganzoo.contract.components import DataSpec, Loss
from ganzoo.contract.regularizers import CriticBatch, GeneratorBatch, Regularizer
from ganzoo.errors import GanzooError
from ganzoo.registry.loading import Registry
from ganzoo.training.component_state import component_tensors, load_component_tensors, refuse_repeats
from ganzoo.registry.options import convert_value, parse_component_spec, resolve_options

#: ``--reg none``: no regularizer, not even the loss's default ones.
NO_REGULARIZER = "none"


@dataclass(frozen=True)
class RegularizerChoice:
    """One regularizer of a run, resolved: its name, weight, laziness and own options."""

    name: str
    weight: float
    every: int = 1
    options: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """What ``config.json`` records under ``resolved.regularizers``."""
        options = {key: list(value) if isinstance(value, tuple) else value for key, value in self.options.items()}
        return {"name": self.name, "weight": self.weight, "every": self.every, "options": options}


def resolve_regularizers(specs: Sequence[str] | None, loss: Loss, registry: Registry) -> list[RegularizerChoice]:
    """The regularizers in force: the user's ``--reg`` values, else the loss's ``defaults["regularizers"]``.

    ``specs`` is None when the user gave no ``--reg``; an empty list (``--reg
    none``) means none at all. Unknown names and options are GanzooErrors
    naming the valid choices.
    """
    chosen = list(loss.defaults.get("regularizers", ())) if specs is None else list(specs)
    choices = []
    for text in chosen:
        name, given = parse_component_spec(text, "--reg")
        regularizer = registry.regularizer(name)
        choices.append(_choice(regularizer, given))
    refuse_repeats([choice.name for choice in choices], "--reg", "regularizer")
    return choices


def _choice(regularizer: Regularizer, given: dict[str, str]) -> RegularizerChoice:
    owner = f"regularizer '{regularizer.name}'"
    common = {key: given.pop(key) for key in ("weight", "every") if key in given}
    weight = convert_value(float(regularizer.weight), common.get("weight", regularizer.weight), "--reg weight")
    every = convert_value(1, common.get("every", regularizer.every), "--reg every")
    if not weight >= 0 or weight == float("inf"):
        raise GanzooError(f"--reg {regularizer.name}: weight must be a finite number >= 0, got {weight}")
    if every < 1:
        raise GanzooError(f"--reg {regularizer.name}: every must be a positive integer, got {every}")
    declared = {**regularizer.options, "weight": regularizer.weight, "every": 1}
    options = resolve_options(declared, given, owner=owner, flag=f"--reg {regularizer.name}:")
    for key in ("weight", "every"):
        options.pop(key)
    return RegularizerChoice(regularizer.name, float(weight), int(every), options)


class Regularization(nn.Module):
    """The built terms of one run and when each applies; a module so that their buffers move and checkpoint."""

    def __init__(self, choices: Sequence[RegularizerChoice], registry: Registry, spec: DataSpec) -> None:
        super().__init__()
        self.choices = list(choices)
        self.terms = nn.ModuleList(registry.regularizer(choice.name).build(spec, **choice.options)
                                   for choice in self.choices)
        self.networks = [registry.regularizer(choice.name).network for choice in self.choices]
        self.needs_input_gradients = any(registry.regularizer(choice.name).needs_input_gradients
                                         for choice, network in zip(self.choices, self.networks)
                                         if network == "discriminator")
        self.regularizes_generator = "generator" in self.networks

    def penalty(self, batch: CriticBatch, update: int) -> torch.Tensor | float:
        """The weighted sum of D's terms due at discriminator update number ``update`` (counted from 0)."""
        return self._due("discriminator", batch, update)

    def generator_penalty(self, batch: GeneratorBatch, update: int) -> torch.Tensor | float:
        """The weighted sum of G's terms due at generator update number ``update`` (counted from 0)."""
        return self._due("generator", batch, update)

    def _due(self, network: str, batch: CriticBatch | GeneratorBatch, update: int) -> torch.Tensor | float:
        total: torch.Tensor | float = 0.0
        for choice, term, regularized in zip(self.choices, self.terms, self.networks):
            if regularized == network and update % choice.every == 0 and choice.weight:
                total = total + (choice.weight * choice.every) * term(batch).float()
        return total

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """Every term's buffers, as ``regularizer.<index>.<name>.<buffer>`` checkpoint entries."""
        return component_tensors("regularizer", [choice.name for choice in self.choices], self.terms)

    def load_state_tensors(self, tensors: dict[str, torch.Tensor], path: object) -> None:
        """Restore what :meth:`state_tensors` saved; GanzooError when the checkpoint lacks an entry."""
        load_component_tensors("regularizer", [choice.name for choice in self.choices], self.terms, tensors, path)
