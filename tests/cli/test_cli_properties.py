"""Property tests: no bad ``ganzoo run`` value gets past the one-line error.

Every input here is one ganzoo must refuse: a non-positive, non-finite or
unrepresentably large number, an unknown component name, a path it cannot
read or write, or an image size the architecture cannot make. The property is
always the same: exit code 2, exactly one ``Error:`` line, no traceback, and no
run directory. Hypothesis runs derandomized, so the inputs are the same on
every run.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from PIL import Image

from ganzoo.compute.devices import resolve_device
from ganzoo.errors import GanzooError
from ganzoo.compute.precision import CHOICES as PRECISION_CHOICES
from ganzoo.registry import load_registry
from tests.helpers import assert_one_line_error, invoke

TOY = ("--arch", "mlp", "--loss", "bce", "--data", "ring8")
EXAMPLES = settings(max_examples=30, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
INT64_MAX = 2**63 - 1
NON_FINITE = ["nan", "NaN", "inf", "-inf", "Infinity", "1e999", "-1e999"]


def refused(*args: object, setup: Callable[[Path], list] | None = None) -> str:
    """Run ``ganzoo run ARGS`` in a fresh directory and check the one-line refusal; returns the line.

    ``setup(tmp)`` may prepare files and return more arguments (a bad
    ``--out``, a bad ``--data-root``); without ``--out`` among them the run
    goes to ``tmp/run``. Nothing under the directory may be created or changed.
    """
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        extra = [str(arg) for arg in setup(tmp)] if setup else []
        if "--out" not in extra:
            extra += ["--out", str(tmp / "run")]
        before = snapshot(tmp)
        line = assert_one_line_error(invoke("run", *args, *extra))
        assert snapshot(tmp) == before, f"something was written for {args} {extra}"
        return line


def snapshot(directory: Path) -> list[tuple]:
    """Every file and folder under ``directory``, with the files' sizes and times."""
    entries = []
    for path in sorted(directory.rglob("*")):
        stat = path.stat()
        entries.append((str(path.relative_to(directory)), path.is_dir() or (stat.st_size, stat.st_mtime_ns)))
    return entries


def number_text(value: float | int) -> str:
    """A number as a user would type it."""
    return repr(value) if isinstance(value, float) else str(value)


@EXAMPLES
@given(
    option=st.sampled_from(["--steps", "--batch-size", "--n-critic", "--latent-dim", "--sample-every",
                            "--checkpoint-every", "--log-every", "--eval-samples"]),
    value=st.integers(max_value=0),
)
def test_non_positive_counts_are_refused(option, value):
    refused(*TOY, option, value, *([] if option == "--steps" else ["--steps", 1]))


@EXAMPLES
@given(
    option=st.sampled_from(["--steps", "--batch-size", "--latent-dim", "--seed"]),
    value=st.integers(min_value=INT64_MAX + 1, max_value=10**40),
)
def test_unrepresentably_large_counts_are_refused(option, value):
    refused(*TOY, option, value, *([] if option == "--steps" else ["--steps", 1]))


@EXAMPLES
@given(value=st.integers(min_value=50_001, max_value=10**30))
def test_batches_larger_than_the_dataset_are_refused(value):
    line = refused(*TOY, "--batch-size", value, "--steps", 1)
    assert "--batch-size" in line


@EXAMPLES
@given(value=st.integers(max_value=-1) | st.integers(min_value=2**32))
def test_seeds_outside_32_bits_are_refused(value):
    line = refused(*TOY, "--seed", value, "--steps", 1)
    assert "--seed" in line


@EXAMPLES
@given(
    option=st.sampled_from(["--lr-g", "--lr-d", "--epochs", "--grad-clip", "--max-minutes"]),
    value=st.floats(max_value=0.0, allow_nan=False).map(number_text) | st.sampled_from(NON_FINITE),
)
def test_non_positive_or_non_finite_reals_are_refused(option, value):
    steps = [] if option == "--epochs" else ["--steps", 1]
    refused(*TOY, f"{option}={value}", *steps)


@EXAMPLES
@given(value=st.floats(min_value=1e17, allow_infinity=False, allow_nan=False))
def test_epochs_beyond_the_step_limit_are_refused(value):
    refused(*TOY, "--epochs", number_text(value))


@EXAMPLES
@given(betas=st.text(max_size=12).filter(lambda t: _valid_betas(t) is False))
def test_bad_betas_are_refused(betas):
    refused(*TOY, f"--betas={betas}", "--steps", 1)


def _valid_betas(text: str) -> bool:
    try:
        first, second = (float(part) for part in text.split(","))
    except ValueError:
        return False
    return 0 <= first < 1 and 0 <= second < 1


REGISTRY = load_registry()
KNOWN = {"--arch": set(REGISTRY.names("architectures")), "--loss": set(REGISTRY.names("losses")),
         "--data": set(REGISTRY.names("datasets")), "--log": set(REGISTRY.names("loggers")),
         "--metrics": set(REGISTRY.names("metrics")), "--precision": set(PRECISION_CHOICES)}


@EXAMPLES
@given(option=st.sampled_from(["--arch", "--loss", "--data"]), name=st.text(max_size=20))
def test_unknown_component_names_are_refused(option, name):
    assume(name not in KNOWN[option])
    values = {"--arch": "mlp", "--loss": "bce", "--data": "ring8", option: name}
    refused(*[f"{flag}={value}" for flag, value in values.items()], "--steps", 1)


@EXAMPLES
@given(option=st.sampled_from(["--log", "--metrics", "--device", "--precision"]), name=st.text(min_size=1, max_size=20))
def test_unknown_backends_metrics_devices_and_precisions_are_refused(option, name):
    if option == "--device":
        assume(not _usable_device(name))
    else:
        names = [part.strip() for part in name.split(",") if part.strip()] if option != "--precision" else [name]
        assume(not all(part in KNOWN[option] for part in names))
    refused(*TOY, f"{option}={name}", "--steps", 1)


def _usable_device(name: str) -> bool:
    try:
        resolve_device(name)
    except GanzooError:
        return False
    return True


PATH_KINDS = ["missing", "file", "empty-dir", "nul", "too-long"]
NAMES = st.text(st.characters(codec="ascii", exclude_characters="/\x00"), min_size=1, max_size=12)


@EXAMPLES
@given(kind=st.sampled_from(PATH_KINDS), name=NAMES)
def test_unreadable_data_roots_are_refused(kind, name):
    refused("--arch", "mlp", "--loss", "bce", "--data", "mnist", "--no-download", "--steps", 1,
            setup=lambda tmp: ["--data-root", bad_path(tmp, kind, name)])


OUT_KINDS = ["under-file", "file", "nul", "too-long", "proc", "existing-run"]


@EXAMPLES
@given(kind=st.sampled_from(OUT_KINDS), name=NAMES)
def test_unwritable_outputs_are_refused(kind, name):
    refused(*TOY, "--steps", 1, setup=lambda tmp: ["--out", bad_path(tmp, kind, name)])


def bad_path(tmp: Path, kind: str, name: str) -> str:
    """A path of the given kind that ganzoo cannot read data from or write a run to."""
    file = tmp / "a-file"
    file.write_text("not a directory")
    if kind == "missing":
        return str(tmp / "missing" / name)
    if kind == "file":
        return str(file)
    if kind == "under-file":
        return str(file / name)
    if kind == "empty-dir":
        (tmp / "empty").mkdir()
        return str(tmp / "empty")
    if kind == "nul":
        return str(tmp / f"{name}\x00x")
    if kind == "too-long":
        return str(tmp / (name * 300)[:300])
    if kind == "proc":
        return f"/proc/ganzoo-no-such-dir/{name}"
    if kind == "existing-run":
        out = tmp / "existing"
        assert invoke("run", *TOY, "--steps", 1, "--arch-option", "generator_widths=8", "--out", out).exit_code == 0
        return str(out)
    raise AssertionError(kind)


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    """A tiny image folder (two classes of two 8x8 images) for image-size properties."""
    root = tmp_path_factory.mktemp("folder")
    for label in ("a", "b"):
        (root / label).mkdir()
        for index in range(2):
            Image.new("RGB", (8, 8), (index * 100, 50, 200)).save(root / label / f"{index}.png")
    return root


@EXAMPLES
@given(size=st.integers(min_value=-5, max_value=10**6).filter(lambda s: s not in (28, 32, 64)))
def test_image_sizes_dcgan_cannot_make_are_refused(image_folder, size):
    refused("--arch", "dcgan", "--loss", "bce", "--data", "folder", "--data-root", image_folder,
            "--data-option", f"size={size}", "--batch-size", 2, "--steps", 1)


@EXAMPLES
@given(
    option=st.sampled_from(["generator_widths", "discriminator_widths"]),
    widths=st.lists(st.integers(max_value=0) | st.integers(min_value=10**9, max_value=10**30), min_size=1, max_size=3)
    | st.just([]),
)
def test_network_widths_the_machine_cannot_hold_are_refused(option, widths):
    refused(*TOY, "--arch-option", f"{option}={','.join(map(str, widths))}", "--steps", 1)

