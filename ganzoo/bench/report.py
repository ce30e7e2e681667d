"""``ganzoo bench`` outputs: results.json, results.csv, report.md with plots and a sample mosaic."""

from __future__ import annotations

import csv
import io
import json
import platform
import time
from pathlib import Path
from typing import Any

import torch

from ganzoo.version import __version__
from ganzoo.storage.atomic import atomic_path, write_text_atomic
from ganzoo.bench.cells import CellResult
from ganzoo.bench.summary import group, primary_key

CSV_FIELDS = ("name", "data", "arch", "loss", "variant", "seed", "status", "reason", "steps", "img_per_s", "wall_s",
              "peak_memory_bytes", "peak_memory_kind")


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    info = {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": __import__("os").cpu_count(), "torch": torch.__version__, "ganzoo": __version__}
    if torch.cuda.is_available():
        info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return info


def write_outputs(out: Path, results: list[CellResult], settings: dict[str, Any]) -> None:
    """Write every output file of a sweep into ``out``."""
    rows = group(results)
    payload = {"settings": settings, "machine": machine(), "time": time.time(),
               "cells": [r.to_json() for r in results], "combinations": rows}
    write_text_atomic(out / "results.json", json.dumps(payload, indent=2) + "\n")
    write_text_atomic(out / "results.csv", _csv(results))
    plots = _metric_plots(out, results)
    mosaic = _mosaic(out, results)
    write_text_atomic(out / "report.md", _markdown(rows, results, settings, plots, mosaic))


def _csv(results: list[CellResult]) -> str:
    key = primary_key(results)
    buffer = io.StringIO()
    fields = list(CSV_FIELDS) + ([f"final {key}", f"best {key}"] if key else [])
    writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    for result in results:
        row = result.to_json()
        if key:
            row[f"final {key}"] = result.final.get(key)
            row[f"best {key}"] = result.best.get(key)
        writer.writerow(row)
    return buffer.getvalue()


def _fmt(spread: dict[str, float] | None, digits: int = 3) -> str:
    if not spread:
        return "-"
    if spread["n"] > 1:
        return f"{spread['mean']:.{digits}g} ± {spread['std']:.2g}"
    return f"{spread['mean']:.{digits}g}"


def _markdown(rows: list[dict[str, Any]], results: list[CellResult], settings: dict[str, Any],
              plots: list[str], mosaic: str | None) -> str:
    key = primary_key(results)
    budget = f"{settings['steps']} steps" if settings.get("steps") else f"{settings.get('minutes')} minutes"
    lines = [
        "# ganzoo bench report", "",
        f"Budget per cell: {budget}; metrics: {', '.join(settings.get('metrics') or []) or 'none'}; "
        f"device: {settings.get('device')}; machine: {machine()['processor']}, {machine()['cpu_count']} cores, "
        f"torch {torch.__version__}. img/s: median training throughput; peak memory: CUDA peak allocation "
        "or the cell process's peak RSS; ± is the standard deviation over seeds.", "",
        f"Command: `{settings.get('command', '')}`", "",
    ]
    header = ["data", "arch", "loss", "ok/seeds", "img/s", "wall s", "peak MiB"]
    if key:
        header += [f"final {key}", f"best {key}"]
    header.append("status")
    lines += ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for row in rows:
        loss = row["loss"] + (f" [{row['variant']}]" if row.get("variant") else "")
        cells = [row["data"], row["arch"], loss, f"{row['ok']}/{row['seeds']}",
                 _fmt(row["img_per_s"], 4), _fmt(row["wall_s"], 3), _fmt(row["peak_memory_mb"], 4)]
        if key:
            cells += [_fmt(row.get("final")), _fmt(row.get("best"))]
        status = ", ".join(row["statuses"])
        if row["reason"]:
            status += f": {row['reason']}"
        cells.append(status.replace("|", "/"))
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    lines.append("")
    for plot in plots:
        lines += [f"![{plot}]({plot})", ""]
    if mosaic:
        lines += ["Final sample grids (first seed of each combination):", "", f"![samples]({mosaic})", ""]
    return "\n".join(lines)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _metric_plots(out: Path, results: list[CellResult]) -> list[str]:
    key = primary_key(results) or "G loss"
    names = []
    for data in sorted({r.cell.data for r in results}):
        curves: dict[str, dict[int, list[float]]] = {}
        for result in results:
            if result.cell.data == data and result.status == "ok":
                for step, value in result.curve:
                    curves.setdefault(result.cell.combination, {}).setdefault(step, []).append(value)
        if not curves:
            continue
        plt = _pyplot()
        figure, axes = plt.subplots(figsize=(7, 4), dpi=100)
        for combination, points in sorted(curves.items()):
            steps = sorted(points)
            axes.plot(steps, [sum(points[s]) / len(points[s]) for s in steps], marker="o", label=combination)
        axes.set_title(f"{data}: {key} (mean over seeds)")
        axes.set_xlabel("step")
        axes.set_ylabel(key)
        axes.legend(fontsize=8)
        axes.grid(alpha=0.3)
        figure.tight_layout()
        name = f"{data}-{key.replace(' ', '-')}.png"
        with atomic_path(out / name) as temp:
            figure.savefig(str(temp))
        plt.close(figure)
        names.append(name)
    return names


def _mosaic(out: Path, results: list[CellResult]) -> str | None:
    shown: dict[str, Path] = {}
    for result in results:
        label = f"{result.cell.data} {result.cell.combination}"
        grids = sorted((out / result.cell.name / "samples").glob("step_*.png"))
        if result.status in ("ok", "diverged") and grids and label not in shown:
            shown[label] = grids[-1]
    if not shown:
        return None
    plt = _pyplot()
    from PIL import Image

    columns = min(4, len(shown))
    rows = -(-len(shown) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(3 * columns, 3.3 * rows), dpi=100, squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, (label, path) in zip(axes.flat, sorted(shown.items())):
        with Image.open(path) as image:
            axis.imshow(image.convert("RGB"))
        axis.set_title(label, fontsize=9)
    figure.tight_layout()
    with atomic_path(out / "samples-mosaic.png") as temp:
        figure.savefig(str(temp))
    plt.close(figure)
    return "samples-mosaic.png"
