"""The built-in augmentations: identity at probability 0, closed forms of DiffAugment's transforms, ADA's p."""

from __future__ import annotations

import pytest
import torch
from ganzoo_plugins.augmentations.diffaugment import random_color
from ganzoo_plugins.transforms import random_cutout

import ganzoo
from ganzoo import DataSpec
from ganzoo.registry import load_registry

REGISTRY = load_registry()
RGB, GREY = DataSpec((3, 16, 16)), DataSpec((1, 16, 16))


def pipe(name: str, spec: DataSpec = RGB, **options):
    augmentation = REGISTRY.augmentation(name)
    return augmentation.build(spec, **{**augmentation.options, **options})


def test_metadata_cites_papers():
    assert set(REGISTRY.names("augmentations")) == {"diffaugment", "ada", "flip"}
    for name in REGISTRY.names("augmentations"):
        augmentation = REGISTRY.augmentation(name)
        assert "20" in type(augmentation).__doc__ and augmentation.description
    assert REGISTRY.augmentation("flip").real_only and not REGISTRY.augmentation("ada").real_only


@pytest.mark.parametrize("spec", [RGB, GREY], ids=["rgb", "grey"])
def test_ada_at_p_zero_is_exactly_the_identity(spec):
    torch.manual_seed(0)
    images = torch.rand(8, *spec.shape) * 2 - 1
    assert pipe("ada", spec)(images).equal(images)


@pytest.mark.parametrize("spec", [RGB, GREY], ids=["rgb", "grey"])
def test_ada_at_p_one_transforms_every_sample_differentiably(spec):
    torch.manual_seed(1)
    ada = pipe("ada", spec)
    ada.p.fill_(1.0)
    images = (torch.rand(8, *spec.shape) * 2 - 1).requires_grad_(True)
    out = ada(images)
    assert out.shape == images.shape and torch.isfinite(out).all()
    assert all(not a.equal(b) for a, b in zip(out.detach(), images.detach()))
    out.sum().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0


def test_ada_geometric_matrices_at_p_one_are_nontrivial_and_invertible():
    torch.manual_seed(2)
    ada = pipe("ada", GREY)
    ada.p.fill_(1.0)
    matrix = ada.geometric(4, torch.device("cpu"))
    assert matrix.shape == (4, 3, 3) and not torch.allclose(matrix, torch.eye(3).expand(4, 3, 3))
    assert torch.linalg.det(matrix[:, :2, :2]).abs().min() > 0.05  # invertible: no collapse


def test_ada_moves_p_by_the_papers_step_towards_the_target_and_stays_in_zero_one():
    ada = pipe("ada", interval=2, speed_kimg=1.0)  # p moves by 64 * 2 / 1000 per adjustment at batch 64
    confident = torch.ones(64)  # sign(D(real)) = 1 > 0.6: D overfits, so p rises
    ada.observe(confident, lambda t: t, 64)
    assert ada.p.item() == 0.0  # adjusted every 2 updates only
    ada.observe(confident, lambda t: t, 64)
    assert ada.p.item() == pytest.approx(0.128)
    for _ in range(20):
        ada.observe(confident, lambda t: t, 64)
    assert ada.p.item() == 1.0
    for _ in range(2):
        ada.observe(-confident, lambda t: t, 64)
    assert ada.p.item() == pytest.approx(0.872)
    assert ada.log_values()["ada_p"] is ada.p and set(ada.state_dict()) == {"p", "sign_sum", "observed"}


def test_diffaugment_color_moves_a_flat_image_by_one_brightness_shift_per_sample():
    torch.manual_seed(3)
    flat = torch.full((16, 3, 4, 4), 0.25)
    out = random_color(flat)
    per_sample = out.flatten(1)
    torch.testing.assert_close(per_sample, per_sample[:, :1].expand_as(per_sample))  # saturation, contrast: no-ops
    shift = per_sample[:, 0] - 0.25
    assert (shift.abs() <= 0.5).all() and shift.std() > 0.1


def test_cutout_zeroes_one_square_of_half_the_side_at_most():
    torch.manual_seed(4)
    images = torch.rand(32, 3, 8, 8) + 1
    out = random_cutout(images, 0.5)
    for image, result in zip(images, out):
        zero = result[0] == 0
        assert zero.equal(result[1] == 0)  # the same square in every channel
        rows, cols = zero.any(1).nonzero().flatten(), zero.any(0).nonzero().flatten()
        assert 0 < len(rows) <= 4 and 0 < len(cols) <= 4 and zero.sum() == len(rows) * len(cols)
        assert result[~zero.expand_as(result)].equal(image[~zero.expand_as(image)])


def test_diffaugment_policies_apply_in_order_and_unknown_ones_are_refused():
    images = torch.rand(4, 3, 16, 16)
    torch.manual_seed(5)
    only_color = pipe("diffaugment", policy=("color",))(images)
    torch.manual_seed(5)
    assert only_color.equal(random_color(images))
    with pytest.raises(ganzoo.GanzooError, match="policy"):
        pipe("diffaugment", policy=("colour",))
    with pytest.raises(ganzoo.GanzooError, match=r"\(2,\)"):
        pipe("diffaugment", DataSpec((2,)))
    with pytest.raises(ganzoo.GanzooError, match="grey or RGB"):
        pipe("ada", DataSpec((4, 8, 8)))


def test_flip_with_probability_zero_or_one():
    images = torch.rand(4, 3, 8, 8)
    assert pipe("flip", probability=0.0)(images).equal(images)
    assert pipe("flip", probability=1.0)(images).equal(images.flip(3))


def test_ada_colour_matrices_are_affine_and_hue_rotation_keeps_grey_grey():
    torch.manual_seed(6)
    ada = pipe("ada")
    ada.p.fill_(1.0)
    matrix = ada.color(16, torch.device("cpu"))
    torch.testing.assert_close(matrix[:, 3], torch.tensor([0.0, 0.0, 0.0, 1.0]).expand(16, 4))
    # Every transform maps a grey pixel (r = g = b) to a grey pixel: the luma axis is preserved.
    grey = torch.tensor([0.3, 0.3, 0.3, 1.0])
    out = matrix @ grey
    torch.testing.assert_close(out[:, 0], out[:, 1])
    torch.testing.assert_close(out[:, 1], out[:, 2])
