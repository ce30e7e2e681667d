"""``--log mlflow``: losses, throughput, evaluations and sample grids in an MLflow run.

The tracking server is ``MLFLOW_TRACKING_URI`` when set, else a file store in
``RUN/mlruns`` (``mlflow ui --backend-store-uri RUN/mlruns`` shows it; MLflow 3
wants ``MLFLOW_ALLOW_FILE_STORE=true`` for file stores, which ganzoo sets for its
own default). The experiment is ``MLFLOW_EXPERIMENT_NAME``, default ``ganzoo``.
The run is named after the run directory; its params are the flattened user
options and resolved values of ``config.json`` (which is also logged whole, as
an artifact), its tags the architecture, loss, dataset and ganzoo version.
Needs the optional extra: ``pip install 'ganzoo[mlflow]'``.

Resuming: the MLflow run id is kept in ``RUN/mlflow-run-id``, and a resumed
ganzoo run logs into the same MLflow run. MLflow params cannot change, so they
keep the first session's values (e.g. the first ``--steps``); the
``config.json`` artifact is replaced by the current one.

Everything goes through an explicit ``MlflowClient`` and run id, never
MLflow's global active run, so ganzoo does not clash with the caller's own
MLflow runs in the same process.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

import torch

import ganzoo
from ganzoo_plugins.callbacks.tracking import (
    grid_to_uint8,
    missing_package,
    store_run_id,
    stored_run_id,
)

RUN_ID_FILE = "mlflow-run-id"
DEFAULT_EXPERIMENT = "ganzoo"
#: Longer param values are cut: 500 characters is what every MLflow backend since 1.28 accepts.
MAX_PARAM_LENGTH = 500
#: MLflow takes at most 100 params in one log_batch call.
PARAMS_PER_BATCH = 100
# MLflow keys may hold alphanumerics, _ - . / and spaces (colons too, except on Windows).
_NOT_IN_KEY = re.compile(r"[^\w./\- ]")


def tracking_uri(run_dir: Path) -> str:
    """``MLFLOW_TRACKING_URI`` if the user set it, else a file store in ``RUN/mlruns``."""
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    # MLflow 3 refuses file stores unless this is set; a user's explicit "false" still wins.
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    return (run_dir / "mlruns").resolve().as_uri()


def mlflow_key(name: str) -> str:
    """``name`` with the characters MLflow rejects in metric and param keys replaced by ``_``."""
    return _NOT_IN_KEY.sub("_", name)


def config_params(config: dict[str, Any]) -> dict[str, str]:
    """The user options (``arch``, ``arch_options.base_width``, ...) and resolved values (``resolved.lr_d``, ...)
    of a ``config.json``, flattened to MLflow params: strings, JSON for the rest, long values cut."""
    return {**_flat(config.get("config", {}), ""), **_flat(config.get("resolved", {}), "resolved.")}


def _flat(values: dict[str, Any], prefix: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for key, value in values.items():
        name = mlflow_key(prefix + str(key))
        if isinstance(value, dict) and value:
            params.update(_flat(value, name + "."))
            continue
        text = value if isinstance(value, str) else json.dumps(value)
        params[name] = text if len(text) <= MAX_PARAM_LENGTH else text[:MAX_PARAM_LENGTH - 3] + "..."
    return params


class MlflowRunLogger(ganzoo.RunLogger):
    """Logs one ganzoo run into one MLflow run."""

    def __init__(self, run: ganzoo.RunContext) -> None:
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException

        uri = tracking_uri(run.run_dir)
        self.total_steps, self.last_step = run.total_steps, run.start_step
        id_path = run.run_dir / RUN_ID_FILE
        try:
            self.client = MlflowClient(tracking_uri=uri)
            self.run_id = stored_run_id(id_path)
            if self.run_id is None:
                self.run_id = self._create_run(run)
                store_run_id(id_path, self.run_id)
                logged: dict[str, str] = {}
            else:
                logged = self.client.get_run(self.run_id).data.params
                self.client.update_run(self.run_id, status="RUNNING")
            self._log_config(run.config, logged)
        except MlflowException as error:
            reason = " ".join(str(error).split()).rstrip(".")
            raise ganzoo.GanzooError(
                f"--log mlflow could not log to {uri}: {reason}; check MLFLOW_TRACKING_URI (this run's MLflow run id "
                f"is kept in {id_path}; delete it to start a new MLflow run), then continue with: "
                f"ganzoo run --resume {run.run_dir}"
            ) from None

    def _create_run(self, run: ganzoo.RunContext) -> str:
        name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or DEFAULT_EXPERIMENT
        experiment = self.client.get_experiment_by_name(name)
        experiment_id = experiment.experiment_id if experiment else self.client.create_experiment(name)
        options = run.config.get("config", {})
        tags = {key: str(options[key]) for key in ("arch", "loss", "data") if options.get(key) is not None}
        tags["ganzoo_version"] = str(run.config.get("versions", {}).get("ganzoo", ganzoo.__version__))
        return self.client.create_run(experiment_id, run_name=run.run_dir.name, tags=tags).info.run_id

    def _log_config(self, config: dict[str, Any], logged: dict[str, str]) -> None:
        from mlflow.entities import Param

        # Params never change in MLflow: a resumed run adds only the keys its first session did not have.
        new = [Param(key, value) for key, value in config_params(config).items() if key not in logged]
        for start in range(0, len(new), PARAMS_PER_BATCH):
            self.client.log_batch(self.run_id, params=new[start:start + PARAMS_PER_BATCH])
        self.client.log_dict(self.run_id, config, "config.json")

    def scalars(self, step: int, values: dict[str, float]) -> None:
        from mlflow.entities import Metric

        timestamp = int(time.time() * 1000)
        metrics = [Metric(mlflow_key(key), float(value), timestamp, step) for key, value in values.items()]
        self.client.log_batch(self.run_id, metrics=metrics)
        self.last_step = max(self.last_step, step)

    def images(self, step: int, tag: str, grid: torch.Tensor) -> None:
        # key + step: stored as images/<tag>+step+<step>+..., shown with a step slider in the MLflow UI.
        self.client.log_image(self.run_id, grid_to_uint8(grid), key=mlflow_key(tag), step=step)

    def close(self) -> None:
        # Every run logs its last step, so a run that stopped early (Ctrl-C, an error) is marked KILLED.
        self.client.set_terminated(self.run_id, "FINISHED" if self.last_step >= self.total_steps else "KILLED")


class MlflowLogger(ganzoo.Logger):
    """An MLflow run per ganzoo run, continued on resume."""

    name = "mlflow"
    description = "an MLflow run, tracked at MLFLOW_TRACKING_URI or in RUN/mlruns (needs ganzoo[mlflow])"

    def check(self) -> None:
        try:
            from mlflow import MlflowClient  # noqa: F401
        except ImportError:
            raise missing_package("mlflow", "mlflow") from None

    def open(self, run: ganzoo.RunContext) -> MlflowRunLogger:
        return MlflowRunLogger(run)


@ganzoo.hookimpl
def register_loggers(register):
    """Register the ``mlflow`` logger."""
    register(MlflowLogger())
