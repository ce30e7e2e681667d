"""``--log wandb``: losses, throughput, evaluations and sample grids in a Weights & Biases run.

The W&B run is named after the run directory, holds ``config.json`` as its
config, and keeps its local files in ``RUN/wandb/``. W&B reads its own
environment: ``WANDB_MODE`` (``offline`` logs without an account; ``wandb sync``
uploads later), ``WANDB_PROJECT`` (default ``ganzoo``), ``WANDB_ENTITY``,
``WANDB_API_KEY``. Needs the optional extra: ``pip install 'ganzoo[wandb]'``.

Resuming: the W&B run id is kept in ``RUN/wandb/run-id``, and every session
opens that id with ``resume="allow"``, so ``ganzoo run --resume RUN`` continues
the same W&B run. A resumed ganzoo run repeats the steps after its last
checkpoint, so ganzoo's step can go back below one W&B has already seen, while
W&B's own step (``_step``) must only grow. So ganzoo's step is logged as the
metric ``step`` and made every chart's x-axis (``define_metric``), and W&B's
``_step`` simply counts log calls. Repeated steps show up twice, at the same
x; ganzoo's resume is exact, so their values agree.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import torch

import ganzoo
from ganzoo_plugins.callbacks.tracking import (
    grid_to_uint8,
    missing_package,
    store_run_id,
    stored_run_id,
)

#: Where the W&B run id lives, relative to the run directory.
RUN_ID_FILE = Path("wandb") / "run-id"
#: The W&B project when ``WANDB_PROJECT`` is not set.
DEFAULT_PROJECT = "ganzoo"


class WandbRunLogger(ganzoo.RunLogger):
    """Logs one ganzoo run into one W&B run, through that run's object (never the global ``wandb.run``)."""

    def __init__(self, run: ganzoo.RunContext) -> None:
        import wandb

        self.wandb = wandb
        id_path = run.run_dir / RUN_ID_FILE
        run_id = stored_run_id(id_path)
        if run_id is None:
            # Chosen here and stored before W&B starts, so a crash inside wandb.init cannot lose the link.
            run_id = secrets.token_hex(8)
            store_run_id(id_path, run_id)
        try:
            self.run = wandb.init(
                project=os.environ.get("WANDB_PROJECT") or DEFAULT_PROJECT,
                dir=run.run_dir,
                name=run.run_dir.name,
                id=run_id,
                resume="allow",
                config=run.config,
                # Leaves any run the caller's own code has open alone (W&B 0.19.10 and later).
                reinit="create_new",
            )
        except wandb.errors.Error as error:
            reason = " ".join(str(error).split()).rstrip(".")
            raise ganzoo.GanzooError(
                f"--log wandb could not start a W&B run: {reason}; run 'wandb login', or set WANDB_MODE=offline "
                f"to log without an account, then continue with: ganzoo run --resume {run.run_dir}"
            ) from None
        self.run.define_metric("step")
        self.run.define_metric("*", step_metric="step")

    def scalars(self, step: int, values: dict[str, float]) -> None:
        self.run.log({**values, "step": step})

    def images(self, step: int, tag: str, grid: torch.Tensor) -> None:
        self.run.log({tag: self.wandb.Image(grid_to_uint8(grid), caption=f"step {step}"), "step": step})

    def close(self) -> None:
        self.run.finish()


class WandbLogger(ganzoo.Logger):
    """A Weights & Biases run per ganzoo run, continued on resume."""

    name = "wandb"
    description = "a Weights & Biases run, files in RUN/wandb (needs ganzoo[wandb])"

    def check(self) -> None:
        try:
            import wandb  # noqa: F401
        except ImportError:
            raise missing_package("wandb", "wandb") from None

    def open(self, run: ganzoo.RunContext) -> WandbRunLogger:
        return WandbRunLogger(run)


@ganzoo.hookimpl
def register_loggers(register):
    """Register the ``wandb`` logger."""
    register(WandbLogger())
