"""Plugin loading: entry points in, validated name -> component maps out.

``loading`` imports each ``ganzoo`` entry point on its own, runs its
registration hooks and keeps a :class:`Registry` per command; ``options``
parses and types ``--arch-option`` / ``--data-option`` values against a
component's declared defaults. Imports only the contract and ``ganzoo.errors``.
``load_registry`` is documented for plugin tests (docs/plugins.md) and stays
importable from here.
"""

from ganzoo.registry.loading import KINDS, PluginInfo, Registry, load_registry

__all__ = ["KINDS", "PluginInfo", "Registry", "load_registry"]
