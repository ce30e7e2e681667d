"""Generating samples and writing them out: grids, scatter plots, one PNG per sample."""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ganzoo.storage.atomic import atomic_path
from ganzoo.storage.checkpoint import GeneratorRecord, load_module, read_generator
from ganzoo.contract.components import DataSpec
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
    return LoadedGenerator(generator.to(device).eval(), record, spec, device)


@torch.inference_mode()
def generate(
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
) -> torch.Tensor:
    """``count`` float32 samples on the CPU, in batches, from fixed ``noise`` or fresh noise seeded by ``seed``.

    The generator is switched to eval mode for the call (batch norm uses its
    running statistics, so sampling never changes the model) and restored.
    It runs under ``inference_mode`` and autocast to ``precision`` (a run
    trained in bf16 samples in bf16; outputs are returned as float32).
    """
    if noise is None:
        rng = torch.Generator().manual_seed(seed if seed is not None else torch.seed())
        noise = torch.randn(count, latent_dim, generator=rng)
    if conditional and labels is None:
        raise GanzooError("this generator is class-conditional: give the classes to sample")
    was_training = generator.training
    generator.eval()
    chunks = []
    try:
        for start in range(0, count, batch_size):
            z = noise[start : start + batch_size].to(device)
            with autocast(precision, device.type):
                if conditional:
                    chunks.append(generator(z, labels[start : start + batch_size].to(device)).float().cpu())
                else:
                    chunks.append(generator(z).float().cpu())
    finally:
        generator.train(was_training)
    return torch.cat(chunks)


def save_grid(samples: torch.Tensor, spec: DataSpec, path: str | os.PathLike[str], per_row: int | None = None) -> None:
    """One PNG showing all samples: an image grid (``per_row`` images a row, default square),
    or a scatter plot for vector data."""
    if spec.is_image:
        from torchvision.utils import save_image

        nrow = per_row or max(1, math.ceil(math.sqrt(len(samples))))
        with atomic_path(path) as temp:
            save_image(_to_unit(samples), str(temp), nrow=nrow, padding=2, pad_value=1.0)
    else:
        _save_scatter(samples, path)


def save_each(samples: torch.Tensor, spec: DataSpec, directory: str | os.PathLike[str],
              labels: torch.Tensor | None = None) -> list[Path]:
    """Write one PNG per image sample into ``directory`` (the format FID tools read); with
    ``labels``, into one sub-folder per class (``DIR/<class name>/``, the layout of ``--data folder``).

    Files are written into a temporary sibling directory first and moved in
    at the end, so an interrupted call leaves no partial set.
    """
    if not spec.is_image:
        raise GanzooError(f"one PNG per sample needs image data; this generator makes vectors of shape {spec.shape}. Use -o FILE.png for a scatter plot.")
    from torchvision.utils import save_image

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".samples-", dir=directory.parent))
    names = []
    try:
        pixels = _to_unit(samples)
        for index, image in enumerate(pixels):
            name = f"{index:06d}.png"
            if labels is not None:
                name = f"{class_name(spec, int(labels[index]))}/{name}"
                (staging / name).parent.mkdir(exist_ok=True)
            save_image(image, str(staging / name))
            names.append(name)
        for name in names:
            (directory / name).parent.mkdir(exist_ok=True)
            os.replace(staging / name, directory / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [directory / name for name in names]


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


def _to_unit(samples: torch.Tensor) -> torch.Tensor:
    return samples.clamp(-1, 1).add(1).div(2)


def _save_scatter(samples: torch.Tensor, path: str | os.PathLike[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = samples.reshape(len(samples), -1)
    y = points[:, 1] if points.shape[1] > 1 else torch.zeros(len(points))
    figure, axes = plt.subplots(figsize=(5, 5), dpi=100)
    axes.scatter(points[:, 0].numpy(), y.numpy(), s=4, alpha=0.5)
    axes.set_xlim(-1.05, 1.05)
    axes.set_ylim(-1.05, 1.05)
    axes.set_aspect("equal")
    axes.set_title(f"{len(points)} samples" + (" (first two dimensions)" if points.shape[1] > 2 else ""))
    with atomic_path(path) as temp:
        figure.savefig(str(temp))
    plt.close(figure)


@dataclass(frozen=True)
class OutputTarget:
    """Where ``ganzoo sample`` writes and in which form: ``grid``, ``each`` or ``tensors``."""

    path: Path
    form: str


def output_target(text: str) -> OutputTarget:
    """Read ``-o``: ``FILE.png`` is one grid, ``DIR/`` (or an existing directory) one PNG per sample,
    ``FILE.safetensors`` the raw samples and labels."""
    path = Path(text)
    if text.endswith(("/", os.sep)) or path.is_dir():
        return OutputTarget(path, "each")
    if path.suffix.lower() == ".png":
        return OutputTarget(path, "grid")
    if path.suffix.lower() == ".safetensors":
        return OutputTarget(path, "tensors")
    raise GanzooError(
        f"cannot tell what to write for -o '{text}'. Valid choices: FILE.png (one grid), DIR/ (one PNG per sample), FILE.safetensors (raw tensors)"
    )


def write_samples(samples: torch.Tensor, labels: torch.Tensor | None, spec: DataSpec, target: OutputTarget,
                  per_row: int | None = None) -> Path:
    """Write samples as ``target`` asks (per-class sub-folders when ``labels`` are given); returns the path written."""
    if target.form == "grid":
        save_grid(samples, spec, target.path, per_row)
    elif target.form == "each":
        save_each(samples, spec, target.path, labels)
    else:
        from safetensors.torch import save_file

        tensors = {"samples": samples.contiguous()}
        if labels is not None:
            tensors["labels"] = labels.contiguous()
        with atomic_path(target.path) as temp:
            save_file(tensors, str(temp), metadata={"shape": json.dumps(list(spec.shape))})
    return target.path
