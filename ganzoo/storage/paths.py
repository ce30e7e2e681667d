"""Default locations: the data root and new run directories."""

from __future__ import annotations

import os
import time
from pathlib import Path

#: Environment variable naming the default ``--data-root``.
DATA_ENV = "GANZOO_DATA"


def absolute_path(text: str) -> str:
    """``text`` as an absolute path (``~`` expanded, symlinks kept), so it means the same from any directory."""
    return os.path.abspath(os.path.expanduser(text))


def default_data_root() -> str:
    """``$GANZOO_DATA``, else the per-user cache (``$XDG_CACHE_HOME/ganzoo/data`` or ``~/.cache/ganzoo/data``)."""
    if os.environ.get(DATA_ENV):
        return absolute_path(os.environ[DATA_ENV])
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return os.path.join(cache, "ganzoo", "data")


def default_run_dir(arch: str, loss: str, data: str) -> Path:
    """``runs/<time>-<arch>-<loss>-<data>`` under the current directory."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{stamp}-{arch}-{loss}-{data}"


def cache_root() -> Path:
    """Where ganzoo caches derived files: ``$GANZOO_CACHE``, else ``$XDG_CACHE_HOME/ganzoo``, else ``~/.cache/ganzoo``."""
    if os.environ.get("GANZOO_CACHE"):
        return Path(os.environ["GANZOO_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ganzoo"
