"""``ganzoo sample``'s output is checked before generating: location, disk space, memory; directories stream."""

from __future__ import annotations

from collections import namedtuple

import numpy as np
import pytest
import torch
from PIL import Image

import ganzoo.storage.preflight
from ganzoo.evaluation.sampling import NOISE_BLOCK_ROWS, generate, noise_blocks
from tests.helpers import assert_one_line_error, invoke

Usage = namedtuple("Usage", "total used free")


@pytest.mark.parametrize("target", ["/proc/x.png", "/proc/fid/", "/dev/null/x.png", "/proc/x.safetensors"])
def test_an_unwritable_output_is_one_line_before_any_sample(mnist_run, target):
    result = invoke("sample", mnist_run, "-n", 4, "-o", target)
    assert_one_line_error(result, "-o", target.rstrip("/"))


def test_a_grid_too_large_for_memory_is_refused_with_the_streaming_alternative(mnist_run, tmp_path):
    result = invoke("sample", mnist_run, "-n", 100_000_000, "-o", tmp_path / "huge.png")
    assert_one_line_error(result, "-n 100,000,000", "GiB of memory", "-o DIR/")
    assert not list(tmp_path.iterdir())


def test_a_tensor_file_too_large_for_memory_is_refused(mnist_run, tmp_path):
    result = invoke("sample", mnist_run, "-n", 100_000_000, "-o", tmp_path / "huge.safetensors")
    assert_one_line_error(result, "tensor file", "GiB of memory")


def test_a_directory_is_streamed_so_only_disk_space_limits_it(mnist_run, tmp_path, monkeypatch):
    monkeypatch.setattr(ganzoo.storage.preflight.shutil, "disk_usage", lambda path: Usage(10**12, 10**12 - 2**30, 2**30))
    result = invoke("sample", mnist_run, "-n", 100_000_000, "-o", f"{tmp_path / 'fid'}/")
    line = assert_one_line_error(result, "only 1,024 MiB free", "100,000,000 PNG files")
    assert "memory" not in line
    assert not (tmp_path / "fid").exists()


def test_a_tensor_file_larger_than_the_free_space_is_refused(mnist_run, tmp_path, monkeypatch):
    monkeypatch.setattr(ganzoo.storage.preflight.shutil, "disk_usage", lambda path: Usage(10**9, 10**9 - 2**20, 2**20))
    result = invoke("sample", mnist_run, "-n", 3000, "-o", tmp_path / "x.safetensors")
    assert_one_line_error(result, "only 1 MiB free", "3,000 samples need about 9 MiB")
    assert not list(tmp_path.iterdir())


def test_streamed_pngs_are_the_grid_samples(mnist_run, tmp_path):
    assert invoke("sample", mnist_run, "-n", 9, "--seed", 3, "--batch-size", 4, "-o", f"{tmp_path / 'each'}/").exit_code == 0
    assert invoke("sample", mnist_run, "-n", 9, "--seed", 3, "-o", tmp_path / "x.safetensors").exit_code == 0
    from safetensors.torch import load_file
    samples = load_file(tmp_path / "x.safetensors")["samples"]
    for index, sample in enumerate(samples):
        pixels = torch.from_numpy(np.array(Image.open(tmp_path / "each" / f"{index:06d}.png").convert("L"))).flatten().int()
        expected = (sample.clamp(-1, 1).add(1).div(2).mul(255).add(0.5).clamp(0, 255)).to(torch.uint8).flatten()
        assert (pixels - expected.int()).abs().max() <= 1, index


@pytest.mark.parametrize(("count", "latent_dim"), [(1, 100), (NOISE_BLOCK_ROWS + 7, 3), (2 * NOISE_BLOCK_ROWS, 100)])
def test_noise_blocks_equal_one_draw(count, latent_dim):
    once = torch.randn(count, latent_dim, generator=torch.Generator().manual_seed(5))
    assert torch.equal(torch.cat(list(noise_blocks(5, count, latent_dim))), once)


def test_the_batch_size_does_not_change_the_samples():
    network = torch.nn.Sequential(torch.nn.Linear(8, 2), torch.nn.Tanh())
    small = generate(network, 8, 50, device=torch.device("cpu"), seed=1, batch_size=7)
    large = generate(network, 8, 50, device=torch.device("cpu"), seed=1, batch_size=256)
    torch.testing.assert_close(small, large)


def red_pixels(path) -> int:
    pixels = np.asarray(Image.open(path).convert("RGB")).astype(int)
    return int(((pixels[..., 0] > 200) & (pixels[..., 1] < 60) & (pixels[..., 2] < 60)).sum())


def test_toy_scatter_plots_mark_the_true_mode_centres(tmp_path):
    out = tmp_path / "run"
    assert invoke("run", "--arch", "mlp", "--loss", "bce", "--data", "grid25", "--steps", 1, "--out", out).exit_code == 0
    generator_file = out / "checkpoints" / "generator.safetensors"
    assert invoke("sample", generator_file, "-n", 100, "-o", tmp_path / "points.png").exit_code == 0  # the file alone
    assert red_pixels(tmp_path / "points.png") > 25 * 10  # 25 red crosses
    assert red_pixels(out / "samples" / "step_0000001.png") > 25 * 10  # the run's own grids too


def test_a_scatter_without_known_modes_has_no_marks(tmp_path):
    from ganzoo import DataSpec
    from ganzoo.evaluation.sampling import save_grid

    save_grid(torch.zeros(10, 2), DataSpec((2,)), tmp_path / "plain.png")
    assert red_pixels(tmp_path / "plain.png") == 0
