"""A real third-party plugin package, installed with pip and driven through the CLI.

The example package ``docs/examples/ganzoo-example-plugin`` is copied to a
temporary directory (building writes ``build/`` and ``*.egg-info`` beside the
sources) and installed with ``pip install --target`` into another one. The
CLI runs in subprocesses with that directory on ``PYTHONPATH``, so
``importlib.metadata`` discovers the package's ``ganzoo`` entry point just as
it would in site-packages, while the test environment itself never changes.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

import ganzoo
from ganzoo.storage.checkpoint import read_generator
from ganzoo.registry import load_registry
from ganzoo_plugins.losses.divergence import NonSaturatingLoss
from tests.helpers import assert_one_line_error, read_metrics, run_cli

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "docs" / "examples" / "ganzoo-example-plugin"
MODULE = "ganzoo_example_plugin.plugin"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PROVENANCE = {"plugin": "example", "distribution": "ganzoo-example-plugin", "version": "0.1.0"}


@pytest.fixture(scope="module")
def site_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example package, built and installed into a fresh directory (no network)."""
    work = tmp_path_factory.mktemp("example-plugin")
    source = work / "src"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__"))
    site = work / "site"
    command = [
        sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
        "--disable-pip-version-check", "--quiet", "--target", str(site), str(source),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (site / "ganzoo_example_plugin-0.1.0.dist-info").is_dir(), sorted(p.name for p in site.iterdir())
    return site


@pytest.fixture(scope="module")
def env(site_dir: Path) -> dict[str, str]:
    """Environment additions that make the installed package visible to a subprocess."""
    paths = [str(site_dir), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {"PYTHONPATH": os.pathsep.join(paths)}


@pytest.fixture(scope="module")
def example_module(site_dir: Path) -> ModuleType:
    """The installed plugin module, imported in this process.

    The install directory is on ``sys.path`` only while importing, so the
    in-process registries of other tests never discover the entry point.
    """
    sys.path.insert(0, str(site_dir))
    try:
        importlib.invalidate_caches()
        module = importlib.import_module(MODULE)
    finally:
        sys.path.remove(str(site_dir))
    yield module
    for name in [name for name in sys.modules if name.split(".")[0] == "ganzoo_example_plugin"]:
        del sys.modules[name]


@pytest.fixture(scope="module")
def example_run(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, Path]:
    """A 30-step run made only of the example's components."""
    out = tmp_path_factory.mktemp("example-run") / "run"
    result = run_cli(
        "run", "--arch", "tiny-mlp", "--loss", "bce-smooth", "--data", "line2d",
        "--steps", 30, "--log-every", 10, "--out", out, env=env,
    )
    return result, out


# Through the CLI, in fresh processes ----------------------------------------------------


def test_list_plugins_shows_the_installed_distribution(env):
    result = run_cli("list-plugins", "--json", env=env)
    assert result.returncode == 0, result.stderr
    plugins = {plugin["name"]: plugin for plugin in json.loads(result.stdout)}
    example = plugins["example"]
    assert example["module"] == MODULE
    assert example["distribution"] == "ganzoo-example-plugin"
    assert example["version"] == "0.1.0"
    assert example["builtin"] is False
    assert example["errors"] == []
    assert example["hooks"] == ["register_architectures", "register_datasets", "register_losses"]
    for kind, name in (("losses", "bce-smooth"), ("architectures", "tiny-mlp"), ("datasets", "line2d")):
        assert [item["name"] for item in example[kind]] == [name]
        assert example[kind][0]["description"].strip()
    assert plugins["mlp"]["builtin"] is True  # the built-ins still load beside it
    clashes = [error for plugin in plugins.values() for error in plugin["errors"]
               if any(name in error for name in ("bce-smooth", "tiny-mlp", "line2d"))]
    assert clashes == []


def test_the_test_process_itself_does_not_see_the_plugin(site_dir):
    registry = load_registry(environ={})
    assert "example" not in [plugin.name for plugin in registry.plugins]
    assert "bce-smooth" not in registry.names("losses")


def test_run_with_only_example_components(example_run):
    result, out = example_run
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"finished step 30/30: {out}" in result.stdout

    config = json.loads((out / "config.json").read_text())
    assert (config["config"]["arch"], config["config"]["loss"], config["config"]["data"]) == ("tiny-mlp", "bce-smooth", "line2d")
    assert config["plugins"] == {
        "architectures": {"name": "tiny-mlp", **PROVENANCE},
        "losses": {"name": "bce-smooth", **PROVENANCE},
        "datasets": {"name": "line2d", **PROVENANCE},
    }
    assert config["resolved"]["arch_options"] == {"width": 64}
    assert config["resolved"]["spec"] == {"shape": [2], "num_classes": 1, "class_names": ["line"]}
    assert config["resolved"]["dataset_size"] == 2000

    records = read_metrics(out)
    assert [record["step"] for record in records] == [10, 20, 30]
    for record in records:
        assert math.isfinite(record["d_loss"]) and math.isfinite(record["g_loss"]), record
        assert record["d_loss"] > 0 and record["g_loss"] > 0, record  # both are sums of softplus terms
        assert record["penalty"] == 0

    tensors, generator = read_generator(out / "checkpoints" / "generator.safetensors")
    assert generator.arch == "tiny-mlp" and generator.step == 30
    assert generator.extra["loss"] == "bce-smooth" and generator.extra["data"] == "line2d"
    assert {tuple(t.shape) for t in tensors.values()} == {(64, 100), (64,), (2, 64), (2,)}


def test_sample_rebuilds_the_third_party_architecture(example_run, env, tmp_path):
    _, out = example_run
    png = tmp_path / "s.png"
    result = run_cli("sample", out, "-n", 16, "-o", png, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    data = png.read_bytes()
    assert data[:8] == PNG_MAGIC
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width > 100 and height > 100, (width, height)  # a real plot, not an empty file


def test_builtin_architecture_trains_with_the_third_party_loss(env, tmp_path):
    out = tmp_path / "mixed"
    result = run_cli(
        "run", "--arch", "mlp", "--loss", "bce-smooth", "--data", "ring8",
        "--steps", 5, "--batch-size", 32, "--data-option", "num_samples=1000", "--out", out, env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    config = json.loads((out / "config.json").read_text())
    assert config["plugins"]["losses"] == {"name": "bce-smooth", **PROVENANCE}
    assert config["plugins"]["architectures"]["plugin"] == "mlp"
    assert config["plugins"]["architectures"]["distribution"] == "ganzoo"
    [record] = read_metrics(out)
    assert record["step"] == 5 and math.isfinite(record["d_loss"]) and math.isfinite(record["g_loss"])


def test_pinned_plugins_leave_the_third_party_loss_out(env, tmp_path):
    out = tmp_path / "pinned"
    pinned = {**env, "GANZOO_PLUGINS": "mlp,divergence-losses,toy-mixtures"}
    result = run_cli(
        "run", "--arch", "mlp", "--loss", "bce-smooth", "--data", "ring8", "--steps", 5, "--out", out, env=pinned,
    )
    assert_one_line_error(result, "'bce-smooth'", "Valid choices: bce, minimax, mse.")
    assert not out.exists()


def test_pinning_the_example_loads_it_and_only_the_builtin_run_callbacks(env):
    result = run_cli("list-plugins", "--json", env={**env, "GANZOO_PLUGINS": "example"})
    assert result.returncode == 0, result.stderr
    assert [plugin["name"] for plugin in json.loads(result.stdout)] == ["example", "loss-plot", "run-summary"]


# In process: the components against their definitions ----------------------------------


def _bce_smooth_reference(real: torch.Tensor, fake: torch.Tensor, smoothing: float) -> tuple[torch.Tensor, torch.Tensor]:
    # Written with sigmoid/log on purpose, independent of the plugin's softplus form.
    target = 1 - smoothing
    d_real = -(target * torch.log(torch.sigmoid(real)) + (1 - target) * torch.log(1 - torch.sigmoid(real))).mean()
    d_fake = -torch.log(1 - torch.sigmoid(fake)).mean()
    g = -torch.log(torch.sigmoid(fake)).mean()
    return d_real + d_fake, g


def test_bce_smooth_matches_its_formula(example_module):
    loss = example_module.SmoothedBCELoss()
    assert loss.name == "bce-smooth" and loss.smoothing == 0.1 and loss.defaults == {}
    generator = torch.Generator().manual_seed(0)
    real = torch.randn(64, generator=generator, dtype=torch.float64) * 3
    fake = torch.randn(48, generator=generator, dtype=torch.float64) * 3
    expected_d, expected_g = _bce_smooth_reference(real, fake, 0.1)
    torch.testing.assert_close(loss.discriminator_loss(real, fake), expected_d)
    torch.testing.assert_close(loss.generator_loss(fake), expected_g)
    assert loss.penalty(lambda x: x, real, fake) == 0.0


def test_bce_smooth_targets_0_9_on_real_samples(example_module):
    loss = example_module.SmoothedBCELoss()
    # The real term is minimised where sigmoid(real) = 0.9, not at +infinity.
    real = torch.full((8,), math.log(0.9 / 0.1), dtype=torch.float64, requires_grad=True)
    loss.discriminator_loss(real, torch.zeros(8, dtype=torch.float64)).backward()
    torch.testing.assert_close(real.grad, torch.zeros(8, dtype=torch.float64))


def test_bce_smooth_without_smoothing_is_the_builtin_bce(example_module):
    real, fake = torch.tensor([-2.0, 0.5, 3.0]), torch.tensor([1.0, -4.0])
    plain = NonSaturatingLoss()
    unsmoothed = example_module.SmoothedBCELoss(smoothing=0.0)
    torch.testing.assert_close(unsmoothed.discriminator_loss(real, fake), plain.discriminator_loss(real, fake))
    torch.testing.assert_close(unsmoothed.generator_loss(fake), plain.generator_loss(fake))


def test_bce_smooth_stays_finite_for_extreme_logits(example_module):
    loss = example_module.SmoothedBCELoss()
    extreme = torch.tensor([-200.0, 200.0])
    assert torch.isfinite(loss.discriminator_loss(extreme, extreme))
    assert torch.isfinite(loss.generator_loss(extreme))


def test_in_process_registration_without_installing(example_module):
    registry = load_registry(extra_plugins=[example_module], environ={"GANZOO_PLUGINS": "mlp"})
    [plugin] = [p for p in registry.plugins if p.name == MODULE]
    assert plugin.errors == [] and plugin.distribution is None
    assert isinstance(registry.loss("bce-smooth"), ganzoo.Loss)
    assert registry.names("architectures") == ["mlp", "tiny-mlp"]
    assert registry.names("datasets") == ["line2d"]


@pytest.mark.parametrize("shape", [(2,), (1, 8, 8)])
def test_tiny_mlp_builds_for_any_shape(example_module, shape):
    spec = ganzoo.DataSpec(shape)
    generator, discriminator = example_module.TinyMLPArchitecture().build(spec, latent_dim=16, width=8)
    samples = generator(torch.randn(5, 16) * 10)
    assert samples.shape == (5, *shape) and samples.abs().max() <= 1
    assert discriminator(samples).shape == (5,)


def test_tiny_mlp_rejects_a_bad_width(example_module):
    with pytest.raises(ganzoo.GanzooError, match="width"):
        example_module.TinyMLPArchitecture().build(ganzoo.DataSpec((2,)), latent_dim=4, width=0)


def test_line2d_is_deterministic_and_on_the_segment(example_module):
    dataset = example_module.Line2DDataset()
    train = dataset.load("unused-root")
    again = dataset.load("unused-root")
    test = dataset.load("unused-root", train=False)
    assert len(train) == len(test) == 2000
    assert torch.equal(train.samples, again.samples)
    assert not torch.equal(train.samples, test.samples)
    points, labels = train.batch(torch.arange(2000))
    assert points.shape == (2000, 2) and points.dtype == torch.float32
    assert torch.equal(labels, torch.zeros(2000, dtype=torch.long))
    # Distance to the diagonal is |x - y| / sqrt(2): noise only, std 0.02.
    distance = (points[:, 0] - points[:, 1]).abs() / math.sqrt(2)
    assert distance.max() < 0.1 and 0.01 < distance.mean() < 0.03
    along = points.sum(dim=1) / 2
    assert along.min() > -0.9 and along.max() < 0.9 and along.min() < -0.75 and along.max() > 0.75
    assert dataset.spec == ganzoo.DataSpec((2,), 1, ("line",))
