"""The trainer's side of ``Loss.generator_needs_real``: D's logits on real data in G's update."""

from __future__ import annotations

import math
import types

import pytest
import torch
import torch.nn.functional as F

import ganzoo
from tests.helpers import invoke, read_metrics

TOY = ("--data", "ring8", "--arch", "mlp", "--batch-size", "32", "--log-every", "1")


class RecordingRelativisticLoss(ganzoo.Loss):
    """A third-party relativistic loss (Jolicoeur-Martineau 2019 form) that records what the trainer passes it."""

    name = "recording-relativistic"
    description = "records its arguments"
    generator_needs_real = True

    def __init__(self) -> None:
        self.d_real: list[torch.Tensor] = []
        self.g_calls: list[tuple[torch.Tensor, torch.Tensor]] = []

    def discriminator_loss(self, real_logits, fake_logits):
        self.d_real.append(real_logits.detach().clone())
        return F.softplus(-(real_logits - fake_logits.mean())).mean() + F.softplus(fake_logits - real_logits.mean()).mean()

    def generator_loss(self, fake_logits, real_logits):
        self.g_calls.append((fake_logits, real_logits))
        return F.softplus(-(fake_logits - real_logits.mean())).mean()


class OneArgumentLoss(ganzoo.Loss):
    """A loss written against the original contract (Goodfellow et al. 2014's non-saturating G loss)."""

    name = "one-argument"
    description = "generator_loss(fake_logits) only"

    def __init__(self) -> None:
        self.g_calls = 0

    def discriminator_loss(self, real_logits, fake_logits):
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()

    def generator_loss(self, fake_logits):
        self.g_calls += 1
        return F.softplus(-fake_logits).mean()


def loss_plugin(loss: ganzoo.Loss) -> types.ModuleType:
    module = types.ModuleType(f"plugin_{loss.name}")

    @ganzoo.hookimpl
    def register_losses(register):
        register(loss)

    module.register_losses = register_losses
    return module


def test_a_relativistic_loss_gets_the_updated_critics_real_logits_detached(tmp_path):
    loss = RecordingRelativisticLoss()
    result = invoke("run", "--loss", loss.name, *TOY, "--steps", 3, "--out", tmp_path / "run",
                    extra_plugins=[loss_plugin(loss)])
    assert result.exit_code == 0, result.output
    assert len(loss.g_calls) == 3 and len(loss.d_real) == 3
    for (fake_logits, real_logits), d_real in zip(loss.g_calls, loss.d_real):
        assert real_logits.shape == fake_logits.shape == (32,)
        assert not real_logits.requires_grad and fake_logits.requires_grad
        # Same real batch, but read after D's update: the logits moved.
        assert not torch.equal(real_logits, d_real)
        assert torch.allclose(real_logits, d_real, atol=0.5)


def test_a_loss_written_against_the_one_argument_contract_still_trains(tmp_path):
    loss = OneArgumentLoss()
    result = invoke("run", "--loss", loss.name, *TOY, "--steps", 2, "--out", tmp_path / "run",
                    extra_plugins=[loss_plugin(loss)])
    assert result.exit_code == 0, result.output
    assert loss.g_calls == 2


@pytest.mark.parametrize("name", ["ragan", "rahinge"])
def test_the_relativistic_losses_train_a_dcgan_on_real_digits(tmp_path, data_root, name):
    out = tmp_path / "run"
    result = invoke("run", "--arch", "dcgan", "--loss", name, "--data", "mnist", "--data-root", data_root,
                    "--steps", 3, "--batch-size", 16, "--arch-option", "base_width=8", "--log-every", 1, "--out", out)
    assert result.exit_code == 0, result.output
    records = read_metrics(out)
    assert [r["step"] for r in records] == [1, 2, 3]
    assert all(math.isfinite(r["d_loss"]) and math.isfinite(r["g_loss"]) for r in records)
