"""``ganzoo report``: one self-contained HTML page for a run directory or a bench sweep."""

from __future__ import annotations

import click

from ganzoo.cli.common import SafePath, one_process_only, output_option, reports_errors
from ganzoo.report import write_report


@click.command("report")
@click.argument("path", type=SafePath())
@output_option("The HTML file to write (default: PATH/report.html).")
@reports_errors
def report_command(path: str, out: str | None) -> None:
    """Write an HTML report of a run directory or a ganzoo bench directory.

    The page is self-contained (charts as inline SVG, images embedded), so it
    opens anywhere without a network or the files beside it.
    """
    one_process_only("report")
    click.echo(f"wrote {write_report(path, out)}")
