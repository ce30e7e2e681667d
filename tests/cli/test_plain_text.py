"""Plugin-supplied text is shown literally: names, descriptions, errors and metric keys may contain rich markup."""

from __future__ import annotations

import types

import pytest

import ganzoo
from tests.helpers import invoke

MARKUP = "[/] [bold]not bold[/bold] [red"
WIDE = {"COLUMNS": "250"}  # rich wraps table cells to the terminal width
TOY = ("--arch", "mlp", "--loss", "bce", "--data", "ring8", "--batch-size", "32")


class HostileLoss(ganzoo.Loss):
    """BCE with a description full of rich markup."""

    name = "hostile-bce"
    description = f"a loss whose description reads {MARKUP}"

    def discriminator_loss(self, real_logits, fake_logits):
        import torch.nn.functional as F
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()

    def generator_loss(self, fake_logits):
        import torch.nn.functional as F
        return F.softplus(-fake_logits).mean()


class HostileMetric(ganzoo.Metric):
    """Reports a value under a key that is rich markup."""

    name = "hostile-metric"
    description = "reports one number under a hostile key"
    primary = "[/]"

    def compute(self, samples, context):
        return ganzoo.MetricResult({"[/]": 1.0, "[bold]x[/bold]": 2.0})


class BadlyNamedLoss(HostileLoss):
    name = "bad[/]name"


def hostile_plugin(*components) -> types.ModuleType:
    module = types.ModuleType("hostile[/]plugin")

    @ganzoo.hookimpl
    def register_losses(register):
        for component in components:
            if isinstance(component, ganzoo.Loss):
                register(component)

    @ganzoo.hookimpl
    def register_metrics(register):
        for component in components:
            if isinstance(component, ganzoo.Metric):
                register(component)

    module.register_losses, module.register_metrics = register_losses, register_metrics
    return module


def test_list_plugins_prints_markup_in_names_and_descriptions_literally():
    result = invoke("list-plugins", extra_plugins=(hostile_plugin(HostileLoss(), HostileMetric()),), env=WIDE)
    assert result.exit_code == 0, result.output
    assert "hostile[/]plugin" in result.output
    assert f"loss hostile-bce: a loss whose description reads {MARKUP}" in result.output, result.output


def test_list_plugins_prints_a_registration_error_with_markup_literally():
    result = invoke("list-plugins", extra_plugins=(hostile_plugin(BadlyNamedLoss()),), env=WIDE)
    assert result.exit_code == 0, result.output
    assert "bad[/]name" in result.output, result.output


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("hostile") / "run"
    result = invoke("run", *TOY, "--steps", 4, "--log-every", 2, "--metrics", "hostile-metric", "--eval-samples", 64,
                    "--out", out, extra_plugins=(hostile_plugin(HostileMetric()),))
    assert result.exit_code == 0, result.output
    assert "[/] 1" in result.output and "[bold]x[/bold] 2" in result.output  # the end-of-run evaluation line
    return out


def test_eval_prints_metric_keys_with_markup_literally(hostile_run):
    result = invoke("eval", hostile_run, "--metrics", "hostile-metric", "--num-samples", 64,
                    extra_plugins=(hostile_plugin(HostileMetric()),), env=WIDE)
    assert result.exit_code == 0, result.output
    assert "[/]" in result.output and "[bold]x[/bold]" in result.output, result.output
