"""Crashes never cost a run: kill -9 at any moment, SIGTERM, torn metrics lines, a full or unwritable disk."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from collections import namedtuple
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

import ganzoo.storage.checkpoint
from ganzoo.storage.checkpoint import read_checkpoint, read_generator
from tests.conftest import REPO
from tests.helpers import assert_error_after_progress, assert_one_line_error, invoke, read_metrics

# Tiny networks, one thread and fp32, so in-process and subprocess runs compute bit for bit the same.
TINY = ("--arch", "mlp", "--loss", "wgan-gp", "--data", "ring8", "--batch-size", "16", "--seed", "5",
        "--arch-option", "generator_widths=32,32", "--arch-option", "discriminator_widths=32",
        "--threads", "1", "--precision", "fp32", "--log-every", "1", "--sample-every", "1000000")
LOSSES = ("d_loss", "g_loss", "penalty")


def losses_by_step(run: Path) -> list[tuple]:
    """(step, d, g, penalty) of every loss record, in file order."""
    return [(r["step"], *(r[key] for key in LOSSES)) for r in read_metrics(run) if "d_loss" in r]


def assert_same_tensors(first: Path, second: Path) -> None:
    """The two safetensors files hold the same tensor names with bit-identical values."""
    with safe_open(str(first), "pt") as a, safe_open(str(second), "pt") as b:
        assert sorted(a.keys()) == sorted(b.keys())
        for key in a.keys():
            assert a.get_tensor(key).equal(b.get_tensor(key)), key


def checkpoint_step(run: Path) -> int:
    """The step of the run's training state; reading it proves the file is complete and loadable."""
    _, meta = read_checkpoint(run / "checkpoints" / "state.safetensors", "training-state")
    read_generator(run / "checkpoints" / "generator.safetensors")
    return meta["step"]


def start(args: list, env: dict | None = None, module: str = "ganzoo") -> subprocess.Popen:
    """Start ``python -m MODULE ARGS`` from the repository root."""
    return subprocess.Popen([sys.executable, "-m", module, *map(str, args)], cwd=REPO,
                            env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(condition, process: subprocess.Popen, timeout: float = 120) -> None:
    """Poll ``condition`` every 10 ms while ``process`` runs; fail if it ends first."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def logged_steps(run: Path) -> int:
    """How many complete lines metrics.jsonl holds."""
    path = run / "metrics.jsonl"
    return path.read_text().count("\n") if path.exists() else 0


def kill_9(process: subprocess.Popen) -> None:
    """SIGKILL a process that must still be running."""
    assert process.poll() is None, "the run ended before it could be killed"
    process.kill()
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL


TOTAL = 120


@pytest.fixture(autouse=True)
def keep_thread_count():
    """``--threads 1`` sets torch's thread count for the whole test process: put it back."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_kill_9_at_any_moment_then_resume_reproduces_the_uninterrupted_run(tmp_path):
    straight = tmp_path / "straight"
    result = invoke("run", *TINY, "--steps", TOTAL, "--checkpoint-every", 1, "--out", straight)
    assert result.exit_code == 0, result.output

    run = tmp_path / "killed"
    fresh = ["run", *TINY, "--steps", TOTAL, "--checkpoint-every", 1, "--out", run]
    resume = ["run", "--resume", run, "--steps", TOTAL]
    paused = tmp_path / "paused-at"
    survived = []

    # 1. a fresh run, between two steps after a few have been logged
    process = start(fresh)
    wait_for(lambda: logged_steps(run) >= 5, process)
    kill_9(process)
    survived.append(checkpoint_step(run))

    # 2. during a checkpoint write: the 7th file saved is half written when the process dies
    process = start(resume, {"GANZOO_TEST_PAUSE_AT": "7", "GANZOO_TEST_PAUSED": str(paused)}, module="tests.cli.pausing_cli")
    wait_for(paused.exists, process)
    torn = Path(paused.read_text())
    assert torn.name.startswith(".") and ".tmp" in torn.name and torn.parent == run / "checkpoints"
    kill_9(process)
    survived.append(checkpoint_step(run))
    assert torn.exists(), "the half-written temporary file is what a kill mid-write leaves"

    # 3. a resumed run, right after it started training again
    before = logged_steps(run)
    process = start(resume)
    wait_for(lambda: logged_steps(run) > before, process)
    kill_9(process)
    survived.append(checkpoint_step(run))

    # 4. a resumed run, well into training
    before = logged_steps(run)
    process = start(resume)
    wait_for(lambda: logged_steps(run) >= before + 15, process)
    kill_9(process)
    survived.append(checkpoint_step(run))

    # 5. a resumed run, while it is still starting up (importing torch, before its first step)
    process = start(resume)
    time.sleep(0.3)
    kill_9(process)
    survived.append(checkpoint_step(run))

    assert all(0 < step < TOTAL for step in survived), survived
    assert len(survived) == 5
    result = invoke("run", "--resume", run, "--steps", TOTAL)
    assert result.exit_code == 0, result.output

    assert losses_by_step(run) == losses_by_step(straight)
    assert [step for step, *_ in losses_by_step(run)] == list(range(1, TOTAL + 1))
    assert_same_tensors(run / "checkpoints" / "state.safetensors", straight / "checkpoints" / "state.safetensors")
    assert_same_tensors(run / "checkpoints" / "generator.safetensors", straight / "checkpoints" / "generator.safetensors")
    assert not list(run.rglob("*.tmp*")), "temporary files of killed writes are cleaned up on resume"


def test_sigterm_checkpoints_and_exits_143_with_the_resume_command(tmp_path):
    run = tmp_path / "run"
    process = start(["run", *TINY, "--steps", 1_000_000, "--checkpoint-every", 1_000_000, "--out", run])
    wait_for(lambda: logged_steps(run) >= 3, process)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 143, stderr
    assert "Traceback" not in stderr
    message = [line for line in stderr.splitlines() if "interrupted" in line]
    assert len(message) == 1, stderr
    assert "interrupted by SIGTERM at step" in message[0] and f"continue with: ganzoo run --resume {run}" in message[0]
    step = checkpoint_step(run)
    assert step >= 3 and f"at step {step}/1000000" in message[0]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["stopped"] == "interrupted" and summary["step"] == step


def test_one_ctrl_c_delivered_twice_still_stops_cleanly(tmp_path):
    """Under torchrun, Ctrl-C reaches a worker from the terminal and again from torchrun, milliseconds apart."""
    run = tmp_path / "run"
    process = start(["run", *TINY, "--steps", 1_000_000, "--checkpoint-every", 1_000_000, "--out", run])
    wait_for(lambda: logged_steps(run) >= 3, process)
    process.send_signal(signal.SIGINT)
    time.sleep(0.2)  # the first has been handled: without the duplicate window the second would abort
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "interrupted by SIGINT" in stderr
    assert checkpoint_step(run) >= 3


def test_a_torn_last_metrics_line_is_dropped_on_resume(tmp_path):
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert invoke("run", *TINY, "--steps", 6, "--out", straight).exit_code == 0
    assert invoke("run", *TINY, "--steps", 4, "--out", split).exit_code == 0
    with open(split / "metrics.jsonl", "a") as handle:
        handle.write('{"step": 5, "d_loss": 0.12')  # a crash in the middle of an append
    result = invoke("run", "--resume", split, "--steps", 6)
    assert result.exit_code == 0, result.output
    lines = (split / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [1, 2, 3, 4, 5, 6]  # every line parses
    assert losses_by_step(split) == losses_by_step(straight)


def test_an_append_after_a_torn_line_starts_on_its_own_line(tmp_path):
    from ganzoo.storage.rundir import RunDir

    run = RunDir(tmp_path)
    (tmp_path / "metrics.jsonl").write_text('{"step": 1}\n{"step": 2, "d_lo')
    run.append_metrics({"step": 3})
    assert [r["step"] for r in run.read_metrics()] == [1, 3]


def fail_on_call(monkeypatch, number: int, error: int = errno.ENOSPC) -> list:
    """Make the ``number``-th checkpoint file save write a few bytes, then fail like a full disk."""
    calls = []
    real = ganzoo.storage.checkpoint.save_file

    def save_file(tensors, filename, metadata=None):
        calls.append(filename)
        if len(calls) == number:
            Path(filename).write_bytes(b"partial")
            raise OSError(error, os.strerror(error), str(filename))
        real(tensors, filename, metadata=metadata)

    monkeypatch.setattr(ganzoo.storage.checkpoint, "save_file", save_file)
    return calls


def test_a_full_disk_mid_run_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    straight, run = tmp_path / "straight", tmp_path / "run"
    assert invoke("run", *TINY, "--steps", 10, "--checkpoint-every", 2, "--out", straight).exit_code == 0
    # Saves alternate state, generator: the 5th is the state file of step 6.
    fail_on_call(monkeypatch, 5)
    result = invoke("run", *TINY, "--steps", 10, "--checkpoint-every", 2, "--out", run)
    assert_error_after_progress(result, "stopped at step 6", "No space left on device",
                          "the checkpoint of step 4 is intact", f"ganzoo run --resume {run}")
    assert checkpoint_step(run) == 4
    assert not list(run.rglob("*.tmp*")), "the failed write left its temporary file"

    monkeypatch.undo()  # space freed
    result = invoke("run", "--resume", run, "--steps", 10)
    assert result.exit_code == 0, result.output
    assert losses_by_step(run) == losses_by_step(straight)
    assert_same_tensors(run / "checkpoints" / "state.safetensors", straight / "checkpoints" / "state.safetensors")


def test_too_little_free_space_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    import ganzoo.storage.preflight

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(ganzoo.storage.preflight.shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 2**20, 2**20))
    out = tmp_path / "deep" / "run"
    result = invoke("run", *TINY, "--steps", 1, "--out", out)
    assert_one_line_error(result, "only 1 MiB free on", "this run's checkpoints need about", "--out")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("where", ["under-a-file", "proc"])
def test_an_unwritable_output_is_refused_before_training(tmp_path, where):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    out = blocker / "run" if where == "under-a-file" else Path("/proc/ganzoo-test/run")
    result = invoke("run", *TINY, "--steps", 1, "--out", out)
    line = assert_one_line_error(result)
    assert ("is a file, not a directory" in line) if where == "under-a-file" else ("cannot write to /proc" in line)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_kill_9_with_every_technique_on_then_resume_reproduces_the_uninterrupted_run(tmp_path):
    """EMA, ADA's p, DiffAugment's draws, LeCam's anchors, a lazy R1, spectral norm and a linear schedule all
    come back from the last checkpoint bit for bit."""
    from tests.training.test_augmentation import ALL_ON, IMAGES

    total = 12
    args = [*IMAGES, *ALL_ON, "--threads", "1", "--seed", "9", "--sample-every", "1000000", "--checkpoint-every", 1,
            "--steps", total]
    straight, run = tmp_path / "straight", tmp_path / "killed"
    assert invoke("run", *args, "--out", straight).exit_code == 0
    process = start(["run", *args, "--out", run])
    wait_for(lambda: logged_steps(run) >= 4, process)
    kill_9(process)
    assert 0 < checkpoint_step(run) < total
    result = invoke("run", "--resume", run)
    assert result.exit_code == 0, result.output
    assert_same_tensors(straight / "checkpoints" / "state.safetensors", run / "checkpoints" / "state.safetensors")
    assert_same_tensors(straight / "checkpoints" / "generator.safetensors", run / "checkpoints" / "generator.safetensors")
    keys = (*LOSSES, "ada_p")
    assert [[r[k] for k in keys] for r in read_metrics(run) if "d_loss" in r] == \
        [[r[k] for k in keys] for r in read_metrics(straight) if "d_loss" in r]
