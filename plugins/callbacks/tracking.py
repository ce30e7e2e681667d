"""What the experiment-tracker loggers (``--log wandb``, ``--log mlflow``) share.

A tracker's run id is kept in a small file in the ganzoo run directory, so that
``ganzoo run --resume RUN`` continues the same tracker run; sample grids become
``uint8`` arrays that both libraries accept.
"""

from __future__ import annotations

from pathlib import Path

import torch

import ganzoo


def missing_package(option: str, package: str) -> ganzoo.GanzooError:
    """The one-line error for a ``--log`` backend whose package is not installed."""
    return ganzoo.GanzooError(f"--log {option} needs the {package} package: pip install 'ganzoo[{option}]'")


def stored_run_id(path: Path) -> str | None:
    """The tracker run id kept in ``path``, or None when there is none yet (an empty file counts as none)."""
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None


def store_run_id(path: Path, run_id: str) -> None:
    """Keep ``run_id`` in ``path`` (atomically: a crash leaves the old file or the new one, never half)."""
    ganzoo.write_text_atomic(path, run_id + "\n")


def grid_to_uint8(grid: torch.Tensor):
    """A ``(3, H, W)`` grid in ``[0, 1]`` as an ``(H, W, 3)`` ``uint8`` numpy array."""
    return grid.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
