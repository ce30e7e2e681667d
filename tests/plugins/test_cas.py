"""The ``cas`` metric and the ``classifier`` metric's ``class_accuracy``, on a slice of real MNIST.

Real images stand in for a conditional generator's samples: with their true
labels they are a perfect generator, with every label shifted by one a
generator that ignores the requested class. A 3,000/1,000-image slice keeps
each classifier training to seconds.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import pytest
import torch

from ganzoo import DataSpec, Dataset, EvalContext, GanzooError, InMemoryDataset, SampleSource
from ganzoo.registry import load_registry
from ganzoo.evaluation.sources import TensorSamples
from ganzoo_plugins.metrics import cas
from ganzoo_plugins.metrics.cas import ClassificationAccuracyScore
from ganzoo_plugins.metrics.classifier import Classifier
from ganzoo_plugins.metrics.classifier_net import EvaluatorRecipe

MNIST_SPEC = DataSpec((1, 28, 28), 10, tuple(str(digit) for digit in range(10)))


@functools.lru_cache(maxsize=2)
def _mnist_slice(root: str, train: bool) -> InMemoryDataset:
    full = load_registry().dataset("mnist").load(root, train=train, download=False)
    count = 3000 if train else 1000
    return InMemoryDataset(full.samples[:count], full.labels[:count])


class MNISTSlice(Dataset):
    """The first 3,000 train and 1,000 test images of MNIST."""

    name = "mnist-slice"
    spec = MNIST_SPEC

    def load(self, root, train=True, download=True, **options):
        return _mnist_slice(str(root), bool(train))


class RealAsGenerated(SampleSource):
    """Real images presented as a conditional generator's samples, with the given 'requested' classes."""

    conditional = True

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.spec, self.images, self.labels = MNIST_SPEC, images, labels

    def labeled_batches(self, count: int, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for start in range(0, count, batch_size):
            yield self.images[start : min(start + batch_size, count)], self.labels[start : min(start + batch_size, count)]


@pytest.fixture(scope="module")
def context(data_root, tmp_path_factory) -> EvalContext:
    return EvalContext(dataset=MNISTSlice(), spec=MNIST_SPEC, data_root=str(data_root), download=False,
                       num_samples=1000, batch_size=250, cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def test_images(context) -> tuple[torch.Tensor, torch.Tensor]:
    """1,000 real images the classifiers never train on (the slice's test split), with their labels."""
    return context.split_data("test").batch(torch.arange(1000))


def test_cas_is_registered_through_the_hook():
    found = []
    cas.register_metrics(register=found.append)
    assert [(m.name, m.primary, m.higher_is_better) for m in found] == [("cas", "cas", True)]
    assert "cas" in load_registry().names("metrics")


def test_cas_check_refuses_points_and_unlabelled_images():
    ring8 = load_registry().dataset("ring8")
    with pytest.raises(GanzooError, match=r"metric 'cas' on dataset 'ring8' needs image data"):
        ClassificationAccuracyScore().check(EvalContext(dataset=ring8, spec=ring8.spec, data_root="."))
    faces = type("Faces", (Dataset,), {"name": "faces", "spec": DataSpec((3, 32, 32), 0)})()
    with pytest.raises(GanzooError, match="'faces' needs a dataset with at least 2 classes"):
        ClassificationAccuracyScore().check(EvalContext(dataset=faces, spec=faces.spec, data_root="."))


def test_cas_refuses_an_unconditional_source(context):
    with pytest.raises(GanzooError, match="needs a class-conditional generator"):
        ClassificationAccuracyScore().compute(TensorSamples(torch.zeros(4, 1, 28, 28), MNIST_SPEC), context)


def test_cas_is_high_for_class_faithful_samples_and_low_for_ignored_labels(context):
    train_images, train_labels = context.split_data("train").batch(torch.arange(1000))
    metric = ClassificationAccuracyScore()
    faithful = metric.compute(RealAsGenerated(train_images, train_labels), context)
    ignored = metric.compute(RealAsGenerated(train_images, (train_labels + 1) % 10), context)
    print(f"\nCAS of 1,000 real digits: {faithful.values}; with every label shifted: {ignored.values}")
    assert faithful.values["cas"] > 0.8
    assert ignored.values["cas"] < 0.1
    assert 0 <= faithful.values["cas_worst_class"] <= faithful.values["cas"]
    protocol = faithful.protocol
    assert (protocol["train_samples"], protocol["test_size"], protocol["steps"]) == (1000, 1000, 79)  # ceil(10 * 1000 / 128)
    assert (protocol["classifier"], protocol["optimizer"], protocol["seed"]) == ("small-cnn", "adam", 0)
    assert metric.compute(RealAsGenerated(train_images, train_labels), context).values == faithful.values


def test_class_accuracy_counts_samples_classified_as_requested(context, test_images):
    images, labels = test_images
    metric = Classifier(EvaluatorRecipe(epochs=3))
    faithful = metric.compute(RealAsGenerated(images, labels), context).values
    shifted = metric.compute(RealAsGenerated(images, (labels + 1) % 10), context).values
    unconditional = metric.compute(TensorSamples(images, MNIST_SPEC), context).values
    print(f"\nclass_accuracy of real digits: {faithful['class_accuracy']:.3f}, shifted labels: "
          f"{shifted['class_accuracy']:.3f}")
    assert faithful["class_accuracy"] > 0.8
    assert shifted["class_accuracy"] < 0.15
    assert "class_accuracy" not in unconditional
    # The values an unconditional source has too do not depend on the requested classes.
    assert {k: v for k, v in faithful.items() if k in unconditional} == unconditional
