"""``ganzoo animate``: a run's fixed-noise sample grids as one animated GIF, in step order."""

from __future__ import annotations

from pathlib import Path

import click

from ganzoo.cli.common import (
    SafePath,
    one_process_only,
    output_option,
    positive_int,
    reports_errors,
)
from ganzoo.evaluation.animation import (
    check_animation_output,
    every_kth,
    sample_grids,
    write_animation,
)


@click.command("animate")
@click.argument("run", type=SafePath())
@output_option("FILE.gif to write (default: RUN/progress.gif).")
@click.option("--fps", type=positive_int(), default=4, show_default=True, help="Frames (grids) per second.")
@click.option("--every", type=positive_int(), default=1, show_default=True,
              help="Use every K-th grid (the last one is always shown).")
@reports_errors
def animate_command(run: str, out: str | None, fps: int, every: int) -> None:
    """Animate a run's sample grids (RUN/samples/step_*.png) in step order, each frame captioned with its step."""
    one_process_only("animate")
    target = Path(out) if out is not None else Path(run) / "progress.gif"
    check_animation_output(target, fps)
    grids = every_kth(sample_grids(run), every)
    written = write_animation(grids, target, fps)
    click.echo(f"wrote {written} ({len(grids)} frames)")
