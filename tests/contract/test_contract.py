"""The contract stays honest: every hook is documented and tested, every public class explained."""

from __future__ import annotations

import inspect
from pathlib import Path

import pluggy
import pytest

import ganzoo
from ganzoo.contract import hookspecs

REPO = Path(__file__).resolve().parents[2]
HOOKS = sorted(
    name for name, function in vars(hookspecs).items()
    if callable(function) and hasattr(function, "ganzoo_spec")
)


def test_there_are_hooks():
    assert HOOKS == [
        "default_run", "on_checkpoint", "on_eval", "on_run_end", "on_run_start", "on_step_end",
        "register_architectures", "register_augmentations", "register_datasets", "register_loggers", "register_losses", "register_metrics",
        "register_recipes", "register_regularizers",
    ]


@pytest.mark.parametrize("hook", HOOKS)
def test_plugin_hooks_are_documented(hook):
    assert inspect.getdoc(getattr(hookspecs, hook)), f"hookspec {hook} has no docstring"
    guide = (REPO / "docs" / "plugins.md").read_text()
    assert f"## `{hook}`" in guide, f"docs/plugins.md has no section for {hook}"


@pytest.mark.parametrize("hook", HOOKS)
def test_plugin_hooks_have_tests(hook):
    tests = [path for path in (REPO / "tests").rglob("test_*.py") if path.name != Path(__file__).name]
    assert any(hook in path.read_text() for path in tests), f"Plugin hook is missing tests: {hook}"


def test_public_api_is_what_plugins_code_against():
    for name in ("hookimpl", "Architecture", "Loss", "Dataset", "DataSpec", "GanzooError", "InMemoryDataset",
                 "Metric", "MetricResult", "SampleSource", "EvalContext", "RunContext", "Logger", "RunLogger"):
        assert hasattr(ganzoo, name), name
    assert isinstance(ganzoo.hookimpl, pluggy.HookimplMarker)
    assert ganzoo.hookimpl.project_name == "ganzoo"


@pytest.mark.parametrize("name", ["Architecture", "Loss", "Dataset", "DataSpec", "InMemoryDataset", "GanzooError"])
def test_public_classes_have_docstrings(name):
    cls = getattr(ganzoo, name)
    assert inspect.getdoc(cls)
    for member_name, member in vars(cls).items():
        if callable(member) and not member_name.startswith("_"):
            assert inspect.getdoc(member), f"{name}.{member_name} has no docstring"


def test_dataspec_round_trips_and_rejects_nonsense():
    spec = ganzoo.DataSpec((3, 32, 32), 2, ("cat", "dog"))
    assert ganzoo.DataSpec.from_json(spec.to_json()) == spec
    assert spec.is_image and not ganzoo.DataSpec((2,)).is_image
    with pytest.raises(ValueError):
        ganzoo.DataSpec((3, 0, 32))
    with pytest.raises(ValueError):
        ganzoo.DataSpec((2,), 3, ("a",))


def test_data_spec_modes_round_trip_and_stay_out_of_image_specs():
    spec = ganzoo.DataSpec((2,), 2, ("a", "b"), modes=((0.5, -0.5), (0, 1)))
    assert ganzoo.DataSpec.from_json(spec.to_json()) == spec and spec.modes == ((0.5, -0.5), (0.0, 1.0))
    assert "modes" not in ganzoo.DataSpec((1, 28, 28), 10).to_json()
    with pytest.raises(ValueError, match="modes"):
        ganzoo.DataSpec((3,), modes=((0.0, 1.0),))
