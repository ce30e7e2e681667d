"""Progress of long steps (decoding a dataset, training an evaluator, computing statistics, generating samples).

Plugins and the engine wrap a long step in :func:`progress_task` (or an
iterable in :func:`track`); whatever display is installed shows it: the CLI
and ``ganzoo.train`` install one that draws a progress bar on a terminal and
prints a line at the start and end of each step otherwise. With no display
installed (library use, tests) the calls cost almost nothing and show nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Protocol, TypeVar, runtime_checkable

T = TypeVar("T")


class ProgressTask:
    """One long step in progress; :meth:`advance` it as work is done."""

    def __init__(self, description: str, total: float | None) -> None:
        self.description = description
        self.total = total
        self.completed = 0.0

    def advance(self, amount: float = 1) -> None:
        """Record ``amount`` more units of work done (images decoded, batches, epochs...)."""
        self.completed += amount
        if _display is not None:
            _display.task_advanced(self)


@runtime_checkable
class TaskDisplay(Protocol):
    """What shows long steps: told when a task starts, advances and ends."""

    def task_started(self, task: ProgressTask) -> None: ...

    def task_advanced(self, task: ProgressTask) -> None: ...

    def task_finished(self, task: ProgressTask) -> None: ...


_display: TaskDisplay | None = None


@contextlib.contextmanager
def progress_task(description: str, total: float | None = None) -> Iterator[ProgressTask]:
    """A long step named ``description`` (e.g. ``"decoding CIFAR-10 train"``) of ``total`` units, if known.

    ::

        with ganzoo.progress_task("training the evaluator", total=epochs) as task:
            for epoch in range(epochs):
                ...
                task.advance()
    """
    task = ProgressTask(description, total)
    display = _display
    if display is not None:
        display.task_started(task)
    try:
        yield task
    finally:
        if display is not None:
            display.task_finished(task)


def track(items: Iterable[T], description: str, total: float | None = None) -> Iterator[T]:
    """Yield ``items``, advancing a :func:`progress_task` by one per item (``total`` defaults to ``len(items)``)."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with progress_task(description, total) as task:
        for item in items:
            yield item
            task.advance()


@contextlib.contextmanager
def showing_progress(display: TaskDisplay | None) -> Iterator[TaskDisplay | None]:
    """Install ``display`` for long steps while the block runs (None: show nothing), then restore the previous one."""
    global _display
    previous, _display = _display, display
    try:
        yield display
    finally:
        _display = previous


def current_display() -> TaskDisplay | None:
    """The display long steps are shown on now, if any."""
    return _display
