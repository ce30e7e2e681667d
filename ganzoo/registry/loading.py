"""Plugin loading and the registries of components.

Plugins come from the ``ganzoo`` entry-point group, built-ins included. Each
entry point is imported and validated on its own, so one broken plugin is
reported (``ganzoo list-plugins`` shows its error) while the others work.
This mirrors pluggy's ``load_setuptools_entrypoints``, which stops at the
first failing import.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pluggy

from ganzoo.contract import hookspecs
from ganzoo.contract.augmentations import Augmentation
from ganzoo.contract.callbacks import Logger
from ganzoo.contract.components import Architecture, Dataset, Loss
from ganzoo.errors import GanzooError, unknown_choice
from ganzoo.contract.metrics import Metric
from ganzoo.contract.recipes import Recipe
from ganzoo.contract.regularizers import Regularizer
from ganzoo.registry.validation import check_component
from ganzoo.registry.entry_points import (BUILTIN_DISTRIBUTION, ENTRY_POINT_GROUP, PLUGINS_ENV, builtin_callbacks,
                                          selected_entry_points)


@dataclass(frozen=True)
class ComponentKind:
    """One kind of component: its hook, base class and CLI word."""

    key: str
    hook: str
    base: type
    label: str


KINDS: tuple[ComponentKind, ...] = (
    ComponentKind("architectures", "register_architectures", Architecture, "architecture"),
    ComponentKind("losses", "register_losses", Loss, "loss"),
    ComponentKind("datasets", "register_datasets", Dataset, "dataset"),
    ComponentKind("metrics", "register_metrics", Metric, "metric"),
    ComponentKind("loggers", "register_loggers", Logger, "logger"),
    ComponentKind("regularizers", "register_regularizers", Regularizer, "regularizer"),
    ComponentKind("augmentations", "register_augmentations", Augmentation, "augmentation"),
    ComponentKind("recipes", "register_recipes", Recipe, "recipe"),
)
_KIND_BY_KEY = {kind.key: kind for kind in KINDS}


@dataclass
class PluginInfo:
    """What ``list-plugins`` reports about one plugin."""

    name: str
    module: str
    distribution: str | None = None
    version: str | None = None
    builtin: bool = False
    hooks: list[str] = field(default_factory=list)
    components: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "name": self.name,
            "module": self.module,
            "distribution": self.distribution,
            "version": self.version,
            "builtin": self.builtin,
            "hooks": self.hooks,
            **{kind.key: self.components.get(kind.key, []) for kind in KINDS},
            "errors": self.errors,
        }


class Registry:
    """The loaded plugins and the components they registered, by name."""

    def __init__(
        self,
        plugins: list[PluginInfo],
        components: Mapping[str, Mapping[str, list[tuple[Any, str]]]],
        manager: pluggy.PluginManager | None = None,
    ):
        self.plugins = plugins
        self._components = components
        self._manager = manager

    @property
    def hook(self) -> Any:
        """The lifecycle hook callers of the loaded plugins (``registry.hook.on_run_start(run=...)``)."""
        if self._manager is None:
            manager = pluggy.PluginManager(ENTRY_POINT_GROUP)
            manager.add_hookspecs(hookspecs)
            self._manager = manager
        return self._manager.hook

    def names(self, kind: str) -> list[str]:
        """Sorted names of the components of ``kind`` (e.g. ``"losses"``)."""
        return sorted(self._components[kind])

    def get(self, kind: str, name: str) -> Any:
        """The component of ``kind`` called ``name``; GanzooError if unknown or ambiguous."""
        label = _KIND_BY_KEY[kind].label
        owners = self._components[kind].get(name)
        if not owners:
            error = unknown_choice(label, name, self._components[kind])
            failed = [plugin for plugin in self.plugins if plugin.errors and not plugin.components]
            if failed:  # the name may belong to a plugin that failed to load: say which
                shown = ", ".join(f"'{p.name}'" + (f" ({p.distribution} {p.version})" if p.distribution else "") for p in failed)
                error = GanzooError(f"{error} Plugins that failed to load: {shown}; see ganzoo list-plugins.")
            raise error
        if len(owners) > 1:
            plugins = " and ".join(f"'{plugin}'" for _, plugin in owners)
            raise GanzooError(
                f"{label} '{name}' is registered by both {plugins}; uninstall one or "
                f"choose the plugins to load with {PLUGINS_ENV}."
            )
        return owners[0][0]

    def plugin_of(self, kind: str, name: str) -> PluginInfo:
        """The plugin that registered a component (which must exist)."""
        plugin_name = self._components[kind][name][0][1]
        return next(p for p in self.plugins if p.name == plugin_name)

    def architecture(self, name: str) -> Architecture:
        """The architecture called ``name``."""
        return self.get("architectures", name)

    def loss(self, name: str) -> Loss:
        """The loss called ``name``."""
        return self.get("losses", name)

    def dataset(self, name: str) -> Dataset:
        """The dataset called ``name``."""
        return self.get("datasets", name)

    def metric(self, name: str) -> Metric:
        """The metric called ``name``."""
        return self.get("metrics", name)

    def logger(self, name: str) -> Logger:
        """The logging backend called ``name``."""
        return self.get("loggers", name)

    def regularizer(self, name: str) -> Regularizer:
        """The regularizer called ``name``."""
        return self.get("regularizers", name)

    def augmentation(self, name: str) -> Augmentation:
        """The augmentation called ``name``."""
        return self.get("augmentations", name)

    def recipe(self, name: str) -> Recipe:
        """The recipe called ``name``."""
        return self.get("recipes", name)


def load_registry(extra_plugins: Iterable[object] = (), environ: Mapping[str, str] | None = None) -> Registry:
    """Load every installed plugin (or those ``GANZOO_PLUGINS`` names) plus ``extra_plugins``.

    ``extra_plugins`` are objects with hook implementations registered in
    process, after the installed ones; tests use them to add a plugin without
    installing a package.
    """
    environ = os.environ if environ is None else environ
    manager = pluggy.PluginManager(ENTRY_POINT_GROUP)
    manager.add_hookspecs(hookspecs)
    pinned = environ.get(PLUGINS_ENV)
    entry_points, clashes = selected_entry_points(pinned)
    if pinned is not None:
        entry_points += builtin_callbacks({entry_point.name for entry_point in entry_points})
    plugins: list[PluginInfo] = []
    for entry_point in entry_points:
        info = PluginInfo(name=entry_point.name, module=entry_point.value)
        if entry_point.dist is not None:
            info.distribution = entry_point.dist.name
            info.version = entry_point.dist.version
            info.builtin = entry_point.dist.name == BUILTIN_DISTRIBUTION
        plugins.append(info)
        try:
            module = entry_point.load()
        except Exception as error:  # any import failure is the plugin's, not ours
            info.errors.append(f'Error importing plugin "{entry_point.name}": {type(error).__name__}: {error}')
            continue
        _register(manager, module, info)
    for entry_point, error in clashes:
        clash = PluginInfo(name=entry_point.name, module=entry_point.value,
                           distribution=entry_point.dist.name if entry_point.dist is not None else None)
        clash.errors.append(error)
        plugins.append(clash)
    for index, plugin in enumerate(extra_plugins):
        name = getattr(plugin, "__name__", None) or f"{type(plugin).__name__}-{index}"
        info = PluginInfo(name=name, module=name)
        plugins.append(info)
        _register(manager, plugin, info)
    components = _collect_components(manager, plugins)
    return Registry(plugins, components, manager)


def _register(manager: pluggy.PluginManager, plugin: object, info: PluginInfo) -> None:
    if manager.is_registered(plugin):
        info.errors.append(f'plugin "{info.name}" is already loaded as "{manager.get_name(plugin)}"; not loaded twice')
        return
    try:
        manager.register(plugin, name=info.name)
    except (pluggy.PluginValidationError, ValueError) as error:
        info.errors.append(f'Invalid plugin "{info.name}": {error}')
        return
    try:
        manager.check_pending()  # rejects misspelled hook names instead of ignoring them
    except pluggy.PluginValidationError as error:
        info.errors.append(f'Invalid plugin "{info.name}": {error}')
        manager.unregister(plugin)
        return
    info.hooks = sorted(
        impl.function.__name__ for caller in manager.get_hookcallers(plugin) or [] for impl in caller.get_hookimpls()
        if impl.plugin_name == info.name
    )


def _collect_components(
    manager: pluggy.PluginManager, plugins: list[PluginInfo]
) -> dict[str, dict[str, list[tuple[Any, str]]]]:
    components: dict[str, dict[str, list[tuple[Any, str]]]] = {kind.key: {} for kind in KINDS}
    for info in plugins:
        if info.errors:
            continue
        try:
            staged = _call_registration_hooks(manager, info)
        except Exception as error:
            info.errors.append(f'Plugin "{info.name}" failed to register: {type(error).__name__}: {error}')
            manager.unregister(name=info.name)  # a plugin that failed gets no lifecycle calls either
            continue
        for kind_key, objects in staged.items():
            for obj in objects:
                owners = components[kind_key].setdefault(obj.name, [])
                if owners:
                    label = _KIND_BY_KEY[kind_key].label
                    info.errors.append(f"{label} '{obj.name}' is also registered by plugin '{owners[0][1]}'")
                owners.append((obj, info.name))
                info.components.setdefault(kind_key, []).append(
                    {"name": obj.name, "description": obj.description}
                )
    return components


def _call_registration_hooks(manager: pluggy.PluginManager, info: PluginInfo) -> dict[str, list[Any]]:
    staged: dict[str, list[Any]] = {}
    for kind in KINDS:
        for impl in getattr(manager.hook, kind.hook).get_hookimpls():
            if impl.plugin_name != info.name:
                continue
            found = staged.setdefault(kind.key, [])
            register = _validating_register(kind, found)
            impl.function(**{arg: register for arg in impl.argnames})
    return staged


def _validating_register(kind: ComponentKind, found: list[Any]) -> Callable[[Any], None]:
    def register(component: Any) -> None:
        if not isinstance(component, kind.base):
            raise GanzooError(f"{kind.hook} got {component!r}, which is not a ganzoo.{kind.base.__name__}")
        check_component(component, kind.base, kind.label)
        name = component.name
        if any(existing.name == name for existing in found):
            raise GanzooError(f"{kind.label} '{name}' is registered twice")
        found.append(component)

    return register
