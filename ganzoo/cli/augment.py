"""``ganzoo augment``: does generated data help a classifier? Real, real + generated, generated only."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from ganzoo.cli.common import SafePath, one_process_only, output_option, registry_of, reports_errors
from ganzoo.cli.common import seeds as parse_seeds
from ganzoo.compute.devices import resolve_device
from ganzoo.evaluation.augment import (AUGMENT_FILE, DIFFERENCE, AugmentSettings, open_study, report_path, run_study,
                                       write_report)


@click.command("augment")
@click.argument("source", type=SafePath())
@click.option("--data", "data_name", required=True, help="The real dataset (the one the generator was trained on).")
@click.option("--data-root", help="Data directory (default: the run's, else $GANZOO_DATA).")
@click.option("--synthetic-per-class", type=int, default=1000, show_default=True, help="Generated samples per class (N).")
@click.option("--real-fraction", type=float, default=1.0, show_default=True,
              help="Fraction F of the real train split, class-stratified, in (0, 1].")
@click.option("--classifier", default="small-cnn", show_default=True, help="small-cnn or resnet18.")
@click.option("--seeds", default="0,1,2", show_default=True, help="Comma-separated seeds; mean ± std over them.")
@click.option("--steps", type=int, default=2000, show_default=True, help="Optimizer steps of every classifier.")
@click.option("--batch-size", type=int, default=128, show_default=True, help="Classifier batch size.")
@click.option("--lr", type=float, default=1e-3, show_default=True, help="Adam learning rate (cosine-annealed to 0).")
@output_option(f"JSON report (default RUN/{AUGMENT_FILE}, or augment-2.json, ... when taken).", dir_okay=False)
@click.option("--force", is_flag=True, help="Replace the --out report if it exists.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--threads", type=int, help="CPU threads for torch (default: torch's, one per core).")
@click.pass_context
@reports_errors
def augment_command(ctx: click.Context, source: str, data_name: str, data_root: str | None, synthetic_per_class: int,
                    real_fraction: float, classifier: str, seeds: str, steps: int, batch_size: int, lr: float,
                    out: str | None, force: bool, device: str, threads: int | None) -> None:
    """Train a classifier on real, real + generated and generated-only data; compare real test accuracy."""
    one_process_only("augment")
    seed_list = tuple(parse_seeds(seeds))
    settings = AugmentSettings(synthetic_per_class=synthetic_per_class, real_fraction=real_fraction,
                               classifier=classifier, seeds=seed_list, steps=steps, batch_size=batch_size,
                               learning_rate=lr, threads=threads)
    study = open_study(source, data_name, registry_of(ctx), resolve_device(device), data_root)
    path = report_path(out, study.run_dir, force)

    def progress(seed: int, setting: str, score: float, size: int, seconds: float) -> None:
        click.echo(f"seed {seed} {setting}: test accuracy {score:.4f} ({size} training images, {seconds:.1f} s)",
                   err=True)

    report = run_study(study, settings, progress)
    write_report(report, path)
    table = Table(title=f"{data_name}, {settings.classifier}, {steps} steps x {batch_size}, F={real_fraction:g}, "
                        f"N={synthetic_per_class}/class, {len(seed_list)} seeds")
    table.add_column("setting", no_wrap=True)
    for column in ("images", "test accuracy", "per seed"):
        table.add_column(column)
    for name, entry in report["summary"].items():
        signed = "+" if name == DIFFERENCE else ""
        table.add_row(name, str(entry.get("train_size", "")), f"{entry['mean']:{signed}.4f} ± {entry['std']:.4f}",
                      " ".join(f"{value:{signed}.4f}" for value in entry["per_seed"]))
    Console().print(table)
    click.echo(f"wrote {path}")
