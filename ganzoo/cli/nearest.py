"""``ganzoo nearest``: the real images closest to generated samples, a check for memorisation."""

from __future__ import annotations

from pathlib import Path

import click
import torch

from ganzoo.api.evaluation import training_data
from ganzoo.cli.common import (
    SafePath,
    one_process_only,
    output_option,
    positive_int,
    registry_of,
    reports_errors,
    seed_option,
)
from ganzoo.compute.devices import resolve_device
from ganzoo.contract.metrics import EvalContext
from ganzoo.errors import GanzooError
from ganzoo.evaluation.classify import dataset_tensors
from ganzoo.evaluation.evaluate import REF_SPLITS
from ganzoo.evaluation.nearest import (
    PIXEL_SPACE,
    check_neighbour_count,
    check_space,
    feature_embedding,
    find_nearest,
    pixel_space,
    search_device,
)
from ganzoo.evaluation.nearest_output import (
    grid_size,
    nearest_record,
    sample_lines,
    save_neighbour_grid,
    summary_line,
    write_record,
)
from ganzoo.evaluation.sampling import (
    LoadedGenerator,
    class_labels,
    find_generator_file,
    generate,
    load_generator,
)
from ganzoo.registry import Registry
from ganzoo.storage.paths import cache_root
from ganzoo.storage.preflight import check_path_text, check_writable


@click.command("nearest")
@click.argument("source", type=SafePath())
@click.option("-n", "--num", "count", type=positive_int(), default=16, show_default=True,
              help="Generated samples, one grid row each.")
@click.option("-k", "--neighbours", "k", type=positive_int(), default=5, show_default=True,
              help="Nearest real images per sample.")
@click.option("--space", metavar="pixel|METRIC", default=PIXEL_SPACE, show_default=True,
              help="pixel (L2 on [-1, 1] pixels) or a metric with a feature space, e.g. classifier.")
@click.option("--split", type=click.Choice(REF_SPLITS), default="train", show_default=True,
              help="Real split searched; held-out images come from the other one.")
@click.option("--class", "chosen_class", metavar="NAME|INDEX",
              help="Conditional generators: only this class (default: balanced classes).")
@click.option("--data-root", help="Data directory (default: the run's, else $GANZOO_DATA).")
@seed_option("Seed of the noise and of the choice of held-out images.")
@click.option("--batch-size", type=positive_int(), default=256, show_default=True,
              help="Images per forward pass and per block of the split searched.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps.")
@output_option("The grid, FILE.png.", default="nearest.png")
@click.option("--json", "json_out", type=SafePath(dir_okay=False),
              help="The distances and indices as JSON (default: beside the grid, FILE.json).")
@click.pass_context
@reports_errors
def nearest_command(ctx: click.Context, source: str, count: int, k: int, space: str, split: str,
                    chosen_class: str | None, data_root: str | None, seed: int, batch_size: int, device: str, out: str,
                    json_out: str | None) -> None:
    """Show generated samples beside their nearest real images, to see whether a generator copies its data.

    Each grid row is one sample, a red bar, then its nearest images of
    --split, nearest first (for conditional generators, among all classes).
    The summary divides the samples' median nearest distance by that of as
    many held-out real images (the other split): well below 1 means copying.
    """
    one_process_only("nearest")
    grid_path, json_path = _outputs(out, json_out)
    if data_root:
        check_path_text(data_root, "--data-root")
    registry = registry_of(ctx)
    file = find_generator_file(source)
    loaded = load_generator(file, registry, resolve_device(device))
    spec = loaded.spec
    if not spec.is_image:
        raise GanzooError(f"ganzoo nearest needs image data (C, H, W); this generator ({loaded.record.arch}) makes "
                          f"vectors of shape {spec.shape}")
    labels = _labels(loaded, count, chosen_class)
    metric = check_space(space, registry)
    context = _context(loaded, file, data_root, count, batch_size, seed, split, registry)
    height, width = grid_size(count, k, spec.shape)
    check_writable(grid_path, 3 * height * width, "-o", "the grid", is_file=True)
    check_writable(json_path, 64 * count * (k + 2) + 4096, "--json", "the record", is_file=True)
    check_neighbour_count(context, split, k)
    where = search_device(loaded.device)
    embed = pixel_space if metric is None else feature_embedding(metric, context, where)  # may train an evaluator

    samples = generate(loaded.network, loaded.record.latent_dim, count, device=loaded.device, seed=seed, labels=labels,
                       conditional=loaded.record.conditional, batch_size=batch_size).clamp(-1, 1)
    result = find_nearest(samples, context, split, k, embed, where)
    images, neighbour_labels = dataset_tensors(context.split_data(split), result.samples.indices.flatten())
    record = nearest_record(
        result, spec, labels, neighbour_labels.view(count, k),
        generator=str(file), step=loaded.record.step, data=context.dataset.name, space=space,
        distance="Euclidean between flattened [-1, 1] images" if metric is None
        else f"Euclidean between the feature vectors of metric '{space}'",
        num_samples=count, seed=seed, conditional=loaded.record.conditional,
    )
    save_neighbour_grid(grid_path, samples, images.view(count, k, *spec.shape))
    write_record(json_path, record)
    for line in sample_lines(record):
        click.echo(line)
    click.echo(summary_line(record))
    click.echo(f"wrote {grid_path} and {json_path}")


def _outputs(out: str, json_out: str | None) -> tuple[Path, Path]:
    """The grid's path (it must end in .png) and the record's (default: the grid's, ending in .json)."""
    check_path_text(out, "-o")
    grid = Path(out)
    if grid.suffix.lower() != ".png":
        raise GanzooError(f"-o '{out}': ganzoo nearest writes one grid; name a FILE.png")
    record = Path(json_out) if json_out else grid.with_suffix(".json")
    if json_out:
        check_path_text(json_out, "--json")
    if record.absolute() == grid.absolute():
        raise GanzooError(f"--json '{json_out}' is the grid's own path; name another file")
    return grid, record


def _labels(loaded: LoadedGenerator, count: int, chosen: str | None) -> torch.Tensor | None:
    """Balanced classes (sample ``i`` of class ``i % K``) or ``chosen`` for conditional generators, else None."""
    if not loaded.record.conditional:
        if chosen is not None:
            raise GanzooError(f"--class {chosen}: this generator ({loaded.record.arch}) is not class-conditional")
        return None
    if chosen is not None:
        return class_labels(loaded.spec, count, chosen)[0]
    return torch.arange(count) % loaded.spec.num_classes


def _context(loaded: LoadedGenerator, file: Path, data_root: str | None, count: int, batch_size: int, seed: int,
             split: str, registry: Registry) -> EvalContext:
    """The evaluation context of ``ganzoo eval``: the dataset, data root and options the generator was trained with."""
    data = training_data(loaded, file, data_root, registry)
    return EvalContext(
        dataset=data.dataset, spec=loaded.spec, data_root=data.root, data_options=data.options,
        ref_split=split, num_samples=count, batch_size=batch_size, device=loaded.device, seed=seed,
        cache_dir=cache_root(),
    )

