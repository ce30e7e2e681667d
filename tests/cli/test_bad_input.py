"""Every kind of bad input: one line, exit code 2, no traceback, nothing written."""

from __future__ import annotations

import pytest

from tests.helpers import assert_one_line_error, invoke

TOY = ("--arch", "mlp", "--loss", "bce", "--data", "ring8")


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("--arch", "dcgn", "--loss", "bce", "--data", "ring8"),
         ["unknown architecture 'dcgn'", "Did you mean 'dcgan'?", "Valid choices: biggan, biggan-unconditional, cdcgan, cmlp, dcgan, infogan, mlp, sagan"]),
        (("--arch", "mlp", "--loss", "wgan-pg", "--data", "ring8"),
         ["unknown loss 'wgan-pg'", "Did you mean 'wgan-gp'?", "bce, hinge, minimax, mse, ragan, rahinge, wgan, wgan-gp"]),
        ((*TOY, "--optimizer", "sgd"), ["--optimizer", "'sgd' is not one of 'adam', 'adamw', 'rmsprop'"]),
        (("--arch", "mlp", "--loss", "bce", "--data", "mnsit"), ["unknown dataset 'mnsit'", "Did you mean 'mnist'?"]),
        (("--arch", "dcgan", "--loss", "bce", "--data", "grid25"), ["dcgan supports square images of size 28, 32 or 64", "(2,)"]),
        ((*TOY, "--arch-option", "depth=3"), ["--arch-option", "'depth'", "generator_widths"]),
        ((*TOY, "--arch-option", "generator_widths=wide"), ["--arch-option generator_widths", "'wide'"]),
        ((*TOY, "--arch-option", "novalue"), ["--arch-option expects KEY=VALUE, got 'novalue'"]),
        ((*TOY, "--data-option", "num_samples=lots"), ["--data-option num_samples must be a int", "'lots'"]),
        ((*TOY, "--betas", "0.5"), ["--betas expects two numbers", "'0.5'"]),
        ((*TOY, "--steps", "0"), ["--steps", "0 is not in the range"]),
        ((*TOY, "--steps", "5", "--epochs", "1"), ["give --steps or --epochs, not both"]),
        ((*TOY, "--batch-size", "100000"), ["--batch-size 100000 is larger than", "50000"]),
        ((*TOY, "--device", "tpu"), ["unknown device 'tpu'", "auto, cpu, cuda"]),
        (("--loss", "bce", "--data", "ring8"), ["missing --arch"]),
    ],
)
def test_bad_run_options_fail_on_one_line_and_write_nothing(tmp_path, args, fragments):
    out = tmp_path / "run"
    result = invoke("run", *args, "--steps" if "--steps" not in args and "--epochs" not in args else "--seed", 1, "--out", out)
    assert_one_line_error(result, *fragments)
    assert not out.exists()


def test_missing_data_offline_says_where_to_put_it(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "run"
    result = invoke("run", "--arch", "mlp", "--loss", "bce", "--data", "mnist", "--data-root", empty,
                    "--no-download", "--steps", 1, "--out", out)
    line = assert_one_line_error(result, "MNIST", str(empty))
    assert "GANZOO_DATA" in line or "--data-root" in line
    assert not out.exists()


def test_an_existing_run_is_never_overwritten(tmp_path):
    out = tmp_path / "run"
    assert invoke("run", *TOY, "--steps", 1, "--out", out).exit_code == 0
    before = (out / "config.json").read_text()
    assert_one_line_error(invoke("run", *TOY, "--steps", 1, "--out", out), "already holds a run", "--resume")
    assert (out / "config.json").read_text() == before


def test_corrupt_checkpoints_are_reported_not_raised(tmp_path):
    out = tmp_path / "run"
    assert invoke("run", *TOY, "--steps", 1, "--out", out).exit_code == 0
    generator = out / "checkpoints" / "generator.safetensors"
    data = generator.read_bytes()
    generator.write_bytes(data[: len(data) // 2])
    assert_one_line_error(invoke("sample", out, "-o", tmp_path / "s.png"), "corrupt or unreadable checkpoint", str(generator))
    assert not (tmp_path / "s.png").exists()

    state = out / "checkpoints" / "state.safetensors"
    state.write_bytes(b"not a safetensors file at all")
    assert_one_line_error(invoke("run", "--resume", out, "--steps", 3), "corrupt or unreadable checkpoint", str(state))

    # A valid safetensors file of the wrong kind is refused by name too.
    assert_one_line_error(invoke("sample", out / "checkpoints" / "nothing.safetensors"), "no such run directory")


def test_resume_and_sample_need_a_run(tmp_path):
    assert_one_line_error(invoke("run", "--resume", tmp_path, "--steps", 3), "not a ganzoo run directory")
    assert_one_line_error(invoke("sample", tmp_path), "holds no checkpoints/generator.safetensors")


def test_sample_output_must_be_png_dir_or_safetensors(tmp_path):
    out = tmp_path / "run"
    assert invoke("run", *TOY, "--steps", 1, "--out", out).exit_code == 0
    assert_one_line_error(invoke("sample", out, "-o", tmp_path / "grid.jpg"), "-o", "FILE.png", "DIR/")
    assert_one_line_error(invoke("sample", out, "-o", str(tmp_path / "each") + "/"), "one PNG per sample needs image data")
    assert not (tmp_path / "each").exists() or not any((tmp_path / "each").iterdir())


def test_unknown_command_is_one_line():
    assert_one_line_error(invoke("rn"), "No such command 'rn'", "Did you mean 'run'?")
