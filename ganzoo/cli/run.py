"""``ganzoo run``: start, resume or rerun a training run."""

from __future__ import annotations

import dataclasses
import signal
from typing import Any

import click
import torch

from ganzoo.cli.common import EXIT_INTERRUPTED, SafePath, output_option, positive_int, registry_of, reports_errors
from ganzoo.cli.progress import RichReporter
from ganzoo.compute.precision import CHOICES as PRECISION_CHOICES
from ganzoo.contract.metrics import INCEPTION_WEIGHTS_ENV
from ganzoo.distributed.launch import launch_from_environment
from ganzoo.errors import GanzooError
from ganzoo.evaluation.evaluate import REF_SPLITS, split_names
from ganzoo.registry import Registry
from ganzoo.registry.options import parse_assignments
from ganzoo.storage.config import (GENERATOR_CHOICES, LR_SCHEDULE_CHOICES, ON_NAN_CHOICES, OPTIMIZER_CHOICES, SPECTRAL_NORM_CHOICES,
                                   RunConfig)
from ganzoo.storage.recipes import config_from_recipe
from ganzoo.storage.rundir import rerun_config
from ganzoo.training.regularization import NO_REGULARIZER
from ganzoo.training.runner import SilentReporter, continues_after_restart, resume_run, start_run
from ganzoo.version import __version__


@click.command("run")
@click.option("--recipe", metavar="NAME",
              help="Start from a published setup (see ganzoo recipes); options given here override its settings.")
@click.option("--arch", help="Architecture name (see list-plugins).")
@click.option("--loss", help="Loss name (see list-plugins).")
@click.option("--data", help="Dataset name (see list-plugins).")
@click.option("--steps", type=positive_int(), help="Total generator steps of the run (default 10000).")
@click.option("--epochs", type=click.FloatRange(min=0, min_open=True), help="Total passes over the training data, instead of --steps.")
@click.option("--batch-size", type=positive_int(), help="Samples per batch (default 64).")
@click.option("--lr-g", type=click.FloatRange(min=0, min_open=True), help="Generator learning rate (default: the loss's, else 2e-4).")
@click.option("--lr-d", type=click.FloatRange(min=0, min_open=True), help="Discriminator learning rate (default: the loss's, else 2e-4).")
@click.option("--betas", help="Adam betas as B1,B2 (default: the loss's, else 0.5,0.999).")
@click.option("--optimizer", type=click.Choice(OPTIMIZER_CHOICES),
              help="adam (default), adamw or rmsprop, for both networks (default: the loss's, else adam).")
@click.option("--lr-schedule", type=click.Choice(LR_SCHEDULE_CHOICES),
              help="constant (default) or linear: both learning rates decay linearly to zero at the last step.")
@click.option("--reg", "regularizers", multiple=True, metavar="NAME[:KEY=VALUE,...]",
              help="A regularizer of D, e.g. r1:gamma=10 or lecam:weight=0.3 (repeatable; see list-plugins); "
                   "common keys weight and every (lazy: every k-th D update, weight times k). "
                   "Replaces the loss's default ones; --reg none drops them.")
@click.option("--augment", "augmentations", multiple=True, metavar="NAME[:KEY=VALUE,...]",
              help="Augment what D sees, e.g. diffaugment:policy=color,translation,cutout, ada or flip "
                   "(repeatable, applied in order; see list-plugins).")
@click.option("--spectral-norm", type=click.Choice(SPECTRAL_NORM_CHOICES),
              help="Spectral normalisation (Miyato et al. 2018) of every linear, convolution and embedding layer of "
                   "the discriminator, the generator or both (default: the architecture's, else none).")
@click.option("--ema", type=click.FloatRange(min=0, max=1, min_open=True, max_open=True), metavar="DECAY",
              help="Average the generator's weights (ema = DECAY * ema + (1 - DECAY) * G after each G step) and "
                   "sample from the average: grids, evaluations, generator files (e.g. 0.999).")
@click.option("--ema-start", type=click.IntRange(min=0), metavar="STEP",
              help="Generator steps during which the average copies G (default 0).")
@click.option("--generator", type=click.Choice(GENERATOR_CHOICES),
              help="What grids, evaluations and generator files use: raw (G itself) or ema (default with --ema).")
@click.option("--n-critic", type=positive_int(), help="Discriminator steps per generator step (default: the loss's, else 1).")
@click.option("--latent-dim", type=positive_int(), help="Size of the noise vector z (default 100).")
@click.option("--seed", type=int, help="Random seed (default 0); CPU runs repeat exactly.")
@click.option("--device", help="auto (default), cpu, cuda, cuda:N or mps.")
@click.option("--data-root", help="Data directory (default: $GANZOO_DATA, else ~/.cache/ganzoo/data).")
@click.option("--download/--no-download", default=None, help="Allow downloading missing data (default: allow).")
@output_option("The run directory (default runs/<time>-<arch>-<loss>-<data>).", file_okay=False)
@click.option("--sample-every", type=positive_int(), help="Write a fixed-noise sample grid every N steps (default 500).")
@click.option("--checkpoint-every", type=positive_int(), help="Checkpoint every N steps (default 1000).")
@click.option("--log-every", type=positive_int(), help="Log losses and img/s every N steps (default 50).")
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
@click.option("--threads", type=positive_int(), help="CPU threads for torch (default: torch's, one per core).")
@click.option("--sync-bn/--no-sync-bn", "sync_bn", default=None,
              help="Under torchrun: batch norm with the statistics of the global batch, not each process's share.")
@click.option("--log", help="Comma-separated logging backends, e.g. tensorboard (see list-plugins).")
@click.option("--metrics", help="Comma-separated metrics to evaluate (at the end, and every --eval-every steps).")
@click.option("--eval-every", type=positive_int(), help="Evaluate every N steps; keeps checkpoints/best-generator.safetensors.")
@click.option("--eval-samples", type=positive_int(), help="Generated samples per evaluation during training (default 5000).")
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
    """Train a GAN: ganzoo run --arch dcgan --loss bce --data cifar10 (no options: the default run)."""
    given = {name: value for name, value in options.items() if value not in (None, ())}
    for name in ("arch_options", "data_options"):
        if name in given:
            given[name] = parse_assignments(given[name], "--" + name[:-1].replace("_", "-"))
    if "betas" in given:
        given["betas"] = _parse_betas(given["betas"])
    if "augmentations" in given:
        given["augmentations"] = [spec.strip() for spec in given["augmentations"]]
    if "regularizers" in given:
        given["regularizers"] = _regularizer_specs(given["regularizers"])
    for name in ("metrics", "log"):
        if name in given:
            given[name] = split_names(given[name])
    out = given.pop("out", None)
    registry = registry_of(ctx)
    main_process = launch_from_environment().is_main  # under torchrun, rank 0 alone reports
    reporter = RichReporter() if main_process else SilentReporter()
    if "recipe" in given and (resume or config_file):
        raise GanzooError("--recipe cannot be combined with --resume or --config (the recorded run holds its values)")
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
        if "recipe" in given:
            config = config_from_recipe(registry.recipe(given.pop("recipe")), given)
        else:
            config = RunConfig(**_with_arch_loss_and_data(given, registry))
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


def _with_arch_loss_and_data(given: dict[str, Any], registry: Registry) -> dict[str, Any]:
    """``given``, or the default run under it when it names none of --arch/--loss/--data; an error if half given."""
    if not any(name in given for name in ("arch", "loss", "data")):
        given = _with_default_run(given, registry)
    missing = [f"--{name}" for name in ("arch", "loss", "data") if name not in given]
    if missing:
        raise GanzooError(f"missing {', '.join(missing)} (or --recipe NAME, or --resume RUN_DIR); see ganzoo "
                          "list-plugins and ganzoo recipes for the choices")
    return given


def _with_default_run(given: dict[str, Any], registry: Registry) -> dict[str, Any]:
    """The plugins' default run (hook ``default_run``) under the options the user gave."""
    default = registry.hook.default_run()
    if not default:
        return given
    known = {field.name for field in dataclasses.fields(RunConfig)}
    unknown = sorted(set(default) - known)
    if unknown:
        raise GanzooError(f"the default_run hook gave unknown run option(s) {', '.join(map(repr, unknown))}; "
                          f"valid options: {', '.join(sorted(known))}")
    click.echo("note: no --arch/--loss/--data given; training the default run: "
               + " ".join(f"--{name.replace('_', '-')} {value}" for name, value in default.items()), err=True)
    return {**default, **given}


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


def _regularizer_specs(specs: tuple[str, ...]) -> list[str]:
    """``--reg`` values as recorded: ``none`` alone means an empty list (not even the loss's defaults)."""
    if NO_REGULARIZER in specs:
        if len(specs) > 1:
            raise GanzooError(f"--reg {NO_REGULARIZER} cannot be combined with other --reg values")
        return []
    return [spec.strip() for spec in specs]


def _parse_betas(text: str) -> tuple[float, float]:
    try:
        first, second = (float(part) for part in text.split(","))
    except ValueError:
        raise GanzooError(f"--betas expects two numbers like 0.5,0.999, got '{text}'") from None
    if not (0 <= first < 1 and 0 <= second < 1):
        raise GanzooError(f"--betas must lie in [0, 1), got '{text}'")
    return first, second
