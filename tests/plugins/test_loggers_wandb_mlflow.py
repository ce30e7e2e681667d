"""``--log wandb`` and ``--log mlflow``: real tiny runs, logged offline (W&B) or to a file store (MLflow), read back.

Neither library touches the network here: W&B runs in offline mode with all its
directories under ``tmp_path``; MLflow writes a local file store.
"""

from __future__ import annotations

import importlib
import json
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import ganzoo
from ganzoo.registry import load_registry
from tests.evaluation.test_eval import Scripted, metric_plugin
from tests.helpers import (
    assert_error_after_progress,
    assert_one_line_error,
    interrupt_after,
    invoke,
    read_metrics,
)

TINY = ("--arch", "dcgan", "--loss", "bce", "--data", "mnist-mini", "--batch-size", 16, "--arch-option", "base_width=4",
        "--log-every", 10, "--sample-every", 20, "--checkpoint-every", 20)


def logger_plugin(name: str) -> tuple:
    """The logger's module as an in-process plugin, unless an entry point already registers it (registering the
    same module twice would only be reported as an error in ``list-plugins``)."""
    module = importlib.import_module(f"ganzoo_plugins.callbacks.{name}_logger")
    return () if name in load_registry().names("loggers") else (module,)


def losses(run_dir: Path, first: int = 0, last: int = 10**9) -> list[tuple[int, float, float]]:
    """(step, D loss, G loss) of the loss records of metrics.jsonl between two steps.

    Compared exactly: both backends store float64 values in a form that reads back unchanged.
    """
    return [(r["step"], r["d_loss"], r["g_loss"]) for r in read_metrics(run_dir)
            if "d_loss" in r and first <= r["step"] <= last]


# --- W&B -------------------------------------------------------------------------------------------------------

def wandb_records(path: Path):
    """The protobuf records of a ``.wandb`` transaction log (LevelDB log format behind a 7-byte ``:W&B`` header:
    32 KiB blocks of chunks, each chunk ``crc32 (4) | length (2) | type (1)``: full, first, middle, last)."""
    from wandb.proto import wandb_internal_pb2

    data, block = path.read_bytes(), 32768
    assert data[:4] == b":W&B", data[:7]
    position, pending = 7, b""
    while position + 7 <= len(data):
        if block - position % block < 7:  # a block's tail too short for a chunk header is padding
            position += block - position % block
            continue
        _, length, kind = struct.unpack("<IHB", data[position:position + 7])
        pending += data[position + 7:position + 7 + length]
        position += 7 + length
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            pending = b""
            yield record


def offline_run(segment: Path) -> dict:
    """What one offline W&B session recorded: its run record, config, history rows and metric definitions."""
    records = list(wandb_records(next(segment.glob("run-*.wandb"))))
    kinds = [(r.WhichOneof("record_type"), r) for r in records]
    run = next(r.run for kind, r in kinds if kind == "run")
    rows = []
    for kind, record in kinds:
        if kind == "history":
            row: dict = {}
            for item in record.history.item:
                keys = list(item.nested_key) or [item.key]
                target = row
                for key in keys[:-1]:
                    target = target.setdefault(key, {})
                target[keys[-1]] = json.loads(item.value_json)
            rows.append(row)
    return {"run": run, "config": {u.key: json.loads(u.value_json) for u in run.config.update}, "rows": rows,
            "metrics": [r.metric for kind, r in kinds if kind == "metric"]}


@pytest.fixture(scope="module")
def wandb_run(tmp_path_factory):
    """A 20-step run with ``--log wandb`` (W&B offline), then resumed to 40 steps."""
    pytest.importorskip("wandb")
    root = tmp_path_factory.mktemp("wandb")
    with pytest.MonkeyPatch.context() as env:
        for name in ("WANDB_PROJECT", "WANDB_ENTITY", "WANDB_API_KEY", "WANDB_RUN_ID", "WANDB_NAME", "WANDB_RESUME"):
            env.delenv(name, raising=False)
        for name, value in {"WANDB_MODE": "offline", "WANDB_SILENT": "true", "WANDB_DISABLE_GIT": "true",
                            "WANDB_DISABLE_CODE": "true", "WANDB_X_DISABLE_UPDATE_CHECK": "true",
                            "WANDB_X_DISABLE_STATS": "true"}.items():
            env.setenv(name, value)
        for name in ("DIR", "CACHE_DIR", "CONFIG_DIR", "DATA_DIR", "ARTIFACT_DIR"):  # nothing written to ~
            env.setenv(f"WANDB_{name}", str(root / name.lower()))
        out = root / "run"
        result = invoke("run", *TINY, "--steps", 20, "--log", "wandb", "--out", out, extra_plugins=logger_plugin("wandb"))
        assert result.exit_code == 0, result.output
        first = {"run_id": (out / "wandb" / "run-id").read_text(), "config": json.loads((out / "config.json").read_text()),
                 "segments": sorted((out / "wandb").glob("offline-run-*"))}
        result = invoke("run", "--resume", out, "--steps", 40, extra_plugins=logger_plugin("wandb"))
        assert result.exit_code == 0, result.output
    return out, first


def test_wandb_logs_losses_config_and_samples_at_ganzoos_steps(wandb_run):
    out, first = wandb_run
    assert len(first["segments"]) == 1
    logged = offline_run(first["segments"][0])
    run_id = first["run_id"].strip()
    assert (logged["run"].run_id, logged["run"].display_name, logged["run"].project) == (run_id, "run", "ganzoo")
    assert logged["config"]["config"] == first["config"]["config"]
    assert logged["config"]["resolved"] == first["config"]["resolved"]
    rows = [row for row in logged["rows"] if "loss/d" in row]
    assert [(row["step"], row["loss/d"], row["loss/g"]) for row in rows] == losses(out, last=20)
    assert all(row["loss/penalty"] == 0 and row["speed/img_per_s"] > 0 for row in rows)
    # ganzoo's step is every chart's x-axis, so W&B's own _step never has to follow it backwards after a resume.
    assert any(m.glob_name == "*" and m.step_metric == "step" for m in logged["metrics"])
    images = [row for row in logged["rows"] if "samples" in row]
    assert [row["step"] for row in images] == [20]
    assert images[0]["samples"]["_type"] == "image-file"
    picture = Image.open(first["segments"][0] / "files" / images[0]["samples"]["path"])
    assert picture.size == Image.open(out / "samples" / "step_0000020.png").size
    assert picture.mode == "RGB" and np.asarray(picture).std() > 0


def test_a_resumed_run_continues_the_same_wandb_run(wandb_run):
    out, first = wandb_run
    assert (out / "wandb" / "run-id").read_text() == first["run_id"]
    # W&B cannot resume a run offline: the second session is a second offline directory under the same id.
    segments = sorted((out / "wandb").glob("offline-run-*"))
    assert len(segments) == 2 and segments[0] == first["segments"][0]
    logged = offline_run(segments[1])
    assert logged["run"].run_id == first["run_id"].strip()
    assert logged["config"]["config"]["steps"] == 40
    rows = [row for row in logged["rows"] if "loss/d" in row]
    assert [(row["step"], row["loss/d"], row["loss/g"]) for row in rows] == losses(out, first=21)
    assert [row["step"] for row in logged["rows"] if "samples" in row] == [40]


def test_a_wandb_that_cannot_start_is_one_line_saying_how_to_continue(tmp_path, monkeypatch):
    wandb = pytest.importorskip("wandb")

    def no_login(**settings):
        raise wandb.errors.UsageError("No API key configured.\nUse `wandb login` to log in.")

    monkeypatch.setattr(wandb, "init", no_login)  # what online mode without an account does, without the network
    out = tmp_path / "run"
    result = invoke("run", *TINY, "--steps", 10, "--log", "wandb", "--out", out, extra_plugins=logger_plugin("wandb"))
    assert_error_after_progress(result, "--log wandb could not start a W&B run: No API key configured. Use `wandb login`",
                                "WANDB_MODE=offline", f"ganzoo run --resume {out}")
    assert not list(out.glob("samples/*.png"))  # it stopped before training


# --- MLflow ----------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mlflow_run(tmp_path_factory):
    """A 40-step run with ``--log mlflow`` and a metric, interrupted after step 10, then resumed to the end.

    Returns the run directory, a client on its default store (RUN/mlruns), and the stored run id after the
    interruption with that run's status then.
    """
    pytest.importorskip("mlflow")
    from mlflow import MlflowClient

    out = tmp_path_factory.mktemp("mlflow") / "run"
    with pytest.MonkeyPatch.context() as env:
        env.delenv("MLFLOW_TRACKING_URI", raising=False)
        env.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
        # The logger sets MLFLOW_ALLOW_FILE_STORE for its default store; setenv then delenv restores it afterwards.
        env.setenv("MLFLOW_ALLOW_FILE_STORE", "")
        env.delenv("MLFLOW_ALLOW_FILE_STORE")
        plugins = (*logger_plugin("mlflow"), metric_plugin(Scripted([0.25])))
        args = (*TINY, "--steps", 40, "--log", "mlflow", "--metrics", "scripted", "--eval-samples", 8)
        result = invoke("run", *args, "--out", out, extra_plugins=(*plugins, interrupt_after(10)))
        assert result.exit_code == 130, result.output
        client = MlflowClient(tracking_uri=(out / "mlruns").as_uri())
        run_id = (out / "mlflow-run-id").read_text().strip()
        interrupted = client.get_run(run_id).info.status
        result = invoke("run", "--resume", out, extra_plugins=plugins)
        assert result.exit_code == 0, result.output
        yield out, client, run_id, interrupted


def test_mlflow_logs_metrics_params_tags_and_samples(mlflow_run):
    out, client, run_id, _ = mlflow_run
    run = client.get_run(run_id)
    assert run.info.run_name == "run"
    assert client.get_experiment(run.info.experiment_id).name == "ganzoo"
    d_history = sorted((m.step, m.value) for m in client.get_metric_history(run_id, "loss/d"))
    g_history = sorted((m.step, m.value) for m in client.get_metric_history(run_id, "loss/g"))
    assert [step for step, _ in g_history] == [step for step, _ in d_history]
    assert [(s, d, g) for (s, d), (_, g) in zip(d_history, g_history)] == losses(out)
    assert [(m.step, m.value) for m in client.get_metric_history(run_id, "eval/scripted/score")] == [(40, 0.25)]
    params = run.data.params
    assert (params["arch"], params["loss"], params["data"]) == ("dcgan", "bce", "mnist-mini")
    assert params["arch_options.base_width"] == "4" and params["resolved.lr_d"] == "0.0002"
    assert params["resolved.spec.shape"] == "[1, 28, 28]"
    tags = run.data.tags
    assert (tags["arch"], tags["loss"], tags["data"], tags["ganzoo_version"]) == ("dcgan", "bce", "mnist-mini",
                                                                                   ganzoo.__version__)
    images = [a.path for a in client.list_artifacts(run_id, "images") if a.path.endswith(".png")]
    assert sorted(int(path.split("+step+")[1].split("+")[0]) for path in images) == [20, 40]
    picture = Image.open(client.download_artifacts(run_id, images[0], str(out.parent / "downloaded")))
    assert picture.size == Image.open(out / "samples" / "step_0000020.png").size
    config = json.loads(Path(client.download_artifacts(run_id, "config.json", str(out.parent / "config"))).read_text())
    assert config == json.loads((out / "config.json").read_text())


def test_a_resumed_run_continues_the_same_mlflow_run(mlflow_run):
    _, client, run_id, interrupted = mlflow_run
    assert interrupted == "KILLED"  # stopped before its last step
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert [r.info.run_id for r in client.search_runs([run.info.experiment_id])] == [run_id]
    assert [m.step for m in client.get_metric_history(run_id, "loss/d")] == [10, 20, 30, 40]


def test_mlflow_follows_the_users_tracking_uri_and_experiment(tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    from mlflow import MlflowClient

    store = (tmp_path / "store").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "digits")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3's own rule for a user's file store
    out = tmp_path / "run"
    result = invoke("run", *TINY, "--steps", 10, "--log", "mlflow", "--out", out, extra_plugins=logger_plugin("mlflow"))
    assert result.exit_code == 0, result.output
    assert not (out / "mlruns").exists()
    client = MlflowClient(tracking_uri=store)
    run = client.get_run((out / "mlflow-run-id").read_text().strip())
    assert client.get_experiment(run.info.experiment_id).name == "digits"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "loss/d")] == [10]
    # Resumed against another store, the stored run id names no run there: one line, before any training.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "other").as_uri())
    result = invoke("run", "--resume", out, "--steps", 20, extra_plugins=logger_plugin("mlflow"))
    assert_error_after_progress(result, f"--log mlflow could not log to {(tmp_path / 'other').as_uri()}",
                                run.info.run_id, str(out / "mlflow-run-id"), f"ganzoo run --resume {out}")
    assert [r["step"] for r in read_metrics(out)] == [10]


# --- both ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["wandb", "mlflow"])
def test_a_missing_package_is_one_line_before_the_run_directory(tmp_path, monkeypatch, name):
    monkeypatch.setitem(sys.modules, name, None)  # makes "import NAME" raise ImportError
    out = tmp_path / "run"
    result = invoke("run", *TINY, "--steps", 10, "--log", name, "--out", out, extra_plugins=logger_plugin(name))
    assert_one_line_error(result, f"--log {name} needs the {name} package: pip install 'ganzoo[{name}]'")
    assert not out.exists()
