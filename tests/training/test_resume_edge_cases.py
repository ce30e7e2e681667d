"""Resume where a run is fragile: no checkpoint yet, a relative data root, another thread count; --epochs < 1 step;
convolutional networks (channels-last weights under fused Adam)."""

from __future__ import annotations

import json
import os

import torch

from ganzoo.storage.checkpoint import read_checkpoint
from tests.helpers import assert_error_after_progress, assert_one_line_error, invoke, read_metrics, straight_and_resumed
from tests.training.test_divergence import SMALL, scripted

EXIT_DIVERGED = 3
TOY = ("--arch", "mlp", "--loss", "bce", "--data", "ring8", "--batch-size", "32", "--precision", "fp32")


def test_a_convolutional_run_resumes_exactly_two_updates_after_the_checkpoint(tmp_path):
    """Checkpointed moments load contiguous; fused Adam must not pair them with channels-last weights by memory
    position (it did: every conv weight after a resume was updated with another weight's moments)."""
    common = ("--arch", "dcgan", "--loss", "hinge", "--data", "mnist-mini", "--arch-option", "base_width=8",
              "--batch-size", "16", "--log-every", "1", "--checkpoint-every", "100", "--seed", "4", "--steps", 5)
    straight, split = straight_and_resumed(common, 2, tmp_path)
    assert [r["d_loss"] for r in read_metrics(split)] == [r["d_loss"] for r in read_metrics(straight)]
    final = [read_checkpoint(run / "checkpoints" / "state.safetensors", "training-state")[0] for run in (straight, split)]
    assert all(final[0][key].equal(final[1][key]) for key in final[0])


def test_a_run_that_stopped_before_its_first_checkpoint_resumes_from_step_0(tmp_path):
    out = tmp_path / "run"
    plugin = scripted(nan_loss_at={3})  # the third generator update goes wrong; later calls are fine
    first = invoke("run", *SMALL, "--loss", "scripted-nan", "--steps", 6, "--out", out, extra_plugins=(plugin,))
    assert_error_after_progress(first, "step 3", code=EXIT_DIVERGED)
    assert (out / "config.json").is_file() and not (out / "checkpoints" / "state.safetensors").exists()

    again = invoke("run", *SMALL, "--loss", "scripted-nan", "--steps", 6, "--out", out, extra_plugins=(plugin,))
    assert_one_line_error(again, "already holds a run", f"--resume {out}", "no checkpoint yet", "from step 0")

    resumed = invoke("run", "--resume", out, extra_plugins=(plugin,))
    assert resumed.exit_code == 0, resumed.output
    assert "finished step 6/6" in resumed.output
    steps = [record["step"] for record in read_metrics(out) if "d_loss" in record]
    assert steps == list(range(1, 7))  # the failed attempt's records were dropped
    assert read_checkpoint(out / "checkpoints" / "state.safetensors", "training-state")[1]["step"] == 6


def test_a_relative_data_root_is_recorded_absolute_so_resume_works_from_anywhere(tmp_path, data_root, monkeypatch):
    first_dir, other_dir = tmp_path / "here", tmp_path / "elsewhere" / "deeper"
    first_dir.mkdir()
    other_dir.mkdir(parents=True)
    monkeypatch.chdir(first_dir)
    relative = os.path.relpath(data_root, first_dir)
    out = tmp_path / "run"
    started = invoke("run", "--arch", "dcgan", "--loss", "bce", "--data", "mnist", "--data-root", relative,
                     "--steps", 1, "--batch-size", 8, "--arch-option", "base_width=8", "--out", out)
    assert started.exit_code == 0, started.output
    config = json.loads((out / "config.json").read_text())
    assert config["config"]["data_root"] == config["resolved"]["data_root"] == os.path.abspath(data_root)

    monkeypatch.chdir(other_dir)  # the relative path would point nowhere from here
    resumed = invoke("run", "--resume", out, "--steps", 2)
    assert resumed.exit_code == 0, resumed.output
    rerun = invoke("run", "--config", out / "config.json", "--steps", 1, "--out", tmp_path / "rerun")
    assert rerun.exit_code == 0, rerun.output


def test_resume_keeps_the_thread_count_of_the_checkpoint(tmp_path):
    out = tmp_path / "run"
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert invoke("run", *TOY, "--steps", 4, "--checkpoint-every", 2, "--threads", 1, "--out", out).exit_code == 0
        assert read_checkpoint(out / "checkpoints" / "state.safetensors", "training-state")[1]["threads"] == 1
        assert json.loads((out / "config.json").read_text())["resolved"]["threads"] == 1

        torch.set_num_threads(2)  # what a fresh process on another machine would start with
        resumed = invoke("run", "--resume", out, "--steps", 6)
        assert resumed.exit_code == 0, resumed.output
        assert torch.get_num_threads() == 1
        assert not [r for r in read_metrics(out) if r.get("event") == "threads-changed"]

        changed = invoke("run", "--resume", out, "--steps", 8, "--threads", 2)
        assert changed.exit_code == 0, changed.output
        notes = [r for r in read_metrics(out) if r.get("event") == "threads-changed"]
        assert notes == [{"step": 6, "event": "threads-changed", "threads": 2, "checkpoint_threads": 1}]
    finally:
        torch.set_num_threads(before)


def test_epochs_below_one_step_are_refused(tmp_path):
    result = invoke("run", *TOY, "--epochs", "1e-9", "--out", tmp_path / "run")
    assert_one_line_error(result, "--epochs 1e-09 is less than one step", "--steps")
    assert not (tmp_path / "run").exists()
