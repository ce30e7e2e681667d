"""``ganzoo bench``: plan an architecture x loss x dataset x seed grid, run each cell as an ordinary run.

Each cell runs in its own process (``ganzoo run``), so a crash, a divergence
or a memory peak belongs to that cell alone, and on a machine with several
GPUs the cells run side by side, one per GPU; with ``nproc_per_cell`` N > 1
each cell is a torchrun job of N data-parallel processes (N GPUs each, or N
gloo processes on the CPU). A cell's run directory is the
record of its state: an interrupted sweep resumes by finishing partial cells
and skipping finished ones.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from queue import Queue
from typing import Any

import torch

from ganzoo.bench.plan import BenchSettings, Cell
from ganzoo.errors import GanzooError
from ganzoo.registry import Registry
from ganzoo.storage.rundir import RunDir
from ganzoo.training.divergence import EXIT_DIVERGED


@dataclass
class CellResult:
    """What one cell produced (``status``: ok, diverged, failed or skipped)."""

    cell: Cell
    status: str
    reason: str | None = None
    img_per_s: float | None = None
    wall_s: float | None = None
    peak_memory_bytes: int | None = None
    peak_memory_kind: str | None = None
    steps: int | None = None
    final: dict[str, float] = field(default_factory=dict)
    best: dict[str, float] = field(default_factory=dict)
    curve: list[tuple[int, float]] = field(default_factory=list)
    protocol: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(asdict(self.cell))
        data.pop("cell")
        data["name"] = self.cell.name
        return data


def cell_state(cell_dir: Path) -> str:
    """``new``, ``partial`` (started, resumable) or ``done``."""
    summary = cell_dir / "summary.json"
    if summary.is_file() and json.loads(summary.read_text()).get("stopped") in ("finished", "time-budget"):
        return "done"
    if (cell_dir / "checkpoints" / "state.safetensors").is_file():
        return "partial"
    return "new"


def run_cells(cells: list[Cell], settings: BenchSettings, out: Path, registry: Registry,
              on_result: Callable[[CellResult], None]) -> list[CellResult]:
    """Run every runnable cell (in parallel when there are GPUs for several) and collect results."""
    slots: Queue = Queue()
    for slot in gpu_slots(settings.device, settings.nproc_per_cell):
        slots.put(slot)
    lock = threading.Lock()
    results: dict[str, CellResult] = {}

    def work(cell: Cell) -> None:
        gpu = slots.get()
        try:
            result = _run_cell(cell, settings, out / cell.name, registry, gpu)
        finally:
            slots.put(gpu)
        with lock:
            results[cell.name] = result
            on_result(result)

    for cell in cells:
        if cell.failure or cell.skip_reason:
            results[cell.name] = (CellResult(cell, "failed", cell.failure) if cell.failure
                                  else CellResult(cell, "skipped", cell.skip_reason))
            on_result(results[cell.name])
    runnable = [cell for cell in cells if not (cell.failure or cell.skip_reason)]
    with ThreadPoolExecutor(max_workers=slots.qsize()) as pool:
        for future in [pool.submit(work, cell) for cell in runnable]:
            future.result()
    return [results[cell.name] for cell in cells]


def gpu_slots(device: str, per_cell: int) -> list[str | None]:
    """The ``CUDA_VISIBLE_DEVICES`` of each cell that may run at once: groups of ``per_cell`` GPUs.

    ``[None]`` (one cell at a time, environment untouched) without GPUs.
    GPUs already restricted by ``CUDA_VISIBLE_DEVICES`` stay restricted.
    """
    count = torch.cuda.device_count() if device in ("auto", "cuda") else 0
    if count == 0:
        return [None]
    if per_cell > count:
        raise GanzooError(f"--nproc-per-cell {per_cell} needs {per_cell} GPUs, this machine shows {count}")
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    ids = [part.strip() for part in visible.split(",")][:count] if visible else [str(index) for index in range(count)]
    return [",".join(ids[start : start + per_cell]) for start in range(0, count - per_cell + 1, per_cell)]


def _run_cell(cell: Cell, settings: BenchSettings, cell_dir: Path, registry: Registry, gpus: str | None) -> CellResult:
    state = cell_state(cell_dir)
    if state != "done":
        command = [sys.executable, "-m", "ganzoo.cli", "run"]
        if settings.nproc_per_cell > 1:
            command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                       "--nproc-per-node", str(settings.nproc_per_cell), "-m", "ganzoo.cli", "run"]
        if state == "partial":
            command += ["--resume", str(cell_dir)]
        else:
            command += ["--arch", cell.arch, "--loss", cell.loss, "--data", cell.data, "--seed", str(cell.seed),
                        "--out", str(cell_dir), "--log-every", str(settings.log_every)]
            if settings.metrics:
                command += ["--metrics", ",".join(settings.metrics), "--eval-samples", str(settings.eval_samples)]
                if settings.eval_every:
                    command += ["--eval-every", str(settings.eval_every)]
            if settings.batch_size:
                command += ["--batch-size", str(settings.batch_size)]
            command += list(cell.variant_args)  # a resumed cell keeps the options it was started with
        command += ["--steps", str(settings.steps)] if settings.steps else ["--steps", "1000000000", "--max-minutes", str(settings.minutes)]
        command += ["--device", "cuda" if gpus is not None else settings.device]
        if settings.data_root:
            command += ["--data-root", settings.data_root]
        env = dict(os.environ)
        if gpus is not None:
            env["CUDA_VISIBLE_DEVICES"] = gpus
        finished = subprocess.run(command, capture_output=True, text=True, env=env)
        if finished.returncode not in (0, EXIT_DIVERGED):  # a diverged run still has a run directory to read
            return CellResult(cell, "failed", _failure_reason(finished))
    return collect(cell, cell_dir, registry)


def _failure_reason(finished: subprocess.CompletedProcess) -> str:
    """ganzoo's one-line error if the cell printed one (torchrun adds its own report after it), else the last line."""
    lines = [line for line in (finished.stderr + "\n" + finished.stdout).splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error: ")]
    if errors:
        return errors[-1]
    return lines[-1] if lines else f"exit code {finished.returncode}"


def collect(cell: Cell, cell_dir: Path, registry: Registry) -> CellResult:
    """Read a finished cell's run directory into a :class:`CellResult`."""
    run = RunDir(cell_dir)
    records = run.read_metrics()
    losses = [r for r in records if "d_loss" in r]
    evals = [r for r in records if "eval" in r]
    summary = json.loads((cell_dir / "summary.json").read_text()) if (cell_dir / "summary.json").is_file() else {}
    speeds = [r["img_per_s"] for r in losses if r.get("img_per_s")]
    result = CellResult(
        cell, "ok",
        img_per_s=statistics.median(speeds) if speeds else None,
        wall_s=summary.get("wall_s"),
        peak_memory_bytes=summary.get("peak_memory_bytes"),
        peak_memory_kind=summary.get("peak_memory_kind"),
        steps=summary.get("step"),
    )
    diverged = next((r for r in records if r.get("event") == "diverged"), None)
    if diverged:
        result.status, result.reason = "diverged", f"non-finite losses or weights at step {diverged['step']}"
    elif losses and not all(math.isfinite(losses[-1][key]) for key in ("d_loss", "g_loss")):
        result.status, result.reason = "diverged", f"non-finite losses at step {losses[-1]['step']}"
    eval_file = cell_dir / "eval.jsonl"
    if eval_file.is_file():
        lines = [line for line in eval_file.read_text().splitlines() if line.strip()]
        if lines:
            last = json.loads(lines[-1])
            result.protocol = {**last["protocol"], "metrics": {m: r["protocol"] for m, r in last["metrics"].items()}}
    if evals:
        result.final = {f"{metric}.{key}": value for metric, values in evals[-1]["eval"].items() for key, value in values.items()}
        first = next(iter(evals[-1]["eval"]))
        metric = registry.metric(first)
        series = [(r["step"], r["eval"][first][metric.primary]) for r in evals]
        result.curve = series
        pick = max if metric.higher_is_better else min
        finite = [value for _, value in series if math.isfinite(value)]
        if finite:
            result.best = {f"{first}.{metric.primary}": pick(finite)}
    else:
        result.curve = [(r["step"], r["g_loss"]) for r in losses]
    return result
