"""``ganzoo interpolate``: a grid of walks through latent space, one row per pair of consecutive seeds."""

from __future__ import annotations

import click

from ganzoo.cli.common import (
    SafePath,
    one_process_only,
    output_option,
    positive_int,
    registry_of,
    reports_errors,
    seeds,
)
from ganzoo.compute.devices import resolve_device
from ganzoo.errors import GanzooError
from ganzoo.evaluation.interpolation import (
    METHODS,
    check_interpolation,
    interpolation_noise,
    seeded_global_rng,
)
from ganzoo.evaluation.sample_output import (
    check_sample_output,
    output_target,
    write_samples,
)
from ganzoo.evaluation.sampling import class_labels, generate_batches, load_generator
from ganzoo.evaluation.truncation import TRUNCATION_HELP, truncated


@click.command("interpolate")
@click.argument("source", type=SafePath())
@click.option("--seeds", "seed_text", required=True, metavar="A,B,...",
              help="The seeds to walk through; each row goes from one seed's noise to the next one's.")
@click.option("--frames", type=int, default=8, show_default=True, help="Columns per row, both endpoints included.")
@click.option("--method", default=METHODS[0], show_default=True, help=f"{' or '.join(METHODS)}.")
@click.option("--class", "chosen_class", metavar="NAME|INDEX",
              help="Conditional generators: the class every row shows (default: class 0).")
@click.option("--truncation", type=float, metavar="PSI", help=TRUNCATION_HELP)
@output_option("FILE.png for one grid, DIR/ for one PNG per frame, FILE.safetensors for raw tensors.",
               default="interpolation.png")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--batch-size", type=positive_int(), default=256, show_default=True, help="Samples generated per forward pass.")
@click.pass_context
@reports_errors
def interpolate_command(ctx: click.Context, source: str, seed_text: str, frames: int, method: str,
                        chosen_class: str | None, truncation: float | None, out: str, device: str,
                        batch_size: int) -> None:
    """Walk through latent space between the noise of consecutive seeds (a run directory or a generator file)."""
    one_process_only("interpolate")
    walk_seeds = seeds(seed_text)
    check_interpolation(walk_seeds, frames, method)
    target = output_target(out)
    loaded = load_generator(source, registry_of(ctx), resolve_device(device))
    if chosen_class is not None and not loaded.record.conditional:
        raise GanzooError(f"--class {chosen_class}: this generator ({loaded.record.arch}) is not class-conditional")
    check_sample_output(target, (len(walk_seeds) - 1) * frames, loaded.spec)  # before generating anything
    noise = interpolation_noise(walk_seeds, frames, loaded.record.latent_dim, method)
    labels = class_labels(loaded.spec, len(noise), chosen_class or "0")[0] if loaded.record.conditional else None
    with truncated(loaded.network, truncation, loaded.record.arch), seeded_global_rng(walk_seeds[0], loaded.device):
        batches = generate_batches(loaded.network, loaded.record.latent_dim, len(noise), device=loaded.device,
                                   noise=noise, labels=labels, conditional=loaded.record.conditional,
                                   batch_size=batch_size)
        written = write_samples(batches, loaded.spec, target, per_row=frames)
    click.echo(f"wrote {written}")
