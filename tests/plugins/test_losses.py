"""Tests for the built-in losses: bce, minimax, mse, hinge, wgan, wgan-gp, ragan and rahinge."""

from __future__ import annotations

import math
import re

import pluggy
import pytest
import torch
from torch import nn

import ganzoo.contract.hookspecs
from ganzoo.contract import LOSS_DEFAULT_KEYS, Loss
from ganzoo_plugins.losses import divergence, hinge, relativistic, wgan, wgan_gp

PLUGIN_MODULES = (divergence, hinge, wgan, wgan_gp, relativistic)
ALL_NAMES = {"bce", "minimax", "mse", "hinge", "wgan", "wgan-gp", "ragan", "rahinge"}
RELATIVISTIC = ("ragan", "rahinge")


def _registered_losses() -> list[Loss]:
    pm = pluggy.PluginManager("ganzoo")
    pm.add_hookspecs(ganzoo.contract.hookspecs)
    for module in PLUGIN_MODULES:
        pm.register(module)
    pm.check_pending()
    found: list[Loss] = []
    pm.hook.register_losses(register=found.append)
    return found


@pytest.fixture(scope="module")
def losses() -> dict[str, Loss]:
    return {loss.name: loss for loss in _registered_losses()}


# Independent references in float64, written with sigmoid/log on purpose
# (fine for the moderate logits they are used on).
def _bce_d(r, f):
    return -torch.log(torch.sigmoid(r)).mean() - torch.log(1 - torch.sigmoid(f)).mean()


def _ragan(r, f):
    """Jolicoeur-Martineau (2019), eq. for RaSGAN, halved as in the reference code."""
    return -(torch.log(torch.sigmoid(r - f.mean())).mean() + torch.log(1 - torch.sigmoid(f - r.mean())).mean()) / 2


def _rahinge(r, f):
    return (torch.clamp(1 - (r - f.mean()), min=0).mean() + torch.clamp(1 + (f - r.mean()), min=0).mean()) / 2


REFERENCE_D = {
    "ragan": _ragan,
    "rahinge": _rahinge,
    "bce": _bce_d,
    "minimax": _bce_d,
    "mse": lambda r, f: ((r - 1) ** 2).mean() / 2 + (f**2).mean() / 2,
    "hinge": lambda r, f: (
        torch.where(r < 1, 1 - r, 0.0).mean() + torch.where(f > -1, 1 + f, 0.0).mean()
    ),
    "wgan-gp": lambda r, f: f.mean() - r.mean(),
    "wgan": lambda r, f: f.mean() - r.mean(),
}
# Generator references take (fake, real); only the relativistic ones read real. Their G loss is
# D's with the roles of real and fake swapped.
REFERENCE_G = {
    "bce": lambda f, r: -torch.log(torch.sigmoid(f)).mean(),
    "minimax": lambda f, r: torch.log(1 - torch.sigmoid(f)).mean(),
    "mse": lambda f, r: ((f - 1) ** 2).mean() / 2,
    "hinge": lambda f, r: -f.mean(),
    "wgan-gp": lambda f, r: -f.mean(),
    "wgan": lambda f, r: -f.mean(),
    "ragan": lambda f, r: _ragan(f, r),
    "rahinge": lambda f, r: _rahinge(f, r),
}


def _generator_loss(loss, fake, real):
    """The call the trainer makes: with the real logits only for losses that ask for them."""
    return loss.generator_loss(fake, real) if loss.generator_needs_real else loss.generator_loss(fake)


# ---------------------------------------------------------------- registration


def test_all_losses_register_once_with_kebab_case_names():
    found = _registered_losses()
    names = [loss.name for loss in found]
    assert sorted(names) == sorted(ALL_NAMES)
    assert len(set(names)) == len(names)
    for name in names:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name), name


def test_every_register_losses_is_a_hookimpl():
    for module in PLUGIN_MODULES:
        assert hasattr(module.register_losses, "ganzoo_impl"), module.__name__


@pytest.mark.parametrize("name", sorted(ALL_NAMES))
def test_loss_metadata(losses, name):
    loss = losses[name]
    assert isinstance(loss, Loss)
    assert loss.description and "\n" not in loss.description
    assert type(loss).__doc__ and "20" in type(loss).__doc__  # cites a paper year
    assert set(loss.defaults) <= set(LOSS_DEFAULT_KEYS)


def test_wgan_gp_defaults_name_the_gp_regularizer(losses):
    loss = losses["wgan-gp"]
    assert dict(loss.defaults) == {
        "n_critic": 5,
        "lr_g": 1e-4,
        "lr_d": 1e-4,
        "betas": (0.0, 0.9),
        "architecture_options": {"discriminator_batch_norm": False},
        "regularizers": ("gp",),
    }
    assert type(loss).penalty is Loss.penalty  # the penalty is the gp regularizer (tests/plugins/test_regularizers.py)


def test_wgan_defaults_are_the_papers(losses):
    loss = losses["wgan"]
    assert dict(loss.defaults) == {"n_critic": 5, "lr_g": 5e-5, "lr_d": 5e-5, "optimizer": "rmsprop"}
    assert loss.clip == 0.01
    assert type(loss).penalty is Loss.penalty


def test_wgan_clips_every_critic_parameter_and_leaves_the_rest(losses):
    critic = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))
    with torch.no_grad():
        for parameter in critic.parameters():
            parameter.copy_(torch.linspace(-0.05, 0.05, parameter.numel()).reshape(parameter.shape))
    before = [p.clone() for p in critic.parameters()]
    running = critic[1].running_var.clone()
    with torch.no_grad():
        losses["wgan"].after_discriminator_step(critic)
    for old, new in zip(before, critic.parameters()):
        torch.testing.assert_close(new, old.clamp(-0.01, 0.01))
    assert critic[1].running_var.equal(running)  # buffers are not weights


def test_other_losses_leave_the_critic_alone_after_its_step(losses):
    critic = nn.Linear(3, 1)
    before = [p.clone() for p in critic.parameters()]
    for name in ALL_NAMES - {"wgan"}:
        with torch.no_grad():
            losses[name].after_discriminator_step(critic)
        assert all(old.equal(new) for old, new in zip(before, critic.parameters())), name


@pytest.mark.parametrize("name", ["bce", "minimax", "mse", "hinge", *RELATIVISTIC])
def test_divergence_hinge_and_relativistic_have_no_penalty_or_defaults(losses, name):
    loss = losses[name]
    critic = nn.Linear(4, 1)
    real, fake = torch.randn(3, 4), torch.randn(3, 4)
    assert loss.penalty(critic, real, fake) == 0
    assert type(loss).penalty is Loss.penalty
    assert dict(loss.defaults) == {}


# ---------------------------------------------------------------- formulas


@pytest.mark.parametrize("name", sorted(ALL_NAMES))
def test_losses_match_reference_on_random_logits(losses, name):
    gen = torch.Generator().manual_seed(0)
    real = torch.randn(64, generator=gen, dtype=torch.float64) * 3
    fake = torch.randn(64, generator=gen, dtype=torch.float64) * 3
    loss = losses[name]
    d = loss.discriminator_loss(real, fake)
    g = _generator_loss(loss, fake, real)
    assert d.shape == () and g.shape == ()
    torch.testing.assert_close(d, REFERENCE_D[name](real, fake), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(g, REFERENCE_G[name](fake, real), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", sorted(ALL_NAMES))
def test_losses_accept_float32_vectors_and_backpropagate(losses, name):
    real = torch.randn(8, requires_grad=True)
    fake = torch.randn(8, requires_grad=True)
    loss = losses[name]
    d = loss.discriminator_loss(real, fake)
    g = _generator_loss(loss, fake, real)
    assert d.shape == () and d.dtype == torch.float32
    assert g.shape == () and g.dtype == torch.float32
    (d + g).backward()
    assert real.grad is not None and torch.isfinite(real.grad).all()
    assert fake.grad is not None and torch.isfinite(fake.grad).all()


def _t(*values):
    return torch.tensor(values, dtype=torch.float64)


def test_bce_and_minimax_known_values(losses):
    zero = _t(0.0, 0.0, 0.0)
    for name in ("bce", "minimax"):
        assert losses[name].discriminator_loss(zero, zero).item() == pytest.approx(2 * math.log(2))
    assert losses["bce"].generator_loss(zero).item() == pytest.approx(math.log(2))
    assert losses["minimax"].generator_loss(zero).item() == pytest.approx(-math.log(2))
    # log(1 + e^1) and log(1 + e^-1) by hand.
    assert losses["bce"].generator_loss(_t(1.0)).item() == pytest.approx(math.log(1 + math.exp(-1)))
    assert losses["minimax"].generator_loss(_t(1.0)).item() == pytest.approx(-math.log(1 + math.e))


def test_mse_known_values(losses):
    mse = losses["mse"]
    # 0.5 * mean(0, 4) + 0.5 * mean(0, 4)
    assert mse.discriminator_loss(_t(1.0, 3.0), _t(0.0, 2.0)).item() == pytest.approx(2.0)
    assert mse.discriminator_loss(_t(1.0, 1.0), _t(0.0, 0.0)).item() == 0.0
    assert mse.generator_loss(_t(0.0, 2.0)).item() == pytest.approx(0.5)
    assert mse.generator_loss(_t(1.0)).item() == 0.0


def test_hinge_known_values(losses):
    loss = losses["hinge"]
    # relu(1 - r) = (0, 0.5, 2), relu(1 + f) = (0, 1, 2): 2.5/3 + 1
    real, fake = _t(2.0, 0.5, -1.0), _t(-2.0, 0.0, 1.0)
    assert loss.discriminator_loss(real, fake).item() == pytest.approx(2.5 / 3 + 1)
    assert loss.generator_loss(fake).item() == pytest.approx(1 / 3)
    # Outside the margins the critic loss is exactly zero.
    assert loss.discriminator_loss(_t(1.0, 5.0), _t(-1.0, -5.0)).item() == 0.0


def test_wgan_known_values(losses):
    loss = losses["wgan-gp"]
    real, fake = _t(1.0, 2.0, 3.0), _t(-1.0, 0.0, 4.0)
    assert loss.discriminator_loss(real, fake).item() == pytest.approx(1.0 - 2.0)
    assert loss.generator_loss(fake).item() == pytest.approx(-1.0)


# ---------------------------------------------------------------- stability


def test_relativistic_known_values(losses):
    zero = _t(0.0, 0.0)
    ragan, rahinge = losses["ragan"], losses["rahinge"]
    # Equal logits: every relative logit is 0.
    assert ragan.discriminator_loss(zero, zero).item() == pytest.approx(math.log(2))
    assert ragan.generator_loss(zero, zero).item() == pytest.approx(math.log(2))
    assert rahinge.discriminator_loss(zero, zero).item() == pytest.approx(1.0)
    assert rahinge.generator_loss(zero, zero).item() == pytest.approx(1.0)
    # Real logits 2 above every fake one: D's hinge is satisfied on both sides (relative logits +2 / -2),
    # G's is violated by 3 on both.
    real, fake = _t(3.0, 3.0), _t(1.0, 1.0)
    assert rahinge.discriminator_loss(real, fake).item() == 0.0
    assert rahinge.generator_loss(fake, real).item() == pytest.approx(3.0)


@pytest.mark.parametrize("name", RELATIVISTIC)
def test_relativistic_losses_depend_only_on_logit_differences(losses, name):
    """Shifting every logit by the same constant changes no relative logit, so no loss."""
    gen = torch.Generator().manual_seed(3)
    real, fake = torch.randn(16, generator=gen, dtype=torch.float64), torch.randn(16, generator=gen, dtype=torch.float64)
    loss = losses[name]
    torch.testing.assert_close(loss.discriminator_loss(real + 5, fake + 5), loss.discriminator_loss(real, fake))
    torch.testing.assert_close(loss.generator_loss(fake - 2, real - 2), loss.generator_loss(fake, real))


@pytest.mark.parametrize("name", RELATIVISTIC)
def test_relativistic_generator_gradient_reaches_every_fake_through_the_mean(losses, name):
    """G's loss pushes each fake logit up, including through mean(fake) in the real term."""
    real = torch.tensor([2.0, 0.5, -0.5])
    fake = torch.tensor([0.0, -1.0, 0.3], requires_grad=True)
    losses[name].generator_loss(fake, real).backward()
    assert (fake.grad < 0).all()  # minimising it raises every fake logit


def test_only_relativistic_losses_ask_for_real_logits_in_the_generator_loss(losses):
    assert {name for name, loss in losses.items() if loss.generator_needs_real} == set(RELATIVISTIC)
    assert Loss.generator_needs_real is False


def test_logistic_losses_are_stable_at_extreme_logits(losses):
    big = torch.full((4,), 100.0)
    for name in ("bce", "minimax"):
        loss = losses[name]
        # D certain and right: loss ~ 2 * e^-100; D certain and wrong: 2 * 100.
        assert loss.discriminator_loss(big, -big).item() == pytest.approx(0.0, abs=1e-30)
        assert loss.discriminator_loss(-big, big).item() == pytest.approx(200.0, rel=1e-6)
    assert losses["bce"].generator_loss(-big).item() == pytest.approx(100.0, rel=1e-6)
    assert losses["bce"].generator_loss(big).item() == pytest.approx(0.0, abs=1e-30)
    assert losses["minimax"].generator_loss(big).item() == pytest.approx(-100.0, rel=1e-6)
    assert losses["minimax"].generator_loss(-big).item() == pytest.approx(0.0, abs=1e-30)


def test_logistic_gradients_are_finite_at_extreme_logits(losses):
    fake = torch.tensor([-100.0, 100.0], requires_grad=True)
    losses["bce"].generator_loss(fake).backward()
    # d/dx softplus(-x) = -sigmoid(-x), averaged over 2 samples.
    torch.testing.assert_close(fake.grad, torch.tensor([-0.5, 0.0]))
    fake.grad = None
    losses["minimax"].generator_loss(fake).backward()
    # d/dx -softplus(x) = -sigmoid(x): saturated (zero) exactly where D rejects.
    torch.testing.assert_close(fake.grad, torch.tensor([0.0, -0.5]))
