"""``ganzoo recipes``: the published setups ganzoo can reproduce, and what one of them sets."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from ganzoo.cli.common import plain, registry_of, reports_errors
from ganzoo.contract.recipes import Recipe


@click.command("recipes")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
@reports_errors
def recipes_command(ctx: click.Context, name: str | None, as_json: bool) -> None:
    """List recipes (paper, published figure, ganzoo's measured one), or show what recipe NAME sets."""
    registry = registry_of(ctx)
    recipes = [registry.recipe(name)] if name else [registry.recipe(each) for each in registry.names("recipes")]
    if as_json:
        click.echo(json.dumps([recipe.to_json() for recipe in recipes], indent=2))
    elif name:
        _show(recipes[0])
    else:
        table = Table(title="ganzoo recipes: ganzoo run --recipe NAME [options that override it]", show_lines=True)
        for column in ("recipe", "paper", "published", "measured by ganzoo"):
            table.add_column(column)
        for recipe in recipes:
            table.add_row(plain(f"{recipe.name} (v{recipe.version})"), plain(recipe.paper),
                          plain(recipe.published or "-"), plain(recipe.measured or "-"))
        Console().print(table)


def _show(recipe: Recipe) -> None:
    click.echo(f"{recipe.name} (version {recipe.version}): {recipe.description}")
    click.echo(f"paper: {recipe.paper}")
    click.echo(f"reference: {recipe.reference}")
    click.echo(f"published: {recipe.published or '-'}")
    click.echo(f"measured by ganzoo: {recipe.measured or '-'}")
    click.echo("settings:")
    for key, value in recipe.to_json()["settings"].items():
        click.echo(f"  {key}: {json.dumps(value)}")
