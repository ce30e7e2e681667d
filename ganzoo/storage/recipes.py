"""``ganzoo run --recipe NAME``: a recipe's settings under the user's options, and what config.json records of it."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from ganzoo.contract.recipes import Recipe
from ganzoo.errors import GanzooError
from ganzoo.storage.config import RunConfig

#: Options merged key by key: ``--arch-option base_width=8`` changes one of a recipe's architecture options.
_MERGED_OPTIONS = ("arch_options", "data_options")


def config_from_recipe(recipe: Recipe, given: Mapping[str, Any]) -> RunConfig:
    """The run ``recipe`` describes, with every option in ``given`` (the user's) overriding the recipe's."""
    known = {field.name for field in dataclasses.fields(RunConfig)} - {"recipe"}
    unknown = sorted(set(recipe.settings) - known)
    if unknown:
        raise GanzooError(f"recipe '{recipe.name}' sets unknown run option(s) {', '.join(map(repr, unknown))}; "
                          f"valid options: {', '.join(sorted(known))}")
    values = recipe.to_json()["settings"]
    values.update(given)
    for name in _MERGED_OPTIONS:
        if name in recipe.settings and name in given:
            values[name] = {**recipe.settings[name], **given[name]}
    values["recipe"] = recipe.name
    return RunConfig.from_json(values, source=f"recipe '{recipe.name}'")


def recipe_record(recipe: Recipe, config: RunConfig) -> dict[str, Any]:
    """config.json's ``recipe`` entry: name, version, paper, the values the recipe set, and those overridden."""
    record = recipe.to_json()
    used = config.to_json()
    overridden = sorted(key for key, value in record["settings"].items()
                        if _comparable(used[key]) != _comparable(value))
    return {key: record[key] for key in ("name", "version", "paper", "reference", "settings")} | {
        "overridden": overridden}


def _comparable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
