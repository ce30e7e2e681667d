"""``--log tensorboard``: losses, throughput, evaluations and sample grids as TensorBoard events.

Events go to ``RUN/tensorboard/``; view them with ``tensorboard --logdir RUN``.
Needs the optional extra: ``pip install 'ganzoo[tensorboard]'``.
"""

from __future__ import annotations

import torch

import ganzoo


class TensorBoardRunLogger(ganzoo.RunLogger):
    """Writes one run's events through ``torch.utils.tensorboard.SummaryWriter``."""

    def __init__(self, run: ganzoo.RunContext) -> None:
        from torch.utils.tensorboard import SummaryWriter

        # purge_step drops events a resumed run is about to write again.
        self.writer = SummaryWriter(log_dir=str(run.run_dir / "tensorboard"), purge_step=run.start_step or None)

    def scalars(self, step: int, values: dict[str, float]) -> None:
        for tag, value in values.items():
            self.writer.add_scalar(tag, value, step)

    def images(self, step: int, tag: str, grid: torch.Tensor) -> None:
        self.writer.add_image(tag, grid, step)

    def close(self) -> None:
        self.writer.close()


class TensorBoardLogger(ganzoo.Logger):
    """TensorBoard event files under the run directory."""

    name = "tensorboard"
    description = "TensorBoard events in RUN/tensorboard (needs ganzoo[tensorboard])"

    def check(self) -> None:
        try:
            import torch.utils.tensorboard  # noqa: F401
        except ImportError:
            raise ganzoo.GanzooError(
                "--log tensorboard needs the tensorboard package: pip install 'ganzoo[tensorboard]'"
            ) from None

    def open(self, run: ganzoo.RunContext) -> TensorBoardRunLogger:
        return TensorBoardRunLogger(run)


@ganzoo.hookimpl
def register_loggers(register):
    """Register the ``tensorboard`` logger."""
    register(TensorBoardLogger())
