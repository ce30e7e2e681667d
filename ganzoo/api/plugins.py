"""``ganzoo.list_plugins`` and ``ganzoo.list_recipes``: what is installed, as plain data."""

from __future__ import annotations

from typing import Any

from ganzoo.registry import KINDS, Registry, load_registry


def list_plugins(registry: Registry | None = None) -> dict[str, dict[str, str]]:
    """Every installed component by kind: ``{"architectures": {"dcgan": "description", ...}, "losses": ...}``.

    Kinds are those of ``ganzoo list-plugins`` (architectures, losses, datasets, metrics, loggers,
    regularizers, augmentations, recipes, ...); ``ganzoo list-plugins --json`` gives the per-plugin view.
    """
    registry = registry or load_registry()
    components: dict[str, dict[str, str]] = {kind.key: {} for kind in KINDS}
    for plugin in registry.plugins:
        for kind in KINDS:
            for item in plugin.components.get(kind.key, []):
                components[kind.key][item["name"]] = item["description"]
    return {kind: dict(sorted(names.items())) for kind, names in components.items()}


def list_recipes(registry: Registry | None = None) -> dict[str, dict[str, Any]]:
    """Every installed recipe as ``ganzoo recipes --json`` shows it (paper, settings, published and measured figures)."""
    registry = registry or load_registry()
    return {name: registry.recipe(name).to_json() for name in sorted(registry.names("recipes"))}
