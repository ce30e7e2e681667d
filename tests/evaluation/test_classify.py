"""The core classifiers and their fixed-budget trainer (ganzoo.evaluation.classifier_nets, ganzoo.evaluation.classify), and the
pure parts of ganzoo.evaluation.augment: stratified subsets and the summary over seeds."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ganzoo import DataSpec, GanzooError
from ganzoo.evaluation.augment import DIFFERENCE, AugmentSettings, stratified_subset, summarize
from ganzoo.evaluation.classifier_nets import SmallCNN, make_classifier
from ganzoo.evaluation.classify import TrainingBudget, batch_indices, classifier_accuracy, class_correct_counts, train_classifier
from ganzoo.contract.tensordata import InMemoryDataset

MNIST_LIKE = DataSpec((1, 28, 28), 10)
CIFAR_LIKE = DataSpec((3, 32, 32), 10)


@pytest.mark.parametrize("name", ["small-cnn", "resnet18"])
@pytest.mark.parametrize("spec", [MNIST_LIKE, CIFAR_LIKE, DataSpec((3, 28, 28), 4)])
def test_classifiers_map_images_to_class_logits(name, spec):
    net = make_classifier(name, spec).eval()
    with torch.no_grad():
        assert net(torch.zeros(2, *spec.shape)).shape == (2, spec.num_classes)


def test_resnet18_has_a_small_image_stem():
    net = make_classifier("resnet18", MNIST_LIKE)
    assert (net.conv1.in_channels, net.conv1.kernel_size, net.conv1.stride) == (1, (3, 3), (1, 1))
    assert isinstance(net.maxpool, nn.Identity)
    assert net.fc.out_features == 10


def test_small_cnn_keeps_the_evaluator_layout():
    # The classifier metric caches EvaluatorNet weights by these names.
    keys = set(SmallCNN((1, 28, 28), 10).state_dict())
    assert keys == {"body.0.weight", "body.0.bias", "body.3.weight", "body.3.bias", "body.7.weight", "body.7.bias",
                    "head.weight", "head.bias"}


def test_classifiers_refuse_what_they_cannot_classify():
    with pytest.raises(GanzooError, match="unknown classifier 'resnet'. Did you mean 'resnet18'"):
        make_classifier("resnet", MNIST_LIKE)
    with pytest.raises(GanzooError, match=r"needs image data .* shape \(2,\)"):
        make_classifier("small-cnn", DataSpec((2,), 8))
    with pytest.raises(GanzooError, match="at least 2 classes; this one has 0"):
        make_classifier("small-cnn", DataSpec((3, 32, 32), 0))
    with pytest.raises(GanzooError, match="at least 4x4 pixels"):
        make_classifier("small-cnn", DataSpec((1, 2, 2), 2))


def test_batch_indices_are_full_batches_of_successive_shuffles():
    batches = list(batch_indices(10, 4, 5, torch.Generator().manual_seed(0)))
    assert [len(b) for b in batches] == [4] * 5
    stream = torch.cat(batches)
    assert sorted(stream[:10].tolist()) == list(range(10))  # the first pass sees every sample once
    again = torch.cat(list(batch_indices(10, 4, 5, torch.Generator().manual_seed(0))))
    assert torch.equal(stream, again)
    assert [len(b) for b in batch_indices(3, 8, 2, torch.Generator().manual_seed(0))] == [3, 3]


def _two_blobs(count: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    labels = torch.arange(count) % 2
    images = (labels.float() * 2 - 1).view(-1, 1, 1, 1).expand(count, 1, 8, 8).clone()
    images += 0.1 * torch.randn(images.shape, generator=torch.Generator().manual_seed(0))
    return images.clamp(-1, 1), labels


def test_training_learns_and_is_a_function_of_the_seed():
    spec = DataSpec((1, 8, 8), 2)
    images, labels = _two_blobs()
    budget = TrainingBudget(steps=30, batch_size=16, learning_rate=3e-3)
    before = torch.random.get_rng_state()
    first = train_classifier("small-cnn", spec, images, labels, budget, seed=3, device=torch.device("cpu"))
    assert torch.equal(torch.random.get_rng_state(), before)  # the caller's RNG is untouched
    second = train_classifier("small-cnn", spec, images, labels, budget, seed=3, device=torch.device("cpu"))
    other = train_classifier("small-cnn", spec, images, labels, budget, seed=4, device=torch.device("cpu"))
    assert not first.training
    for (name, a), (_, b), (_, c) in zip(first.state_dict().items(), second.state_dict().items(),
                                         other.state_dict().items()):
        assert torch.equal(a, b), name
    assert any(not torch.equal(a, c) for a, c in zip(first.state_dict().values(), other.state_dict().values()))
    data = InMemoryDataset(images, labels)
    assert classifier_accuracy(first, data, 10, torch.device("cpu")) == 1.0
    correct, total = class_correct_counts(first, data, 10, torch.device("cpu"), num_classes=3)
    assert total.tolist() == [32, 32, 0] and correct.tolist() == [32, 32, 0]


def test_bad_budgets_and_empty_training_sets_are_user_errors():
    with pytest.raises(GanzooError, match="at least 1 step"):
        TrainingBudget(steps=0)
    with pytest.raises(GanzooError, match="learning rate must be positive"):
        TrainingBudget(learning_rate=0)
    with pytest.raises(GanzooError, match="0 images"):
        train_classifier("small-cnn", MNIST_LIKE, torch.zeros(0, 1, 28, 28), torch.zeros(0), TrainingBudget(), 0,
                         torch.device("cpu"))


def test_stratified_subset_keeps_every_class_in_proportion():
    labels = torch.tensor([0] * 100 + [1] * 50 + [2] * 3)
    chosen = stratified_subset(labels, 0.1, 3, seed=0)
    assert torch.bincount(labels[chosen], minlength=3).tolist() == [10, 5, 1]  # at least one of each class
    assert torch.equal(chosen, stratified_subset(labels, 0.1, 3, seed=0))
    assert not torch.equal(chosen, stratified_subset(labels, 0.1, 3, seed=1))
    assert torch.equal(stratified_subset(labels, 1.0, 3, seed=5), torch.arange(len(labels)))


def test_summary_gives_mean_sample_std_and_the_paired_difference():
    rows = [{"seed": seed, "setting": setting, "accuracy": value, "train_size": size}
            for seed, setting, value, size in [
                (0, "real", 0.80, 100), (0, "real+synthetic", 0.85, 200), (0, "synthetic", 0.5, 100),
                (1, "real", 0.70, 100), (1, "real+synthetic", 0.71, 200), (1, "synthetic", 0.7, 100)]]
    summary = summarize(rows)
    assert list(summary) == ["real", "real+synthetic", "synthetic", DIFFERENCE]
    assert summary["real"]["mean"] == pytest.approx(0.75)
    assert summary["real"]["std"] == pytest.approx(0.0707107, rel=1e-5)  # sample std of 0.8, 0.7
    assert summary["real"]["per_seed"] == [0.80, 0.70] and summary["real+synthetic"]["train_size"] == 200
    assert summary[DIFFERENCE]["per_seed"] == pytest.approx([0.05, 0.01])
    assert summary[DIFFERENCE]["mean"] == pytest.approx(0.03)
    assert summary[DIFFERENCE]["std"] == pytest.approx(0.0282843, rel=1e-5)


@pytest.mark.parametrize(("options", "message"), [
    ({"real_fraction": 0.0}, "--real-fraction must lie in (0, 1], got 0.0"),
    ({"real_fraction": 1.5}, "--real-fraction must lie in (0, 1], got 1.5"),
    ({"synthetic_per_class": 0}, "--synthetic-per-class must be positive"),
    ({"classifier": "resnet"}, "unknown classifier 'resnet'"),
    ({"seeds": ()}, "at least one seed"),
    ({"seeds": (1, 1)}, "lists a seed twice"),
    ({"steps": 0}, "--steps must be positive, got 0"),
    ({"threads": 0}, "--threads must be positive"),
])  # fmt: skip
def test_augment_settings_refuse_bad_values(options, message):
    with pytest.raises(GanzooError) as error:
        AugmentSettings(**options)
    assert message in str(error.value)
