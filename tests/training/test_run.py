"""``ganzoo run`` end to end: run directory contents, loss defaults, resume, Ctrl-C."""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import time

import pytest
from safetensors import safe_open

from tests.conftest import split_size
from tests.helpers import invoke, read_metrics, run_cli

TOY = ("--arch", "mlp", "--loss", "bce", "--data", "ring8", "--batch-size", "32")


def test_ring8_run_writes_a_complete_run_directory(tmp_path):
    out = tmp_path / "run"
    result = invoke("run", *TOY, "--steps", 20, "--log-every", 5, "--sample-every", 10, "--out", out)
    assert result.exit_code == 0, result.output
    assert f"finished step 20/20: {out}" in result.output

    config = json.loads((out / "config.json").read_text())
    assert config["config"]["arch"] == "mlp" and config["config"]["steps"] == 20
    assert config["resolved"]["n_critic"] == 1
    assert config["resolved"]["betas"] == [0.5, 0.999]
    assert config["resolved"]["spec"]["shape"] == [2]
    assert config["plugins"]["losses"]["plugin"] == "divergence-losses"
    assert config["plugins"]["losses"]["distribution"] == "ganzoo"
    assert config["versions"]["torch"]

    records = read_metrics(out)
    assert [r["step"] for r in records] == [5, 10, 15, 20]
    for record in records:
        assert math.isfinite(record["d_loss"]) and math.isfinite(record["g_loss"])
        assert record["img_per_s"] > 0
    # The first records of a BCE GAN sit near the equilibrium D loss 2*log(2).
    assert abs(records[0]["d_loss"] - 2 * math.log(2)) < 0.3

    assert sorted(p.name for p in (out / "samples").iterdir()) == ["step_0000010.png", "step_0000020.png"]
    with safe_open(str(out / "checkpoints" / "generator.safetensors"), "pt") as handle:
        meta = json.loads(handle.metadata()["ganzoo"])
    assert meta["arch"] == "mlp" and meta["latent_dim"] == 100 and meta["step"] == 20
    assert meta["spec"]["shape"] == [2] and meta["spec"]["num_classes"] == 8
    assert (out / "checkpoints" / "state.safetensors").is_file()
    assert not list(out.rglob("*.tmp*")), "temporary files left behind"


def test_loss_defaults_apply_unless_overridden(tmp_path):
    out = tmp_path / "wgan"
    result = invoke("run", "--arch", "dcgan", "--loss", "wgan-gp", "--data", "ring8", "--steps", 1, "--out", out)
    assert result.exit_code == 2  # dcgan cannot draw 2-D points
    result = invoke(
        "run", "--arch", "mlp", "--loss", "wgan-gp", "--data", "grid25", "--steps", 3, "--batch-size", 16,
        "--log-every", 1, "--out", out,
    )
    assert result.exit_code == 0, result.output
    resolved = json.loads((out / "config.json").read_text())["resolved"]
    assert resolved["n_critic"] == 5 and resolved["betas"] == [0.0, 0.9] and resolved["lr_g"] == 1e-4
    records = read_metrics(out)
    assert all(r["penalty"] > 0 for r in records)  # the gradient penalty is trained and logged

    override = tmp_path / "override"
    result = invoke(
        "run", "--arch", "mlp", "--loss", "wgan-gp", "--data", "grid25", "--steps", 1, "--n-critic", 2,
        "--betas", "0.5,0.9", "--lr-g", "0.001", "--out", override,
    )
    assert result.exit_code == 0, result.output
    resolved = json.loads((override / "config.json").read_text())["resolved"]
    assert resolved["n_critic"] == 2 and resolved["betas"] == [0.5, 0.9] and resolved["lr_g"] == 0.001


def test_mnist_runs_end_to_end_with_both_architectures(tmp_path, data_root):
    mlp = tmp_path / "mlp"
    result = invoke("run", "--arch", "mlp", "--loss", "bce", "--data", "mnist", "--data-root", data_root,
                    "--steps", 6, "--batch-size", 32, "--log-every", 3, "--out", mlp)
    assert result.exit_code == 0, result.output
    assert json.loads((mlp / "config.json").read_text())["resolved"]["dataset_size"] == split_size(data_root, train=True)
    assert len(read_metrics(mlp)) == 2

    dcgan = tmp_path / "dcgan"
    result = invoke("run", "--arch", "dcgan", "--loss", "wgan-gp", "--data", "mnist", "--data-root", data_root,
                    "--steps", 2, "--batch-size", 16, "--arch-option", "base_width=8", "--log-every", 1, "--out", dcgan)
    assert result.exit_code == 0, result.output
    resolved = json.loads((dcgan / "config.json").read_text())["resolved"]
    # WGAN-GP's default switches batch norm off in the critic; the user's width is kept.
    # base_width's default is "auto", so a value typed on the command line stays text; dcgan reads it as an int.
    assert resolved["arch_options"] == {"base_width": "8", "discriminator_batch_norm": False}
    with safe_open(str(dcgan / "checkpoints" / "state.safetensors"), "pt") as handle:
        assert not any("running_mean" in key for key in handle.keys() if key.startswith("discriminator."))
    from PIL import Image

    grid = Image.open(dcgan / "samples" / "step_0000002.png")
    assert grid.size == (8 * 30 + 2, 8 * 30 + 2)  # 64 MNIST digits, 28 px + 2 px padding


def test_epochs_set_the_total_from_the_dataset_size(tmp_path):
    out = tmp_path / "run"
    result = invoke("run", *TOY, "--epochs", 0.01, "--out", out, "--data-option", "num_samples=3200")
    assert result.exit_code == 0, result.output
    # 3200 samples / batch 32 = 100 batches per epoch; 1% of an epoch is one step.
    assert json.loads((out / "config.json").read_text())["resolved"]["total_steps"] == 1


def test_resume_gives_the_same_losses_as_an_uninterrupted_run(tmp_path):
    common = ("--loss", "wgan-gp", "--arch", "mlp", "--data", "ring8", "--batch-size", "16",
              "--log-every", "1", "--checkpoint-every", "100", "--seed", "3")
    straight = tmp_path / "straight"
    assert invoke("run", *common, "--steps", 8, "--out", straight).exit_code == 0
    split = tmp_path / "split"
    assert invoke("run", *common, "--steps", 5, "--out", split).exit_code == 0
    result = invoke("run", "--resume", split, "--steps", 8)
    assert result.exit_code == 0, result.output

    expected = read_metrics(straight)
    resumed = read_metrics(split)
    assert [r["step"] for r in resumed] == list(range(1, 9))
    for key in ("d_loss", "g_loss", "penalty"):
        assert [r[key] for r in resumed] == [r[key] for r in expected]
    with safe_open(str(straight / "checkpoints" / "state.safetensors"), "pt") as a, \
            safe_open(str(split / "checkpoints" / "state.safetensors"), "pt") as b:
        assert sorted(a.keys()) == sorted(b.keys())
        for key in a.keys():
            assert a.get_tensor(key).equal(b.get_tensor(key)), key
    assert json.loads((split / "config.json").read_text())["config"]["steps"] == 8


def test_resume_refuses_to_change_what_defines_the_run(tmp_path):
    out = tmp_path / "run"
    assert invoke("run", *TOY, "--steps", 2, "--out", out).exit_code == 0
    result = invoke("run", "--resume", out, "--steps", 4, "--loss", "hinge")
    assert result.exit_code == 2 and "cannot change --loss when resuming" in result.output
    result = invoke("run", "--resume", out, "--steps", 2)
    assert result.exit_code == 2 and "already at step 2 of 2" in result.output


def test_ctrl_c_saves_a_checkpoint_and_exits_cleanly(tmp_path):
    out = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-m", "ganzoo.cli", "run", *TOY, "--steps", "1000000", "--log-every", "1",
         "--checkpoint-every", "1000000", "--sample-every", "1000000", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if (out / "metrics.jsonl").exists() and len((out / "metrics.jsonl").read_text().splitlines()) >= 3:
            break
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    message = [line for line in stderr.splitlines() if "interrupted" in line]
    assert len(message) == 1 and "interrupted by SIGINT at step" in message[0]
    assert f"continue with: ganzoo run --resume {out}" in message[0]
    with safe_open(str(out / "checkpoints" / "state.safetensors"), "pt") as handle:
        step = json.loads(handle.metadata()["ganzoo"])["step"]
    assert step >= 3
    assert (out / "samples" / f"step_{step:07d}.png").is_file()

    resumed = run_cli("run", "--resume", out, "--steps", step + 2, "--log-every", 1)
    assert resumed.returncode == 0, resumed.stderr
    assert read_metrics(out)[-1]["step"] == step + 2


@pytest.mark.parametrize("seed", [0, 7])
def test_same_seed_repeats_a_cpu_run_exactly(tmp_path, seed):
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        assert invoke("run", *TOY, "--steps", 3, "--log-every", 1, "--seed", seed, "--out", out).exit_code == 0
        runs.append([(r["d_loss"], r["g_loss"]) for r in read_metrics(out)])
    assert runs[0] == runs[1]


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_every_precision_trains_and_samples_in_range(tmp_path, data_root, precision):
    out = tmp_path / precision
    result = invoke("run", "--arch", "dcgan", "--loss", "wgan-gp", "--data", "mnist", "--data-root", data_root,
                    "--steps", 3, "--batch-size", 16, "--arch-option", "base_width=8", "--log-every", 1,
                    "--precision", precision, "--out", out)
    assert result.exit_code == 0, result.output
    assert json.loads((out / "config.json").read_text())["config"]["precision"] == precision
    for record in read_metrics(out):
        assert all(math.isfinite(record[key]) for key in ("d_loss", "g_loss", "penalty"))
    samples = tmp_path / f"{precision}.safetensors"
    assert invoke("sample", out, "-n", 16, "-o", samples).exit_code == 0
    from safetensors.torch import load_file

    values = load_file(str(samples))["samples"]
    assert values.dtype.is_floating_point and values.min() >= -1 and values.max() <= 1


def test_fp16_resume_restores_the_loss_scalers(tmp_path):
    common = ("--arch", "mlp", "--loss", "bce", "--data", "ring8", "--batch-size", "16", "--log-every", "1",
              "--checkpoint-every", "100", "--precision", "fp16")
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert invoke("run", *common, "--steps", 6, "--out", straight).exit_code == 0
    assert invoke("run", *common, "--steps", 3, "--out", split).exit_code == 0
    with safe_open(str(split / "checkpoints" / "state.safetensors"), "pt") as handle:
        scalers = json.loads(handle.metadata()["ganzoo"])["grad_scalers"]
    assert set(scalers) == {"generator", "discriminator"} and scalers["generator"]["scale"] > 0
    assert invoke("run", "--resume", split, "--steps", 6).exit_code == 0
    assert [(r["d_loss"], r["g_loss"]) for r in read_metrics(split)] == \
        [(r["d_loss"], r["g_loss"]) for r in read_metrics(straight)]


def assert_same_checkpoints(first, second) -> None:
    """Both runs' state and generator files hold bit-identical tensors."""
    for name in ("state.safetensors", "generator.safetensors"):
        with safe_open(str(first / "checkpoints" / name), "pt") as a, safe_open(str(second / "checkpoints" / name), "pt") as b:
            assert sorted(a.keys()) == sorted(b.keys())
            for key in a.keys():
                assert a.get_tensor(key).equal(b.get_tensor(key)), (name, key)


def test_same_command_and_seed_give_bit_identical_checkpoints(tmp_path):
    args = (*TOY, "--steps", 4, "--seed", 11, "--arch-option", "generator_widths=32,32")
    for name in ("a", "b"):
        assert invoke("run", *args, "--out", tmp_path / name).exit_code == 0
    assert_same_checkpoints(tmp_path / "a", tmp_path / "b")


def test_config_reruns_a_recorded_run_and_explicit_options_win(tmp_path):
    original = tmp_path / "original"
    assert invoke("run", *TOY, "--steps", 4, "--seed", 2, "--arch-option", "generator_widths=32,32",
                  "--out", original).exit_code == 0
    rerun = tmp_path / "rerun"
    result = invoke("run", "--config", original / "config.json", "-o", rerun)
    assert result.exit_code == 0, result.output
    assert "note:" not in result.output
    assert_same_checkpoints(original, rerun)
    assert json.loads((rerun / "config.json").read_text())["config"] == json.loads((original / "config.json").read_text())["config"]

    longer = tmp_path / "longer"
    result = invoke("run", "--config", original, "--steps", 6, "--arch-option", "discriminator_widths=16", "-o", longer)
    assert result.exit_code == 0, result.output
    recorded = json.loads((longer / "config.json").read_text())
    assert recorded["config"]["steps"] == 6 and recorded["config"]["seed"] == 2
    assert recorded["resolved"]["arch_options"] == {"generator_widths": [32, 32], "discriminator_widths": [16]}


def test_config_rerun_notes_version_differences_and_refuses_bad_files(tmp_path):
    original = tmp_path / "original"
    assert invoke("run", *TOY, "--steps", 1, "--out", original).exit_code == 0
    saved = json.loads((original / "config.json").read_text())
    saved["versions"]["torch"] = "0.1"
    (original / "config.json").write_text(json.dumps(saved))
    result = invoke("run", "--config", original, "-o", tmp_path / "again")
    assert result.exit_code == 0, result.output
    assert "note: the recorded run used torch 0.1" in result.output

    from tests.helpers import assert_one_line_error

    assert_one_line_error(invoke("run", "--config", tmp_path / "nothing.json"), "no such file")
    (tmp_path / "bad.json").write_text("{not json")
    assert_one_line_error(invoke("run", "--config", tmp_path / "bad.json"), "is not valid JSON")
    assert_one_line_error(invoke("run", "--config", original, "--resume", original), "cannot be combined with --resume")
    saved["config"]["steps"] = "many"
    (tmp_path / "typed.json").write_text(json.dumps(saved))
    assert_one_line_error(invoke("run", "--config", tmp_path / "typed.json", "-o", tmp_path / "x"), "--steps")
    assert not (tmp_path / "x").exists()
