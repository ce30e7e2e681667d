"""Property tests for ``sample``, ``eval``, ``bench`` and ``augment``: every bad value is one ``Error:`` line.

The same property as tests/cli/test_cli_properties.py checks for ``run``: exit
code 2, exactly one ``Error:`` line, no traceback, and nothing written where
the command was pointed. Hypothesis runs derandomized.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.cli.test_cli_properties import NAMES, NON_FINITE, REGISTRY, number_text, snapshot
from tests.helpers import assert_one_line_error, invoke

EXAMPLES = settings(max_examples=15, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
OUT_KINDS = ["under-file", "nul", "too-long", "proc", "dev-null"]
METRICS = set(REGISTRY.names("metrics"))


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("toy") / "run"
    assert invoke("run", "--arch", "mlp", "--loss", "bce", "--data", "ring8", "--steps", 1, "--out", out).exit_code == 0
    return out


def refused(*args: object, setup: Callable[[Path], list] | None = None) -> str:
    """Run ``ganzoo ARGS`` (plus what ``setup(tmp)`` returns) and check the refusal; nothing in tmp may change."""
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        extra = [str(arg) for arg in setup(tmp)] if setup else []
        before = snapshot(tmp)
        line = assert_one_line_error(invoke(*args, *extra))
        assert snapshot(tmp) == before, f"something was written for {args} {extra}"
        return line


def bad_out(tmp: Path, kind: str, name: str, suffix: str = "") -> str:
    """An output path no command can write to."""
    file = tmp / "a-file"
    file.write_text("not a directory")
    return {
        "under-file": str(file / f"{name}{suffix}"),
        "nul": str(tmp / f"{name}\x00x{suffix}"),
        "too-long": str(tmp / ((name * 300)[:300] + suffix)),
        "proc": f"/proc/ganzoo-no-such-dir/{name}{suffix}",
        "dev-null": f"/dev/null/{name}{suffix}",
    }[kind]


# ---------------------------------------------------------------- sample

@EXAMPLES
@given(option=st.sampled_from(["-n", "--batch-size"]), value=st.integers(max_value=0))
def test_sample_refuses_non_positive_counts(toy_run, option, value):
    refused("sample", toy_run, option, value, setup=lambda tmp: ["-o", tmp / "x.png"])


@EXAMPLES
@given(kind=st.sampled_from(OUT_KINDS), name=NAMES, suffix=st.sampled_from([".png", ".safetensors", "/"]))
def test_sample_refuses_unwritable_outputs(toy_run, kind, name, suffix):
    refused("sample", toy_run, "-n", 4, setup=lambda tmp: ["-o", bad_out(tmp, kind, name, suffix)])


@EXAMPLES
@given(suffix=st.text(st.characters(codec="ascii", exclude_characters="/\x00."), min_size=1, max_size=6))
def test_sample_refuses_outputs_of_unknown_form(toy_run, suffix):
    assume(suffix.lower() not in ("png", "safetensors"))
    refused("sample", toy_run, setup=lambda tmp: ["-o", tmp / f"x.{suffix}"])


@EXAMPLES
@given(command=st.sampled_from(["sample", "eval"]), value=st.integers(max_value=-1) | st.integers(min_value=2**32))
def test_sample_and_eval_refuse_seeds_outside_32_bits(toy_run, command, value):
    def options(tmp: Path) -> list:
        return ["-o", tmp / "x.png"] if command == "sample" else ["--metrics", "modes"]

    refused(command, toy_run, "--seed", value, setup=options)


@EXAMPLES
@given(value=st.integers(min_value=10**12, max_value=10**30))
def test_sample_refuses_sample_counts_that_cannot_fit(toy_run, value):
    refused("sample", toy_run, "-n", value, setup=lambda tmp: ["-o", tmp / "x.safetensors"])


# ---------------------------------------------------------------- eval

@EXAMPLES
@given(names=st.text(min_size=1, max_size=20))
def test_eval_refuses_unknown_metrics(toy_run, names):
    parts = [part.strip() for part in names.split(",") if part.strip()]
    assume(not parts or not all(part in METRICS for part in parts))
    refused("eval", toy_run, f"--metrics={names}", "--num-samples", 10)


@EXAMPLES
@given(option=st.sampled_from(["--num-samples", "--batch-size"]), value=st.integers(max_value=0))
def test_eval_refuses_non_positive_counts(toy_run, option, value):
    refused("eval", toy_run, "--metrics", "modes", option, value)


@EXAMPLES
@given(kind=st.sampled_from(["missing", "not-a-checkpoint", "nul", "empty-dir"]), name=NAMES)
def test_eval_refuses_sources_that_are_not_generators(kind, name):
    def source(tmp: Path) -> list:
        path = {"missing": tmp / "missing" / name, "nul": tmp / f"{name}\x00", "empty-dir": tmp,
                "not-a-checkpoint": tmp / "a-file"}[kind]
        (tmp / "a-file").write_text("not a checkpoint")
        return [path, "--metrics", "modes"]
    refused("eval", setup=source)


# ---------------------------------------------------------------- bench

BENCH = ("bench", "--arch", "mlp", "--loss", "bce", "--data", "ring8")


@EXAMPLES
@given(option=st.sampled_from(["--steps", "--eval-samples", "--batch-size", "--log-every", "--nproc-per-cell"]),
       value=st.integers(max_value=0))
def test_bench_refuses_non_positive_counts(option, value):
    refused(*BENCH, option, value, *([] if option == "--steps" else ["--steps", 1]),
            setup=lambda tmp: ["--out", tmp / "sweep"])


@EXAMPLES
@given(value=st.floats(max_value=0.0, allow_nan=False).map(number_text) | st.sampled_from(NON_FINITE))
def test_bench_refuses_bad_minutes(value):
    refused(*BENCH, f"--minutes={value}", setup=lambda tmp: ["--out", tmp / "sweep"])


@EXAMPLES
@given(option=st.sampled_from(["--arch", "--loss", "--data"]), name=st.text(min_size=1, max_size=20))
def test_bench_refuses_unknown_names(option, name):
    known = {"--arch": "architectures", "--loss": "losses", "--data": "datasets"}[option]
    parts = [part.strip() for part in name.split(",") if part.strip()]
    assume(not parts or not all(part in REGISTRY.names(known) for part in parts))
    values = {"--arch": "mlp", "--loss": "bce", "--data": "ring8", option: name}
    refused("bench", *[f"{flag}={value}" for flag, value in values.items()], "--steps", 1,
            setup=lambda tmp: ["--out", tmp / "sweep"])


@EXAMPLES
@given(seeds=st.text(max_size=10) | st.integers(max_value=-1).map(str) | st.integers(min_value=2**32).map(str))
def test_bench_refuses_seeds_that_are_not_32_bit_integers(seeds):
    try:
        assume(not all(0 <= int(part) < 2**32 for part in seeds.split(",")))
    except ValueError:
        pass
    refused(*BENCH, "--steps", 1, f"--seeds={seeds}", setup=lambda tmp: ["--out", tmp / "sweep"])


@EXAMPLES
@given(kind=st.sampled_from(OUT_KINDS), name=NAMES)
def test_bench_refuses_unwritable_outputs(kind, name):
    refused(*BENCH, "--steps", 1, setup=lambda tmp: ["--out", bad_out(tmp, kind, name)])


# ---------------------------------------------------------------- augment

@EXAMPLES
@given(option=st.sampled_from(["--steps", "--batch-size", "--synthetic-per-class"]), value=st.integers(max_value=0))
def test_augment_refuses_non_positive_counts(conditional_run, data_root, option, value):
    refused("augment", conditional_run, "--data", "mnist", "--data-root", data_root, option, value)


@EXAMPLES
@given(value=st.floats(allow_nan=True).filter(lambda v: not 0 < v <= 1).map(number_text))
def test_augment_refuses_real_fractions_outside_0_1(conditional_run, data_root, value):
    refused("augment", conditional_run, "--data", "mnist", "--data-root", data_root, f"--real-fraction={value}")


@EXAMPLES
@given(value=st.floats(max_value=0.0, allow_nan=False).map(number_text) | st.sampled_from(NON_FINITE))
def test_augment_refuses_bad_learning_rates(conditional_run, data_root, value):
    assume(value not in ("inf", "Infinity", "1e999"))
    refused("augment", conditional_run, "--data", "mnist", "--data-root", data_root, f"--lr={value}")


@EXAMPLES
@given(kind=st.sampled_from(OUT_KINDS), name=NAMES)
def test_augment_refuses_unwritable_outputs(conditional_run, data_root, kind, name):
    refused("augment", conditional_run, "--data", "mnist", "--data-root", data_root, "--steps", 1,
            setup=lambda tmp: ["--out", bad_out(tmp, kind, name, ".json")])
