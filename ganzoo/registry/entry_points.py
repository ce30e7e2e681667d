"""Which entry points of the ``ganzoo`` group load: all, or those ``GANZOO_PLUGINS`` pins (plus ganzoo's own
run-following callbacks), with name clashes between distributions found before anything is imported."""

from __future__ import annotations

import importlib.metadata
from importlib.metadata import EntryPoint

from ganzoo.contract import hookspecs
from ganzoo.errors import unknown_choice

ENTRY_POINT_GROUP = "ganzoo"
#: Environment variable pinning the entry points that load (comma-separated names).
PLUGINS_ENV = "GANZOO_PLUGINS"
BUILTIN_DISTRIBUTION = "ganzoo"
_HOOK_NAMES = tuple(name for name in dir(hookspecs) if hasattr(getattr(hookspecs, name), f"{ENTRY_POINT_GROUP}_spec"))


def selected_entry_points(pinned: str | None) -> tuple[list[EntryPoint], list[tuple[EntryPoint, str]]]:
    """The entry points to load, and each entry point not loaded for a name clash with the error to report."""
    unique: dict[str, EntryPoint] = {}
    clashes: list[tuple[EntryPoint, str]] = []
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        first = unique.setdefault(entry_point.name, entry_point)
        if first is entry_point or (first.value == entry_point.value and _dist_name(first) == _dist_name(entry_point)):
            continue  # an editable and a normal install of one package can both list it
        clashes.append((entry_point, f"plugin name '{entry_point.name}' of {_dist_name(entry_point)} is already used "
                                     f"by {_dist_name(first)} ({first.value}); not loaded"))
    if pinned is None:
        return list(unique.values()), clashes
    wanted = [name.strip() for name in pinned.split(",") if name.strip()]
    for name in wanted:
        if name not in unique:
            raise unknown_choice(f"plugin in {PLUGINS_ENV}", name, unique)
    return [unique[name] for name in wanted], [clash for clash in clashes if clash[0].name in wanted]


def builtin_callbacks(selected: set[str]) -> list[EntryPoint]:
    """ganzoo's own plugins that only follow runs (lifecycle hooks, no components): a pin keeps them,
    since run directories are expected to hold what they write (summary.json, which bench reads)."""
    lifecycle = {name for name in _HOOK_NAMES if name.startswith("on_")}
    kept = []
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if entry_point.name in selected or _dist_name(entry_point) != BUILTIN_DISTRIBUTION:
            continue
        try:
            module = entry_point.load()
        except Exception:  # a broken built-in is reported when it is pinned, not here
            continue
        hooks = {name for name in _HOOK_NAMES if hasattr(getattr(module, name, None), f"{ENTRY_POINT_GROUP}_impl")}
        if hooks and hooks <= lifecycle and entry_point.name not in {e.name for e in kept}:
            kept.append(entry_point)
    return kept


def _dist_name(entry_point: EntryPoint) -> str | None:
    return entry_point.dist.name if entry_point.dist is not None else None
