"""``ganzoo run``: start, resume or rerun a training run."""

from __future__ import annotations

import signal
from typing import Any

import click

from ganzoo.api.progress import ProgressDisplay
from ganzoo.api.training import parse_betas, regularizer_specs, run
from ganzoo.cli.common import EXIT_INTERRUPTED, SafePath, output_option, positive_int, registry_of, reports_errors
from ganzoo.compute.precision import CHOICES as PRECISION_CHOICES
from ganzoo.contract.metrics import INCEPTION_WEIGHTS_ENV
from ganzoo.contract.progress import current_display
from ganzoo.distributed.launch import launch_from_environment
from ganzoo.evaluation.evaluate import REF_SPLITS, split_names
from ganzoo.registry.options import parse_assignments
from ganzoo.storage.config import (GENERATOR_CHOICES, LR_SCHEDULE_CHOICES, ON_NAN_CHOICES, OPTIMIZER_CHOICES,
                                   SPECTRAL_NORM_CHOICES)
from ganzoo.training.reporting import SilentReporter


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
        given["betas"] = parse_betas(given["betas"])
    if "augmentations" in given:
        given["augmentations"] = [spec.strip() for spec in given["augmentations"]]
    if "regularizers" in given:
        given["regularizers"] = regularizer_specs(list(given["regularizers"]))
    for name in ("metrics", "log"):
        if name in given:
            given[name] = split_names(given[name])
    out, recipe = given.pop("out", None), given.pop("recipe", None)
    main_process = launch_from_environment().is_main  # under torchrun, rank 0 alone reports
    display = current_display()
    reporter = display if main_process and isinstance(display, ProgressDisplay) else SilentReporter()
    outcome = run(given, registry_of(ctx), reporter, recipe=recipe, out=out, resume=resume, config=config_file,
                  note=lambda text: click.echo(f"note: {text}", err=True) if main_process else None)
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

