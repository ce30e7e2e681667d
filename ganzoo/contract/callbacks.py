"""What run-lifecycle hooks receive: :class:`RunContext`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganzoo.contract.components import DataSpec


@dataclass
class RunContext:
    """A training run as lifecycle hooks see it.

    Attributes:
        run_dir: the run directory.
        config: the content of ``config.json`` (user options, resolved
            values, versions, plugins).
        spec: the dataset's spec.
        total_steps: the step the run trains to.
        start_step: the step it started (or resumed) from.
        generator, discriminator: the live networks. Hooks may read them
            (e.g. to log sample images) but must not change them, or runs
            stop being reproducible.
        device: where the networks live.
    """

    run_dir: Path
    config: dict[str, Any]
    spec: DataSpec
    total_steps: int
    start_step: int
    generator: nn.Module
    discriminator: nn.Module
    device: torch.device


class RunLogger:
    """One run's connection to a logging backend, returned by :meth:`Logger.open`."""

    def scalars(self, step: int, values: dict[str, float]) -> None:
        """Log named numbers at ``step``: ``loss/d``, ``loss/g``, ``loss/penalty``,
        ``speed/img_per_s`` every ``--log-every`` steps, ``eval/<metric>/<value>`` after evaluations."""

    def images(self, step: int, tag: str, grid: torch.Tensor) -> None:
        """Log an image grid ``(3, H, W)`` with values in ``[0, 1]`` (the fixed-noise samples)."""

    def close(self) -> None:
        """Flush and release the backend; called once when the run stops."""


class Logger:
    """An opt-in logging backend (TensorBoard, Weights & Biases, ...), enabled with ``--log NAME``.

    Attributes:
        name: the kebab-case name users pass to ``--log``.
        description: one line shown by ``ganzoo list-plugins``.
    """

    name: str = ""
    description: str = ""

    def check(self) -> None:
        """Raise ``GanzooError`` if the backend cannot work here (e.g. its package is missing).

        Called before the run directory is created. The default accepts.
        """

    def open(self, run: RunContext) -> RunLogger:
        """Start logging ``run`` (e.g. create a writer under ``run.run_dir``)."""
        raise NotImplementedError
