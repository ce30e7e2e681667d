"""``ganzoo sample``: draw samples from a run or a generator file into a grid, PNGs or tensors."""

from __future__ import annotations

import click

from ganzoo.cli.common import (SafePath, one_process_only, output_option, positive_int, registry_of, reports_errors,
                               seed_option)
from ganzoo.compute.devices import resolve_device
from ganzoo.errors import GanzooError
from ganzoo.evaluation.code_sweep import sweep_noise
from ganzoo.evaluation.sample_output import check_sample_output, output_target, write_samples
from ganzoo.evaluation.sampling import class_labels, generate_batches, load_generator
from ganzoo.evaluation.interpolation import seeded_global_rng
from ganzoo.evaluation.truncation import TRUNCATION_HELP, truncated


@click.command("sample")
@click.argument("source", type=SafePath())
@click.option("-n", "--num", "count", type=positive_int(), default=64, show_default=True, help="Number of samples.")
@output_option("FILE.png for one grid, DIR/ for one PNG per sample, FILE.safetensors for raw tensors.",
               default="samples.png")
@seed_option("Seed of the noise.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--batch-size", type=positive_int(), default=256, show_default=True, help="Samples generated per forward pass.")
@click.option("--class", "chosen_class", metavar="NAME|INDEX",
              help="Conditional generators: only this class (default: one grid row per class).")
@click.option("--vary", "varied_code", metavar="CODE",
              help="Generators with latent codes (InfoGAN): one grid row per noise draw, its columns sweeping CODE "
                   "(every category, or -1 to 1) with everything else fixed.")
@click.option("--truncation", type=float, metavar="PSI", help=TRUNCATION_HELP)
@click.pass_context
@reports_errors
def sample_command(ctx: click.Context, source: str, count: int, out: str, seed: int, device: str, batch_size: int,
                   chosen_class: str | None, varied_code: str | None, truncation: float | None) -> None:
    """Draw samples from a run directory or a generator file."""
    one_process_only("sample")
    target = output_target(out)
    loaded = load_generator(source, registry_of(ctx), resolve_device(device))
    noise, labels, per_row = None, None, None
    if varied_code is not None:
        noise, per_row = sweep_noise(loaded.codes, varied_code, count, loaded.record.latent_dim, seed)
        count = len(noise)
    if loaded.record.conditional:
        labels, class_row = class_labels(loaded.spec, count, chosen_class if noise is None else chosen_class or "0")
        per_row = per_row or class_row
    elif chosen_class is not None:
        raise GanzooError(f"--class {chosen_class}: this generator ({loaded.record.arch}) is not class-conditional")
    total = len(labels) if labels is not None else count
    check_sample_output(target, total, loaded.spec)  # before generating anything
    # seeded_global_rng: generators that draw from torch's RNG as they run (per-pixel noise) repeat too.
    with truncated(loaded.network, truncation, loaded.record.arch), seeded_global_rng(seed, loaded.device):
        batches = generate_batches(loaded.network, loaded.record.latent_dim, total, device=loaded.device, seed=seed,
                                   noise=noise, labels=labels, conditional=loaded.record.conditional,
                                   batch_size=batch_size)
        written = write_samples(batches, loaded.spec, target, per_row)
    click.echo(f"wrote {written}")
