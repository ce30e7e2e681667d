"""``ganzoo eval``: evaluate a run or generator file and append the record to eval.jsonl."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from ganzoo.cli.common import SafePath, one_process_only, plain, positive_int, registry_of, reports_errors, seed_option
from ganzoo.compute.devices import resolve_device
from ganzoo.contract.metrics import INCEPTION_WEIGHTS_ENV
from ganzoo.errors import GanzooError
from ganzoo.evaluation.evaluate import EVAL_FILE, REF_SPLITS, EvalSettings, append_record, prepare_evaluation, split_names
from ganzoo.evaluation.sampling import find_generator_file, load_generator
from ganzoo.evaluation.sources import GeneratorSamples
from ganzoo.storage.paths import absolute_path, default_data_root
from ganzoo.storage.preflight import check_path_text
from ganzoo.storage.rundir import RunDir, run_dir_of


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
    if data_root:
        check_path_text(data_root, "--data-root")
    registry = registry_of(ctx)
    file = find_generator_file(source)
    loaded = load_generator(file, registry, resolve_device(device))
    run_dir = run_dir_of(file)
    saved = RunDir(run_dir).read_config()["resolved"] if RunDir(run_dir).config_path.is_file() else {}
    data_name = loaded.record.extra.get("data")
    if not data_name:
        raise GanzooError(f"{file} does not say which dataset it was trained on")
    evaluation = prepare_evaluation(
        split_names(metric_names), registry,
        dataset=registry.dataset(data_name), spec=loaded.spec,
        data_root=absolute_path(data_root) if data_root else saved.get("data_root") or default_data_root(),
        data_options=loaded.record.extra.get("data_options", saved.get("data_options", {})),
        device=loaded.device,
        settings=EvalSettings(num_samples=num_samples, ref_split=ref_split, batch_size=batch_size, seed=seed,
                              inception_weights=inception_weights, download=download),
    )
    samples = GeneratorSamples(loaded.network, loaded.record.latent_dim, loaded.spec, loaded.device, seed,
                               conditional=loaded.record.conditional)
    results = evaluation.run(samples)
    record = evaluation.record(results, step=loaded.record.step, generator=str(file),
                               sampled_from=loaded.record.extra.get("generator", "raw"), arch=loaded.record.arch,
                               loss=loaded.record.extra.get("loss"), data=data_name)
    append_record(run_dir / EVAL_FILE, record)
    click.echo(f"{file}: step {loaded.record.step}, {num_samples} samples against the {ref_split} split")
    table = Table()
    table.add_column("metric")
    table.add_column("value")
    table.add_column("", justify="right")
    for name, result in results.items():
        for key, value in result.values.items():
            table.add_row(plain(name), plain(key), f"{value:.6g}")
    Console().print(table)
    click.echo(f"appended to {run_dir / EVAL_FILE}")
