"""``ganzoo interpolate``: lerp and slerp, the seeds' noise, and grids of walks from a real run."""

from __future__ import annotations

import math

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from ganzoo.errors import GanzooError
from ganzoo.evaluation.interpolation import interpolation_noise, lerp, seed_noise, slerp
from ganzoo.evaluation.sampling import generate, load_generator, noise_blocks
from ganzoo.registry import load_registry
from tests.cli.test_cli_properties import snapshot
from tests.helpers import assert_one_line_error, invoke

# ---------------------------------------------------------------- the math


@pytest.mark.parametrize("blend", [lerp, slerp])
def test_both_methods_hit_the_endpoints_exactly(blend):
    a, b = torch.randn(2, 64, generator=torch.Generator().manual_seed(0))
    path = blend(a, b, torch.linspace(0, 1, 5))
    assert path.shape == (5, 64) and path.dtype == torch.float32
    assert torch.equal(path[0], a) and torch.equal(path[-1], b)
    assert torch.equal(blend(a, b, 0.0), a) and torch.equal(blend(a, b, 1.0), b)


def test_slerp_of_orthogonal_unit_vectors_follows_the_circle():
    a, b = torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 0.0])
    middle = slerp(a, b, 0.5)
    assert middle.shape == (3,)
    assert math.isclose(float(middle.norm()), 1.0, rel_tol=1e-6)
    for end in (a, b):
        assert math.isclose(math.degrees(math.acos(float(middle @ end))), 45.0, rel_tol=1e-5)
    third = slerp(a, b, 1 / 3)
    assert math.isclose(math.degrees(math.atan2(float(third[1]), float(third[0]))), 30.0, rel_tol=1e-5)
    assert math.isclose(float(lerp(a, b, 0.5).norm()), math.sqrt(0.5), rel_tol=1e-6)  # linear cuts the corner


def test_linear_midpoint_is_the_mean_and_slerp_keeps_gaussian_noise_at_its_norm():
    a, b = torch.randn(2, 512, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(lerp(a, b, 0.5), (a + b) / 2, atol=1e-7)
    b = b * (a.norm() / b.norm())  # equal norms: slerp stays on the sphere, lerp dips inside it
    path_norms = slerp(a, b, torch.linspace(0, 1, 9)).norm(dim=1)
    assert torch.allclose(path_norms, a.norm().expand(9), rtol=1e-5)
    assert lerp(a, b, 0.5).norm() < 0.8 * a.norm()  # random directions are nearly orthogonal in 512 dimensions


def test_slerp_falls_back_to_linear_for_nearly_parallel_or_opposite_vectors():
    a = torch.randn(32, generator=torch.Generator().manual_seed(2))
    steps = torch.linspace(0, 1, 7)
    for b in (a * (1 + 1e-9), a.clone(), 2 * a, -a, a + 1e-12):
        path = slerp(a, b, steps)
        assert torch.isfinite(path).all()
        assert torch.allclose(path, lerp(a, b, steps), atol=1e-6)
    assert torch.equal(slerp(torch.zeros(4), torch.ones(4), 0.25), torch.full((4,), 0.25))


def test_each_seeds_noise_is_what_ganzoo_sample_n_1_draws_for_it():
    (drawn,) = noise_blocks(9, 1, 20)
    assert torch.equal(seed_noise(9, 20), drawn[0])
    assert torch.equal(seed_noise(9, 20), torch.randn(20, generator=torch.Generator().manual_seed(9)))


def test_interpolation_noise_is_one_row_of_frames_per_consecutive_pair():
    noise = interpolation_noise([4, 5, 6], 6, 10, "linear")
    assert noise.shape == (12, 10)
    rows = noise.view(2, 6, 10)
    for row, (start, end) in enumerate([(4, 5), (5, 6)]):
        assert torch.equal(rows[row, 0], seed_noise(start, 10)) and torch.equal(rows[row, -1], seed_noise(end, 10))
        assert torch.allclose(rows[row, 2], 0.6 * seed_noise(start, 10) + 0.4 * seed_noise(end, 10), atol=1e-6)
    assert not torch.allclose(interpolation_noise([4, 5], 6, 10)[2], rows[0, 2])  # slerp, the default, differs


@pytest.mark.parametrize(("seeds", "frames", "method", "fragment"), [
    ([1], 8, "slerp", "at least two seeds"), ([], 8, "slerp", "at least two seeds"),
    ([0, 1], 1, "slerp", "--frames must be at least 2"), ([0, 1], 8, "cubic", "linear, slerp"),
])
def test_bad_walks_are_refused(seeds, frames, method, fragment):
    with pytest.raises(GanzooError, match=fragment):
        interpolation_noise(seeds, frames, 10, method)


# ---------------------------------------------------------------- the command, on a real run


def test_grid_has_one_row_per_pair_and_frames_columns(mnist_run, tmp_path):
    grid = tmp_path / "walk.png"
    result = invoke("interpolate", mnist_run, "--seeds", "0,1,2", "--frames", 5, "-o", grid)
    assert result.exit_code == 0, result.output
    assert Image.open(grid).size == (5 * 30 + 2, 2 * 30 + 2)  # 28 px digits, the 2 px padding of sample grids
    default = invoke("interpolate", mnist_run, "--seeds", "3,4,5,6", "-o", tmp_path / "default.png")
    assert default.exit_code == 0, default.output
    assert Image.open(tmp_path / "default.png").size == (8 * 30 + 2, 3 * 30 + 2)  # 8 frames by default


@pytest.mark.parametrize("method", ["slerp", "linear"])
def test_end_columns_are_the_samples_of_the_seeds(mnist_run, tmp_path, method):
    out = tmp_path / "walk.safetensors"
    result = invoke("interpolate", mnist_run, "--seeds", "3,7,11", "--frames", 4, "--method", method, "-o", out)
    assert result.exit_code == 0, result.output
    frames = load_file(str(out))["samples"].view(2, 4, 1, 28, 28)
    loaded = load_generator(mnist_run, load_registry(), torch.device("cpu"))

    def sample_of(seed: int) -> torch.Tensor:  # what `ganzoo sample -n 1 --seed SEED` draws
        return generate(loaded.network, loaded.record.latent_dim, 1, device=loaded.device, seed=seed)[0]

    for row, (start, end) in enumerate([(3, 7), (7, 11)]):
        assert torch.allclose(frames[row, 0], sample_of(start), atol=1e-5)
        assert torch.allclose(frames[row, -1], sample_of(end), atol=1e-5)
        assert not torch.allclose(frames[row, 1], frames[row, 0], atol=1e-3)  # the middle frames move
    expected = generate(loaded.network, loaded.record.latent_dim, 8, device=loaded.device,
                        noise=interpolation_noise([3, 7, 11], 4, loaded.record.latent_dim, method))
    assert torch.allclose(frames.view(8, 1, 28, 28), expected, atol=1e-5)


def test_one_png_per_frame(mnist_run, tmp_path):
    result = invoke("interpolate", mnist_run, "--seeds", "0,1", "--frames", 3, "-o", f"{tmp_path}/frames/")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "frames").iterdir()) == ["000000.png", "000001.png", "000002.png"]


@pytest.mark.parametrize(("chosen", "label"), [(None, 0), ("3", 3)])
def test_conditional_generators_walk_within_one_class(conditional_run, tmp_path, chosen, label):
    out = tmp_path / "walk.safetensors"
    result = invoke("interpolate", conditional_run, "--seeds", "0,1,2", "--frames", 3, "-o", out,
                    *(["--class", chosen] if chosen else []))
    assert result.exit_code == 0, result.output
    tensors = load_file(str(out))
    assert tensors["samples"].shape == (6, 1, 28, 28)
    assert tensors["labels"].tolist() == [label] * 6


@pytest.mark.parametrize(("args", "fragments"), [
    (("--seeds", "0"), ("--seeds", "at least two")),
    (("--seeds", "0,x"), ("--seeds", "integers")),
    (("--seeds", "0,1", "--frames", 1), ("--frames", "at least 2")),
    (("--seeds", "0,1", "--frames", -3), ("--frames",)),
    (("--seeds", "0,1", "--method", "spline"), ("spline", "linear, slerp")),
    (("--seeds", "0,1", "--class", "3"), ("--class 3", "not class-conditional")),
    (("--seeds", "0,1", "--truncation", 0.5), ("--truncation", "dcgan", "truncation_psi")),
])
def test_bad_input_is_one_line_and_writes_nothing(mnist_run, tmp_path, args, fragments):
    before = snapshot(tmp_path)
    assert_one_line_error(invoke("interpolate", mnist_run, *args, "-o", tmp_path / "walk.png"), *fragments)
    assert snapshot(tmp_path) == before


def test_outputs_of_unknown_form_and_missing_sources_are_refused(mnist_run, tmp_path):
    assert_one_line_error(invoke("interpolate", mnist_run, "--seeds", "0,1", "-o", tmp_path / "walk.jpg"), "FILE.png")
    assert_one_line_error(invoke("interpolate", tmp_path / "nothing", "--seeds", "0,1"), "no such run")
    assert not list(tmp_path.iterdir())
