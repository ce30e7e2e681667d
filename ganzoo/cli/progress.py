"""Showing a run's progress: a rich progress bar on a terminal, plain lines otherwise."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


def _format(record: dict[str, Any]) -> str:
    if "eval" in record:
        values = ", ".join(f"{k} {v:.4g}" for result in record["eval"].values() for k, v in result.items())
        return f"eval: {values}" + (" (best so far)" if record.get("best") else "")
    speed = record.get("img_per_s")
    speed_text = f"{speed:,.0f} img/s" if speed else "- img/s"
    return f"D {record['d_loss']:.4f}  G {record['g_loss']:.4f}  {speed_text}"


class RichReporter:
    """Progress bar with step, D loss, G loss, img/s and ETA (plain log lines when not a terminal)."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self._progress: Progress | None = None
        self._task: Any = None
        self._total = 0

    def start(self, total_steps: int, start_step: int) -> None:
        self._total = total_steps
        if not self.console.is_terminal:
            self.console.print(f"training from step {start_step} to {total_steps}")
            return
        self._progress = Progress(
            TextColumn("[bold]step"),
            MofNCompleteColumn(),
            BarColumn(),
            TextColumn("{task.fields[losses]}", markup=False),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
        )
        self._progress.start()
        self._task = self._progress.add_task("train", total=total_steps, completed=start_step, losses="")

    def log(self, record: dict[str, Any]) -> None:
        if self._progress is None:
            self.console.print(f"step {record['step']}/{self._total}  {_format(record)}", highlight=False, markup=False)
            return
        if "eval" in record:
            self.console.print(f"step {record['step']}  {_format(record)}", highlight=False, markup=False)
            return
        self._progress.update(self._task, completed=record["step"], losses=_format(record))

    def finish(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
