"""Tests for the ``classifier`` metric on real MNIST (skipped when ``../shared/data`` is absent).

The evaluator is trained once per test session with the default recipe, in a
session-wide cache directory, so the accuracy asserted here is the one users get.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from ganzoo import DataSpec, Dataset, EvalContext, GanzooError
from ganzoo.registry import load_registry
from ganzoo.evaluation.sources import TensorSamples
from ganzoo_plugins.metrics import classifier
from ganzoo_plugins.metrics.classifier import Classifier, frechet_distance
from ganzoo_plugins.metrics.classifier_net import EvaluatorRecipe

MNIST_SPEC = DataSpec((1, 28, 28), 10, tuple(str(digit) for digit in range(10)))


def test_registered_through_the_hook() -> None:
    found = []
    classifier.register_metrics(register=found.append)
    assert [(m.name, m.primary, m.higher_is_better) for m in found] == [("classifier", "classifier_fid", False)]


# --- the Fréchet distance ----------------------------------------------------


def test_frechet_distance_matches_the_closed_form_for_diagonal_gaussians() -> None:
    rng = torch.Generator().manual_seed(0)
    mean1, mean2 = (torch.randn(6, generator=rng, dtype=torch.float64) for _ in range(2))
    var1, var2 = (torch.rand(6, generator=rng, dtype=torch.float64) + 0.1 for _ in range(2))
    expected = (mean1 - mean2).square().sum() + (var1 + var2 - 2 * (var1 * var2).sqrt()).sum()
    got = frechet_distance(mean1, torch.diag(var1), mean2, torch.diag(var2))
    assert got == pytest.approx(float(expected), rel=1e-9)


def test_frechet_distance_of_full_covariances() -> None:
    rng = torch.Generator().manual_seed(1)
    a, b = torch.randn(5, 5, generator=rng, dtype=torch.float64), torch.randn(5, 5, generator=rng, dtype=torch.float64)
    cov1, cov2 = a @ a.T + 0.1 * torch.eye(5), b @ b.T
    mean = torch.zeros(5)
    assert frechet_distance(mean, cov1, mean, cov1) == pytest.approx(0.0, abs=1e-8)
    # Equal covariances up to a scale c: tr term is (1 + c - 2 sqrt(c)) tr(C).
    assert frechet_distance(mean, cov1, mean, 4 * cov1) == pytest.approx(float(cov1.trace()), rel=1e-9)
    linalg = pytest.importorskip("scipy.linalg")
    root = linalg.sqrtm(cov1.numpy() @ cov2.numpy()).real
    expected = float(cov1.trace() + cov2.trace()) - 2 * root.trace()
    assert frechet_distance(mean, cov1, mean, cov2) == pytest.approx(expected, rel=1e-7)


# --- check() ------------------------------------------------------------------


def _context(dataset: Dataset, spec: DataSpec, **kwargs) -> EvalContext:
    return EvalContext(dataset=dataset, spec=spec, data_root=".", **kwargs)


def test_check_rejects_points_and_unlabelled_images() -> None:
    ring8 = load_registry().dataset("ring8")
    with pytest.raises(GanzooError, match=r"needs image data .* 'ring8' has samples of shape \(2,\)"):
        Classifier().check(_context(ring8, ring8.spec))
    unlabelled = DataSpec((3, 32, 32), 0)
    with pytest.raises(GanzooError, match="at least 2 classes; 'faces' has 0"):
        Classifier().check(_context(type("Faces", (Dataset,), {"name": "faces", "spec": unlabelled})(), unlabelled))
    Classifier().check(_context(Dataset(), MNIST_SPEC))  # accepted


def test_cache_key_changes_with_recipe_options_and_dataset(tmp_path) -> None:
    mnist = load_registry().dataset("mnist")
    base = _context(mnist, MNIST_SPEC, cache_dir=tmp_path)
    directory = Classifier().cache_directory(base)
    assert directory.parent == tmp_path / "classifier" and directory.name.startswith("mnist-")
    assert Classifier().cache_directory(base) == directory
    assert Classifier(EvaluatorRecipe(seed=1)).cache_directory(base) != directory
    assert Classifier(EvaluatorRecipe(epochs=3)).cache_directory(base) != directory
    with_options = _context(mnist, MNIST_SPEC, cache_dir=tmp_path, data_options={"x": 1})
    assert Classifier().cache_directory(with_options) != directory


# --- on real MNIST --------------------------------------------------------------


@pytest.fixture(scope="session")
def mnist_test(data_root):
    return load_registry().dataset("mnist").load(str(data_root), train=False, download=False)


@pytest.fixture(scope="session")
def mnist_context(data_root, tmp_path_factory) -> EvalContext:
    mnist = load_registry().dataset("mnist")
    return EvalContext(
        dataset=mnist, spec=mnist.spec, data_root=str(data_root), download=False,
        cache_dir=tmp_path_factory.mktemp("cache"), ref_split="train", batch_size=500,
    )  # fmt: skip


@pytest.fixture(scope="session")
def trained(mnist_context, mnist_test):
    """The first compute: trains and caches the evaluator, on all 10,000 real test images."""
    metric = Classifier()
    images, _ = mnist_test.batch(torch.arange(len(mnist_test)))
    result = metric.compute(TensorSamples(images, mnist_context.spec), mnist_context)
    assert metric.trainings == 1
    return result


def _evaluate(images: torch.Tensor, context: EvalContext):
    context = dataclasses.replace(context, num_samples=len(images))
    return Classifier().compute(TensorSamples(images, context.spec), context)


def test_real_test_images_look_like_the_data(trained, mnist_context) -> None:
    values, protocol = trained.values, trained.protocol
    print(f"\nreal MNIST test images: {values}; evaluator {protocol['evaluator_test_accuracy']:.4f} accuracy, "
          f"trained in {protocol['evaluator_train_seconds']} s")  # fmt: skip
    assert protocol["evaluator_test_accuracy"] >= 0.98
    assert values["modes_covered"] == 10
    assert 0 <= values["class_kl"] < 0.05
    assert values["mean_confidence"] > 0.95
    assert 0 <= values["classifier_fid"] < 3.0  # 1.1 measured; 1000 threes score ~860
    assert protocol["num_samples"] == 10_000
    assert (protocol["reference_split"], protocol["reference_size"]) == ("train", 60_000)
    assert protocol["coverage_threshold"] == pytest.approx(0.01)
    assert protocol["feature_dim"] == 128 and protocol["evaluator_recipe_hash"] == EvaluatorRecipe().digest()
    directory = Classifier().cache_directory(mnist_context)
    assert sorted(p.name for p in directory.iterdir()) == ["evaluator.safetensors", "reference-train.safetensors"]


def test_the_cached_evaluator_is_reused(trained, mnist_context, mnist_test) -> None:
    directory = Classifier().cache_directory(mnist_context)
    mtimes = {p.name: p.stat().st_mtime_ns for p in directory.iterdir()}
    metric = Classifier()
    images, _ = mnist_test.batch(torch.arange(1000))
    context = dataclasses.replace(mnist_context, num_samples=1000)
    result = metric.compute(TensorSamples(images, context.spec), context)
    assert metric.trainings == 0
    assert {p.name: p.stat().st_mtime_ns for p in directory.iterdir()} == mtimes
    assert result.protocol["evaluator_test_accuracy"] == trained.protocol["evaluator_test_accuracy"]


def test_one_digit_is_one_mode_far_from_the_data(trained, mnist_context, mnist_test) -> None:
    real = _evaluate(mnist_test.samples[:1000].float() / 127.5 - 1, mnist_context).values
    threes = mnist_test.samples[mnist_test.labels == 3][:1000].float() / 127.5 - 1
    assert len(threes) == 1000
    values = _evaluate(threes, mnist_context).values
    print(f"\n1000 real images: {real}\n1000 threes: {values}")
    assert values["modes_covered"] == 1
    assert values["class_kl"] > 1.5
    assert math.log(10) - values["class_kl"] < 0.15  # KL of a point mass against ~uniform is about log 10
    assert values["classifier_fid"] > 5 * real["classifier_fid"]


def test_noise_is_far_from_the_data(trained, mnist_context, mnist_test) -> None:
    real = _evaluate(mnist_test.samples[:1000].float() / 127.5 - 1, mnist_context).values
    noise = torch.rand(1000, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    values = _evaluate(noise, mnist_context).values
    print(f"\n1000 noise images: {values}")
    assert values["classifier_fid"] > 20 * real["classifier_fid"]
    assert values["mean_confidence"] <= 1.0


def test_reference_statistics_are_cached_per_split(trained, mnist_context, mnist_test) -> None:
    context = dataclasses.replace(mnist_context, ref_split="test")
    result = _evaluate(mnist_test.samples[:1000].float() / 127.5 - 1, context)
    assert (result.protocol["reference_split"], result.protocol["reference_size"]) == ("test", 10_000)
    assert (Classifier().cache_directory(context) / "reference-test.safetensors").is_file()
