"""The Python API for notebooks and scripts: train, load a generator and sample, evaluate, list plugins.

The CLI is a thin layer over these functions. Everything here is re-exported
from ``ganzoo`` itself (``ganzoo.train``, ``ganzoo.load_generator``, ...) and
documented in docs/python-api.md. The modules behind them import the engine,
so they are loaded on first use: ``import ganzoo`` stays light for plugins.
"""

from __future__ import annotations

from typing import Any


def train(*args: Any, **kwargs: Any) -> Any:
    """Train a GAN with the options of ``ganzoo run``; see :func:`ganzoo.api.training.train`."""
    from ganzoo.api.training import train as train_run

    return train_run(*args, **kwargs)


def load_generator(*args: Any, **kwargs: Any) -> Any:
    """A saved generator as an ``nn.Module`` with ``sample(n)``; see :func:`ganzoo.api.generators.load_generator`."""
    from ganzoo.api.generators import load_generator as load

    return load(*args, **kwargs)


def evaluate(*args: Any, **kwargs: Any) -> Any:
    """Score a run or generator file with metrics; see :func:`ganzoo.api.evaluation.evaluate`."""
    from ganzoo.api.evaluation import evaluate as score

    return score(*args, **kwargs)


def list_plugins(*args: Any, **kwargs: Any) -> Any:
    """Installed components by kind; see :func:`ganzoo.api.plugins.list_plugins`."""
    from ganzoo.api.plugins import list_plugins as listed

    return listed(*args, **kwargs)


def list_recipes(*args: Any, **kwargs: Any) -> Any:
    """Installed recipes with their settings; see :func:`ganzoo.api.plugins.list_recipes`."""
    from ganzoo.api.plugins import list_recipes as listed

    return listed(*args, **kwargs)


__all__ = ["evaluate", "list_plugins", "list_recipes", "load_generator", "train"]
