"""Showing a run's progress: a rich progress bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def _format(record: dict[str, Any]) -> str:
    if "eval" in record:
        values = ", ".join(f"{k} {v:.4g}" for result in record["eval"].values() for k, v in result.items())
        return f"eval: {values}" + (" (best so far)" if record.get("best") else "")
    speed = record.get("img_per_s")
    speed_text = f"{speed:,.0f} img/s" if speed else "- img/s"
    penalty = f"  penalty {record['penalty']:.4f}" if record.get("penalty") else ""
    return f"D {record['d_loss']:.4f}  G {record['g_loss']:.4f}{penalty}  {speed_text}"


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds + 0.5), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}"


class RichReporter:
    """Progress bar with step, D loss, G loss, penalty, img/s and ETA (plain log lines when not a terminal).

    The ETA is the average time per step since this session started (evaluations and checkpoints
    included, since they recur), so it is known from the first logged step and does not vanish while
    an evaluation runs, as a recent-rate estimate does.
    """

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self._progress: Progress | None = None
        self._task: Any = None
        self._total = 0
        self._start_step = 0
        self._started = 0.0

    def announce(self, run_dir: Path) -> None:
        """Say where the run is written, before training starts."""
        self.console.print(f"run directory: {run_dir}", highlight=False, markup=False, soft_wrap=True)

    def start(self, total_steps: int, start_step: int) -> None:
        self._total, self._start_step, self._started = total_steps, start_step, time.monotonic()
        if not self.console.is_terminal:
            self.console.print(f"training from step {start_step} to {total_steps}", highlight=False)
            return
        self._progress = Progress(
            TextColumn("[bold]step"),
            MofNCompleteColumn(),
            BarColumn(),
            TextColumn("{task.fields[losses]}", markup=False),
            TimeElapsedColumn(),
            TextColumn("ETA {task.fields[eta]}", markup=False),
            console=self.console,
        )
        self._progress.start()
        self._task = self._progress.add_task("train", total=total_steps, completed=start_step, losses="", eta="-")

    def eta(self, step: int) -> str:
        """The estimated time to the last step, from the average pace of this session so far."""
        done = step - self._start_step
        if done <= 0:
            return "-"
        return _duration((time.monotonic() - self._started) / done * (self._total - step))

    def log(self, record: dict[str, Any]) -> None:
        line = f"step {record['step']}/{self._total}  {_format(record)}"
        if self._progress is None:
            if "eval" not in record:
                line += f"  ETA {self.eta(record['step'])}"
            self.console.print(line, highlight=False, markup=False, soft_wrap=True)
            return
        if "eval" in record:
            self.console.print(line, highlight=False, markup=False, soft_wrap=True)
            return
        self._progress.update(self._task, completed=record["step"], losses=_format(record), eta=self.eta(record["step"]))

    def finish(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
