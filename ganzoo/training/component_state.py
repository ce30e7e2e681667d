"""Checkpoint entries of a run's per-run plugin modules (regularizer terms, augmentation pipes)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ganzoo.errors import GanzooError


def component_tensors(kind: str, names: Sequence[str], modules: Sequence[nn.Module]) -> dict[str, torch.Tensor]:
    """Every module's state as ``<kind>.<index>.<name>.<key>`` entries (the index keeps two of one kind apart)."""
    return {f"{kind}.{index}.{name}.{key}": value
            for index, (name, module) in enumerate(zip(names, modules))
            for key, value in module.state_dict().items()}


def load_component_tensors(kind: str, names: Sequence[str], modules: Sequence[nn.Module],
                           tensors: dict[str, torch.Tensor], path: object) -> None:
    """Restore what :func:`component_tensors` wrote; GanzooError naming the first missing entry."""
    for index, (name, module) in enumerate(zip(names, modules)):
        prefix = f"{kind}.{index}.{name}."
        wanted = module.state_dict()
        missing = [key for key in wanted if prefix + key not in tensors]
        if missing:
            raise GanzooError(f"checkpoint {path} lacks the state of {kind} '{name}' ({prefix}{missing[0]})")
        module.load_state_dict({key: tensors[prefix + key] for key in wanted})


def refuse_repeats(names: Sequence[str], flag: str, kind: str) -> None:
    """GanzooError when a component is chosen twice (``--reg r1 --reg r1:gamma=1``): options go in one value."""
    repeated = sorted({name for name in names if list(names).count(name) > 1})
    if repeated:
        raise GanzooError(f"{flag} {repeated[0]} is given twice; give each {kind} once, with all its options")
