"""The checks a component passes when a plugin registers it: a kebab-case name and a valid declaration."""

from __future__ import annotations

import re
from typing import Any

from ganzoo.contract.components import (ARCHITECTURE_DEFAULT_KEYS, LOSS_DEFAULT_KEYS, SPECTRAL_NORM_CHOICES, Architecture,
                                        Dataset, Loss)
from ganzoo.contract.recipes import Recipe
from ganzoo.contract.regularizers import COMMON_REGULARIZER_OPTIONS, REGULARIZER_NETWORKS, Regularizer
from ganzoo.errors import GanzooError

_NAME_PATTERN = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def check_component(component: Any, base: type, label: str) -> None:
    """GanzooError naming what is wrong with ``component`` (a ``base`` instance registered as a ``label``)."""
    name = getattr(component, "name", "")
    if not isinstance(name, str) or not _NAME_PATTERN.match(name):
        raise GanzooError(f"{label} name {name!r} is not kebab-case (e.g. 'wgan-gp')")
    if base is Loss:
        unknown = set(component.defaults) - set(LOSS_DEFAULT_KEYS)
        if unknown:
            raise GanzooError(
                f"loss '{name}' has unknown defaults {sorted(unknown)}; valid keys: {', '.join(LOSS_DEFAULT_KEYS)}"
            )
    if base is Architecture:
        _check_architecture_defaults(component)
    if base is Regularizer:
        _check_regularizer(component)
    if base is Recipe:
        missing = [key for key in ("arch", "loss", "data") if key not in component.settings]
        if missing:
            raise GanzooError(f"recipe '{name}' does not set {', '.join(missing)}; a recipe names its architecture, "
                              "loss and dataset")
    if base is Dataset and not hasattr(component, "spec"):
        raise GanzooError(f"dataset '{name}' has no spec")


def _check_architecture_defaults(architecture: Architecture) -> None:
    unknown = set(architecture.defaults) - set(ARCHITECTURE_DEFAULT_KEYS)
    if unknown:
        raise GanzooError(f"architecture '{architecture.name}' has unknown defaults {sorted(unknown)}; "
                          f"valid keys: {', '.join(ARCHITECTURE_DEFAULT_KEYS)}")
    chosen = architecture.defaults.get("spectral_norm", "none")
    if chosen not in SPECTRAL_NORM_CHOICES:
        raise GanzooError(f"architecture '{architecture.name}' has defaults spectral_norm {chosen!r}; "
                          f"valid choices: {', '.join(SPECTRAL_NORM_CHOICES)}")


def _check_regularizer(regularizer: Regularizer) -> None:
    reserved = sorted(set(regularizer.options) & set(COMMON_REGULARIZER_OPTIONS))
    if reserved:
        raise GanzooError(f"regularizer '{regularizer.name}' declares options {reserved}, which every regularizer "
                          f"takes already; remove them from its options")
    if isinstance(regularizer.every, bool) or not isinstance(regularizer.every, int) or regularizer.every < 1:
        raise GanzooError(f"regularizer '{regularizer.name}' has every {regularizer.every!r}; it must be an int >= 1")
    if regularizer.network not in REGULARIZER_NETWORKS:
        raise GanzooError(f"regularizer '{regularizer.name}' has network {regularizer.network!r}; valid choices: "
                          f"{', '.join(REGULARIZER_NETWORKS)}")
    if isinstance(regularizer.weight, bool) or not isinstance(regularizer.weight, (int, float)):
        raise GanzooError(f"regularizer '{regularizer.name}' has weight {regularizer.weight!r}; it must be a number")
