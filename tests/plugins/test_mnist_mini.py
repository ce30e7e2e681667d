"""The embedded ``mnist-mini`` digits and the default run that trains on them (no data root, no network)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import ganzoo
from ganzoo.registry import load_registry
from tests.helpers import assert_one_line_error, invoke


@pytest.fixture(scope="module")
def registry():
    return load_registry()


@pytest.mark.parametrize(("train", "per_class"), [(True, 500), (False, 100)])
def test_mnist_mini_is_class_balanced_real_digits(registry, train, per_class, tmp_path):
    data = registry.dataset("mnist-mini").load(str(tmp_path / "no-such-root"), train=train, download=False)
    assert tuple(data.samples.shape) == (10 * per_class, 1, 28, 28)
    assert np.bincount(data.labels.numpy(), minlength=10).tolist() == [per_class] * 10
    pixels = data.samples.numpy()
    # MNIST digits: mostly black background, strokes reaching full white
    assert (pixels == 0).mean() > 0.7 and pixels.max() == 255


def test_mnist_mini_matches_the_official_files(registry, data_root: Path):
    """The packed digits are MNIST's own: the first 500 per class of the training file, pixel for pixel."""
    raw = data_root / "MNIST" / "raw"
    if not (raw / "train-images-idx3-ubyte").is_file():
        pytest.skip(f"real MNIST not found in {raw}")
    images = np.frombuffer((raw / "train-images-idx3-ubyte").read_bytes(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    labels = np.frombuffer((raw / "train-labels-idx1-ubyte").read_bytes(), np.uint8, offset=8)
    chosen = np.sort(np.concatenate([np.flatnonzero(labels == digit)[:500] for digit in range(10)]))
    data = registry.dataset("mnist-mini").load("unused")
    assert np.array_equal(data.samples.numpy(), images[chosen])
    assert np.array_equal(data.labels.numpy(), labels[chosen])


def test_run_without_options_trains_the_default_run(tmp_path):
    out = tmp_path / "run"
    result = invoke("run", "--steps", 2, "--sample-every", 1, "--out", out)
    assert result.exit_code == 0, result.output
    assert "training the default run: --arch dcgan --loss bce --data mnist-mini" in result.output
    config = json.loads((out / "config.json").read_text())["config"]
    assert (config["arch"], config["loss"], config["data"], config["steps"]) == ("dcgan", "bce", "mnist-mini", 2)
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["step_0000001.png", "step_0000002.png"]


class _OtherDefault:
    """A plugin loaded after the built-ins, so pluggy asks it first."""

    @ganzoo.hookimpl
    def default_run(self):
        return {"arch": "mlp", "loss": "hinge", "data": "ring8", "steps": 1}


def test_a_plugin_can_replace_the_default_run(tmp_path):
    out = tmp_path / "run"
    result = invoke("run", "--out", out, extra_plugins=(_OtherDefault(),))
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())["config"]
    assert (config["arch"], config["loss"], config["data"]) == ("mlp", "hinge", "ring8")


def test_partial_options_still_name_what_is_missing(tmp_path):
    result = invoke("run", "--arch", "dcgan", "--steps", 1, "--out", tmp_path / "run")
    assert_one_line_error(result, "missing --loss, --data")
    assert not (tmp_path / "run").exists()


class _BadDefault:
    @ganzoo.hookimpl
    def default_run(self):
        return {"arch": "mlp", "loss": "bce", "data": "ring8", "stpes": 1}


def test_a_default_run_with_an_unknown_option_is_one_error(tmp_path):
    result = invoke("run", "--out", tmp_path / "run", extra_plugins=(_BadDefault(),))
    assert_one_line_error(result, "default_run hook gave unknown run option(s) 'stpes'", "steps")
    assert not (tmp_path / "run").exists()
