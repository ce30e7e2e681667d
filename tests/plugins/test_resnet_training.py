"""One real training step of each SNGAN / SAGAN / standard-CNN architecture through the CLI, then sampling.

Every run checks the architecture's default spectral norm reached the engine
(``resolved.spectral_norm`` and power-iteration ``._u`` buffers in the
checkpoint) and that the generator file stays plain. Tiny widths and one
step: these test the wiring, not what the networks learn.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.helpers import assert_normalised_run_trains_and_samples, checkpoint_keys, invoke

TINY = {
    32: ("generator_width=16", "discriminator_width=16"),
    48: ("generator_width=32", "discriminator_width=128"),
    64: ("generator_width=64", "discriminator_width=128"),
}
DEFAULT_NORM = {"standard-cnn": "discriminator", "sngan": "discriminator", "sngan-projection": "discriminator",
                "sagan": "both", "sagan-unconditional": "both"}
RUNS = [  # (architecture, image size, extra options): bf16, EMA and R1 each on more than one network
    ("standard-cnn", 32, ("--precision", "bf16")),
    ("standard-cnn", 48, ("--ema", "0.9")),
    ("standard-cnn", 64, ()),
    ("sngan", 32, ("--ema", "0.9")),
    ("sngan", 48, ("--precision", "bf16")),
    ("sngan-projection", 32, ("--reg", "r1")),
    ("sngan-projection", 64, ("--precision", "bf16", "--ema", "0.9")),
    ("sagan", 32, ("--precision", "bf16", "--ema", "0.9")),
    ("sagan", 48, ("--reg", "r1")),
    ("sagan-unconditional", 64, ("--reg", "r1", "--precision", "bf16")),
]


@pytest.fixture(scope="module")
def folder_root(tmp_path_factory):
    """A ``folder`` dataset of random 20 px colour images in 3 classes (resized by ``--data-option size=``)."""
    from PIL import Image

    root = tmp_path_factory.mktemp("resnet-folder")
    rng = np.random.default_rng(1)
    for split in ("train", "test"):
        for name in ("a", "b", "c"):
            folder = root / split / name
            folder.mkdir(parents=True)
            for index in range(4):
                Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(folder / f"{index}.png")
    return root


@pytest.mark.parametrize(("arch", "size", "extra"), RUNS, ids=[f"{a}-{s}-{'_'.join(e) or 'plain'}" for a, s, e in RUNS])
def test_one_training_step_then_sampling(tmp_path, colour_data, folder_root, arch, size, extra):
    data = colour_data if size == 32 else ["--data", "folder", "--data-root", folder_root, "--data-option", f"size={size}"]
    widths = ("base_width=4",) if arch == "standard-cnn" else TINY[size]
    out = tmp_path / "run"
    options = [arg for width in widths for arg in ("--arch-option", width)]
    result = invoke("run", "--arch", arch, "--loss", "hinge", *data, *options, "--latent-dim", 16, "--batch-size", 8,
                    "--steps", 1, "--log-every", 1, *extra, "--out", out)
    assert result.exit_code == 0, result.output
    assert json.loads((out / "config.json").read_text())["resolved"]["spectral_norm"] == DEFAULT_NORM[arch]
    assert_normalised_run_trains_and_samples(out, tmp_path, generator_normalised=DEFAULT_NORM[arch] == "both",
                                             penalised="r1" in extra)


def test_the_default_spectral_norm_gives_way_to_the_command_line(tmp_path, colour_data):
    out = tmp_path / "run"
    result = invoke("run", "--arch", "sagan-unconditional", "--loss", "hinge", *colour_data,
                    "--arch-option", "generator_width=16", "--arch-option", "discriminator_width=16",
                    "--latent-dim", 16, "--batch-size", 8, "--steps", 1, "--spectral-norm", "none", "--out", out)
    assert result.exit_code == 0, result.output
    assert json.loads((out / "config.json").read_text())["resolved"]["spectral_norm"] == "none"
    assert not any(k.endswith("._u") for k in checkpoint_keys(out / "checkpoints" / "state.safetensors"))


def test_an_unsupported_image_size_is_a_one_line_cli_error(tmp_path, folder_root):
    result = invoke("run", "--arch", "sngan", "--loss", "hinge", "--data", "folder", "--data-root", folder_root,
                    "--data-option", "size=40", "--steps", 1, "--out", tmp_path / "run")
    assert result.exit_code == 2, result.output
    assert "sngan supports square images of size 32, 48 or 64" in result.output
    assert "Traceback" not in result.output
