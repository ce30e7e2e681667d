"""Helpers for driving the CLI in tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import types
from pathlib import Path

from click.testing import CliRunner, Result

import ganzoo
from ganzoo.cli import cli


def invoke(*args: object, extra_plugins: tuple = (), env: dict | None = None) -> Result:
    """Run the CLI in process, with optional in-process plugins."""
    runner = CliRunner()
    return runner.invoke(cli, [str(a) for a in args], obj={"extra_plugins": list(extra_plugins)}, env=env)


def run_cli(*args: object, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``python -m ganzoo.cli`` in a fresh process (fresh plugin discovery)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "ganzoo.cli", *map(str, args)],
        capture_output=True, text=True, env=full_env, timeout=timeout,
    )


def read_metrics(run_dir: Path) -> list[dict]:
    """The records of a run's metrics.jsonl."""
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def assert_one_line_error(result: Result | subprocess.CompletedProcess, *fragments: str) -> str:
    """Exit code 2, no traceback, one ``Error:`` line containing every fragment; returns that line."""
    code = result.exit_code if isinstance(result, Result) else result.returncode
    text = result.output if isinstance(result, Result) else result.stdout + result.stderr
    assert code == 2, text
    assert "Traceback" not in text, text
    lines = [line for line in text.strip().splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert lines[0].startswith("Error: "), text
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def assert_error_after_progress(result: Result, *fragments: str, code: int = 2) -> str:
    """For errors that stop a run mid-way: progress lines, then exactly one ``Error:`` line, last; returns it."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output, result.output
    lines = [line for line in result.output.strip().splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], result.output
    for fragment in fragments:
        assert fragment in errors[0], (fragment, errors[0])
    return errors[0]


def interrupt_after(stop_step: int) -> types.ModuleType:
    """A lifecycle plugin that delivers SIGINT (a user's Ctrl-C) to this process after ``stop_step``."""
    plugin = types.ModuleType("interrupter")

    @ganzoo.hookimpl
    def on_step_end(run, step, record):
        if step == stop_step:
            os.kill(os.getpid(), signal.SIGINT)

    plugin.on_step_end = on_step_end
    return plugin


def straight_and_resumed(args: tuple, stop_step: int, root: Path) -> tuple[Path, Path]:
    """The run ``args`` twice: straight through, and interrupted by Ctrl-C after ``stop_step`` then resumed.

    Returns both run directories; resume exactness is what callers compare.
    """
    straight, split = root / "straight", root / "split"
    result = invoke("run", *args, "--out", straight)
    assert result.exit_code == 0, result.output
    interrupted = invoke("run", *args, "--out", split, extra_plugins=[interrupt_after(stop_step)])
    assert interrupted.exit_code == 130, interrupted.output
    result = invoke("run", "--resume", split)
    assert result.exit_code == 0, result.output
    return straight, split


def checkpoint_keys(path: Path) -> list[str]:
    """The tensor names of a safetensors file."""
    from safetensors import safe_open

    with safe_open(str(path), "pt") as handle:
        return list(handle.keys())


def assert_normalised_run_trains_and_samples(out: Path, tmp_path: Path, *, generator_normalised: bool,
                                             penalised: bool) -> None:
    """A finished run with a spectrally normalised D (and G when ``generator_normalised``): the power-iteration
    vectors are in the resumable state, the generator file is plain, losses are finite, a penalty was applied
    when ``penalised``, and ``ganzoo sample`` draws from the run."""
    state = checkpoint_keys(out / "checkpoints" / "state.safetensors")
    assert any(k.startswith("discriminator.") and k.endswith("._u") for k in state)
    assert any(k.startswith("generator.") and k.endswith("._u") for k in state) == generator_normalised
    assert not any("parametrizations" in k for k in checkpoint_keys(out / "checkpoints" / "generator.safetensors"))
    records = read_metrics(out)
    assert records and all(r["d_loss"] == r["d_loss"] and r["g_loss"] == r["g_loss"] for r in records)  # no NaN
    if penalised:
        assert all(r["penalty"] > 0 for r in records)
    sampled = invoke("sample", out, "-n", 4, "-o", tmp_path / "out.png")
    assert sampled.exit_code == 0, sampled.output
    assert (tmp_path / "out.png").stat().st_size > 0
