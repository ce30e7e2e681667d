"""``ganzoo bench``: a sweep of runs with a live table and a report."""

from __future__ import annotations

import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.live import Live
from rich.table import Table

from ganzoo.bench.cells import CellResult, run_cells
from ganzoo.bench.plan import BenchSettings, parse_variants, plan
from ganzoo.bench.report import write_outputs
from ganzoo.cli.common import names, one_process_only, output_option, plain, positive_int, registry_of, reports_errors
from ganzoo.cli.common import seeds as parse_seeds
from ganzoo.errors import GanzooError
from ganzoo.evaluation.evaluate import split_names
from ganzoo.storage.paths import absolute_path, default_data_root
from ganzoo.storage.preflight import FREE_SPACE_FLOOR, check_path_text, check_writable


#: ``ganzoo bench``'s exit code when any cell failed (its outputs are still written); 2 stays a usage error.
EXIT_CELL_FAILED = 1


@click.command("bench")
@click.option("--arch", "archs", required=True, help="Comma-separated architectures.")
@click.option("--loss", "losses", required=True, help="Comma-separated losses.")
@click.option("--data", "datas", required=True, help="Comma-separated datasets.")
@click.option("--seeds", default="0", show_default=True, help="Comma-separated seeds.")
@click.option("--variant", "variants", multiple=True, metavar="NAME=OPTIONS",
              help="A technique axis: every cell also runs with these ganzoo run options, e.g. "
                   "--variant plain= --variant r1='--reg r1:gamma=1' --variant ema='--ema 0.999' (repeatable).")
@click.option("--steps", type=positive_int(), help="Steps per cell.")
@click.option("--minutes", type=click.FloatRange(min=0, min_open=True), help="Training minutes per cell, instead of --steps.")
@click.option("--metrics", help="Comma-separated metrics, evaluated at the end of each cell (and every --eval-every).")
@click.option("--eval-every", type=positive_int(), help="Evaluate every N steps (metric-vs-step plots).")
@click.option("--eval-samples", type=positive_int(), default=2000, show_default=True, help="Samples per evaluation.")
@click.option("--batch-size", type=positive_int(), help="Batch size of every cell (default: ganzoo run's).")
@click.option("--log-every", type=positive_int(), default=50, show_default=True, help="Log interval of every cell.")
@output_option("Sweep directory (default bench/<time>).", file_okay=False)
@click.option("--device", default="auto", show_default=True,
              help="auto, cpu, cuda or mps; with several GPUs cells run in parallel (--nproc-per-cell GPUs each).")
@click.option("--data-root", help="Data directory (default: $GANZOO_DATA, else ~/.cache/ganzoo/data).")
@click.option("--nproc-per-cell", type=positive_int(), default=1, show_default=True,
              help="Data-parallel processes per cell, via torchrun: N GPUs per cell on CUDA, N gloo processes on CPU.")
@click.option("--resume", is_flag=True, help="Continue an interrupted sweep in --out: finished cells are kept.")
@click.pass_context
@reports_errors
def bench_command(ctx: click.Context, archs: str, losses: str, datas: str, seeds: str, variants: tuple[str, ...],
                  steps: int | None,
                  minutes: float | None, metrics: str | None, eval_every: int | None, eval_samples: int,
                  batch_size: int | None, log_every: int, out: str | None, device: str, data_root: str | None,
                  nproc_per_cell: int, resume: bool) -> None:
    """Benchmark every arch x loss x data (x seed) combination and write a report."""
    one_process_only("bench")
    registry = registry_of(ctx)
    seed_list = parse_seeds(seeds)
    settings = BenchSettings(steps=steps, minutes=minutes, metrics=split_names(metrics), eval_every=eval_every,
                             eval_samples=eval_samples, batch_size=batch_size, log_every=log_every, device=device,
                             data_root=data_root, nproc_per_cell=nproc_per_cell)
    if eval_every and not settings.metrics:
        raise GanzooError("--eval-every needs --metrics (e.g. --metrics classifier)")
    for name in settings.metrics:
        registry.metric(name)
    out_dir = Path(out) if out else Path("bench") / time.strftime("%Y%m%d-%H%M%S")
    check_writable(out_dir, FREE_SPACE_FLOOR, "--out", "the sweep")
    if out_dir.exists() and any(out_dir.iterdir()) and not resume:
        raise GanzooError(f"{out_dir} already holds a sweep; continue it with --resume or choose another --out")
    if data_root:
        check_path_text(data_root, "--data-root")
    cells = plan(registry, names(archs, "--arch"), names(losses, "--loss"), names(datas, "--data"), seed_list,
                 absolute_path(data_root) if data_root else default_data_root(), settings.metrics, eval_samples,
                 parse_variants(variants))
    out_dir.mkdir(parents=True, exist_ok=True)
    table_rows: dict[str, tuple[Any, ...]] = {cell.name: (cell.name, "pending", "", "", "") for cell in cells}

    def render() -> Table:
        table = Table(title=f"ganzoo bench: {out_dir}")
        for column in ("cell", "status", "img/s", "wall s", "best"):
            table.add_column(column)
        for row in table_rows.values():
            table.add_row(*row)
        return table

    with Live(render(), console=Console(stderr=True), refresh_per_second=2) as live:
        def on_result(result: CellResult) -> None:
            best = ", ".join(f"{k} {v:.4g}" for k, v in result.best.items())
            status = result.status + (f": {result.reason}" if result.reason else "")
            table_rows[result.cell.name] = (
                result.cell.name, plain(status), f"{result.img_per_s:,.0f}" if result.img_per_s else "",
                f"{result.wall_s:.1f}" if result.wall_s else "", plain(best),
            )
            live.update(render())

        results = run_cells(cells, settings, out_dir, registry, on_result)
    recorded = {**asdict(settings), "seeds": seed_list, "command": "ganzoo " + " ".join(sys.argv[1:])}
    write_outputs(out_dir, results, recorded)
    counts = {status: sum(r.status == status for r in results) for status in ("ok", "diverged", "failed", "skipped")}
    click.echo(f"{out_dir}/report.md: " + ", ".join(f"{n} {status}" for status, n in counts.items() if n))
    if counts["failed"]:
        ctx.exit(EXIT_CELL_FAILED)
