"""--reg through real runs: recorded choices, lazy application, the loss's defaults, errors, exact resume."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open

import ganzoo
from tests.helpers import assert_one_line_error, invoke, read_metrics, straight_and_resumed

TOY = ("--arch", "mlp", "--data", "ring8", "--batch-size", "16", "--log-every", "1")
IMAGES = ("--arch", "dcgan", "--data", "mnist-mini", "--arch-option", "base_width=8", "--batch-size", "16",
          "--log-every", "1")


def _config(run) -> dict:
    return json.loads((run / "config.json").read_text())


def _state(run) -> dict[str, torch.Tensor]:
    with safe_open(str(run / "checkpoints" / "state.safetensors"), "pt") as f:
        return {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118


def _penalties(run) -> list[float]:
    return [record["penalty"] for record in read_metrics(run)]


def test_several_regularizers_apply_together_and_config_json_records_them(tmp_path):
    out = tmp_path / "run"
    result = invoke("run", *TOY, "--loss", "hinge", "--steps", 2, "--reg", "r1:gamma=2", "--reg", "lecam:weight=0.5",
                    "--out", out)
    assert result.exit_code == 0, result.output
    recorded = _config(out)
    assert recorded["config"]["regularizers"] == ["r1:gamma=2", "lecam:weight=0.5"]
    assert recorded["resolved"]["regularizers"] == [
        {"name": "r1", "weight": 1.0, "every": 1, "options": {"gamma": 2.0}},
        {"name": "lecam", "weight": 0.5, "every": 1, "options": {"decay": 0.99, "start": 0}},
    ]
    assert [entry["name"] for entry in recorded["plugins"]["regularizers"]] == ["r1", "lecam"]
    assert all(p > 0 for p in _penalties(out))
    state = _state(out)
    assert {key for key in state if key.startswith("regularizer.")} == {
        "regularizer.1.lecam.anchor_real", "regularizer.1.lecam.anchor_fake", "regularizer.1.lecam.updates"}
    assert state["regularizer.1.lecam.updates"].item() == 2


def test_a_lazy_regularizer_applies_every_kth_update_with_its_weight_times_k(tmp_path):
    lazy, eager = tmp_path / "lazy", tmp_path / "eager"
    common = (*TOY, "--loss", "bce", "--steps", 4, "--seed", "2")
    assert invoke("run", *common, "--reg", "r1:every=2", "--out", lazy).exit_code == 0
    assert invoke("run", *common, "--reg", "r1", "--out", eager).exit_code == 0
    penalties = _penalties(lazy)
    assert penalties[1] == penalties[3] == 0.0 and penalties[0] > 0 and penalties[2] > 0
    # Before the first update both runs are the same: the lazy term is twice the eager one.
    assert penalties[0] == pytest.approx(2 * _penalties(eager)[0], rel=1e-6)


def test_wgan_gp_keeps_gp_by_default_and_reg_replaces_or_drops_it(tmp_path):
    runs = {name: tmp_path / name for name in ("default", "none", "r1")}
    common = (*TOY, "--loss", "wgan-gp", "--steps", 2)
    assert invoke("run", *common, "--out", runs["default"]).exit_code == 0
    assert invoke("run", *common, "--reg", "none", "--out", runs["none"]).exit_code == 0
    assert invoke("run", *common, "--reg", "r1:gamma=1", "--out", runs["r1"]).exit_code == 0
    resolved = {name: _config(run)["resolved"]["regularizers"] for name, run in runs.items()}
    assert resolved["default"] == [{"name": "gp", "weight": 10.0, "every": 1,
                                    "options": {"center": 1.0, "one_sided": False}}]
    assert resolved["none"] == [] and _config(runs["none"])["config"]["regularizers"] == []
    assert [entry["name"] for entry in resolved["r1"]] == ["r1"]
    assert all(p > 0 for p in _penalties(runs["default"]))
    assert _penalties(runs["none"]) == [0.0, 0.0]


class ConstantPenaltyLoss(ganzoo.Loss):
    """A third-party loss written against the contract before regularizers: its penalty is 1.5."""

    name = "constant-penalty"
    description = "hinge with a constant penalty"

    def discriminator_loss(self, real_logits, fake_logits):
        return torch.relu(1 - real_logits).mean() + torch.relu(1 + fake_logits).mean()

    def generator_loss(self, fake_logits):
        return -fake_logits.mean()

    def penalty(self, discriminator, real, fake):
        return torch.tensor(1.5)


def _loss_plugin():
    import types

    plugin = types.ModuleType("constant-penalty-plugin")
    plugin.register_losses = ganzoo.hookimpl(lambda register: register(ConstantPenaltyLoss()))
    plugin.register_losses.__name__ = "register_losses"
    return plugin


def test_loss_penalty_keeps_working_and_adds_to_the_regularizers(tmp_path):
    alone, both = tmp_path / "alone", tmp_path / "both"
    common = (*TOY, "--loss", "constant-penalty", "--steps", 2)
    assert invoke("run", *common, "--out", alone, extra_plugins=[_loss_plugin()]).exit_code == 0
    assert _penalties(alone) == [1.5, 1.5]
    assert invoke("run", *common, "--reg", "r2", "--out", both, extra_plugins=[_loss_plugin()]).exit_code == 0
    assert all(p > 1.5 for p in _penalties(both))


@pytest.mark.parametrize("args, fragments", [
    (("--reg", "nope"), ("unknown regularizer 'nope'", "r1", "lecam")),
    (("--reg", "r1:gama=1"), ("gama", "gamma", "every", "weight")),
    (("--reg", "r1:gamma=abc"), ("gamma", "float", "abc")),
    (("--reg", "r1:every=0"), ("every must be a positive integer", "0")),
    (("--reg", "r1:weight=-1"), ("weight must be a finite number >= 0", "-1")),
    (("--reg", "r1:gamma"), ("--reg expects NAME[:KEY=VALUE,...]", "r1:gamma")),
    (("--reg", "none", "--reg", "r1"), ("--reg none cannot be combined",)),
    (("--reg", "r1", "--reg", "r1:gamma=1"), ("--reg r1 is given twice",)),
    (("--reg", "cr"), ("--reg cr transforms images", "(2,)")),
])
def test_bad_reg_values_are_one_line_errors_and_write_nothing(tmp_path, args, fragments):
    out = tmp_path / "run"
    result = invoke("run", *TOY, "--loss", "bce", "--steps", 1, *args, "--out", out)
    assert_one_line_error(result, *fragments)
    assert not out.exists()


def test_reg_cannot_change_on_resume(tmp_path):
    out = tmp_path / "run"
    assert invoke("run", *TOY, "--loss", "bce", "--steps", 1, "--out", out).exit_code == 0
    result = invoke("run", "--resume", out, "--steps", 2, "--reg", "r1")
    assert_one_line_error(result, "cannot change --regularizers when resuming")


def test_resume_is_exact_with_stateful_lazy_and_image_regularizers(tmp_path):
    """LeCam's anchors, a lazy R1's update count and cr's random transforms survive an interruption."""
    common = (*IMAGES, "--loss", "hinge", "--reg", "lecam", "--reg", "r1:gamma=0.1,every=3", "--reg", "cr:fake=0.5",
              "--checkpoint-every", "100", "--seed", "4", "--steps", 5)
    straight, split = straight_and_resumed(common, 2, tmp_path)
    assert _penalties(split) == _penalties(straight)
    expected, resumed = _state(straight), _state(split)
    assert expected.keys() == resumed.keys()
    assert all(expected[key].equal(resumed[key]) for key in expected)
