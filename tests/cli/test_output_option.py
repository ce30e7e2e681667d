"""Every command that writes a result names its output the same way: -o/--out, with --output as an alias."""

from __future__ import annotations

import pytest
from PIL import Image

from tests.helpers import invoke

TOY = ("--arch", "mlp", "--loss", "bce", "--data", "ring8", "--batch-size", "32")


@pytest.mark.parametrize("command", ["run", "sample", "augment", "bench"])
def test_every_writing_command_offers_the_same_spellings(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0, result.output
    assert "-o, --out, --output" in result.output, result.output


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("output") / "run"
    result = invoke("run", *TOY, "--steps", 2, "--out", out)
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("flag", ["-o", "--out", "--output"])
def test_sample_writes_where_any_spelling_says(toy_run, tmp_path, flag):
    target = tmp_path / "points.png"
    result = invoke("sample", toy_run, "-n", 50, flag, target)
    assert result.exit_code == 0, result.output
    assert Image.open(target).size[0] > 0


def test_run_takes_output_too(tmp_path):
    result = invoke("run", *TOY, "--steps", 1, "--output", tmp_path / "run")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / "config.json").is_file()
