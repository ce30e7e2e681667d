"""``ganzoo list-plugins``: installed plugins, what they register, and their load errors."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ganzoo.cli.common import plain, registry_of, reports_errors
from ganzoo.registry import KINDS


@click.command("list-plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
@reports_errors
def list_plugins_command(ctx: click.Context, as_json: bool) -> None:
    """List installed plugins and the components they register."""
    registry = registry_of(ctx)
    if as_json:
        click.echo(json.dumps([plugin.to_json() for plugin in registry.plugins], indent=2))
        return
    table = Table(title="ganzoo plugins", show_lines=True)
    table.add_column("plugin")
    table.add_column("from")
    table.add_column("components")
    for plugin in registry.plugins:
        if plugin.distribution:
            kind = "built-in" if plugin.builtin else "third-party"
            source = f"{kind}\n{plugin.distribution} {plugin.version}"
        else:
            source = "in-process"
        lines = [
            Text.assemble((kind.label, "bold"), f" {item['name']}: {item['description']}")
            for kind in KINDS for item in plugin.components.get(kind.key, [])
        ]
        lines += [Text.assemble(("error:", "red"), f" {error}") for error in plugin.errors]
        table.add_row(plain(plugin.name), plain(source), Text("\n").join(lines) if lines else "-")
    Console().print(table)
