"""``ganzoo eval`` and evaluation during training, driven through in-process metric plugins."""

from __future__ import annotations

import json
import types

import torch
from safetensors import safe_open

import ganzoo
from tests.helpers import assert_one_line_error, invoke, read_metrics

TOY = ("--arch", "mlp", "--loss", "bce", "--data", "ring8", "--batch-size", "32")


class SampleMean(ganzoo.Metric):
    """The mean of the samples' coordinates, and the largest batch it was handed."""

    name = "sample-mean"
    description = "mean coordinate of the generated samples"
    primary = "mean"

    def compute(self, samples, context):
        total, count, largest = 0.0, 0, 0
        for batch in samples.batches(context.num_samples, context.batch_size):
            assert batch.dtype == torch.float32 and batch.shape[1:] == context.spec.shape
            total += batch.sum().item()
            count += batch.numel()
            largest = max(largest, len(batch))
        return ganzoo.MetricResult({"mean": total / count, "largest_batch": largest}, {"statistic": "mean"})


class Scripted(ganzoo.Metric):
    """Reports a scripted sequence of values, to test best-checkpoint selection."""

    name = "scripted"
    description = "returns 3, 1, 2, 5, ... on successive calls"
    primary = "score"

    def __init__(self, values):
        self.values = list(values)
        # Draw from the global RNG like a metric that trains an evaluator would.
        self.calls = 0

    def compute(self, samples, context):
        torch.rand(1000)
        value = self.values[self.calls % len(self.values)]
        self.calls += 1
        return ganzoo.MetricResult({"score": value})


def metric_plugin(*metrics):
    module = types.ModuleType("test-metrics")

    @ganzoo.hookimpl
    def register_metrics(register):
        for metric in metrics:
            register(metric)

    module.register_metrics = register_metrics
    return module


def trained_run(tmp_path):
    out = tmp_path / "run"
    assert invoke("run", *TOY, "--steps", 3, "--out", out).exit_code == 0
    return out


def test_eval_appends_values_with_their_protocol(tmp_path):
    out = trained_run(tmp_path)
    plugin = metric_plugin(SampleMean())
    result = invoke("eval", out, "--metrics", "sample-mean", "--num-samples", 300, "--batch-size", 64,
                    "--seed", 5, extra_plugins=[plugin])
    assert result.exit_code == 0, result.output
    assert "sample-mean" in result.output and "appended to" in result.output
    record = json.loads((out / "eval.jsonl").read_text().splitlines()[-1])
    values = record["metrics"]["sample-mean"]["values"]
    assert values["largest_batch"] == 64  # streamed, never all at once
    assert -1 <= values["mean"] <= 1
    assert record["metrics"]["sample-mean"]["protocol"] == {"statistic": "mean"}
    protocol = record["protocol"]
    assert protocol["num_samples"] == 300 and protocol["ref_split"] == "train" and protocol["seed"] == 5
    assert protocol["dataset"] == "ring8" and protocol["ganzoo_version"] == ganzoo.__version__
    assert record["step"] == 3 and record["arch"] == "mlp" and record["data"] == "ring8"

    # The same seed evaluates the same samples.
    assert invoke("eval", out, "--metrics", "sample-mean", "--num-samples", 300, "--batch-size", 64, "--seed", 5,
                  extra_plugins=[plugin]).exit_code == 0
    records = [json.loads(line) for line in (out / "eval.jsonl").read_text().splitlines()]
    assert records[0]["metrics"]["sample-mean"]["values"]["mean"] == records[1]["metrics"]["sample-mean"]["values"]["mean"]


def test_eval_bad_input_is_one_line(tmp_path):
    out = trained_run(tmp_path)
    assert_one_line_error(invoke("eval", out, "--metrics", "fdi"), "unknown metric 'fdi'")
    assert_one_line_error(invoke("eval", out, "--metrics", "sample-mean,sample-mean",
                                 extra_plugins=[metric_plugin(SampleMean())]), "listed twice")
    assert_one_line_error(invoke("eval", out, "--metrics", "sample-mean", "--ref-split", "val",
                                 extra_plugins=[metric_plugin(SampleMean())]), "'val'", "train", "test")
    assert not (out / "eval.jsonl").exists()


def test_training_keeps_the_best_checkpoint_by_the_first_metric(tmp_path):
    out = tmp_path / "run"
    plugin = metric_plugin(Scripted([3.0, 1.0, 2.0, 5.0]), SampleMean())
    result = invoke("run", *TOY, "--steps", 20, "--eval-every", 5, "--metrics", "scripted,sample-mean",
                    "--eval-samples", 64, "--out", out, extra_plugins=[plugin])
    assert result.exit_code == 0, result.output
    evals = [r for r in read_metrics(out) if "eval" in r]
    assert [r["step"] for r in evals] == [5, 10, 15, 20]
    assert [r["eval"]["scripted"]["score"] for r in evals] == [3.0, 1.0, 2.0, 5.0]
    assert [r["best"] for r in evals] == [True, True, False, False]
    with safe_open(str(out / "checkpoints" / "best-generator.safetensors"), "pt") as handle:
        assert json.loads(handle.metadata()["ganzoo"])["step"] == 10
    assert len((out / "eval.jsonl").read_text().splitlines()) == 4
    # The best generator samples like any generator file.
    assert invoke("sample", out / "checkpoints" / "best-generator.safetensors", "-n", 8,
                  "-o", tmp_path / "best.png").exit_code == 0


def test_evaluating_does_not_change_training(tmp_path):
    plain, evaluated = tmp_path / "plain", tmp_path / "evaluated"
    assert invoke("run", *TOY, "--steps", 6, "--log-every", 1, "--out", plain).exit_code == 0
    result = invoke("run", *TOY, "--steps", 6, "--log-every", 1, "--eval-every", 2, "--metrics", "scripted",
                    "--eval-samples", 32, "--out", evaluated, extra_plugins=[metric_plugin(Scripted([1.0]))])
    assert result.exit_code == 0, result.output
    losses = [(r["d_loss"], r["g_loss"]) for r in read_metrics(evaluated) if "d_loss" in r]
    assert losses == [(r["d_loss"], r["g_loss"]) for r in read_metrics(plain)]


def test_resume_remembers_the_best_value(tmp_path):
    out = tmp_path / "run"
    common = ("--eval-every", 5, "--metrics", "scripted", "--eval-samples", 32)
    first = metric_plugin(Scripted([2.0, 1.0]))
    assert invoke("run", *TOY, "--steps", 10, *common, "--out", out, extra_plugins=[first]).exit_code == 0
    # After resuming, 1.5 does not beat the 1.0 reached before the interruption.
    second = metric_plugin(Scripted([1.5, 0.5]))
    result = invoke("run", "--resume", out, "--steps", 20, extra_plugins=[second])
    assert result.exit_code == 0, result.output
    evals = [r for r in read_metrics(out) if "eval" in r]
    assert [(r["step"], r["best"]) for r in evals] == [(5, True), (10, True), (15, False), (20, True)]


def test_modes_metric_through_the_cli(tmp_path):
    out = tmp_path / "run"
    assert invoke("run", "--arch", "mlp", "--loss", "bce", "--data", "grid25", "--steps", 2, "--out", out).exit_code == 0
    result = invoke("eval", out, "--metrics", "modes", "--num-samples", 500)
    assert result.exit_code == 0, result.output
    record = json.loads((out / "eval.jsonl").read_text())
    values = record["metrics"]["modes"]["values"]
    assert values["modes_total"] == 25 and 0 <= values["modes_covered"] <= 25
    assert record["metrics"]["modes"]["protocol"]["num_samples"] == 500


def test_inception_metrics_fail_offline_with_directions(tmp_path, data_root, monkeypatch):
    out = tmp_path / "run"
    assert invoke("run", "--arch", "dcgan", "--loss", "bce", "--data", "mnist", "--data-root", data_root, "--steps", 1,
                  "--batch-size", 8, "--arch-option", "base_width=4", "--out", out).exit_code == 0
    monkeypatch.delenv("GANZOO_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    for metric in ("fid", "kid", "is", "prc"):
        result = invoke("eval", out, "--metrics", metric, "--no-download")
        assert_one_line_error(result, f"metric '{metric}'", "weights-inception-2015-12-05-6726825d.pth",
                              "--inception-weights", "GANZOO_INCEPTION_WEIGHTS")
    result = invoke("eval", out, "--metrics", "fid", "--inception-weights", tmp_path / "missing.pth")
    assert_one_line_error(result, str(tmp_path / "missing.pth"))
    result = invoke("run", "--arch", "mlp", "--loss", "bce", "--data", "ring8", "--metrics", "fid", "--steps", 1,
                    "--out", tmp_path / "never")
    assert_one_line_error(result, "metric 'fid' needs image data")
    assert not (tmp_path / "never").exists() and not (out / "eval.jsonl").exists()
