"""Generating samples: loading a saved generator, streaming batches from it, grids and scatter plots."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganzoo.storage.atomic import atomic_path
from ganzoo.storage.checkpoint import GeneratorRecord, load_module, read_generator
from ganzoo.contract.components import DataSpec
from ganzoo.contract.latents import LatentCode
from ganzoo.errors import GanzooError
from ganzoo.compute.precision import autocast
from ganzoo.registry.loading import Registry
from ganzoo.storage.rundir import GENERATOR_FILE, RunDir


@dataclass
class LoadedGenerator:
    """A generator rebuilt from its file, ready to sample (in eval mode)."""

    network: nn.Module
    record: GeneratorRecord
    spec: DataSpec
    device: torch.device
    codes: tuple[LatentCode, ...] = ()  # the architecture's structured codes in z (InfoGAN), if any


def find_generator_file(path: str | os.PathLike[str]) -> Path:
    """The generator file of a run directory, or ``path`` itself if it is a file."""
    path = Path(path)
    if path.is_dir():
        candidate = RunDir(path).generator_path
        if not candidate.is_file():
            raise GanzooError(f"{path} holds no {GENERATOR_FILE}; is it a ganzoo run directory?")
        return candidate
    if not path.exists():
        raise GanzooError(f"no such run directory or generator file: {path}")
    return path


def load_generator(path: str | os.PathLike[str], registry: Registry, device: torch.device) -> LoadedGenerator:
    """Rebuild the generator saved at ``path`` (a run directory or a generator file)."""
    file = find_generator_file(path)
    tensors, record = read_generator(file)
    spec = DataSpec.from_json(record.spec)
    architecture = registry.architecture(record.arch)
    generator, _ = architecture.build(spec, record.latent_dim, **record.arch_options)
    load_module("generator", generator, tensors, file)
    codes = tuple(architecture.latent_codes(spec, record.latent_dim, **record.arch_options))
    return LoadedGenerator(generator.to(device).eval(), record, spec, device, codes)


#: Noise is drawn in blocks of this many rows; any multiple of 16 keeps the values those of one big draw.
NOISE_BLOCK_ROWS = 1024


def noise_blocks(seed: int, count: int, latent_dim: int) -> Iterator[torch.Tensor]:
    """``count`` rows of standard normal noise from a CPU generator seeded with ``seed``, block by block.

    The values equal ``torch.randn(count, latent_dim)`` drawn at once (torch fills normals in groups
    of 16), so streaming a large sample set draws exactly the noise a grid of it would, without
    holding it all in memory.
    """
    rng = torch.Generator().manual_seed(seed)
    for start in range(0, count, NOISE_BLOCK_ROWS):
        yield torch.randn(min(NOISE_BLOCK_ROWS, count - start), latent_dim, generator=rng)


def generate_batches(
    generator: nn.Module,
    latent_dim: int,
    count: int,
    *,
    device: torch.device,
    seed: int | None = None,
    noise: torch.Tensor | None = None,
    labels: torch.Tensor | None = None,
    conditional: bool = False,
    batch_size: int = 256,
    precision: str = "fp32",
) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
    """``count`` float32 samples on the CPU with their labels, ``batch_size`` at a time, from fixed
    ``noise`` or fresh noise seeded by ``seed``.

    The generator is switched to eval mode while batches are drawn (batch norm uses its running
    statistics, so sampling never changes the model) and restored afterwards. It runs under
    ``inference_mode`` and autocast to ``precision`` (a run trained in bf16 samples in bf16;
    outputs are returned as float32).
    """
    if conditional and labels is None:
        raise GanzooError("this generator is class-conditional: give the classes to sample")
    if noise is None:
        blocks = noise_blocks(seed if seed is not None else torch.seed(), count, latent_dim)
    else:
        blocks = iter([noise[:count]])
    was_training = generator.training
    generator.eval()
    try:
        start, pending = 0, torch.empty(0, latent_dim)
        while start < count:
            while len(pending) < min(batch_size, count - start):
                pending = torch.cat([pending, next(blocks)])
            z, pending = pending[:batch_size], pending[batch_size:]
            batch_labels = labels[start : start + len(z)] if labels is not None else None
            with torch.inference_mode(), autocast(precision, device.type):
                if conditional:
                    samples = generator(z.to(device), batch_labels.to(device)).float().cpu()
                else:
                    samples = generator(z.to(device)).float().cpu()
            yield samples, batch_labels
            start += len(z)
    finally:
        generator.train(was_training)


def generate(generator: nn.Module, latent_dim: int, count: int, **options: Any) -> torch.Tensor:
    """All ``count`` samples of :func:`generate_batches` in one float32 CPU tensor."""
    return torch.cat([samples for samples, _ in generate_batches(generator, latent_dim, count, **options)])


def save_grid(samples: torch.Tensor, spec: DataSpec, path: str | os.PathLike[str], per_row: int | None = None) -> None:
    """One PNG showing all samples: an image grid (``per_row`` images a row, default square),
    or a scatter plot for vector data."""
    if spec.is_image:
        from torchvision.utils import save_image

        nrow = per_row or max(1, math.ceil(math.sqrt(len(samples))))
        with atomic_path(path) as temp:
            save_image(to_unit(samples), str(temp), nrow=nrow, padding=2, pad_value=1.0)
    else:
        _save_scatter(samples, path, spec.modes)


def class_name(spec: DataSpec, label: int) -> str:
    """The name of class ``label`` (its index when the dataset names none)."""
    return spec.class_names[label] if spec.class_names else str(label)


def class_labels(spec: DataSpec, count: int, chosen: str | None) -> tuple[torch.Tensor, int]:
    """Labels to sample a conditional generator with, and the images per grid row.

    ``chosen`` (a class name or index) gives ``count`` samples of that class;
    ``None`` gives one row per class, ``ceil(count / classes)`` samples each.
    """
    if chosen is None:
        per_class = max(1, math.ceil(count / spec.num_classes))
        return torch.arange(spec.num_classes).repeat_interleave(per_class), per_class
    names = [class_name(spec, label) for label in range(spec.num_classes)]
    lowered = [name.lower() for name in names]
    if chosen.lower() in lowered:
        label = lowered.index(chosen.lower())
    elif chosen.isdigit() and int(chosen) < spec.num_classes:
        label = int(chosen)
    else:
        raise GanzooError(f"unknown class '{chosen}'. Valid choices: {', '.join(names)} "
                          f"(or an index 0-{spec.num_classes - 1})")
    return torch.full((count,), label, dtype=torch.long), max(1, math.ceil(math.sqrt(count)))


def to_unit(samples: torch.Tensor) -> torch.Tensor:
    return samples.clamp(-1, 1).add(1).div(2)


def _save_scatter(samples: torch.Tensor, path: str | os.PathLike[str], modes: tuple = ()) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = samples.reshape(len(samples), -1)
    y = points[:, 1] if points.shape[1] > 1 else torch.zeros(len(points))
    figure, axes = plt.subplots(figsize=(5, 5), dpi=100)
    axes.scatter(points[:, 0].numpy(), y.numpy(), s=4, alpha=0.5, label="samples")
    if modes:  # the true centres, so coverage can be judged by eye
        centres = torch.tensor(modes)
        axes.scatter(centres[:, 0].numpy(), centres[:, 1].numpy() if centres.shape[1] > 1 else [0.0] * len(centres),
                     s=60, marker="x", color="red", linewidths=1.5, label="true modes")
        axes.legend(loc="upper right", fontsize=7)
    axes.set_xlim(-1.05, 1.05)
    axes.set_ylim(-1.05, 1.05)
    axes.set_aspect("equal")
    axes.set_title(f"{len(points)} samples" + (" (first two dimensions)" if points.shape[1] > 2 else ""))
    with atomic_path(path) as temp:
        figure.savefig(str(temp))
    plt.close(figure)
