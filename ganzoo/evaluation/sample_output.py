"""Writing ``ganzoo sample``'s output: one grid, one PNG per sample (streamed), or raw tensors.

Every output is checked before the first sample is generated: the location
must be writable with room for the estimated size, and forms that hold all
samples in memory at once (a grid, a tensor file) must fit in memory.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from ganzoo.contract.components import DataSpec
from ganzoo.errors import GanzooError
from ganzoo.evaluation.sampling import class_name, save_grid, to_unit
from ganzoo.storage.atomic import atomic_path
from ganzoo.storage.preflight import available_memory, check_path_text, check_writable

#: Bytes a PNG file costs beyond its pixels, at the most (headers, filesystem block slack is not counted).
PNG_OVERHEAD_BYTES = 256
#: Copies of the samples held while a grid or a tensor file is written (the samples, scaled pixels, the grid).
IN_MEMORY_COPIES = 3

Batches = Iterable[tuple[torch.Tensor, torch.Tensor | None]]


@dataclass(frozen=True)
class OutputTarget:
    """Where ``ganzoo sample`` writes and in which form: ``grid``, ``each`` or ``tensors``."""

    path: Path
    form: str


def output_target(text: str) -> OutputTarget:
    """Read ``-o``: ``FILE.png`` is one grid, ``DIR/`` (or an existing directory) one PNG per sample,
    ``FILE.safetensors`` the raw samples and labels."""
    check_path_text(text, "-o")
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


def check_sample_output(target: OutputTarget, count: int, spec: DataSpec) -> None:
    """Refuse an output that cannot be written, would not fit on its disk, or (grid, tensors) in memory."""
    per_sample = math.prod(spec.shape)
    values = count * per_sample
    if target.form == "each":
        if not spec.is_image:
            raise GanzooError(f"one PNG per sample needs image data; this generator makes vectors of shape "
                              f"{spec.shape}. Use -o FILE.png for a scatter plot.")
        needed = count * (per_sample + PNG_OVERHEAD_BYTES)
        check_writable(target.path, needed, "-o", f"{count:,} PNG files")
        return
    in_memory = IN_MEMORY_COPIES * 4 * values
    memory = available_memory()
    if memory is not None and in_memory > memory:
        stream = " Use -o DIR/ to stream one PNG per sample," if spec.is_image else ""
        raise GanzooError(f"-n {count:,} as one {'grid' if target.form == 'grid' else 'tensor file'} needs about "
                          f"{in_memory / 2**30:,.1f} GiB of memory, more than the {memory / 2**30:,.1f} GiB "
                          f"available.{stream} or ask for fewer samples")
    needed = 4 * values + 8 * count if target.form == "tensors" else values
    check_writable(target.path, needed, "-o", f"{count:,} samples", is_file=True)


def write_samples(batches: Batches, spec: DataSpec, target: OutputTarget, per_row: int | None = None) -> Path:
    """Write the samples as ``target`` asks (per-class sub-folders for labelled ones); returns the path written."""
    if target.form == "each":
        save_each(batches, spec, target.path)
        return target.path
    parts = list(batches)
    samples = torch.cat([samples for samples, _ in parts])
    labels = torch.cat([labels for _, labels in parts]) if parts and parts[0][1] is not None else None
    if target.form == "grid":
        save_grid(samples, spec, target.path, per_row)
    else:
        from safetensors.torch import save_file

        tensors = {"samples": samples.contiguous()}
        if labels is not None:
            tensors["labels"] = labels.contiguous()
        with atomic_path(target.path) as temp:
            save_file(tensors, str(temp), metadata={"shape": json.dumps(list(spec.shape))})
    return target.path


def save_each(batches: Batches, spec: DataSpec, directory: str | os.PathLike[str]) -> list[Path]:
    """Write one PNG per image sample into ``directory`` (the format FID tools read), batch by batch;
    labelled samples go into one sub-folder per class (``DIR/<class name>/``, the layout of ``--data folder``).

    Files are written into a temporary sibling directory first and moved in
    at the end, so an interrupted call leaves no partial set.
    """
    from torchvision.utils import save_image

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".samples-", dir=directory.parent))
    names = []
    try:
        for name, image in _named_images(batches, spec):
            (staging / name).parent.mkdir(exist_ok=True)
            save_image(image, str(staging / name))
            names.append(name)
        for name in names:
            (directory / name).parent.mkdir(exist_ok=True)
            os.replace(staging / name, directory / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [directory / name for name in names]


def _named_images(batches: Batches, spec: DataSpec) -> Iterator[tuple[str, torch.Tensor]]:
    index = 0
    for samples, labels in batches:
        for offset, image in enumerate(to_unit(samples)):
            name = f"{index:06d}.png"
            if labels is not None:
                name = f"{class_name(spec, int(labels[offset]))}/{name}"
            yield name, image
            index += 1
