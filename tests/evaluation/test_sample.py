"""``ganzoo sample``: grids, one PNG per sample, raw tensors, from a run or a lone generator file."""

from __future__ import annotations

import shutil

import torch
from PIL import Image
from safetensors.torch import load_file

from tests.helpers import invoke


def test_grid_from_a_run_directory(mnist_run, tmp_path):
    grid = tmp_path / "grid.png"
    result = invoke("sample", mnist_run, "-n", 16, "-o", grid)
    assert result.exit_code == 0, result.output
    image = Image.open(grid)
    assert image.size == (4 * 30 + 2, 4 * 30 + 2)  # 4x4 digits of 28 px with 2 px padding


def test_one_png_per_sample_for_fid_tools(mnist_run, tmp_path):
    directory = tmp_path / "each"
    result = invoke("sample", mnist_run, "-n", 10, "-o", f"{directory}/")
    assert result.exit_code == 0, result.output
    files = sorted(directory.iterdir())
    assert [f.name for f in files] == [f"{i:06d}.png" for i in range(10)]
    assert all(Image.open(f).size == (28, 28) for f in files)
    assert not list(tmp_path.glob(".samples-*")), "staging directory left behind"


def test_raw_tensors_are_in_range_and_seeded(mnist_run, tmp_path):
    first, second, other = tmp_path / "a.safetensors", tmp_path / "b.safetensors", tmp_path / "c.safetensors"
    for path, seed in ((first, 3), (second, 3), (other, 4)):
        assert invoke("sample", mnist_run, "-n", 20, "--seed", seed, "--batch-size", 7, "-o", path).exit_code == 0
    a, b, c = (load_file(str(p))["samples"] for p in (first, second, other))
    assert a.shape == (20, 1, 28, 28)
    assert a.min() >= -1 and a.max() <= 1
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_the_generator_file_alone_is_enough(mnist_run, tmp_path):
    lone = tmp_path / "elsewhere" / "g.safetensors"
    lone.parent.mkdir()
    shutil.copy(mnist_run / "checkpoints" / "generator.safetensors", lone)
    from_file, from_run = tmp_path / "file.safetensors", tmp_path / "run.safetensors"
    assert invoke("sample", lone, "-n", 8, "-o", from_file).exit_code == 0
    assert invoke("sample", mnist_run, "-n", 8, "-o", from_run).exit_code == 0
    assert torch.equal(load_file(str(from_file))["samples"], load_file(str(from_run))["samples"])


def test_vector_data_gets_a_scatter_plot(tmp_path):
    out = tmp_path / "run"
    assert invoke("run", "--arch", "mlp", "--loss", "hinge", "--data", "ring8", "--steps", 2, "--out", out).exit_code == 0
    plot = tmp_path / "points.png"
    assert invoke("sample", out, "-n", 500, "-o", plot).exit_code == 0
    assert Image.open(plot).size == (500, 500)


def test_written_files_get_the_usual_permissions(mnist_run, tmp_path):
    import os
    import stat

    grid = tmp_path / "grid.png"
    assert invoke("sample", mnist_run, "-n", 4, "-o", grid).exit_code == 0
    mask = os.umask(0)
    os.umask(mask)
    expected = 0o666 & ~mask
    for path in (grid, mnist_run / "config.json", mnist_run / "checkpoints" / "generator.safetensors"):
        assert stat.S_IMODE(path.stat().st_mode) == expected, path
