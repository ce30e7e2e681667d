"""``ganzoo augment`` end to end on real MNIST, with a tiny conditional model and a tiny budget."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

import ganzoo
from ganzoo.registry import load_registry
from tests.conftest import split_size
from tests.helpers import assert_one_line_error, invoke

SETTINGS = ("real", "real+synthetic", "synthetic")


@pytest.fixture(scope="module")
def cmlp_run(tmp_path_factory, data_root):
    """A conditional MLP trained for 20 steps on MNIST: enough to exercise the pipeline, not to help."""
    out = tmp_path_factory.mktemp("augment") / "cmlp"
    result = invoke("run", "--arch", "cmlp", "--loss", "bce", "--data", "mnist", "--data-root", data_root,
                    "--steps", 20, "--batch-size", 32, "--arch-option", "generator_widths=64,64",
                    "--arch-option", "discriminator_widths=64", "--log-every", 20, "--out", out)
    assert result.exit_code == 0, result.output
    return out


def test_augment_trains_every_setting_for_every_seed(cmlp_run, data_root, tmp_path):
    report_path = tmp_path / "study.json"
    result = invoke("augment", cmlp_run, "--data", "mnist", "--data-root", data_root, "--classifier", "small-cnn",
                    "--synthetic-per-class", 10, "--real-fraction", 0.02, "--seeds", "0,1", "--steps", 60,
                    "--batch-size", 64, "--lr", 3e-3, "--out", report_path)
    assert result.exit_code == 0, result.output
    assert "real+synthetic - real" in result.output and f"wrote {report_path}" in result.output

    report = json.loads(report_path.read_text())
    rows = report["results"]
    assert sorted((row["setting"], row["seed"]) for row in rows) == sorted((s, seed) for s in SETTINGS for seed in (0, 1))
    assert all(0 <= row["accuracy"] <= 1 for row in rows)
    labels = load_registry().dataset("mnist").load(str(data_root), train=True, download=False).labels
    real_size = sum(round(0.02 * int(count)) for count in torch.bincount(labels))
    sizes = {row["setting"]: row["train_size"] for row in rows}
    assert sizes == {"real": real_size, "synthetic": 100, "real+synthetic": real_size + 100}
    real = [row["accuracy"] for row in rows if row["setting"] == "real"]
    print(f"\nreal-only accuracies with {real_size} images, 60 steps: {real}")
    assert min(real) > 0.5  # 1.2k real digits and 60 steps are far above chance (0.1)

    summary = report["summary"]
    assert set(summary) == {*SETTINGS, "real+synthetic - real"}
    assert summary["real"]["mean"] == pytest.approx(sum(real) / 2)
    difference = summary["real+synthetic - real"]
    mixed = summary["real+synthetic"]["per_seed"]
    assert difference["per_seed"] == pytest.approx([m - r for m, r in zip(mixed, real)])

    protocol = report["protocol"]
    assert (protocol["classifier"], protocol["steps"], protocol["batch_size"]) == ("small-cnn", 60, 64)
    assert (protocol["real_fraction"], protocol["synthetic_per_class"], protocol["seeds"]) == (0.02, 10, [0, 1])
    assert protocol["budget"]["learning_rate"] == pytest.approx(3e-3)
    assert (protocol["dataset"], protocol["generator_step"], protocol["test_size"]) == ("mnist", 20, split_size(data_root, train=False))
    assert protocol["generator"].endswith("generator.safetensors")
    assert (protocol["ganzoo_version"], protocol["torch_version"]) == (ganzoo.__version__, torch.__version__)


def test_augment_refuses_bad_input_in_one_line(cmlp_run, data_root, tmp_path):
    base = ("augment", cmlp_run, "--data-root", data_root)
    assert_one_line_error(invoke(*base, "--data", "mnist", "--real-fraction", 0), "--real-fraction must lie in (0, 1]")
    assert_one_line_error(invoke(*base, "--data", "mnist", "--real-fraction", 1.5), "(0, 1], got 1.5")
    assert_one_line_error(invoke(*base, "--data", "mnist", "--synthetic-per-class", 0), "--synthetic-per-class")
    assert_one_line_error(invoke(*base, "--data", "mnist", "--classifier", "resnet"),
                          "unknown classifier 'resnet'", "resnet18")
    assert_one_line_error(invoke(*base, "--data", "mnist", "--seeds", "a,b"), "--seeds expects integers")
    assert_one_line_error(invoke(*base, "--data", "mnsit"), "unknown dataset 'mnsit'", "Did you mean 'mnist'")
    assert_one_line_error(invoke(*base, "--data", "cifar10"), "--data cifar10", "trained on 'mnist'")
    assert_one_line_error(invoke(*base), "--data")
    assert_one_line_error(invoke("augment", tmp_path / "nowhere", "--data", "mnist"), "no such run directory")
    assert_one_line_error(invoke("augment", tmp_path, "--data", "mnist"), "is it a ganzoo run directory?")
    assert_one_line_error(invoke(*base, "--data", "mnist", "--steps", 0), "--steps must be positive, got 0")
    assert "TrainingBudget" not in invoke(*base, "--data", "mnist", "--batch-size", 0).output
    assert_one_line_error(invoke(*base, "--data", "mnist", "--lr", "nan"), "--lr must be positive")
    assert not (cmlp_run / "augment.json").exists()


TINY = ("--data", "mnist", "--synthetic-per-class", 2, "--real-fraction", 0.002, "--seeds", "0", "--steps", 2,
        "--batch-size", 16)


def test_each_study_keeps_its_own_report(cmlp_run, data_root, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(cmlp_run, copy)
    for _ in range(3):
        result = invoke("augment", copy, *TINY, "--data-root", data_root)
        assert result.exit_code == 0, result.output
    assert sorted(path.name for path in copy.glob("augment*.json")) == ["augment-2.json", "augment-3.json",
                                                                        "augment.json"]


def test_an_existing_out_is_refused_before_training_unless_forced(cmlp_run, data_root, tmp_path):
    report = tmp_path / "study.json"
    report.write_text('{"earlier": "study"}')
    result = invoke("augment", cmlp_run, *TINY, "--data-root", data_root, "--out", report)
    assert_one_line_error(result, f"--out {report} already holds a report", "--force")
    assert "seed 0" not in result.output and report.read_text() == '{"earlier": "study"}'
    result = invoke("augment", cmlp_run, *TINY, "--data-root", data_root, "--out", report, "--force")
    assert result.exit_code == 0, result.output
    assert "results" in json.loads(report.read_text())


@pytest.mark.parametrize("target", ["/proc/aug.json", "/dev/null/aug.json"])
def test_an_unwritable_out_is_refused_before_training(cmlp_run, data_root, target):
    result = invoke("augment", cmlp_run, *TINY, "--data-root", data_root, "--out", target)
    assert_one_line_error(result, "--out", target)
    assert "seed 0" not in result.output


def test_augment_needs_a_conditional_image_generator(tmp_path):
    plain = tmp_path / "plain"
    assert invoke("run", "--arch", "mlp", "--loss", "bce", "--data", "ring8", "--steps", 1, "--out", plain).exit_code == 0
    assert_one_line_error(invoke("augment", plain, "--data", "ring8"), "'mlp' is not class-conditional")
    points = tmp_path / "points"
    assert invoke("run", "--arch", "cmlp", "--loss", "bce", "--data", "ring8", "--steps", 1, "--out", points).exit_code == 0
    assert_one_line_error(invoke("augment", points, "--data", "ring8"), "needs image data")


def test_cas_metric_through_eval(cmlp_run, data_root):
    result = invoke("eval", cmlp_run, "--metrics", "cas", "--num-samples", 200, "--batch-size", 100,
                    "--data-root", data_root, "--seed", 2)
    assert result.exit_code == 0, result.output
    assert "cas" in result.output
    record = json.loads((cmlp_run / "eval.jsonl").read_text().splitlines()[-1])
    values, protocol = record["metrics"]["cas"]["values"], record["metrics"]["cas"]["protocol"]
    assert 0 <= values["cas"] <= 1 and 0 <= values["cas_worst_class"] <= values["cas"]
    assert (protocol["classifier"], protocol["train_samples"], protocol["test_size"]) == ("small-cnn", 200, split_size(data_root, train=False))
    assert protocol["steps"] == 16  # 10 epochs of 200 samples in batches of 128
    assert protocol["seed"] == 2 and len(protocol["per_class_accuracy"]) == 10


def test_cas_on_an_unconditional_generator_is_one_line(tmp_path, data_root):
    out = tmp_path / "mlp"
    assert invoke("run", "--arch", "mlp", "--loss", "bce", "--data", "mnist", "--data-root", data_root, "--steps", 1,
                  "--batch-size", 8, "--arch-option", "generator_widths=16", "--arch-option", "discriminator_widths=16",
                  "--out", out).exit_code == 0
    result = invoke("eval", out, "--metrics", "cas", "--num-samples", 20, "--data-root", data_root)
    assert_one_line_error(result, "metric 'cas' needs a class-conditional generator")
    assert not (out / "eval.jsonl").exists()
