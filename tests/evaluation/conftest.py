"""Fixtures shared by the sampling tests."""

from __future__ import annotations

import pytest

from tests.helpers import invoke


@pytest.fixture(scope="session")
def mnist_run(tmp_path_factory, data_root):
    """A DCGAN trained for 2 steps on real MNIST, at a tiny width: a generator to sample from."""
    out = tmp_path_factory.mktemp("sample") / "run"
    result = invoke("run", "--arch", "dcgan", "--loss", "bce", "--data", "mnist", "--data-root", data_root,
                    "--steps", 2, "--batch-size", 16, "--arch-option", "base_width=8", "--out", out)
    assert result.exit_code == 0, result.output
    return out
