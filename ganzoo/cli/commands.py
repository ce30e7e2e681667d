"""The ``ganzoo`` command line: parses, reports, and leaves the work to the library."""

from __future__ import annotations

import functools
import json
import os
import signal
import sys
import time
from dataclasses import asdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import torch
from rich.console import Console
from rich.live import Live
from rich.table import Table

from ganzoo.version import __version__
from ganzoo.evaluation.augment import AUGMENT_FILE, DIFFERENCE, AugmentSettings, open_study, run_study, write_report
from ganzoo.bench.cells import BenchSettings, CellResult, plan, run_cells
from ganzoo.bench.report import write_outputs
from ganzoo.storage.config import ON_NAN_CHOICES, RunConfig
from ganzoo.compute.devices import resolve_device
from ganzoo.distributed.world import AgreedError, launch_from_environment
from ganzoo.training.divergence import EXIT_DIVERGED, DivergedError
from ganzoo.errors import GanzooError
from ganzoo.evaluation.evaluate import EVAL_FILE, REF_SPLITS, EvalSettings, append_record, split_names, prepare_evaluation
from ganzoo.contract.metrics import INCEPTION_WEIGHTS_ENV
from ganzoo.registry.options import parse_assignments
from ganzoo.cli.progress import RichReporter
from ganzoo.registry.loading import KINDS, Registry, load_registry
from ganzoo.training.runner import SilentReporter, continues_after_restart, resume_run, start_run
from ganzoo.storage.paths import default_data_root
from ganzoo.compute.precision import CHOICES as PRECISION_CHOICES
from ganzoo.storage.rundir import RunDir, rerun_config, run_dir_of
from ganzoo.evaluation.sampling import class_labels, find_generator_file, generate, load_generator, output_target, write_samples
from ganzoo.evaluation.sources import GeneratorSamples

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT; SIGTERM gives 143


class UserError(click.ClickException):
    """A :class:`GanzooError` on its way to the terminal: one line, exit code 2.

    Control characters (a newline in a name the user typed) are shown escaped,
    so the message stays one line whatever it quotes.
    """

    exit_code = EXIT_USAGE

    def __init__(self, message: str, quiet: bool = False) -> None:
        super().__init__("".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in message))
        self.quiet = quiet

    def show(self, file: Any = None) -> None:
        if not self.quiet:
            super().show(file)


class SafePath(click.Path):
    """``click.Path`` that reports a NUL byte as a usage error (click's raises ValueError)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and "\x00" in value:
            self.fail(f"{value!r} contains a NUL character", param, ctx)
        return super().convert(value, param, ctx)


class DivergedExit(UserError):
    """A run stopped by NaN/Inf: one line, exit code 3, so scripts can tell it from a usage error."""

    exit_code = EXIT_DIVERGED


def reports_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn GanzooError into a one-line message and exit code 2 (3 for a diverged run).

    Under torchrun the N processes would print N copies of the same line: an
    error all ranks raised together (a failed check, a divergence) is printed
    by rank 0 alone, any other by the first process of each node.
    """

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except DivergedError as error:  # decided by all ranks together
            raise DivergedExit(str(error), quiet=not _prints(agreed=True)) from None
        except GanzooError as error:
            raise UserError(str(error), quiet=not _prints(isinstance(error, AgreedError))) from None

    return wrapper


def _prints(agreed: bool) -> bool:
    """Whether this process prints an error (see :func:`reports_errors`)."""
    try:
        launch = launch_from_environment()
    except GanzooError:
        return True
    return launch.is_main if agreed else launch.local_rank == 0


def one_process_only(command: str) -> None:
    """Refuse a command other than ``run`` under torchrun: N copies would write the same files."""
    if launch_from_environment().world_size > 1:
        raise AgreedError(f"ganzoo {command} runs in one process; start it without torchrun "
                          "(ganzoo run trains on several; ganzoo bench --nproc-per-cell starts torchrun itself)")


def registry_of(ctx: click.Context) -> Registry:
    """The plugin registry, loaded once per command (tests may pass extra plugins via ``obj``)."""
    obj = ctx.find_root().ensure_object(dict)
    if "registry" not in obj:
        obj["registry"] = load_registry(obj.get("extra_plugins", ()))
    return obj["registry"]


# click >= 8.2 signals "no arguments, show help" with a UsageError subclass; older clicks exit directly.
_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())


class OneLineErrorGroup(click.Group):
    """A group whose usage errors (bad option values, unknown commands) print as one line too."""

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except _NO_ARGS_IS_HELP:
            raise
        except click.UsageError as error:
            raise UserError(error.format_message()) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as error:
            raise UserError(error.format_message()) from None


@click.group(cls=OneLineErrorGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ganzoo")
def cli() -> None:
    """ganzoo: train and compare GANs built from plugins."""


def _positive_int() -> click.IntRange:
    return click.IntRange(min=1)


@cli.command("run")
@click.option("--arch", help="Architecture name (see list-plugins).")
@click.option("--loss", help="Loss name (see list-plugins).")
@click.option("--data", help="Dataset name (see list-plugins).")
@click.option("--steps", type=_positive_int(), help="Total generator steps of the run (default 10000).")
@click.option("--epochs", type=click.FloatRange(min=0, min_open=True), help="Total passes over the training data, instead of --steps.")
@click.option("--batch-size", type=_positive_int(), help="Samples per batch (default 64).")
@click.option("--lr-g", type=click.FloatRange(min=0, min_open=True), help="Generator learning rate (default: the loss's, else 2e-4).")
@click.option("--lr-d", type=click.FloatRange(min=0, min_open=True), help="Discriminator learning rate (default: the loss's, else 2e-4).")
@click.option("--betas", help="Adam betas as B1,B2 (default: the loss's, else 0.5,0.999).")
@click.option("--n-critic", type=_positive_int(), help="Discriminator steps per generator step (default: the loss's, else 1).")
@click.option("--latent-dim", type=_positive_int(), help="Size of the noise vector z (default 100).")
@click.option("--seed", type=int, help="Random seed (default 0); CPU runs repeat exactly.")
@click.option("--device", help="auto (default), cpu, cuda, cuda:N or mps.")
@click.option("--data-root", help="Data directory (default: $GANZOO_DATA, else ~/.cache/ganzoo/data).")
@click.option("--download/--no-download", default=None, help="Allow downloading missing data (default: allow).")
@click.option("-o", "--out", type=SafePath(file_okay=False), help="The run directory (default runs/<time>-<arch>-<loss>-<data>).")
@click.option("--sample-every", type=_positive_int(), help="Write a fixed-noise sample grid every N steps (default 500).")
@click.option("--checkpoint-every", type=_positive_int(), help="Checkpoint every N steps (default 1000).")
@click.option("--log-every", type=_positive_int(), help="Log losses and img/s every N steps (default 50).")
@click.option("--grad-clip", type=click.FloatRange(min=0, min_open=True), help="Clip gradient norms of both networks to this value.")
@click.option("--workers", type=click.IntRange(min=0), help="DataLoader workers for datasets read item by item (default 0).")
@click.option("--arch-option", "arch_options", multiple=True, metavar="KEY=VALUE", help="An architecture option; repeatable.")
@click.option("--data-option", "data_options", multiple=True, metavar="KEY=VALUE", help="A dataset option; repeatable.")
@click.option("--max-minutes", type=click.FloatRange(min=0, min_open=True),
              help="Time budget: stop (with final grid, eval and checkpoint) after this many minutes of training.")
@click.option("--precision", type=click.Choice(PRECISION_CHOICES),
              help="auto (default: bf16 where the hardware has it natively, else fp32), fp32, bf16 or fp16 (loss-scaled).")
@click.option("--compile/--no-compile", "compile", default=None,
              help="torch.compile the networks (CUDA graphs on GPU). Off by default: slower on CPU here.")
@click.option("--preload/--no-preload", default=None,
              help="Hold an in-memory dataset on the device (default: when it fits); --no-preload streams it.")
@click.option("--threads", type=_positive_int(), help="CPU threads for torch (default: torch's, one per core).")
@click.option("--sync-bn/--no-sync-bn", "sync_bn", default=None,
              help="Under torchrun: batch norm with the statistics of the global batch, not each process's share.")
@click.option("--log", help="Comma-separated logging backends, e.g. tensorboard (see list-plugins).")
@click.option("--metrics", help="Comma-separated metrics to evaluate (at the end, and every --eval-every steps).")
@click.option("--eval-every", type=_positive_int(), help="Evaluate every N steps; keeps checkpoints/best-generator.safetensors.")
@click.option("--eval-samples", type=_positive_int(), help="Generated samples per evaluation during training (default 5000).")
@click.option("--ref-split", type=click.Choice(REF_SPLITS), help="Real split metrics compare with (default train).")
@click.option("--inception-weights", type=SafePath(dir_okay=False), help=f"Local Inception weights for fid/is/kid/prc (or ${INCEPTION_WEIGHTS_ENV}).")
@click.option("--on-nan", type=click.Choice(ON_NAN_CHOICES),
              help="When losses or weights become NaN/Inf: stop (default, exit code 3) or rollback to the last "
                   "checkpoint once with both learning rates halved.")
@click.option("--resume", "resume", type=SafePath(file_okay=False), help="Continue the run in this directory; --steps is its new total.")
@click.option("--config", "config_file", type=SafePath(),
              help="Rerun a recorded run: RUN/config.json (or RUN); options given here override it.")
@click.pass_context
@reports_errors
def run_command(ctx: click.Context, resume: str | None, config_file: str | None, **options: Any) -> None:
    """Train a GAN: ganzoo run --arch dcgan --loss bce --data cifar10."""
    given = {name: value for name, value in options.items() if value not in (None, ())}
    for name in ("arch_options", "data_options"):
        if name in given:
            given[name] = parse_assignments(given[name], "--" + name[:-1].replace("_", "-"))
    if "betas" in given:
        given["betas"] = _parse_betas(given["betas"])
    for name in ("metrics", "log"):
        if name in given:
            given[name] = split_names(given[name])
    out = given.pop("out", None)
    registry = registry_of(ctx)
    main_process = launch_from_environment().is_main  # under torchrun, rank 0 alone reports
    reporter = RichReporter() if main_process else SilentReporter()
    if resume:
        if out:
            raise GanzooError("--out cannot be combined with --resume (the run directory is the one resumed)")
        if config_file:
            raise GanzooError("--config cannot be combined with --resume (a resumed run keeps its own config)")
        outcome = resume_run(resume, given, registry, reporter)
    elif config_file:
        config, saved = rerun_config(config_file, given)
        for note in _version_differences(saved, config, registry):
            click.echo(f"note: {note}", err=True)
        outcome = start_run(config, registry, out, reporter)
    else:
        missing = [f"--{name}" for name in ("arch", "loss", "data") if name not in given]
        if missing:
            raise GanzooError(f"missing {', '.join(missing)} (or --resume RUN_DIR); see ganzoo list-plugins for the choices")
        config = RunConfig(**given)
        if continues_after_restart(config, out):
            if main_process:
                click.echo(f"note: torchrun restarted the workers; continuing {out} from its last checkpoint", err=True)
            outcome = resume_run(out, {}, registry, reporter)
        else:
            outcome = start_run(config, registry, out, reporter)
    if outcome.interrupted:
        name = signal.Signals(outcome.signal).name if outcome.signal else "a signal"
        if main_process:
            click.echo(f"interrupted by {name} at step {outcome.step}/{outcome.total_steps}; checkpoint saved in "
                       f"{outcome.run_dir}; continue with: ganzoo run --resume {outcome.run_dir}", err=True)
        ctx.exit(128 + outcome.signal if outcome.signal else EXIT_INTERRUPTED)
    summary = ""
    if outcome.last_record:
        record = outcome.last_record
        summary = f"; final D loss {record['d_loss']:.4f}, G loss {record['g_loss']:.4f}"
    if main_process:
        click.echo(f"finished step {outcome.step}/{outcome.total_steps}: {outcome.run_dir}{summary}")


def _version_differences(saved: dict[str, Any], config: RunConfig, registry: Registry) -> list[str]:
    """What differs from the versions a recorded run used (results may differ with them)."""
    notes = []
    recorded = saved.get("versions", {})
    for name, now in (("ganzoo", __version__), ("torch", torch.__version__)):
        if recorded.get(name) and recorded[name] != now:
            notes.append(f"the recorded run used {name} {recorded[name]}, this is {now}; results may differ")
    for kind, name in (("architectures", config.arch), ("losses", config.loss), ("datasets", config.data)):
        then = saved.get("plugins", {}).get(kind, {})
        if then.get("name") != name or name not in registry.names(kind):
            continue
        plugin = registry.plugin_of(kind, name)
        if (then.get("distribution"), then.get("version")) != (plugin.distribution, plugin.version):
            notes.append(f"'{name}' came from {then.get('distribution')} {then.get('version')}, now from "
                         f"{plugin.distribution} {plugin.version}; results may differ")
    return notes


def _parse_betas(text: str) -> tuple[float, float]:
    try:
        first, second = (float(part) for part in text.split(","))
    except ValueError:
        raise GanzooError(f"--betas expects two numbers like 0.5,0.999, got '{text}'") from None
    if not (0 <= first < 1 and 0 <= second < 1):
        raise GanzooError(f"--betas must lie in [0, 1), got '{text}'")
    return first, second


@cli.command("list-plugins")
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
            f"[bold]{kind.label}[/] {item['name']}: {item['description']}"
            for kind in KINDS for item in plugin.components.get(kind.key, [])
        ]
        lines += [f"[red]error:[/] {error}" for error in plugin.errors]
        table.add_row(plugin.name, source, "\n".join(lines) or "-")
    Console().print(table)


@cli.command("sample")
@click.argument("source", type=SafePath())
@click.option("-n", "--num", "count", type=_positive_int(), default=64, show_default=True, help="Number of samples.")
@click.option("-o", "--output", default="samples.png", show_default=True,
              help="FILE.png for one grid, DIR/ for one PNG per sample, FILE.safetensors for raw tensors.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the noise.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--batch-size", type=_positive_int(), default=256, show_default=True, help="Samples generated per forward pass.")
@click.option("--class", "chosen_class", metavar="NAME|INDEX",
              help="Conditional generators: only this class (default: one grid row per class).")
@click.pass_context
@reports_errors
def sample_command(ctx: click.Context, source: str, count: int, output: str, seed: int, device: str, batch_size: int,
                   chosen_class: str | None) -> None:
    """Draw samples from a run directory or a generator file."""
    one_process_only("sample")
    target = output_target(output)
    loaded = load_generator(source, registry_of(ctx), resolve_device(device))
    labels, per_row = None, None
    if loaded.record.conditional:
        labels, per_row = class_labels(loaded.spec, count, chosen_class)
    elif chosen_class is not None:
        raise GanzooError(f"--class {chosen_class}: this generator ({loaded.record.arch}) is not class-conditional")
    samples = generate(
        loaded.network, loaded.record.latent_dim, len(labels) if labels is not None else count, device=loaded.device,
        seed=seed, labels=labels, conditional=loaded.record.conditional, batch_size=batch_size,
    )
    written = write_samples(samples, labels, loaded.spec, target, per_row)
    click.echo(f"wrote {written}")


@cli.command("eval")
@click.argument("source", type=SafePath())
@click.option("--metrics", "metric_names", required=True, help="Comma-separated metric names, e.g. fid,kid,classifier.")
@click.option("--num-samples", type=_positive_int(), default=10_000, show_default=True, help="Generated samples per metric.")
@click.option("--ref-split", type=click.Choice(REF_SPLITS), default="train", show_default=True, help="Real split to compare with.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the generated samples.")
@click.option("--batch-size", type=_positive_int(), default=256, show_default=True, help="Batch size for generation and features.")
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
        data_root=data_root or saved.get("data_root") or default_data_root(),
        data_options=loaded.record.extra.get("data_options", saved.get("data_options", {})),
        device=loaded.device,
        settings=EvalSettings(num_samples=num_samples, ref_split=ref_split, batch_size=batch_size, seed=seed,
                              inception_weights=inception_weights, download=download),
    )
    samples = GeneratorSamples(loaded.network, loaded.record.latent_dim, loaded.spec, loaded.device, seed,
                               conditional=loaded.record.conditional)
    results = evaluation.run(samples)
    record = evaluation.record(results, step=loaded.record.step, generator=str(file), arch=loaded.record.arch,
                               loss=loaded.record.extra.get("loss"), data=data_name)
    append_record(run_dir / EVAL_FILE, record)
    click.echo(f"{file}: step {loaded.record.step}, {num_samples} samples against the {ref_split} split")
    table = Table()
    table.add_column("metric")
    table.add_column("value")
    table.add_column("", justify="right")
    for name, result in results.items():
        for key, value in result.values.items():
            table.add_row(name, key, f"{value:.6g}")
    Console().print(table)
    click.echo(f"appended to {run_dir / EVAL_FILE}")


@cli.command("augment")
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
@click.option("--out", type=SafePath(dir_okay=False), help=f"JSON report (default RUN/{AUGMENT_FILE}).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--threads", type=int, help="CPU threads for torch (default: torch's, one per core).")
@click.pass_context
@reports_errors
def augment_command(ctx: click.Context, source: str, data_name: str, data_root: str | None, synthetic_per_class: int,
                    real_fraction: float, classifier: str, seeds: str, steps: int, batch_size: int, lr: float,
                    out: str | None, device: str, threads: int | None) -> None:
    """Train a classifier on real, real + generated and generated-only data; compare real test accuracy."""
    one_process_only("augment")
    try:
        seed_list = tuple(int(seed) for seed in _names(seeds, "--seeds"))
    except ValueError:
        raise GanzooError(f"--seeds expects integers like 0,1,2, got '{seeds}'") from None
    settings = AugmentSettings(synthetic_per_class=synthetic_per_class, real_fraction=real_fraction,
                               classifier=classifier, seeds=seed_list, steps=steps, batch_size=batch_size,
                               learning_rate=lr, threads=threads)
    study = open_study(source, data_name, registry_of(ctx), resolve_device(device), data_root)

    def progress(seed: int, setting: str, score: float, size: int, seconds: float) -> None:
        click.echo(f"seed {seed} {setting}: test accuracy {score:.4f} ({size} training images, {seconds:.1f} s)",
                   err=True)

    report = run_study(study, settings, progress)
    path = write_report(report, out or study.run_dir / AUGMENT_FILE)
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


def _names(text: str, flag: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise GanzooError(f"{flag} needs at least one name")
    return names


@cli.command("bench")
@click.option("--arch", "archs", required=True, help="Comma-separated architectures.")
@click.option("--loss", "losses", required=True, help="Comma-separated losses.")
@click.option("--data", "datas", required=True, help="Comma-separated datasets.")
@click.option("--seeds", default="0", show_default=True, help="Comma-separated seeds.")
@click.option("--steps", type=_positive_int(), help="Steps per cell.")
@click.option("--minutes", type=click.FloatRange(min=0, min_open=True), help="Training minutes per cell, instead of --steps.")
@click.option("--metrics", help="Comma-separated metrics, evaluated at the end of each cell (and every --eval-every).")
@click.option("--eval-every", type=_positive_int(), help="Evaluate every N steps (metric-vs-step plots).")
@click.option("--eval-samples", type=_positive_int(), default=2000, show_default=True, help="Samples per evaluation.")
@click.option("--batch-size", type=_positive_int(), help="Batch size of every cell (default: ganzoo run's).")
@click.option("--log-every", type=_positive_int(), default=50, show_default=True, help="Log interval of every cell.")
@click.option("--out", type=SafePath(file_okay=False), help="Sweep directory (default bench/<time>).")
@click.option("--device", default="auto", show_default=True,
              help="auto, cpu, cuda or mps; with several GPUs cells run in parallel (--nproc-per-cell GPUs each).")
@click.option("--data-root", help="Data directory (default: $GANZOO_DATA, else ~/.cache/ganzoo/data).")
@click.option("--nproc-per-cell", type=_positive_int(), default=1, show_default=True,
              help="Data-parallel processes per cell, via torchrun: N GPUs per cell on CUDA, N gloo processes on CPU.")
@click.option("--resume", is_flag=True, help="Continue an interrupted sweep in --out: finished cells are kept.")
@click.pass_context
@reports_errors
def bench_command(ctx: click.Context, archs: str, losses: str, datas: str, seeds: str, steps: int | None,
                  minutes: float | None, metrics: str | None, eval_every: int | None, eval_samples: int,
                  batch_size: int | None, log_every: int, out: str | None, device: str, data_root: str | None,
                  nproc_per_cell: int, resume: bool) -> None:
    """Benchmark every arch x loss x data (x seed) combination and write a report."""
    one_process_only("bench")
    registry = registry_of(ctx)
    try:
        seed_list = [int(seed) for seed in _names(seeds, "--seeds")]
    except ValueError:
        raise GanzooError(f"--seeds expects integers like 0,1,2, got '{seeds}'") from None
    settings = BenchSettings(steps=steps, minutes=minutes, metrics=split_names(metrics), eval_every=eval_every,
                             eval_samples=eval_samples, batch_size=batch_size, log_every=log_every, device=device,
                             data_root=data_root, nproc_per_cell=nproc_per_cell)
    if eval_every and not settings.metrics:
        raise GanzooError("--eval-every needs --metrics (e.g. --metrics classifier)")
    for name in settings.metrics:
        registry.metric(name)
    out_dir = Path(out) if out else Path("bench") / time.strftime("%Y%m%d-%H%M%S")
    if out_dir.exists() and any(out_dir.iterdir()) and not resume:
        raise GanzooError(f"{out_dir} already holds a sweep; continue it with --resume or choose another --out")
    cells = plan(registry, _names(archs, "--arch"), _names(losses, "--loss"), _names(datas, "--data"), seed_list,
                 data_root or default_data_root())
    out_dir.mkdir(parents=True, exist_ok=True)
    table_rows: dict[str, tuple[str, ...]] = {cell.name: (cell.name, "pending", "", "", "") for cell in cells}

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
                result.cell.name, status, f"{result.img_per_s:,.0f}" if result.img_per_s else "",
                f"{result.wall_s:.1f}" if result.wall_s else "", best,
            )
            live.update(render())

        results = run_cells(cells, settings, out_dir, registry, on_result)
    recorded = {**asdict(settings), "seeds": seed_list, "command": "ganzoo " + " ".join(sys.argv[1:])}
    write_outputs(out_dir, results, recorded)
    counts = {status: sum(r.status == status for r in results) for status in ("ok", "diverged", "failed", "skipped")}
    click.echo(f"{out_dir}/report.md: " + ", ".join(f"{n} {status}" for status, n in counts.items() if n))


def main() -> None:
    """Console-script entry point."""
    try:
        cli(obj={})
    except SystemExit as exit:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            # A run under torchrun stopped with an error and its process group still open: leave at once with
            # ganzoo's exit code, since tearing gloo down while other ranks are gone aborts the process.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(exit.code if isinstance(exit.code, int) else 1)
        raise

