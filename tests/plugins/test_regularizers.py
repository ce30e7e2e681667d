"""The built-in regularizers against closed forms: gp, dragan, r1, r2, lecam, cr, and the shared transforms."""

from __future__ import annotations

import math
import types

import pytest
import torch
from ganzoo_plugins.transforms import random_flip, random_translation
from torch import nn

import ganzoo
from ganzoo import CriticBatch, DataSpec
from ganzoo.registry import load_registry

REGISTRY = load_registry()
IMAGES = DataSpec((3, 4, 4))
VECTORS = DataSpec((5,))
SHAPES = [(6, 3, 4, 4), (6, 5)]


def term(name: str, spec: DataSpec = IMAGES, **options) -> nn.Module:
    regularizer = REGISTRY.regularizer(name)
    return regularizer.build(spec, **{**regularizer.options, **options})


def batch_of(critic, real: torch.Tensor, fake: torch.Tensor) -> CriticBatch:
    def logits(x):
        return critic(x).reshape(-1)

    return CriticBatch(logits, real, fake, logits(real), logits(fake))


def linear_critic(in_features: int, norm: float, image: bool) -> nn.Module:
    linear = nn.Linear(in_features, 1, bias=False).double()
    with torch.no_grad():
        linear.weight.mul_(norm / linear.weight.norm())
    return nn.Sequential(nn.Flatten(), linear) if image else linear


def pair(shape, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(seed)
    return torch.randn(shape, dtype=torch.float64), torch.randn(shape, dtype=torch.float64)


def test_metadata_cites_papers_and_weights_are_the_papers():
    weights = {name: REGISTRY.regularizer(name).weight for name in REGISTRY.names("regularizers")}
    assert weights == {"gp": 10.0, "dragan": 10.0, "r1": 1.0, "r2": 1.0, "lecam": 0.3, "cr": 10.0, "pl": 2.0}
    for name in weights:
        regularizer = REGISTRY.regularizer(name)
        assert regularizer.description and "\n" not in regularizer.description
        assert "20" in type(regularizer).__doc__, name  # cites a paper year
    assert REGISTRY.regularizer("r1").options == {"gamma": 10.0}
    assert not REGISTRY.regularizer("lecam").needs_input_gradients
    assert REGISTRY.regularizer("gp").needs_input_gradients


# ---------------------------------------------------------------- gp and dragan on linear critics: (||w|| - 1)^2


@pytest.mark.parametrize("name", ["gp", "dragan"])
@pytest.mark.parametrize("shape", SHAPES, ids=["image", "vector"])
@pytest.mark.parametrize("norm", [0.25, 3.0])
def test_interpolation_penalties_of_a_linear_critic_are_its_weight_norm_gap(name, shape, norm):
    real, fake = pair(shape, 1)
    critic = linear_critic(math.prod(shape[1:]), norm, image=len(shape) == 4)
    penalty = term(name)(batch_of(critic, real, fake))
    assert penalty.shape == ()
    assert penalty.item() == pytest.approx((norm - 1) ** 2, rel=1e-10)


@pytest.mark.parametrize("norm, expected", [(0.25, 0.0), (3.0, 4.0)])
def test_one_sided_gp_penalises_only_norms_above_the_center(norm, expected):
    real, fake = pair((4, 5), 2)
    critic = linear_critic(5, norm, image=False)
    assert term("gp", one_sided=True)(batch_of(critic, real, fake)).item() == pytest.approx(expected, abs=1e-12)
    assert term("gp", center=0.0)(batch_of(critic, real, fake)).item() == pytest.approx(norm ** 2, rel=1e-10)


@pytest.mark.parametrize("shape", SHAPES, ids=["image", "vector"])
def test_gp_backpropagates_the_analytic_gradient_into_the_critic(shape):
    real, fake = pair(shape, 3)
    critic = linear_critic(math.prod(shape[1:]), 2.0, image=len(shape) == 4)
    weight = next(critic.parameters())
    term("gp")(batch_of(critic, real, fake)).backward()
    w_norm = weight.detach().norm()
    torch.testing.assert_close(weight.grad, 2 * (w_norm - 1) * weight.detach() / w_norm, rtol=1e-10, atol=1e-12)
    assert real.grad is None and fake.grad is None


@pytest.mark.parametrize("shape", SHAPES, ids=["image", "vector"])
def test_gp_takes_per_sample_norms_and_one_epsilon_per_sample(shape):
    real, fake = pair(shape, 4)
    seen: list[torch.Tensor] = []

    def quadratic(v: torch.Tensor) -> torch.Tensor:  # its gradient is v itself
        seen.append(v.detach().clone())
        return 0.5 * v.pow(2).flatten(1).sum(dim=1)

    batch = CriticBatch(quadratic, real, fake, real.new_zeros(len(real)), fake.new_zeros(len(fake)))
    penalty = term("gp")(batch)
    (x_hat,) = seen
    assert penalty.item() == pytest.approx(((x_hat.flatten(1).norm(dim=1) - 1) ** 2).mean().item(), rel=1e-10)
    eps = ((x_hat - fake) / (real - fake)).flatten(1)
    torch.testing.assert_close(eps, eps[:, :1].expand_as(eps), rtol=1e-9, atol=1e-9)
    assert ((eps >= 0) & (eps <= 1)).all() and eps[:, 0].max() - eps[:, 0].min() > 0.2


def test_dragan_looks_between_real_samples_and_their_perturbed_copies():
    real, fake = pair((6, 3, 4, 4), 5)
    seen: list[torch.Tensor] = []

    def critic(v):
        seen.append(v.detach().clone())
        return v.flatten(1).sum(1)

    term("dragan")(CriticBatch(critic, real, fake, real.new_zeros(6), fake.new_zeros(6)))
    (points,) = seen
    step = (points - real) / (0.5 * real.std())  # alpha * u: in [0, 1), never towards the fakes
    assert (step >= 0).all() and (step < 1).all() and step.max() > 0.5


@pytest.mark.parametrize("sample_dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("name", ["gp", "r1"])
def test_gradient_penalties_under_bf16_autocast_are_float32(sample_dtype, name):
    torch.manual_seed(7)
    linear = nn.Linear(3 * 8 * 8, 1, bias=False)
    with torch.no_grad():
        linear.weight.mul_(3.0 / linear.weight.norm())
    critic = nn.Sequential(nn.Flatten(), linear)
    real, fake = torch.randn(4, 3, 8, 8).to(sample_dtype), torch.randn(4, 3, 8, 8).to(sample_dtype)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        penalty = term(name, DataSpec((3, 8, 8)))(batch_of(critic, real, fake))
    assert penalty.dtype == torch.float32
    expected = {"gp": (3.0 - 1) ** 2, "r1": 10.0 / 2 * 9.0}[name]
    assert penalty.item() == pytest.approx(expected, rel=2e-2)  # bf16 weights move ||w|| by ~0.4%
    penalty.backward()
    assert torch.isfinite(linear.weight.grad).all() and linear.weight.grad.abs().sum() > 0


# ---------------------------------------------------------------- r1 and r2: gamma/2 * E||grad D||^2


@pytest.mark.parametrize("gamma", [10.0, 0.1])
def test_r1_and_r2_of_a_linear_critic_are_half_gamma_times_the_squared_weight_norm(gamma):
    real, fake = pair((4, 3, 4, 4), 8)
    critic = linear_critic(48, 3.0, image=True)
    for name in ("r1", "r2"):
        assert term(name, gamma=gamma)(batch_of(critic, real, fake)).item() == pytest.approx(gamma / 2 * 9, rel=1e-10)


def test_r1_reads_the_real_batch_and_r2_the_fake_one():
    real, fake = pair((5, 3, 4, 4), 9)
    fake = 3 * fake

    def quadratic(v):
        return 0.5 * v.pow(2).flatten(1).sum(1)

    batch = CriticBatch(quadratic, real, fake, quadratic(real), quadratic(fake))
    for name, samples in (("r1", real), ("r2", fake)):
        expected = 2.0 / 2 * samples.flatten(1).pow(2).sum(1).mean()
        assert term(name, gamma=2.0)(batch).item() == pytest.approx(expected.item(), rel=1e-10)


# ---------------------------------------------------------------- lecam


def test_lecam_anchors_follow_the_batch_means_and_the_term_is_the_papers_formula():
    lecam = term("lecam", decay=0.9)
    real_logits = torch.tensor([1.0, 3.0, -1.0, 5.0], requires_grad=True)
    fake_logits = torch.tensor([-2.0, 0.5, 1.5, -4.0], requires_grad=True)
    batch = CriticBatch(lambda x: x, torch.zeros(4, 3, 4, 4), torch.zeros(4, 3, 4, 4), real_logits, fake_logits)
    value = lecam(batch)
    anchor_real, anchor_fake = 0.1 * 2.0, 0.1 * -1.0  # from 0, one update with decay 0.9
    assert lecam.anchor_real.item() == pytest.approx(anchor_real) and lecam.anchor_fake.item() == pytest.approx(anchor_fake)
    expected = (torch.relu(real_logits - anchor_fake).pow(2).mean() + torch.relu(anchor_real - fake_logits).pow(2).mean())
    assert value.item() == pytest.approx(expected.item(), rel=1e-6)
    value.backward()
    assert real_logits.grad.abs().sum() > 0 and fake_logits.grad.abs().sum() > 0
    lecam(batch)
    assert lecam.anchor_real.item() == pytest.approx(0.9 * anchor_real + 0.1 * 2.0)
    assert set(lecam.state_dict()) == {"anchor_real", "anchor_fake", "updates"}


def test_lecam_copies_the_batch_means_for_its_first_start_updates():
    lecam = term("lecam", start=2)
    for scale in (1.0, 2.0):
        logits = torch.tensor([scale, 3 * scale])
        lecam(CriticBatch(lambda x: x, torch.zeros(2, 3), torch.zeros(2, 3), logits, -logits))
        assert lecam.anchor_real.item() == pytest.approx(2 * scale) and lecam.anchor_fake.item() == pytest.approx(-2 * scale)
    lecam(CriticBatch(lambda x: x, torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2), torch.zeros(2)))
    assert lecam.anchor_real.item() == pytest.approx(0.99 * 4.0)


def test_lecam_refuses_a_decay_outside_zero_one():
    with pytest.raises(ganzoo.GanzooError, match="decay"):
        term("lecam", decay=1.0)


# ---------------------------------------------------------------- cr and the transforms


def test_cr_is_zero_for_a_critic_that_the_transform_cannot_change():
    real, fake = pair((6, 3, 8, 8), 10)  # 1/8 of 8 pixels: shifts of up to 1

    def mirror_invariant(v):  # the sum of pixels does not change under a flip
        return v.flatten(1).sum(1)

    batch = CriticBatch(mirror_invariant, real, fake, mirror_invariant(real), mirror_invariant(fake))
    assert term("cr", translation=0.0)(batch).item() == pytest.approx(0.0, abs=1e-12)
    assert term("cr")(batch).item() > 0  # a translation zero-fills pixels, which changes the sum


def test_cr_compares_each_side_with_its_transformed_copy_and_fake_zero_skips_the_fakes():
    real, fake = pair((6, 3, 4, 4), 11)
    calls: list[torch.Tensor] = []

    def critic(v):
        calls.append(v)
        return v[:, 0, 0, 0]

    batch = CriticBatch(critic, real, fake, real[:, 0, 0, 0], fake[:, 0, 0, 0])
    torch.manual_seed(0)
    value = term("cr", fake=0.0, translation=0.0)(batch)
    (transformed,) = calls
    assert value.item() == pytest.approx((real[:, 0, 0, 0] - transformed[:, 0, 0, 0]).pow(2).mean().item())
    assert value.item() > 0  # some images were flipped


def test_cr_needs_image_data():
    with pytest.raises(ganzoo.GanzooError, match=r"images.*\(5,\)"):
        term("cr", VECTORS)


def test_probability_zero_and_fraction_zero_transforms_are_the_identity():
    images = torch.randn(5, 3, 8, 8)
    assert random_flip(images, 0.0).equal(images)
    assert random_flip(images, 1.0).equal(images.flip(3))
    assert random_translation(images, 0.0).equal(images)


def test_translation_shifts_each_image_by_whole_pixels_within_the_bound_with_zero_fill():
    torch.manual_seed(1)
    images = torch.rand(32, 2, 8, 8) + 1  # no zeros of its own
    shifted = random_translation(images, 0.25)
    seen = set()
    for image, result in zip(images, shifted):
        matches = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3) if _shift(image, dy, dx).equal(result)]
        assert len(matches) == 1
        seen.add(matches[0])
    assert len(seen) > 10  # shifts are drawn per image


def _shift(image: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    out = torch.zeros_like(image)
    h, w = image.shape[1:]
    out[:, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = image[:, max(-dy, 0):h - max(dy, 0),
                                                                         max(-dx, 0):w - max(dx, 0)]
    return out


# ---------------------------------------------------------------- registration checks


class _Reserved(ganzoo.Regularizer):
    name = "reserved"
    description = "declares a common option"
    options = {"weight": 2.0}


def test_a_regularizer_that_declares_a_common_option_is_refused_at_registration():
    plugin = types.ModuleType("reserved-plugin")
    plugin.register_regularizers = ganzoo.hookimpl(lambda register: register(_Reserved()))
    plugin.register_regularizers.__name__ = "register_regularizers"
    registry = load_registry(extra_plugins=[plugin])
    info = next(p for p in registry.plugins if p.name == "reserved-plugin")
    assert any("weight" in error and "every regularizer takes" in error for error in info.errors), info.errors
    assert "reserved" not in registry.names("regularizers")
