"""--optimizer, Loss.defaults["optimizer"], Loss.after_discriminator_step and --lr-schedule, through real runs."""

from __future__ import annotations

import json
import types

import pytest
import torch
from safetensors import safe_open

import ganzoo
from ganzoo.storage.checkpoint import read_checkpoint
from ganzoo.training.recovery import STATE_KIND
from tests.helpers import invoke, read_metrics, straight_and_resumed

TOY = ("--arch", "mlp", "--data", "ring8", "--batch-size", "16", "--log-every", "1")


def _state(run) -> dict[str, torch.Tensor]:
    with safe_open(str(run / "checkpoints" / "state.safetensors"), "pt") as f:
        return {key: f.get_tensor(key) for key in f.keys()}


def _resolved(run) -> dict:
    return json.loads((run / "config.json").read_text())["resolved"]


def test_wgan_trains_with_rmsprop_and_keeps_every_critic_weight_clipped(tmp_path, data_root):
    out = tmp_path / "run"
    result = invoke("run", "--arch", "dcgan", "--loss", "wgan", "--data", "mnist", "--data-root", data_root,
                    "--steps", 2, "--batch-size", 16, "--arch-option", "base_width=8", "--out", out)
    assert result.exit_code == 0, result.output
    resolved = _resolved(out)
    assert (resolved["optimizer"], resolved["n_critic"], resolved["lr_d"], resolved["lr_g"]) == ("rmsprop", 5, 5e-5, 5e-5)
    state = _state(out)
    critic = {k: v for k, v in state.items() if k.startswith("discriminator.") and v.is_floating_point()
              and "running" not in k}
    assert critic and all(v.abs().max() <= 0.01 for v in critic.values())
    # DCGAN's N(0, 0.02) initialisation puts weights beyond the bound: the clip did something.
    assert any((v.abs() == 0.01).any() for v in critic.values())
    assert any(k.endswith(".square_avg") for k in state if k.startswith("optimizer_d."))
    assert not any(k.endswith(".exp_avg") for k in state)


def test_the_user_overrides_the_losss_optimizer(tmp_path):
    out = tmp_path / "run"
    assert invoke("run", *TOY, "--loss", "wgan", "--optimizer", "adamw", "--steps", 1, "--out", out).exit_code == 0
    assert _resolved(out)["optimizer"] == "adamw"
    state = _state(out)
    assert any(k.endswith(".exp_avg") for k in state if k.startswith("optimizer_g."))
    meta = json.loads((out / "config.json").read_text())
    assert meta["config"]["optimizer"] == "adamw"
    default = tmp_path / "default"
    assert invoke("run", *TOY, "--loss", "bce", "--steps", 1, "--out", default).exit_code == 0
    assert _resolved(default)["optimizer"] == "adam"


@pytest.mark.parametrize("extra", [("--loss", "wgan"), ("--loss", "bce", "--optimizer", "adamw"),
                                   ("--loss", "hinge", "--optimizer", "rmsprop", "--lr-schedule", "linear")])
def test_resume_is_exact_with_every_optimizer_and_schedule(tmp_path, extra):
    """Interrupted at step 3 of 6 (the total, and so the linear schedule, unchanged), then resumed."""
    common = (*extra, *TOY, "--checkpoint-every", "100", "--seed", "3", "--steps", 6)
    straight, split = straight_and_resumed(common, 3, tmp_path)
    assert [r["d_loss"] for r in read_metrics(split)] == [r["d_loss"] for r in read_metrics(straight)]
    expected, resumed = _state(straight), _state(split)
    assert expected.keys() == resumed.keys()
    assert all(expected[key].equal(resumed[key]) for key in expected)


def test_resume_refuses_another_optimizer_or_schedule(tmp_path):
    out = tmp_path / "run"
    assert invoke("run", *TOY, "--loss", "bce", "--steps", 1, "--out", out).exit_code == 0
    result = invoke("run", "--resume", out, "--steps", 2, "--optimizer", "rmsprop")
    assert result.exit_code == 2 and "cannot change --optimizer when resuming" in result.output
    result = invoke("run", "--resume", out, "--steps", 2, "--lr-schedule", "linear")
    assert result.exit_code == 2 and "cannot change --lr-schedule when resuming" in result.output


def _last_learning_rates(run) -> tuple[float, float]:
    _, meta = read_checkpoint(run / "checkpoints" / "state.safetensors", STATE_KIND)
    return tuple(meta[name]["param_groups"][0]["lr"] for name in ("optimizer_g", "optimizer_d"))


def test_a_linear_schedule_decays_both_learning_rates_towards_zero_at_the_last_step(tmp_path):
    linear, constant = tmp_path / "linear", tmp_path / "constant"
    common = (*TOY, "--loss", "bce", "--steps", 4, "--lr-g", "0.001", "--lr-d", "0.0004", "--seed", "1")
    assert invoke("run", *common, "--lr-schedule", "linear", "--out", linear).exit_code == 0
    assert invoke("run", *common, "--out", constant).exit_code == 0
    # The 4th step ran at 1 - 3/4 of the base rates.
    assert _last_learning_rates(linear) == pytest.approx((0.001 / 4, 0.0004 / 4))
    assert _last_learning_rates(constant) == (0.001, 0.0004)
    assert json.loads((linear / "config.json").read_text())["config"]["lr_schedule"] == "linear"
    # The first step is the same; later ones train at lower rates.
    linear_losses, constant_losses = read_metrics(linear), read_metrics(constant)
    assert linear_losses[0]["d_loss"] == constant_losses[0]["d_loss"]
    assert linear_losses[-1]["d_loss"] != constant_losses[-1]["d_loss"]


class UnknownOptimizerLoss(ganzoo.Loss):
    """A loss (after Goodfellow et al. 2014) whose defaults name an optimizer ganzoo does not have."""

    name = "wants-sgd"
    description = "asks for sgd"
    defaults = {"optimizer": "sgd"}

    def discriminator_loss(self, real_logits, fake_logits):
        return fake_logits.mean() - real_logits.mean()

    def generator_loss(self, fake_logits):
        return -fake_logits.mean()


def test_a_loss_default_naming_an_unknown_optimizer_is_a_one_line_error(tmp_path):
    plugin = types.ModuleType("wants_sgd")
    plugin.register_losses = ganzoo.hookimpl(lambda register: register(UnknownOptimizerLoss()))
    result = invoke("run", *TOY, "--loss", "wants-sgd", "--steps", 1, "--out", tmp_path / "run",
                    extra_plugins=[plugin])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        "Error: loss 'wants-sgd' asks for optimizer 'sgd'; valid choices: adam, adamw, rmsprop")
    assert not (tmp_path / "run").exists()
