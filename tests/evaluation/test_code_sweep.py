"""``ganzoo sample --vary CODE``: rows share their noise, columns sweep one latent code."""

from __future__ import annotations

import types

import torch
from safetensors.torch import load_file

import ganzoo
from ganzoo.evaluation.code_sweep import CONTINUOUS_STEPS, sweep_noise
from tests.helpers import assert_one_line_error, invoke

CODES = (ganzoo.LatentCode("digit", "categorical", 3), ganzoo.LatentCode("width", "continuous", 1))


def test_rows_repeat_one_noise_draw_and_columns_sweep_the_code():
    noise, per_row = sweep_noise(CODES, "digit", 7, 10, seed=1)
    assert per_row == 3 and noise.shape == (9, 10)  # ceil(7 / 3) rows of 3
    codes = ganzoo.codes_from_noise(noise, CODES)
    assert codes["digit"].tolist() == [0, 1, 2] * 3
    rows = noise.view(3, 3, 10)
    assert torch.equal(rows[:, :1, :6].expand(-1, 3, -1), rows[:, :, :6])  # same unstructured noise in a row
    assert torch.equal(codes["width"].view(3, 3)[:, :1].expand(-1, 3), codes["width"].view(3, 3))
    swept, per_row = sweep_noise(CODES, "width", CONTINUOUS_STEPS, 10, seed=1)
    assert per_row == CONTINUOUS_STEPS
    assert torch.allclose(ganzoo.codes_from_noise(swept, CODES)["width"].flatten(), torch.linspace(-1, 1, 10),
                          atol=1e-5)


def _coded_mlp_plugin() -> types.ModuleType:
    from ganzoo_plugins.architectures.mlp import MLPArchitecture

    class CodedMLP(MLPArchitecture):
        name = "coded-mlp"

        def latent_codes(self, spec, latent_dim, **options):
            return CODES

    module = types.ModuleType("coded_mlp")
    module.register_architectures = ganzoo.hookimpl(lambda register: register(CodedMLP()))
    module.register_architectures.__name__ = "register_architectures"
    return module


def test_sample_vary_writes_the_sweep_and_names_bad_codes(tmp_path):
    plugin = _coded_mlp_plugin()
    out = tmp_path / "run"
    trained = invoke("run", "--arch", "coded-mlp", "--loss", "bce", "--data", "ring8", "--steps", 1, "--batch-size", 16,
                     "--arch-option", "generator_widths=8", "--arch-option", "discriminator_widths=8", "--out", out,
                     extra_plugins=[plugin])
    assert trained.exit_code == 0, trained.output
    sampled = invoke("sample", out, "--vary", "digit", "-n", 6, "-o", tmp_path / "sweep.safetensors",
                     extra_plugins=[plugin])
    assert sampled.exit_code == 0, sampled.output
    assert load_file(tmp_path / "sweep.safetensors")["samples"].shape == (6, 2)
    assert_one_line_error(invoke("sample", out, "--vary", "height", extra_plugins=[plugin]),
                          "height", "digit", "width")


def test_sample_vary_on_a_generator_without_codes_is_one_error_line(tmp_path):
    out = tmp_path / "run"
    trained = invoke("run", "--arch", "mlp", "--loss", "bce", "--data", "ring8", "--steps", 1, "--batch-size", 16,
                     "--arch-option", "generator_widths=8", "--arch-option", "discriminator_widths=8", "--out", out)
    assert trained.exit_code == 0, trained.output
    assert_one_line_error(invoke("sample", out, "--vary", "digit"), "--vary digit", "no latent codes")
