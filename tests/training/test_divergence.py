"""NaN/Inf: detected at the first bad step, the last good checkpoint kept, ``--on-nan rollback`` once."""

from __future__ import annotations

import json
import math
import types

import torch
from safetensors import safe_open

import ganzoo
from ganzoo.storage.checkpoint import read_checkpoint
from ganzoo.training.divergence import NanWatch, non_finite_tensors
from tests.helpers import assert_error_after_progress, invoke, read_metrics

SMALL = ("--arch", "mlp", "--data", "ring8", "--batch-size", "16", "--log-every", "1", "--precision", "fp32",
         "--arch-option", "generator_widths=16,16", "--arch-option", "discriminator_widths=16")
EXIT_DIVERGED = 3


class ScriptedNanLoss(ganzoo.Loss):
    """The non-saturating loss, except that chosen generator updates go wrong.

    ``nan_loss_at``: generator-loss calls (one per step) whose value is NaN.
    ``nan_grad_at``: calls whose value is fine but whose gradient is NaN, so
    only the weights show it.
    """

    name = "scripted-nan"
    description = "non-saturating GAN loss that turns NaN on cue"

    def __init__(self, nan_loss_at=(), nan_grad_at=()):
        self.nan_loss_at, self.nan_grad_at = set(nan_loss_at), set(nan_grad_at)
        self.calls = 0

    def discriminator_loss(self, real_logits, fake_logits):
        return torch.nn.functional.softplus(-real_logits).mean() + torch.nn.functional.softplus(fake_logits).mean()

    def generator_loss(self, fake_logits):
        self.calls += 1
        if self.calls in self.nan_grad_at:
            fake_logits.register_hook(lambda grad: grad * float("nan"))
        loss = torch.nn.functional.softplus(-fake_logits).mean()
        return loss * float("nan") if self.calls in self.nan_loss_at else loss


def scripted(**cues) -> types.ModuleType:
    module = types.ModuleType("scripted-nan")
    loss = ScriptedNanLoss(**cues)

    @ganzoo.hookimpl
    def register_losses(register):
        register(loss)

    module.register_losses = register_losses
    return module


def run(*args, **cues):
    return invoke("run", *SMALL, "--loss", "scripted-nan", *args, extra_plugins=[scripted(**cues)])


def comparable_metrics(out):
    """metrics.jsonl without the timing fields, which differ between runs."""
    return [{k: v for k, v in r.items() if k not in ("time", "img_per_s")} for r in read_metrics(out)]


def state_meta(out):
    return read_checkpoint(out / "checkpoints" / "state.safetensors", "training-state")


def test_the_watch_finds_the_first_bad_step_without_reading_every_step():
    watch = NanWatch(torch.device("cpu"))
    for step, values in enumerate(([1.0, 2.0, 0.0], [1.0, 2.0, 0.0], [1.0, math.inf, 0.0], [math.nan, 1.0, 0.0]), 11):
        watch.update(torch.tensor(values), step)
    assert watch.first_bad_step() == 13
    watch.reset()
    watch.update(torch.tensor([1.0, 2.0, 0.0]), 20)
    assert watch.first_bad_step() is None
    assert non_finite_tensors({"a": torch.ones(3), "b": torch.tensor([1.0, math.nan]), "rng": torch.zeros(2, dtype=torch.uint8)}) == ["b"]


def test_a_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    out = tmp_path / "run"
    result = run("--steps", 10, "--checkpoint-every", 3, "--out", out, nan_loss_at={7})
    line = assert_error_after_progress(result, "training diverged: a loss became NaN or infinite at step 7",
                                       f"the last good checkpoint (step 6) is kept in {out}",
                                       f"ganzoo run --resume {out} --on-nan rollback", code=EXIT_DIVERGED)
    assert "Error: " in line
    tensors, meta = state_meta(out)
    assert meta["step"] == 6 and non_finite_tensors(tensors) == []
    records = read_metrics(out)
    assert records[-1] == {"event": "diverged", "step": 7, "reason": "a loss became NaN or infinite", "checkpoint_step": 6}
    assert all(math.isfinite(r["d_loss"]) and math.isfinite(r["g_loss"]) for r in records if "d_loss" in r)


def test_non_finite_weights_are_caught_before_a_checkpoint_even_with_finite_losses(tmp_path):
    out = tmp_path / "run"
    result = run("--steps", 10, "--checkpoint-every", 2, "--log-every", 2, "--out", out, nan_grad_at={4})
    assert_error_after_progress(result, "generator.", "became NaN or infinite at step 4",
                                "the last good checkpoint (step 2)", code=EXIT_DIVERGED)
    tensors, meta = state_meta(out)
    assert meta["step"] == 2 and non_finite_tensors(tensors) == []


def test_an_absurd_learning_rate_diverges_at_once_with_a_clear_line(tmp_path):
    out = tmp_path / "run"
    result = invoke("run", *SMALL, "--loss", "bce", "--steps", 5, "--lr-d", "1e30", "--out", out)
    assert_error_after_progress(result, "at step 1, before the first checkpoint", "lower --lr-g/--lr-d",
                                code=EXIT_DIVERGED)


def test_rollback_restores_the_last_checkpoint_once_with_half_the_learning_rates(tmp_path):
    out = tmp_path / "run"
    result = run("--steps", 10, "--checkpoint-every", 3, "--on-nan", "rollback", "--out", out, nan_loss_at={7})
    assert result.exit_code == 0, result.output
    records = read_metrics(out)
    events = [r for r in records if "event" in r]
    assert events == [{"event": "rollback", "step": 6, "bad_step": 7, "reason": "a loss became NaN or infinite",
                       "restored_step": 6, "lr_scale": 0.5}]
    assert [r["step"] for r in records if "d_loss" in r] == list(range(1, 11))  # steps 7.. were redone, once each
    assert all(math.isfinite(r["g_loss"]) for r in records if "d_loss" in r)
    tensors, meta = state_meta(out)
    assert meta["step"] == 10 and meta["lr_scale"] == 0.5 and meta["rollbacks"] == 1
    assert [g["lr"] for g in meta["optimizer_g"]["param_groups"]] == [0.0002 * 0.5]
    assert [g["lr"] for g in meta["optimizer_d"]["param_groups"]] == [0.0002 * 0.5]
    assert non_finite_tensors(tensors) == []


def test_a_second_divergence_after_the_rollback_stops(tmp_path):
    out = tmp_path / "run"
    result = run("--steps", 12, "--checkpoint-every", 3, "--on-nan", "rollback", "--out", out, nan_loss_at={7, 9})
    assert_error_after_progress(result, "training diverged again after a rollback", "at step 8",
                                "the last good checkpoint (step 6)", "lower --lr-g/--lr-d", code=EXIT_DIVERGED)
    assert [r.get("event") for r in read_metrics(out) if "event" in r] == ["rollback", "diverged"]
    assert state_meta(out)[1]["step"] == 6


def test_the_lowered_learning_rates_survive_resume(tmp_path):
    straight, split = tmp_path / "straight", tmp_path / "split"
    common = ("--checkpoint-every", 1, "--on-nan", "rollback")
    assert run("--steps", 10, *common, "--out", straight, nan_loss_at={7}).exit_code == 0
    assert run("--steps", 8, *common, "--out", split, nan_loss_at={7}).exit_code == 0
    # The resumed session has no cue left: only the checkpoint can tell it the rates were halved.
    result = invoke("run", "--resume", split, "--steps", 10, extra_plugins=[scripted()])
    assert result.exit_code == 0, result.output
    assert comparable_metrics(split) == comparable_metrics(straight)
    with safe_open(str(straight / "checkpoints" / "state.safetensors"), "pt") as a, \
            safe_open(str(split / "checkpoints" / "state.safetensors"), "pt") as b:
        for key in a.keys():
            assert a.get_tensor(key).equal(b.get_tensor(key)), key
        assert json.loads(b.metadata()["ganzoo"])["lr_scale"] == 0.5


def test_on_nan_is_validated_and_may_change_on_resume(tmp_path):
    out = tmp_path / "run"
    result = invoke("run", *SMALL, "--loss", "bce", "--steps", 2, "--on-nan", "ignore", "--out", out)
    assert result.exit_code == 2 and "'ignore' is not one of 'stop', 'rollback'" in result.output
    assert not out.exists()
    assert invoke("run", *SMALL, "--loss", "bce", "--steps", 2, "--out", out).exit_code == 0
    assert invoke("run", "--resume", out, "--steps", 3, "--on-nan", "rollback").exit_code == 0
    assert json.loads((out / "config.json").read_text())["config"]["on_nan"] == "rollback"


def test_rollback_restores_the_techniques_state_too(tmp_path):
    """NaN weights at step 7 reach the EMA generator and LeCam's anchors; the rollback brings back both."""
    out = tmp_path / "run"
    result = run("--steps", 10, "--checkpoint-every", 3, "--on-nan", "rollback", "--ema", "0.9", "--reg", "lecam",
                 "--out", out, nan_grad_at={7})
    assert result.exit_code == 0, result.output
    assert [r["event"] for r in read_metrics(out) if "event" in r] == ["rollback"]
    with safe_open(str(out / "checkpoints" / "state.safetensors"), "pt") as handle:
        technique_state = {key: handle.get_tensor(key) for key in handle.keys()  # noqa: SIM118
                           if key.startswith(("ema_generator.", "regularizer."))}
    assert any(key.startswith("ema_generator.") for key in technique_state)
    assert all(torch.isfinite(value.float()).all() for value in technique_state.values())
