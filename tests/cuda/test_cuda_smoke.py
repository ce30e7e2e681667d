"""On a CUDA device: every architecture trains a step in bf16 with its techniques, and samples from its file.

Skipped without CUDA (benchmarks/gpu_check.sh runs this file first on a GPU machine). Tiny widths keep each
case to seconds; what is checked is that the device path works (autocast, fused Adam, channels-last,
spectral norm and EMA on the device), not what is learned.
"""

from __future__ import annotations

import json

import pytest
import torch

from tests.helpers import invoke, read_metrics

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

TINY = {
    "dcgan": ("--arch-option", "base_width=8"),
    "standard-cnn": ("--arch-option", "base_width=8"),
    "sngan": ("--arch-option", "generator_width=16", "--arch-option", "discriminator_width=16"),
    "sngan-projection": ("--arch-option", "generator_width=16", "--arch-option", "discriminator_width=16"),
    "sagan": ("--arch-option", "generator_width=16", "--arch-option", "discriminator_width=16"),
    "biggan": ("--arch-option", "generator_width=32", "--arch-option", "discriminator_width=16", "--latent-dim", "20"),
    "stylegan2": ("--arch-option", "channel_base=256", "--arch-option", "channel_max=16", "--arch-option",
                  "w_dim=16", "--latent-dim", "16"),
}


def test_each_architecture_trains_in_bf16_on_cuda_and_samples(colour_data, tmp_path):
    # One test for all architectures: a machine without CUDA reports one skip, not one per architecture.
    for arch, options in TINY.items():
        out = tmp_path / arch
        result = invoke("run", "--arch", arch, *options, "--loss", "hinge", *colour_data, "--steps", 2,
                        "--batch-size", 16, "--log-every", 1, "--device", "cuda", "--precision", "bf16", "--ema", "0.9",
                        "--reg", "r1:gamma=0.1", "--augment", "diffaugment", "--out", out)
        assert result.exit_code == 0, (arch, result.output)
        assert json.loads((out / "config.json").read_text())["resolved"]["device"].startswith("cuda")
        assert all(record["d_loss"] == record["d_loss"] for record in read_metrics(out)), arch  # no NaN
        sampled = invoke("sample", out, "-n", 8, "--device", "cuda", "-o", tmp_path / f"{arch}.png")
        assert sampled.exit_code == 0, (arch, sampled.output)


def test_compiled_training_on_cuda_matches_the_eager_losses_closely(colour_data, tmp_path):
    common = ("--arch", "dcgan", *TINY["dcgan"], "--loss", "bce", *colour_data, "--steps", 3, "--batch-size", 16,
              "--log-every", 1, "--device", "cuda", "--precision", "fp32", "--seed", "1")
    eager = invoke("run", *common, "--out", tmp_path / "eager")
    compiled = invoke("run", *common, "--compile", "--out", tmp_path / "compiled")
    assert eager.exit_code == 0 and compiled.exit_code == 0, eager.output + compiled.output
    for a, b in zip(read_metrics(tmp_path / "eager"), read_metrics(tmp_path / "compiled")):
        assert abs(a["d_loss"] - b["d_loss"]) < 1e-2 * max(1.0, abs(a["d_loss"]))
