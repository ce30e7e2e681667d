"""``summary.json``: how a run ended, its wall time and peak memory (what ``ganzoo bench`` reads)."""

from __future__ import annotations

import json
import resource
import sys
import time

import torch

import ganzoo
from ganzoo import write_text_atomic

SUMMARY_FILE = "summary.json"
_started: dict[int, float] = {}  # id(RunContext) -> start time of the run in this process


def peak_memory(device: torch.device) -> tuple[int, str]:
    """Peak memory in bytes and what was measured: CUDA allocations, else this process's peak RSS."""
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device)), "cuda-max-allocated"
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024), "process-peak-rss"


@ganzoo.hookimpl
def on_run_start(run: ganzoo.RunContext) -> None:
    """Note when training started."""
    _started[id(run)] = time.perf_counter()


@ganzoo.hookimpl
def on_run_end(run: ganzoo.RunContext, step: int, interrupted: bool) -> None:
    """Write ``RUN/summary.json``."""
    started = _started.pop(id(run), None)
    memory, kind = peak_memory(run.device)
    if interrupted:
        stopped = "interrupted"
    elif step >= run.total_steps:
        stopped = "finished"
    else:
        stopped = "time-budget"
    summary = {
        "step": step,
        "start_step": run.start_step,
        "total_steps": run.total_steps,
        "stopped": stopped,
        "wall_s": None if started is None else time.perf_counter() - started,
        "peak_memory_bytes": memory,
        "peak_memory_kind": kind,
        "device": str(run.device),
    }
    write_text_atomic(run.run_dir / SUMMARY_FILE, json.dumps(summary, indent=2) + "\n")
