"""``ganzoo eval``: evaluate a run or generator file and append the record to eval.jsonl."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from ganzoo.api.evaluation import evaluate
from ganzoo.cli.common import SafePath, one_process_only, plain, positive_int, registry_of, reports_errors, seed_option
from ganzoo.contract.metrics import INCEPTION_WEIGHTS_ENV
from ganzoo.evaluation.evaluate import REF_SPLITS, split_names


@click.command("eval")
@click.argument("source", type=SafePath())
@click.option("--metrics", "metric_names", required=True, help="Comma-separated metric names, e.g. fid,kid,classifier.")
@click.option("--num-samples", type=positive_int(), default=10_000, show_default=True, help="Generated samples per metric.")
@click.option("--ref-split", type=click.Choice(REF_SPLITS), default="train", show_default=True, help="Real split to compare with.")
@seed_option("Seed of the generated samples.")
@click.option("--batch-size", type=positive_int(), default=256, show_default=True, help="Batch size for generation and features.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--data-root", help="Data directory (default: the run's, else $GANZOO_DATA).")
@click.option("--inception-weights", type=SafePath(dir_okay=False),
              help=f"Local Inception weights file for fid/is/kid/prc (or ${INCEPTION_WEIGHTS_ENV}).")
@click.option("--download/--no-download", default=True, help="Allow downloading missing data or weights.")
@click.pass_context
@reports_errors
def eval_command(ctx: click.Context, source: str, metric_names: str, num_samples: int, ref_split: str, seed: int,
                 batch_size: int, device: str, data_root: str | None, inception_weights: str | None, download: bool) -> None:
    """Evaluate a run or generator file; appends a record with the full protocol to the run's eval.jsonl."""
    one_process_only("eval")
    result = evaluate(source, split_names(metric_names), num_samples=num_samples, ref_split=ref_split, seed=seed,
                      batch_size=batch_size, device=device, data_root=data_root, inception_weights=inception_weights,
                      download=download, registry=registry_of(ctx))
    click.echo(f"{result.generator_file}: step {result.record['step']}, {num_samples} samples against the "
               f"{ref_split} split")
    table = Table()
    table.add_column("metric")
    table.add_column("value")
    table.add_column("", justify="right")
    for name, values in result.values.items():
        for key, value in values.items():
            table.add_row(plain(name), plain(key), f"{value:.6g}")
    Console().print(table)
    click.echo(f"appended to {result.eval_file}")
