"""The ``classifier`` metric's evaluators: which recipe each kind of data gets, the VGG and its augmentation."""

from __future__ import annotations

import functools

import pytest
import torch
import torch.nn.functional as F

from ganzoo import DataSpec, Dataset, EvalContext, InMemoryDataset, TensorSamples
from ganzoo_plugins.metrics.classifier import Classifier
from ganzoo_plugins.metrics.classifier_net import (COLOUR_RECIPE, GRAYSCALE_RECIPE, EvaluatorRecipe, VggNet,
                                                   evaluator_network, flip_and_translate, recipe_for)

COLOUR_SPEC = DataSpec((3, 32, 32), 4, ("red", "green", "blue", "grey"))


def test_each_kind_of_image_gets_its_documented_recipe() -> None:
    assert recipe_for((1, 28, 28)) == GRAYSCALE_RECIPE and GRAYSCALE_RECIPE.network == "small-cnn"
    assert recipe_for((3, 32, 32)) == COLOUR_RECIPE and COLOUR_RECIPE.network == "vgg"
    assert recipe_for((3, 64, 64)) == COLOUR_RECIPE
    assert recipe_for((3, 8, 8)) == GRAYSCALE_RECIPE  # too small for three poolings
    assert COLOUR_RECIPE.digest() != GRAYSCALE_RECIPE.digest()
    with pytest.raises(ValueError, match="unknown evaluator network 'resnet'; choices: small-cnn, vgg"):
        EvaluatorRecipe(network="resnet")


@pytest.mark.parametrize("size", [16, 32, 48, 64])
def test_vgg_features_have_the_recipe_dimension(size: int) -> None:
    net = VggNet((3, size, size), 10, (8, 16, 32), 32).eval()
    images = torch.randn(2, 3, size, size)
    assert net.features(images).shape == (2, 32) and net(images).shape == (2, 10)
    projected = VggNet((3, size, size), 10, (8, 16, 32), 20).eval()
    assert projected.features(images).shape == (2, 20)
    # The colour recipe's network: 3 stages, 32-64-128, its 128 pooled channels are the features.
    full = evaluator_network((3, size, size), 10, COLOUR_RECIPE)
    assert [m.out_channels for m in full.modules() if isinstance(m, torch.nn.Conv2d)] == [32, 32, 64, 64, 128, 128]


def test_flip_and_translate_is_a_flip_and_a_shift_of_the_padded_image() -> None:
    images = torch.randn(6, 3, 8, 8)
    pixels = 2
    out = flip_and_translate(images, pixels, torch.Generator().manual_seed(0))
    assert out.shape == images.shape
    seen = set()
    for image, result in zip(images, out):
        candidates = {}
        for flipped in (False, True):
            padded = F.pad((image.flip(2) if flipped else image)[None], (pixels,) * 4, mode="reflect")[0]
            for dy in range(2 * pixels + 1):
                for dx in range(2 * pixels + 1):
                    candidates[(flipped, dy, dx)] = padded[:, dy : dy + 8, dx : dx + 8]
        matches = [key for key, candidate in candidates.items() if torch.equal(candidate, result)]
        assert matches, "not a flipped and shifted copy of its input"
        seen.add(matches[0])
    assert len(seen) > 1  # the shifts differ from image to image
    # No translation: each image itself or its mirror image, both kinds present.
    unshifted = flip_and_translate(images, 0, torch.Generator().manual_seed(0))
    same = [torch.equal(result, image) for image, result in zip(images, unshifted)]
    mirrored = [torch.equal(result, image.flip(2)) for image, result in zip(images, unshifted)]
    assert all(a != b for a, b in zip(same, mirrored)) and any(same) and any(mirrored)


class Colours(Dataset):
    """Four classes of noisy 32 px images: mostly red, green, blue or grey, with a random bright square."""

    name = "colours"
    spec = COLOUR_SPEC

    def load(self, root, train=True, download=True, **options):
        return _colours(bool(train))


@functools.lru_cache(maxsize=2)
def _colours(train: bool) -> InMemoryDataset:
    rng = torch.Generator().manual_seed(0 if train else 1)
    count = 800 if train else 200
    labels = torch.arange(count) % 4
    tint = torch.tensor([[1.0, -1, -1], [-1, 1, -1], [-1, -1, 1], [0.0, 0, 0]])[labels]
    images = 0.5 * tint[:, :, None, None] + 0.4 * torch.randn(count, 3, 32, 32, generator=rng)
    for index in range(count):
        y, x = torch.randint(0, 24, (2,), generator=rng).tolist()
        images[index, :, y : y + 8, x : x + 8] = 0.9
    return InMemoryDataset(images.clamp(-1, 1), labels)


def test_a_vgg_recipe_trains_through_the_metric_and_is_recorded(tmp_path) -> None:
    recipe = EvaluatorRecipe(network="vgg", channels=(8, 16), feature_dim=16, epochs=2, batch_size=64,
                             learning_rate=0.05, weight_decay=5e-4, label_smoothing=0.1, augment=2)
    context = EvalContext(dataset=Colours(), spec=COLOUR_SPEC, data_root=".", download=False, num_samples=200,
                          batch_size=100, cache_dir=tmp_path, ref_split="train")
    test_images, _ = _colours(False).batch(torch.arange(200))
    metric = Classifier(recipe)
    result = metric.compute(TensorSamples(test_images, COLOUR_SPEC), context)
    protocol = result.protocol
    assert metric.trainings == 1
    assert protocol["evaluator_test_accuracy"] >= 0.9, protocol
    assert protocol["evaluator"].startswith("vgg") and protocol["feature_dim"] == 16
    assert protocol["evaluator_recipe"]["network"] == "vgg" and protocol["evaluator_recipe"]["augment"] == 2
    assert protocol["evaluator_train_precision"] in ("bf16", "fp32")
    assert result.values["modes_covered"] == 4
    # Cached: a second metric reuses it, and a different recipe does not.
    again = Classifier(recipe)
    assert again.compute(TensorSamples(test_images, COLOUR_SPEC), context).values == result.values
    assert again.trainings == 0
    assert Classifier().cache_directory(context) != metric.cache_directory(context)  # the colour recipe's own cache
