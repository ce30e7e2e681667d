"""Helpers of the run loop: loss windows, logger fan-out, clean stops on signals."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import torch

from ganzoo.training import StepLosses


class LossWindow:
    """Sums losses on the device between log points, so steps never wait for the device."""

    def __init__(self) -> None:
        self._sums: torch.Tensor | None = None
        self._count = 0
        self._clock = time.perf_counter()
        self._seconds = 0.0

    def add(self, losses: StepLosses) -> None:
        values = torch.stack([losses.discriminator.float(), losses.generator.float(), losses.penalty.float()])
        self._sums = values if self._sums is None else self._sums + values
        self._count += 1

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Exclude the time spent inside (sampling, checkpointing) from throughput."""
        self._seconds += time.perf_counter() - self._clock
        try:
            yield
        finally:
            self._clock = time.perf_counter()

    def flush(self, step: int, samples_per_step: int) -> dict[str, Any]:
        d_loss, g_loss, penalty = (self._sums / self._count).tolist()  # the one device sync per window
        seconds = self._seconds + time.perf_counter() - self._clock
        record = {
            "step": step,
            "d_loss": d_loss,
            "g_loss": g_loss,
            "penalty": penalty,
            "img_per_s": self._count * samples_per_step / seconds if seconds > 0 else None,
            "time": time.time(),
        }
        self._sums, self._count, self._seconds = None, 0, 0.0
        self._clock = time.perf_counter()
        return record


class LoggerFanOut:
    """Fans a run's numbers and sample grids out to the ``--log`` backends."""

    def __init__(self, opened: list[Any]) -> None:
        self.opened = opened

    def losses(self, record: dict[str, Any]) -> None:
        values = {"loss/d": record["d_loss"], "loss/g": record["g_loss"], "loss/penalty": record["penalty"]}
        if record.get("img_per_s"):
            values["speed/img_per_s"] = record["img_per_s"]
        for logger in self.opened:
            logger.scalars(record["step"], values)

    def evaluation(self, step: int, results: dict[str, dict[str, float]]) -> None:
        values = {f"eval/{metric}/{key}": value for metric, numbers in results.items() for key, value in numbers.items()}
        for logger in self.opened:
            logger.scalars(step, values)

    def images(self, step: int, samples: torch.Tensor) -> None:
        if not self.opened or samples.dim() != 4:
            return
        from torchvision.utils import make_grid

        grid = make_grid(samples.clamp(-1, 1).add(1).div(2), nrow=8)
        for logger in self.opened:
            logger.images(step, "samples", grid)

    def close(self) -> None:
        for logger in self.opened:
            logger.close()


@contextlib.contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """First Ctrl-C (or SIGTERM) asks the loop to stop at the next step boundary; a second one aborts."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def request_stop(signum: int, frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
