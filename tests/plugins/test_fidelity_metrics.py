"""The torch-fidelity metrics (fid, is, kid, prc) with a small stand-in feature extractor, offline."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import torch_fidelity
from torch_fidelity.feature_extractor_base import FeatureExtractorBase
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

import ganzoo
from ganzoo import DataSpec, EvalContext, GanzooError
from ganzoo.contract.metrics import INCEPTION_WEIGHTS_ENV
from ganzoo.evaluation.sources import TensorSamples
from ganzoo_plugins.datasets.toy_mixtures import RING8
from ganzoo_plugins.metrics import fidelity, fidelity_features

STAND_IN = "ganzoo-test-stand-in"


class StandInExtractor(FeatureExtractorBase):
    """A fixed random conv + pooling: 64 features ('2048') and 10 logits ('logits_unbiased')."""

    def __init__(self, name, features_list, **kwargs):
        super().__init__(name, features_list)
        rng = torch.Generator().manual_seed(0)
        self.register_buffer("conv", torch.randn(32, 3, 3, 3, generator=rng) / 10)
        self.register_buffer("head", torch.randn(10, 64, generator=rng))

    @staticmethod
    def get_provided_features_list():
        return "2048", "logits_unbiased"

    @staticmethod
    def get_default_feature_layer_for_metric(metric):
        return {"isc": "logits_unbiased", "fid": "2048", "kid": "2048", "prc": "2048"}[metric]

    def forward(self, x):
        assert x.dtype == torch.uint8 and x.shape[1] == 3
        h = F.relu(F.conv2d(x.float() / 128 - 1, self.conv, stride=2))
        pooled = torch.cat([h.mean((2, 3)), h.amax((2, 3))], dim=1)
        features = {"2048": pooled, "logits_unbiased": pooled @ self.head.T}
        return tuple(features[name] for name in self.features_list)


if STAND_IN not in FEATURE_EXTRACTORS_REGISTRY:
    torch_fidelity.register_feature_extractor(STAND_IN, StandInExtractor)


def make_images(count: int, shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    """Smooth random images in [-1, 1], quantised to pixels like real data."""
    rng = torch.Generator().manual_seed(seed)
    low = torch.rand(count, shape[0], shape[1] // 4, shape[2] // 4, generator=rng)
    images = F.interpolate(low, size=shape[1:], mode="bilinear", align_corners=False)
    return (images * 255).round() / 127.5 - 1


class CountingSplit(torch.utils.data.Dataset):
    """A dataset split that counts its reads."""

    def __init__(self, images: torch.Tensor, counter: dict) -> None:
        self.images, self.counter = images, counter

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        self.counter["items"] += 1
        return self.images[index], 0


class ImageData(ganzoo.Dataset):
    """A tiny in-memory image dataset whose train split is ``images``."""

    name = "tiny-images"
    description = "test images"

    def __init__(self, images: torch.Tensor) -> None:
        self.images = images
        self.spec = DataSpec(tuple(images.shape[1:]))
        self.counter = {"items": 0, "loads": 0}

    def load(self, root, train=True, download=True, **options):
        self.counter["loads"] += 1
        return CountingSplit(self.images if train else self.images[:16], self.counter)


@pytest.fixture(autouse=True)
def no_user_settings(monkeypatch):
    monkeypatch.delenv(INCEPTION_WEIGHTS_ENV, raising=False)
    monkeypatch.delenv(fidelity_features.EXTRACTOR_ENV, raising=False)


def context_for(dataset, tmp_path: Path, **overrides) -> EvalContext:
    settings = dict(dataset=dataset, spec=dataset.spec, data_root=str(tmp_path), num_samples=len(dataset.images),
                    batch_size=50, cache_dir=tmp_path / "cache", download=False)
    return EvalContext(**{**settings, **overrides})


def evaluate(metric_cls, samples: torch.Tensor, dataset: ImageData, tmp_path: Path, **overrides):
    context = context_for(dataset, tmp_path, **overrides)
    metric = metric_cls(feature_extractor=STAND_IN)
    metric.check(context)
    return metric.compute(TensorSamples(samples, dataset.spec), context)


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return make_images(160, (3, 32, 32))


def test_registered_metrics_and_primaries():
    registered = []
    fidelity.register_metrics(registered.append)
    assert [(m.name, m.primary, m.higher_is_better) for m in registered] == [
        ("fid", "fid", False), ("is", "is_mean", True), ("kid", "kid_mean", False), ("prc", "f_score", True),
    ]
    assert all(m.feature_extractor is None for m in registered)


def test_fid_is_zero_against_itself_and_positive_against_brighter_images(images, tmp_path):
    same = evaluate(fidelity.FidMetric, images, ImageData(images), tmp_path)
    brighter = evaluate(fidelity.FidMetric, (images + 0.4).clamp(-1, 1), ImageData(images), tmp_path)
    assert abs(same.values["fid"]) < 1e-3
    assert brighter.values["fid"] > 1.0
    protocol = same.protocol
    assert protocol["extractor"] == STAND_IN and protocol["feature_layer"] == "2048"
    assert protocol["weights_sha256"] is None and protocol["num_samples"] == 160
    assert protocol["reference_split"] == "train" and protocol["reference_size"] == 160
    assert protocol["torch_fidelity_version"] == torch_fidelity.__version__


def test_kid_near_zero_against_itself_and_larger_against_brighter_images(images, tmp_path):
    same = evaluate(fidelity.KidMetric, images, ImageData(images), tmp_path)
    brighter = evaluate(fidelity.KidMetric, (images + 0.4).clamp(-1, 1), ImageData(images), tmp_path)
    assert brighter.values["kid_mean"] > 0.05
    assert abs(same.values["kid_mean"]) < 0.05 * brighter.values["kid_mean"]
    assert same.protocol["kid_subset_size"] == 160 and same.protocol["kid_subsets"] == 100


def test_precision_and_recall_of_identical_sets_are_one(images, tmp_path):
    result = evaluate(fidelity.PrecisionRecallMetric, images, ImageData(images), tmp_path)
    assert result.values == {"precision": 1.0, "recall": 1.0, "f_score": pytest.approx(1.0)}
    brighter = evaluate(fidelity.PrecisionRecallMetric, (images + 0.4).clamp(-1, 1), ImageData(images), tmp_path)
    assert brighter.values["precision"] < 0.5 and brighter.values["f_score"] < 0.5


def test_inception_score_is_finite_and_needs_no_reference(images, tmp_path):
    data = ImageData(images)
    result = evaluate(fidelity.InceptionScoreMetric, images, data, tmp_path)
    assert math.isfinite(result.values["is_mean"]) and result.values["is_mean"] >= 1.0
    assert math.isfinite(result.values["is_std"])
    assert data.counter == {"items": 0, "loads": 0}
    assert "reference_size" not in result.protocol


def test_grayscale_reference_is_cached_and_not_read_again(tmp_path):
    gray = make_images(64, (1, 28, 28), seed=1)
    data = ImageData(gray)
    first = evaluate(fidelity.FidMetric, gray.flip(0), data, tmp_path)
    assert data.counter == {"items": 64, "loads": 1}
    cached = list((tmp_path / "cache" / "fidelity").glob("tiny-images-train-*.safetensors"))
    assert len(cached) == 1

    data.counter.update(items=0, loads=0)
    again = evaluate(fidelity.KidMetric, gray, data, tmp_path)  # KID reads the same cached file
    second = evaluate(fidelity.FidMetric, gray.flip(0), data, tmp_path)
    assert data.counter == {"items": 0, "loads": 0}
    assert second.values["fid"] == first.values["fid"] and abs(first.values["fid"]) < 1e-3
    assert again.protocol["reference_size"] == 64

    other = evaluate(fidelity.FidMetric, gray[:16], data, tmp_path, ref_split="test", num_samples=16)
    assert data.counter["loads"] == 1 and len(list(cached[0].parent.iterdir())) == 2
    assert other.protocol["reference_split"] == "test" and other.protocol["reference_size"] == 16


def test_generated_features_are_extracted_once_per_source(images, tmp_path):
    class CountingSamples(TensorSamples):
        calls = 0

        def batches(self, count, batch_size):
            CountingSamples.calls += 1
            return super().batches(count, batch_size)

    data = ImageData(images)
    context = context_for(data, tmp_path)
    source = CountingSamples(images, data.spec)
    for metric_cls in fidelity.METRICS:
        metric_cls(feature_extractor=STAND_IN).compute(source, context)
    assert CountingSamples.calls == 1


def test_missing_inception_weights_offline_is_one_clear_error(images, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    context = context_for(ImageData(images), tmp_path)
    with pytest.raises(GanzooError) as error:
        fidelity.FidMetric().check(context)
    message = str(error.value)
    assert "\n" not in message
    for fragment in ("weights-inception-2015-12-05-6726825d.pth", str(tmp_path / "torch" / "hub" / "checkpoints"),
                     "--inception-weights", INCEPTION_WEIGHTS_ENV, "downloading is disabled"):
        assert fragment in message


def test_failed_download_is_the_same_error(images, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    def no_network(url, dst, **kwargs):
        raise OSError("Name or service not known")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    with pytest.raises(GanzooError, match=r"weights-inception-2015-12-05-6726825d\.pth.*download failed.*--inception-weights"):
        fidelity.KidMetric().check(context_for(ImageData(images), tmp_path, download=True))


def test_weights_found_in_torch_hub_cache_are_used_and_hashed(images, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    weights = tmp_path / "torch" / "hub" / "checkpoints" / "weights-inception-2015-12-05-6726825d.pth"
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"abc")
    context = context_for(ImageData(images), tmp_path)
    fidelity.FidMetric().check(context)
    resolved = fidelity_features.resolve_weights("fid", "inception-v3-compat", context)
    assert resolved == fidelity_features.Weights(str(weights), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")


def test_missing_or_broken_weights_path_is_named(images, tmp_path, monkeypatch):
    missing = tmp_path / "nope.pth"
    with pytest.raises(GanzooError, match="nope.pth.*--inception-weights"):
        fidelity.FidMetric().check(context_for(ImageData(images), tmp_path, inception_weights=str(missing)))
    monkeypatch.setenv(INCEPTION_WEIGHTS_ENV, str(missing))
    with pytest.raises(GanzooError, match="nope.pth"):
        fidelity.InceptionScoreMetric().check(context_for(ImageData(images), tmp_path))

    broken = tmp_path / "broken.pth"
    broken.write_bytes(b"not a checkpoint")
    monkeypatch.setenv(INCEPTION_WEIGHTS_ENV, str(broken))
    context = context_for(ImageData(images), tmp_path)
    fidelity.FidMetric().check(context)
    with pytest.raises(GanzooError, match="cannot load weights file .*broken.pth"):
        fidelity.FidMetric().compute(TensorSamples(images, context.spec), context)


def test_non_image_data_and_unknown_extractor_are_rejected(images, tmp_path, monkeypatch):
    context = EvalContext(dataset=RING8, spec=RING8.spec, data_root=str(tmp_path), cache_dir=tmp_path)
    with pytest.raises(GanzooError, match=r"^metric 'fid' needs image data; dataset 'ring8' has shape \(2,\)$"):
        fidelity.FidMetric().check(context)
    monkeypatch.setenv(fidelity_features.EXTRACTOR_ENV, "inception-v4")
    with pytest.raises(GanzooError, match="unknown feature extractor 'inception-v4'.*inception-v3-compat"):
        fidelity.KidMetric().check(context_for(ImageData(images), tmp_path))


def test_extractor_from_environment(images, tmp_path, monkeypatch):
    monkeypatch.setenv(fidelity_features.EXTRACTOR_ENV, STAND_IN)
    context = context_for(ImageData(images), tmp_path)
    metric = fidelity.FidMetric()
    metric.check(context)
    assert metric.compute(TensorSamples(images, context.spec), context).protocol["extractor"] == STAND_IN
