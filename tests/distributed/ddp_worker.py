"""A rank of a data-parallel run started from Python (``torch.multiprocessing``), for tests that need
in-process plugins on every rank, which torchrun's fresh interpreters cannot receive."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
import torch.multiprocessing

from ganzoo.storage.config import RunConfig
from ganzoo.distributed.launch import TIMEOUT_ENV
from ganzoo.errors import GanzooError
from ganzoo.registry import load_registry
from ganzoo.training.runner import start_run
from tests.training.test_divergence import scripted


def run_ranks(world_size: int, port: int, config: dict, run_dir: Path, cues_by_rank: dict[int, dict]) -> list[dict]:
    """Train ``config`` on ``world_size`` gloo processes; each returns its outcome (or error) as a dict."""
    torch.multiprocessing.spawn(_rank, args=(world_size, port, config, str(run_dir), cues_by_rank), nprocs=world_size)
    return [json.loads((run_dir.parent / f"rank{rank}.json").read_text()) for rank in range(world_size)]


def _rank(rank: int, world_size: int, port: int, config: dict, run_dir: str, cues_by_rank: dict[int, dict]) -> None:
    os.environ.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "WORLD_SIZE": str(world_size),
                       "RANK": str(rank), "LOCAL_RANK": str(rank), TIMEOUT_ENV: "0.5"})  # a hang fails fast
    torch.set_num_threads(1)
    registry = load_registry([scripted(**cues_by_rank.get(rank, {}))])
    try:
        outcome = start_run(RunConfig(**config), registry, run_dir)
        report = {"step": outcome.step, "interrupted": outcome.interrupted}
    except GanzooError as error:
        report = {"error": str(error), "type": type(error).__name__}
    Path(run_dir).parent.joinpath(f"rank{rank}.json").write_text(json.dumps(report))
