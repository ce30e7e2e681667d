"""What run-lifecycle hooks receive: :class:`RunContext`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganzoo.contract import DataSpec


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
