"""Real run and bench directories to report on, trained once per session (about 20 s in all on a CPU)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import invoke

#: Grids every 4 steps of 60: 15 grids, more than the page shows (12 evenly spaced and the last).
TOY_RUN = ("--arch", "mlp", "--loss", "bce", "--data", "ring8", "--steps", 60, "--batch-size", 32, "--log-every", 10,
           "--sample-every", 4, "--checkpoint-every", 60, "--metrics", "modes", "--eval-every", 20,
           "--eval-samples", 300)
DIGITS_RUN = ("--arch", "dcgan", "--loss", "bce", "--data", "mnist-mini", "--steps", 40, "--batch-size", 16,
              "--sample-every", 10, "--checkpoint-every", 20, "--log-every", 10)
TINY_BENCH = ("--arch", "mlp", "--loss", "bce,hinge", "--data", "ring8", "--steps", 40, "--batch-size", 32,
              "--log-every", 10, "--metrics", "modes", "--eval-every", 20, "--eval-samples", 300, "--device", "cpu")


def _trained(args: tuple, out: Path, command: str = "run") -> Path:
    result = invoke(command, *args, "--out", out)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="session")
def toy_run(tmp_path_factory) -> Path:
    """A finished ring8 run with metrics.jsonl, eval.jsonl (the modes metric), 15 sample grids and summary.json."""
    return _trained(TOY_RUN, tmp_path_factory.mktemp("report-toy") / "run")


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory) -> Path:
    """A finished DCGAN run on the embedded MNIST digits: 4 pixel sample grids, no evaluations."""
    return _trained(DIGITS_RUN, tmp_path_factory.mktemp("report-digits") / "run")


@pytest.fixture(scope="session")
def bench_dir(tmp_path_factory) -> Path:
    """A finished two-cell ``ganzoo bench`` sweep (mlp x bce,hinge x ring8) with its plots and mosaic."""
    return _trained(TINY_BENCH, tmp_path_factory.mktemp("report-bench") / "bench", command="bench")


def bench_results(bench: Path) -> dict:
    """The sweep's results.json."""
    return json.loads((bench / "results.json").read_text())
