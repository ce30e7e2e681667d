"""``ganzoo nearest``: the running top-k search, the memorisation statistic, the grid, the record and the errors."""

from __future__ import annotations

import json
import os
import statistics
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from ganzoo_plugins.metrics.classifier import Classifier
from ganzoo_plugins.metrics.classifier_net import EvaluatorRecipe
from PIL import Image
from torch import nn

import ganzoo
from ganzoo.evaluation.nearest import (
    feature_spaces,
    find_nearest,
    nearest_neighbours,
    pixel_space,
)
from ganzoo.evaluation.nearest_output import PADDING, SEPARATOR, SEPARATOR_COLOUR
from ganzoo.evaluation.sampling import to_unit
from ganzoo.registry import load_registry
from ganzoo.storage.checkpoint import GeneratorRecord, save_generator
from tests.cli.test_cli_properties import snapshot
from tests.helpers import assert_one_line_error, invoke

MINI = load_registry().dataset("mnist-mini")
TINY_RECIPE = EvaluatorRecipe(channels=(4, 8), feature_dim=16, epochs=1, batch_size=500)  # about 1 s


@pytest.fixture(scope="module")
def mini_train() -> torch.Tensor:
    """The 5,000 mnist-mini training digits in [-1, 1]."""
    data = MINI.load(".", train=True)
    return data.batch(torch.arange(len(data)))[0]


def batches(tensor: torch.Tensor, size: int):
    return (tensor[start : start + size] for start in range(0, len(tensor), size))


def brute_force(queries: torch.Tensor, candidates: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every distance, computed directly in float64, sorted."""
    distances = torch.cdist(queries.flatten(1).double(), candidates.flatten(1).double(),
                            compute_mode="donot_use_mm_for_euclid_dist")
    found = distances.sort(dim=1, stable=True)
    return found.values[:, :k], found.indices[:, :k]


# ---------------------------------------------------------------- the search


@pytest.mark.parametrize("batch_size", [1, 4, 10, 53, 200])
@pytest.mark.parametrize("k", [1, 5, 53])
def test_the_running_top_k_finds_what_brute_force_finds(batch_size, k):
    rng = torch.Generator().manual_seed(batch_size * 100 + k)
    queries, candidates = torch.randn(7, 3, 4, 4, generator=rng), torch.randn(53, 3, 4, 4, generator=rng)
    found = nearest_neighbours(queries, batches(candidates, batch_size), k)
    distances, indices = brute_force(queries, candidates, k)
    assert found.distances.dtype == torch.float64 and found.distances.shape == (7, k)
    assert torch.equal(found.indices, indices)
    assert torch.allclose(found.distances, distances, rtol=1e-12, atol=0)


def test_close_neighbours_of_large_vectors_keep_their_order():
    # |x|^2 ~ 3e9: float32's expanded square would be off by hundreds, far more than the gaps of 1e-2 here.
    rng = torch.Generator().manual_seed(3)
    base = 1000 + torch.rand(3072, generator=rng, dtype=torch.float64)
    offsets = torch.randperm(40, generator=rng).double() * 1e-3
    candidates = base + offsets[:, None] * torch.randn(3072, generator=rng, dtype=torch.float64).sign()
    found = nearest_neighbours(base[None], batches(candidates, 16), 40)
    distances, indices = brute_force(base[None], candidates, 40)
    assert torch.equal(found.indices, indices)
    assert torch.allclose(found.distances, distances, rtol=1e-9, atol=0)


def test_fewer_candidates_than_k_is_an_error():
    with pytest.raises(ganzoo.GanzooError, match="-k 4: there are only 3 images"):
        nearest_neighbours(torch.zeros(2, 5), batches(torch.ones(3, 5), 2), 4)


def test_copied_training_images_are_at_distance_zero_and_noise_is_far(mini_train):
    chosen = torch.tensor([5, 700, 2500, 4999])
    noise = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    found = nearest_neighbours(torch.cat([mini_train[chosen], noise]), batches(mini_train, 256), 3)
    assert found.distances[:4, 0].tolist() == [0.0] * 4  # exactly: measured directly, not by the expanded square
    assert found.indices[:4, 0].tolist() == chosen.tolist()
    assert (found.distances[:4, 1] > 1).all()  # the next image is another digit
    # Uniform noise is about sqrt(784 * 4 / 3) = 32 from a digit, mostly -1 pixels; real digits are ~10 apart.
    assert (found.distances[4:, 0] > 20).all()


def test_find_nearest_compares_samples_with_held_out_images(mini_train):
    context = ganzoo.EvalContext(dataset=MINI, spec=MINI.spec, data_root=".", batch_size=300, seed=1)
    copies = mini_train[torch.arange(0, 5000, 500)]
    result = find_nearest(copies, context, "train", 2, pixel_space, torch.device("cpu"))
    assert (result.split, result.held_out_split) == ("train", "test")
    assert result.samples.indices[:, 0].tolist() == list(range(0, 5000, 500))
    assert len(result.held_out_indices) == 10 and len(set(result.held_out_indices.tolist())) == 10
    test = MINI.load(".", train=False)
    held = test.batch(result.held_out_indices)[0]
    distances, indices = brute_force(held, mini_train, 2)
    assert torch.equal(result.held_out.indices, indices)
    generated, real, ratio = result.medians()
    assert generated == 0 and real == pytest.approx(statistics.median(distances[:, 0].tolist()))
    assert real > 5 and ratio == 0


# ---------------------------------------------------------------- a memorising generator, through the CLI


class Memoriser(nn.Module):
    """Outputs one of its stored images: the one at the argmax of the noise."""

    def __init__(self, shape: tuple[int, ...], latent_dim: int) -> None:
        super().__init__()
        self.register_buffer("images", torch.zeros(latent_dim, *shape))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.images[z.argmax(1)]


class MemoriserArchitecture(ganzoo.Architecture):
    name = "memoriser"
    description = "a generator that copies stored images"

    def build(self, spec, latent_dim, **options):
        return Memoriser(spec.shape, latent_dim), nn.Linear(1, 1)


def memoriser_plugin() -> types.ModuleType:
    module = types.ModuleType("memoriser")
    module.register_architectures = ganzoo.hookimpl(lambda register: register(MemoriserArchitecture()))
    module.register_architectures.__name__ = "register_architectures"
    return module


def test_a_generator_that_copies_training_images_is_caught(tmp_path, mini_train):
    stored = torch.tensor([11, 222, 3333, 4444, 1500, 42])
    generator = Memoriser(MINI.spec.shape, len(stored))
    generator.images.copy_(mini_train[stored])
    file = tmp_path / "generator.safetensors"
    save_generator(file, generator, GeneratorRecord("memoriser", {}, MINI.spec.to_json(), len(stored), False, 0,
                                                    {"data": "mnist-mini"}))
    result = invoke("nearest", file, "-n", 9, "-k", 2, "--seed", 4, "-o", tmp_path / "copies.png",
                    extra_plugins=[memoriser_plugin()])
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "copies.json").read_text())
    picked = stored[torch.randn(9, len(stored), generator=torch.Generator().manual_seed(4)).argmax(1)]
    assert [entry["indices"][0] for entry in record["samples"]] == picked.tolist()
    assert all(entry["distances"][0] == 0 for entry in record["samples"])
    summary = record["summary"]
    assert summary["median_nearest_generated"] == 0 and summary["median_nearest_held_out"] > 5
    assert summary["ratio"] == 0
    assert "generated 0, 9 held-out test images" in result.output and "ratio 0 " in result.output


# ---------------------------------------------------------------- the CLI on a trained run


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("nearest") / "run"
    """A DCGAN trained briefly on mnist-mini, at a small width (what it draws does not matter here)."""
    result = invoke("run", "--arch", "dcgan", "--loss", "bce", "--data", "mnist-mini", "--steps", 10,
                    "--batch-size", 16, "--arch-option", "base_width=8", "--sample-every", 10, "--checkpoint-every", 10,
                    "--out", out)
    assert result.exit_code == 0, result.output
    return out


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB")).astype(int)


def test_the_grid_record_and_summary_of_a_trained_run(trained_run, tmp_path, mini_train):
    result = invoke("nearest", trained_run, "-n", 5, "-k", 3, "-o", tmp_path / "near.png")
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert [line.split(":")[0] for line in lines[:5]] == [f"sample {row}" for row in range(5)]
    assert lines[5].startswith("median nearest distance to the train split (pixel space): generated ")
    record = json.loads((tmp_path / "near.json").read_text())
    assert (record["space"], record["split"], record["k"], record["num_samples"]) == ("pixel", "train", 3, 5)
    assert record["data"] == "mnist-mini" and record["step"] == 10 and record["seed"] == 0

    # The same samples as ganzoo sample draws, and their neighbours as brute force finds them.
    assert invoke("sample", trained_run, "-n", 5, "-o", tmp_path / "s.safetensors").exit_code == 0
    from safetensors.torch import load_file
    samples = load_file(tmp_path / "s.safetensors")["samples"]
    distances, indices = brute_force(samples, mini_train, 3)
    assert [entry["indices"] for entry in record["samples"]] == indices.tolist()
    assert np.allclose([entry["distances"] for entry in record["samples"]], distances.numpy(), rtol=1e-6)
    labels = MINI.load(".", train=True).labels
    assert record["samples"][0]["neighbour_classes"] == [str(int(labels[i])) for i in indices[0]]

    summary, held = record["summary"], record["held_out"]
    assert held["split"] == "test" and len(held["indices"]) == 5
    assert summary["median_nearest_generated"] == pytest.approx(statistics.median(distances[:, 0].tolist()))
    assert summary["median_nearest_held_out"] == pytest.approx(statistics.median(held["nearest_distances"]))
    assert summary["ratio"] == pytest.approx(summary["median_nearest_generated"] / summary["median_nearest_held_out"])
    assert f"ratio {summary['ratio']:.3g} " in lines[5]

    # One row per sample: the sample, a red bar, then its 3 neighbours nearest first (28 px tiles, 2 px padding).
    grid = pixels(tmp_path / "near.png")
    assert grid.shape == (PADDING + 5 * 30, PADDING + 4 * 30 + SEPARATOR, 3) == (152, 128, 3)
    top, first = PADDING + 30, PADDING + 30 + SEPARATOR  # row 1, column 1
    expected = (to_unit(samples[1, 0]) * 255 + 0.5).floor().numpy()
    assert np.abs(grid[top : top + 28, PADDING : PADDING + 28, 0] - expected).max() <= 1
    neighbour = (to_unit(mini_train[indices[1, 0], 0]) * 255 + 0.5).floor().numpy()
    assert np.abs(grid[top : top + 28, first : first + 28, 1] - neighbour).max() <= 1
    assert tuple(grid[80, PADDING + 28 + 3]) == tuple(round(c * 255) for c in SEPARATOR_COLOUR)


def test_the_test_split_and_a_chosen_json_path(trained_run, tmp_path):
    result = invoke("nearest", trained_run, "-n", 3, "-k", 1, "--split", "test", "-o", tmp_path / "g.png",
                    "--json", tmp_path / "sub" / "r.json")
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "sub" / "r.json").read_text())
    assert record["split"] == "test" and record["held_out"]["split"] == "train"
    assert all(0 <= entry["indices"][0] < 1000 for entry in record["samples"])
    assert not (tmp_path / "g.json").exists() and pixels(tmp_path / "g.png").shape == (92, 68, 3)
    assert "to the test split" in result.output and "held-out train images" in result.output


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("toy") / "run"
    assert invoke("run", "--arch", "mlp", "--loss", "bce", "--data", "ring8", "--steps", 1, "--out", out).exit_code == 0
    return out


@pytest.mark.parametrize("args, fragments", [
    (["--space", "inceptoin"], ["unknown --space 'inceptoin'", "pixel", "classifier"]),
    (["--space", "modes"], ["metric 'modes' has no feature space", "pixel, classifier"]),
    (["-k", "0"], ["-k"]),
    (["-n", "0"], ["-n"]),
    (["-k", "5001"], ["-k 5001", "only 5000 images"]),
    (["-o", "grid.jpg"], ["FILE.png"]),
    (["-o", "same.png", "--json", "same.png"], ["--json", "grid's own path"]),
    (["--class", "3"], ["--class 3", "not class-conditional"]),
    (["--split", "validation"], ["--split"]),
])
def test_bad_requests_are_one_line_and_write_nothing(trained_run, tmp_path, monkeypatch, args, fragments):
    monkeypatch.chdir(tmp_path)
    assert_one_line_error(invoke("nearest", trained_run, *args), *fragments)
    assert snapshot(tmp_path) == []


def test_vector_data_is_refused(toy_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert_one_line_error(invoke("nearest", toy_run), "needs image data", "(2,)")
    assert snapshot(tmp_path) == []


def test_a_conditional_generator_gets_balanced_classes_or_the_chosen_one(tmp_path):
    out = tmp_path / "run"
    result = invoke("run", "--arch", "cmlp", "--loss", "bce", "--data", "mnist-mini", "--steps", 1, "--batch-size", 8,
                    "--arch-option", "generator_widths=16", "--arch-option", "discriminator_widths=16", "--out", out)
    assert result.exit_code == 0, result.output
    assert invoke("nearest", out, "-n", 12, "-k", 1, "-o", tmp_path / "all.png").exit_code == 0
    record = json.loads((tmp_path / "all.json").read_text())
    assert record["conditional"] and [entry["class"] for entry in record["samples"]] == [str(i % 10) for i in range(12)]
    assert invoke("nearest", out, "-n", 3, "-k", 1, "--class", "7", "-o", tmp_path / "seven.png").exit_code == 0
    assert [entry["class"] for entry in json.loads((tmp_path / "seven.json").read_text())["samples"]] == ["7"] * 3
    assert_one_line_error(invoke("nearest", out, "--class", "eleven", "-o", tmp_path / "x.png"), "unknown class")


# ---------------------------------------------------------------- feature spaces


def test_only_metrics_that_override_features_offer_a_space():
    class Plain(ganzoo.Metric):
        name = "plain"

    assert Plain().features(None) is None  # the default: no feature space
    spaces = feature_spaces(load_registry())
    assert "classifier" in spaces and not {"modes", "fid", "kid"} & set(spaces)


def test_the_classifier_feature_space_is_its_cached_evaluator(tmp_path, mini_train):
    context = ganzoo.EvalContext(dataset=MINI, spec=MINI.spec, data_root=".", cache_dir=tmp_path, batch_size=500)
    metric = Classifier(TINY_RECIPE)
    features = metric.features(context)
    assert metric.trainings == 1
    with torch.inference_mode():
        vectors = features(mini_train[:300])
    assert vectors.shape == (300, 16)
    again = Classifier(TINY_RECIPE)
    with torch.inference_mode():
        assert torch.equal(again.features(context)(mini_train[:300]), vectors)
    assert again.trainings == 0  # the cached evaluator, not a new one
    # In feature space too, a training image's nearest neighbour is itself.
    found = nearest_neighbours(vectors[[3, 150]], batches(vectors, 64), 1)
    assert found.distances[:, 0].tolist() == [0.0, 0.0] and found.indices[:, 0].tolist() == [3, 150]


def test_nearest_in_the_classifier_space_through_the_cli(trained_run, tmp_path, monkeypatch):
    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr("ganzoo_plugins.metrics.classifier.recipe_for", lambda shape: TINY_RECIPE)
    result = invoke("nearest", trained_run, "-n", 4, "-k", 2, "--space", "classifier", "-o", tmp_path / "f.png")
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "f.json").read_text())
    assert record["space"] == "classifier" and "metric 'classifier'" in record["distance"]
    assert "(classifier space)" in result.output
    assert any(path.name == "evaluator.safetensors" for path in (tmp_path / "cache").rglob("*"))
    pixel = invoke("nearest", trained_run, "-n", 4, "-k", 2, "-o", tmp_path / "p.png")
    assert pixel.exit_code == 0, pixel.output
    assert json.loads((tmp_path / "p.json").read_text())["samples"] != record["samples"]
    assert os.path.getsize(tmp_path / "f.png") > 0
