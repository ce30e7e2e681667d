"""``ganzoo bench``: a small real sweep, skipped cells, resume, outputs."""

from __future__ import annotations

import csv
import json

import pytest
from PIL import Image

from tests.helpers import assert_one_line_error, invoke, read_metrics, run_cli


def test_a_two_by_two_sweep_on_mnist_writes_every_output(tmp_path, data_root):
    out = tmp_path / "sweep"
    result = invoke("bench", "--arch", "mlp,dcgan", "--loss", "bce,hinge", "--data", "mnist", "--steps", 4,
                    "--batch-size", 16, "--log-every", 2, "--data-root", data_root, "--out", out)
    assert result.exit_code == 0, result.output
    assert f"{out}/report.md: 4 ok" in result.output
    payload = json.loads((out / "results.json").read_text())
    assert sorted(c["name"] for c in payload["cells"]) == [
        "mnist-dcgan-bce-seed0", "mnist-dcgan-hinge-seed0", "mnist-mlp-bce-seed0", "mnist-mlp-hinge-seed0"]
    for cell in payload["cells"]:
        assert cell["status"] == "ok" and cell["steps"] == 4
        assert cell["img_per_s"] > 0 and cell["wall_s"] > 0 and cell["peak_memory_bytes"] > 2**20
        assert read_metrics(out / cell["name"])[-1]["step"] == 4
    assert len(payload["combinations"]) == 4 and payload["machine"]["cpu_count"]
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert len(rows) == 4 and {r["status"] for r in rows} == {"ok"}
    report = (out / "report.md").read_text()
    assert "| mnist | dcgan | hinge | 1/1 |" in report and "samples-mosaic.png" in report
    assert Image.open(out / "samples-mosaic.png").format == "PNG"
    assert Image.open(out / "mnist-G-loss.png").format == "PNG"  # no metrics: the G loss curve


def test_impossible_cells_are_skipped_with_their_reason_and_seeds_are_aggregated(tmp_path):
    out = tmp_path / "sweep"
    result = invoke("bench", "--arch", "mlp,dcgan", "--loss", "bce", "--data", "ring8", "--seeds", "0,1",
                    "--steps", 6, "--log-every", 3, "--metrics", "modes", "--eval-every", 3, "--eval-samples", 200,
                    "--out", out)
    assert result.exit_code == 0, result.output
    payload = json.loads((out / "results.json").read_text())
    skipped = [c for c in payload["cells"] if c["status"] == "skipped"]
    assert [c["name"] for c in skipped] == ["ring8-dcgan-bce-seed0", "ring8-dcgan-bce-seed1"]
    assert "dcgan supports square images" in skipped[0]["reason"]
    assert not (out / "ring8-dcgan-bce-seed0").exists()
    mlp = next(row for row in payload["combinations"] if row["arch"] == "mlp")
    assert mlp["ok"] == 2 and mlp["best"]["n"] == 2 and mlp["img_per_s"]["n"] == 2
    cell = next(c for c in payload["cells"] if c["name"] == "ring8-mlp-bce-seed1")
    assert [step for step, _ in cell["curve"]] == [3, 6]
    assert "modes.modes_total" in cell["final"]
    assert cell["protocol"]["num_samples"] == 200 and cell["protocol"]["metrics"]["modes"]["num_samples"] == 200
    assert (out / "ring8-modes.modes_covered.png").is_file()
    assert "skipped: dcgan supports square images" in (out / "report.md").read_text()


def test_an_interrupted_sweep_resumes_without_redoing_finished_cells(tmp_path):
    out = tmp_path / "sweep"
    common = ("--arch", "mlp", "--loss", "bce,hinge", "--data", "ring8", "--steps", 6, "--log-every", 2, "--out", out)
    # The hinge cell was cut off at step 2; the bce cell never started.
    partial = out / "ring8-mlp-hinge-seed0"
    assert run_cli("run", "--arch", "mlp", "--loss", "hinge", "--data", "ring8", "--steps", 2, "--log-every", 2,
                   "--out", partial).returncode == 0
    (partial / "summary.json").unlink()
    first_config = json.loads((partial / "config.json").read_text())["config"]["steps"]
    assert first_config == 2

    assert_one_line_error(invoke("bench", *common), "already holds a sweep", "--resume")
    result = invoke("bench", *common, "--resume")
    assert result.exit_code == 0, result.output
    assert [r["step"] for r in read_metrics(partial)] == [2, 4, 6]  # continued, not restarted
    finished = out / "ring8-mlp-bce-seed0" / "checkpoints" / "generator.safetensors"
    stamp = finished.stat().st_mtime_ns

    result = invoke("bench", *common, "--resume")
    assert result.exit_code == 0, result.output
    assert finished.stat().st_mtime_ns == stamp  # nothing rerun
    assert {c["status"] for c in json.loads((out / "results.json").read_text())["cells"]} == {"ok"}


def test_bench_bad_input_is_one_line(tmp_path):
    assert_one_line_error(invoke("bench", "--arch", "mlp", "--loss", "bce", "--data", "ring9", "--steps", 1,
                                 "--out", tmp_path / "x"), "unknown dataset 'ring9'", "ring8")
    assert_one_line_error(invoke("bench", "--arch", "mlp", "--loss", "bce", "--data", "ring8",
                                 "--out", tmp_path / "x"), "--steps N or --minutes M")
    assert_one_line_error(invoke("bench", "--arch", "mlp", "--loss", "bce", "--data", "ring8", "--steps", 1,
                                 "--seeds", "a,b", "--out", tmp_path / "x"), "--seeds expects integers")
    assert not (tmp_path / "x").exists()


def test_a_cell_that_fails_is_reported_with_its_error(tmp_path):
    empty = tmp_path / "no-data"
    empty.mkdir()
    out = tmp_path / "sweep"
    result = invoke("bench", "--arch", "mlp,dcgan", "--loss", "bce", "--data", "mnist", "--seeds", "0,1,2",
                    "--steps", 1, "--data-root", empty, "--out", out)
    assert result.exit_code == 1, result.output  # any failed cell: scripts and CI can tell
    cells = json.loads((out / "results.json").read_text())["cells"]
    assert len(cells) == 6 and all(c["status"] == "failed" and "MNIST is missing" in c["reason"] for c in cells)
    assert "| mnist | mlp | bce | 0/3 |" in (out / "report.md").read_text()
    assert "6 failed" in result.output
    # The data was checked once, in the sweep's process: no cell started a run of its own.
    assert not [path for path in out.iterdir() if path.is_dir()]


def test_a_metric_that_cannot_apply_to_a_dataset_skips_its_cells(tmp_path):
    out = tmp_path / "sweep"
    result = invoke("bench", "--arch", "mlp", "--loss", "bce", "--data", "ring8", "--steps", 1, "--metrics",
                    "classifier", "--out", out)
    assert result.exit_code == 0, result.output
    cell = json.loads((out / "results.json").read_text())["cells"][0]
    assert cell["status"] == "skipped" and "classifier" in cell["reason"], cell


@pytest.mark.parametrize("target", ["/proc/bench", "/dev/null/bench"])
def test_an_unwritable_out_is_one_line(target):
    result = invoke("bench", "--arch", "mlp", "--loss", "bce", "--data", "ring8", "--steps", 1, "--out", target)
    assert_one_line_error(result, "--out", target)


def _collect_cell(tmp_path, metrics: str):
    """A cell result read from a run directory holding only ``metrics`` as its metrics.jsonl."""
    from ganzoo.bench.cells import collect
    from ganzoo.bench.plan import Cell
    from ganzoo.registry import load_registry

    run = tmp_path / "cell"
    run.mkdir()
    (run / "metrics.jsonl").write_text(metrics)
    return collect(Cell("mlp", "bce", "ring8", 0), run, load_registry())


def test_non_finite_losses_mark_a_cell_diverged(tmp_path):
    result = _collect_cell(
        tmp_path,
        '{"step": 1, "d_loss": 1.0, "g_loss": 0.5, "penalty": 0.0, "img_per_s": 10.0}\n'
        '{"step": 2, "d_loss": NaN, "g_loss": Infinity, "penalty": 0.0, "img_per_s": 12.0}\n',
    )
    assert result.status == "diverged" and result.reason == "non-finite losses at step 2"
    assert result.img_per_s == 11.0


def test_a_run_stopped_by_divergence_marks_its_cell_diverged(tmp_path):
    result = _collect_cell(
        tmp_path,
        '{"step": 1, "d_loss": 1.0, "g_loss": 0.5, "penalty": 0.0, "img_per_s": 10.0}\n'
        '{"event": "diverged", "step": 2, "reason": "a loss became NaN or infinite", "checkpoint_step": null}\n',
    )
    assert result.status == "diverged" and result.reason == "non-finite losses or weights at step 2"


def test_variants_sweep_techniques_as_an_axis_recorded_per_cell(tmp_path):
    out = tmp_path / "sweep"
    result = invoke("bench", "--arch", "mlp", "--loss", "hinge", "--data", "ring8", "--steps", 2, "--log-every", 1,
                    "--variant", "plain=", "--variant", "r1=--reg r1:gamma=1", "--variant", "ema=--ema 0.9 --reg lecam",
                    "--out", out)
    assert result.exit_code == 0, result.output
    payload = json.loads((out / "results.json").read_text())
    assert [c["name"] for c in payload["cells"]] == ["ring8-mlp-hinge-plain-seed0", "ring8-mlp-hinge-r1-seed0",
                                                     "ring8-mlp-hinge-ema-seed0"]
    assert all(c["status"] == "ok" for c in payload["cells"])
    resolved = {name: json.loads((out / f"ring8-mlp-hinge-{name}-seed0" / "config.json").read_text())["resolved"]
                for name in ("plain", "r1", "ema")}
    assert [r["name"] for r in resolved["r1"]["regularizers"]] == ["r1"] and resolved["plain"]["regularizers"] == []
    assert resolved["ema"]["generator"] == "ema" and resolved["plain"]["generator"] == "raw"
    assert {row["variant"] for row in payload["combinations"]} == {"plain", "r1", "ema"}
    assert "hinge [r1]" in (out / "report.md").read_text()


@pytest.mark.parametrize("variant, fragment", [("r1", "NAME=OPTIONS"), ("x=--seed 3", "other than the grid's own"),
                                               ("x=reg r1", "other than the grid's own")])
def test_bad_variants_are_one_line_errors(tmp_path, variant, fragment):
    result = invoke("bench", "--arch", "mlp", "--loss", "bce", "--data", "ring8", "--steps", 1, "--variant", variant,
                    "--out", tmp_path / "x")
    assert_one_line_error(result, fragment)
    assert not (tmp_path / "x").exists()
