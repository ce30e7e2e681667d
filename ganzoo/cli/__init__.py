"""The ``ganzoo`` command line: parses, calls the engine, reports.

One module per command group plus shared error/option helpers and the
progress display. The top layer: may import every other package, and nothing
imports it. ``cli`` (the click group) and ``main`` are importable from here,
as docs/plugins.md documents; ``python -m ganzoo.cli`` runs it.
"""

from ganzoo.cli.main import cli, main

__all__ = ["cli", "main"]
