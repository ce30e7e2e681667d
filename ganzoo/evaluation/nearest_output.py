"""Writing ``ganzoo nearest``'s results: the neighbour grid (PNG), the JSON record and the printed lines."""

from __future__ import annotations

import json
import math
import os
from typing import Any

import torch

from ganzoo.contract.components import DataSpec
from ganzoo.evaluation.nearest import NearestResult
from ganzoo.evaluation.sampling import class_name, to_unit
from ganzoo.storage.atomic import atomic_path, write_text_atomic

#: White pixels around and between the tiles (as in ``ganzoo sample``'s grids).
PADDING = 2
#: Extra pixels between a sample and its neighbours, holding a coloured bar.
SEPARATOR = 6
SEPARATOR_COLOUR = (0.85, 0.15, 0.15)


def grid_size(rows: int, k: int, shape: tuple[int, ...]) -> tuple[int, int]:
    """``(height, width)`` in pixels of the grid of ``rows`` samples with ``k`` neighbours each."""
    height, width = shape[1], shape[2]
    return PADDING + rows * (height + PADDING), PADDING + (k + 1) * (width + PADDING) + SEPARATOR


def neighbour_grid(samples: torch.Tensor, neighbours: torch.Tensor) -> torch.Tensor:
    """An RGB image in ``[0, 1]``: one row per sample, the sample, a red bar, then its neighbours nearest first.

    ``samples`` is ``(n, C, H, W)`` and ``neighbours`` ``(n, k, C, H, W)``,
    both in ``[-1, 1]``. Grayscale images are shown grey; images with another
    channel count than 1 or 3 show their first channel.
    """
    count, k, channels, height, width = neighbours.shape
    tiles = to_unit(torch.cat([samples[:, None], neighbours], 1).float())
    if channels != 3:
        tiles = tiles[:, :, :1].expand(-1, -1, 3, -1, -1)
    canvas_height, canvas_width = grid_size(count, k, (channels, height, width))
    canvas = torch.ones(3, canvas_height, canvas_width)
    bar = PADDING + width + PADDING // 2 + 1
    canvas[:, PADDING : canvas_height - PADDING, bar : bar + SEPARATOR - 2] = torch.tensor(SEPARATOR_COLOUR)[:, None, None]
    for row in range(count):
        top = PADDING + row * (height + PADDING)
        for column in range(k + 1):
            left = PADDING + column * (width + PADDING) + (SEPARATOR if column else 0)
            canvas[:, top : top + height, left : left + width] = tiles[row, column]
    return canvas


def save_neighbour_grid(path: str | os.PathLike[str], samples: torch.Tensor, neighbours: torch.Tensor) -> None:
    """Write :func:`neighbour_grid` as a PNG, atomically."""
    from torchvision.utils import save_image

    with atomic_path(path) as temp:
        save_image(neighbour_grid(samples, neighbours), str(temp))


def nearest_record(result: NearestResult, spec: DataSpec, sample_labels: torch.Tensor | None,
                   neighbour_labels: torch.Tensor, **protocol: Any) -> dict[str, Any]:
    """The JSON record: ``protocol`` (what was searched, how), each sample's neighbours, the held-out baseline
    and the summary. Distances are Euclidean in the searched space; indices are positions in the split."""
    samples = []
    for row, (distances, indices) in enumerate(zip(result.samples.distances.tolist(), result.samples.indices.tolist())):
        entry: dict[str, Any] = {"sample": row, "distances": distances, "indices": indices}
        if sample_labels is not None:
            entry["class"] = class_name(spec, int(sample_labels[row]))
        if spec.num_classes:
            entry["neighbour_classes"] = [class_name(spec, int(label)) for label in neighbour_labels[row]]
        samples.append(entry)
    generated, real, ratio = result.medians()
    return {
        **protocol,
        "split": result.split,
        "k": result.samples.distances.shape[1],
        "samples": samples,
        "held_out": {
            "split": result.held_out_split,
            "indices": result.held_out_indices.tolist(),
            "nearest_distances": result.held_out.distances[:, 0].tolist(),
            "nearest_indices": result.held_out.indices[:, 0].tolist(),
        },
        "summary": {"median_nearest_generated": generated, "median_nearest_held_out": real, "ratio": ratio},
    }


def write_record(path: str | os.PathLike[str], record: dict[str, Any]) -> None:
    """Write the record as indented JSON, atomically."""
    write_text_atomic(path, json.dumps(record, indent=2) + "\n")


def sample_lines(record: dict[str, Any]) -> list[str]:
    """One line per sample: its class (if any), then each neighbour's distance and split index, nearest first."""
    lines = []
    for entry in record["samples"]:
        label = f" (class {entry['class']})" if "class" in entry else ""
        found = ", ".join(f"{distance:.4g} #{index}" for distance, index in zip(entry["distances"], entry["indices"]))
        lines.append(f"sample {entry['sample']}{label}: {found}")
    return lines


def summary_line(record: dict[str, Any]) -> str:
    """The median nearest distances of generated and held-out images, and the ratio that tells copying apart."""
    summary, held = record["summary"], record["held_out"]
    ratio = summary["ratio"]
    shown = "undefined: held-out median 0" if ratio is None or not math.isfinite(ratio) else f"{ratio:.3g}"
    return (f"median nearest distance to the {record['split']} split ({record['space']} space): "
            f"generated {summary['median_nearest_generated']:.4g}, {len(held['indices'])} held-out {held['split']} "
            f"images {summary['median_nearest_held_out']:.4g}; ratio {shown} (well below 1 means copying)")
