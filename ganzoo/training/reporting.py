"""What a run reports while it trains (a :class:`Reporter`) and how it ended (a :class:`RunOutcome`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


class Reporter(Protocol):
    """Receives progress: the CLI shows a progress bar, library users may pass their own.

    A reporter may also have ``announce(run_dir)``, called with the run directory before training
    starts, ``checkpointed(step, path)``, called after each periodic checkpoint, and
    ``time_budget(seconds)``, called when ``--max-minutes`` bounds the session; reporters without
    them work unchanged.
    """

    def start(self, total_steps: int, start_step: int) -> None: ...

    def log(self, record: dict[str, Any]) -> None: ...

    def finish(self) -> None: ...


class SilentReporter:
    """A reporter that shows nothing."""

    def start(self, total_steps: int, start_step: int) -> None:
        pass

    def log(self, record: dict[str, Any]) -> None:
        pass

    def finish(self) -> None:
        pass


@dataclass
class RunOutcome:
    """How a run ended."""

    run_dir: Path
    step: int
    total_steps: int
    interrupted: bool
    last_record: dict[str, Any] | None = None
    signal: int | None = None  # the signal that interrupted the run (SIGINT or SIGTERM)
    records: list[dict[str, Any]] = field(default_factory=list)
