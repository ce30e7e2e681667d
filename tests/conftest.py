"""Shared fixtures: the real data on disk, and running the CLI in process or as a subprocess."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The real MNIST and CIFAR-10 copies shipped beside the repository."""
    root = Path(os.environ.get("GANZOO_TEST_DATA", SHARED_DATA))
    if not (root / "MNIST" / "raw").is_dir():
        pytest.skip(f"real data not found at {root} (set GANZOO_TEST_DATA)")
    return root


