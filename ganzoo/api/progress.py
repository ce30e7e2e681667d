"""Showing progress: the training bar (step, losses, ETA, latest evaluation, last checkpoint) and long steps.

On a terminal (or a notebook) one rich display holds the training bar and a
transient bar for each long step (:func:`ganzoo.progress_task`); elsewhere
(a log file, CI) every event is one plain line.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from ganzoo.contract.progress import ProgressTask


def _format(record: dict[str, Any]) -> str:
    if "eval" in record:
        return f"eval: {_eval_values(record)}" + (" (best so far)" if record.get("best") else "")
    speed = record.get("img_per_s")
    speed_text = f"{speed:,.0f} img/s" if speed else "- img/s"
    penalty = f"  penalty {record['penalty']:.4f}" if record.get("penalty") else ""
    return f"D {record['d_loss']:.4f}  G {record['g_loss']:.4f}{penalty}  {speed_text}"


def _eval_values(record: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v:.4g}" for result in record["eval"].values() for k, v in result.items())


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds + 0.5), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}"


class ProgressDisplay:
    """Progress bar with step, D loss, G loss, penalty, img/s and ETA, the latest evaluation and the last
    checkpoint, plus a bar per long step (plain log lines when not a terminal).

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
        self._latest_eval = ""
        self._deadline: float | None = None  # with --max-minutes: when the budget runs out
        self._last_checkpoint = ""
        self._steps: dict[int, tuple[TaskID | None, float]] = {}  # long steps: id(task) -> (bar, start time)

    # -- the training run (the Reporter protocol) --

    def announce(self, run_dir: Path) -> None:
        """Say where the run is written, before training starts."""
        self._print(f"run directory: {run_dir}")

    def start(self, total_steps: int, start_step: int) -> None:
        self._total, self._start_step, self._started = total_steps, start_step, time.monotonic()
        if not self.console.is_terminal:
            self._print(f"training from step {start_step} to {total_steps}")
            return
        self._task = self._live().add_task("step", total=total_steps, completed=start_step, losses="", eta="ETA -",
                                           notes="")

    def time_budget(self, seconds: float) -> None:
        """``--max-minutes``: the session ends after ``seconds`` of training, whatever its step count."""
        self._deadline = time.monotonic() + seconds

    def eta(self, step: int) -> str:
        """The estimated time to the end: to the last step at the average pace of this session so far,
        or to the end of the time budget if that comes first."""
        now = time.monotonic()
        budget = max(0.0, self._deadline - now) if self._deadline is not None else None
        done = step - self._start_step
        if done <= 0:
            return _duration(budget) if budget is not None else "-"
        by_steps = (now - self._started) / done * (self._total - step)
        return _duration(by_steps if budget is None else min(by_steps, budget))

    def log(self, record: dict[str, Any]) -> None:
        line = f"step {record['step']}/{self._total}  {_format(record)}"
        if "eval" in record:
            self._latest_eval = f"eval@{record['step']}: {_eval_values(record)}"
        if self._task is None:
            if "eval" not in record:
                line += f"  ETA {self.eta(record['step'])}"
            self._print(line)
            return
        if "eval" in record:
            self._print(line)
            self._update_notes()
            return
        self._progress.update(self._task, completed=record["step"], losses=_format(record),
                              eta=f"ETA {self.eta(record['step'])}")

    def checkpointed(self, step: int, path: Path) -> None:
        """A checkpoint of ``step`` was just written to ``path``."""
        self._last_checkpoint = f"checkpoint@{step}"
        if self._task is None:
            self._print(f"step {step}/{self._total}  checkpoint written: {path}")
        else:
            self._update_notes()

    def finish(self) -> None:
        if self._task is not None:
            self._progress.remove_task(self._task)
            self._task = None
        self._stop_if_idle()

    # -- long steps (the TaskDisplay protocol) --

    def task_started(self, task: ProgressTask) -> None:
        bar = None
        if self.console.is_terminal:
            bar = self._live().add_task(task.description, total=task.total, losses="", eta="", notes="")
        else:
            self._print(f"{task.description}...")
        self._steps[id(task)] = (bar, time.monotonic())

    def task_advanced(self, task: ProgressTask) -> None:
        bar, _ = self._steps.get(id(task), (None, 0.0))
        if bar is not None and self._progress is not None:
            self._progress.update(bar, completed=task.completed)

    def task_finished(self, task: ProgressTask) -> None:
        bar, started = self._steps.pop(id(task), (None, time.monotonic()))
        if bar is not None and self._progress is not None:
            self._progress.remove_task(bar)
            self._stop_if_idle()
        else:
            self._print(f"{task.description}: done in {time.monotonic() - started:.1f} s")

    # -- the rich display --

    def _live(self) -> Progress:
        if self._progress is None:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                MofNCompleteColumn(),
                BarColumn(),
                TextColumn("{task.fields[losses]}", markup=False),
                TimeElapsedColumn(),
                TextColumn("{task.fields[eta]}", markup=False),
                TextColumn("{task.fields[notes]}", markup=False),
                console=self.console,
            )
            self._progress.start()
        return self._progress

    def _update_notes(self) -> None:
        notes = "  ".join(text for text in (self._latest_eval, self._last_checkpoint) if text)
        self._progress.update(self._task, notes=notes)

    def _stop_if_idle(self) -> None:
        if self._progress is not None and not self._progress.task_ids:
            self._progress.stop()
            self._progress = None

    def _print(self, line: str) -> None:
        self.console.print(line, highlight=False, markup=False, soft_wrap=True)
