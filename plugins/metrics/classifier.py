"""The ``classifier`` metric: mode collapse measured by a classifier trained on the data itself.

On first use a CNN (:mod:`ganzoo_plugins.metrics.classifier_net`: a small CNN
for grayscale images, a VGG for colour ones) is trained on the dataset's train
split, so nothing is downloaded. It is cached,
with its held-out accuracy, at::

    CACHE/classifier/<dataset>-<key>/evaluator.safetensors
    CACHE/classifier/<dataset>-<key>/reference-<split>.safetensors   (feature mean/cov, label counts,
                                                                       per-label mean/cov)

where ``CACHE`` is ``context.cache_dir`` and ``<key>`` hashes the dataset
name, data root, data options, spec and the evaluator recipe, so changing
any of them (the recipe's seed included) trains a new evaluator.

Values, for ``K`` classes and ``N`` generated samples:

- ``classifier_fid``: Fréchet distance between the evaluator's penultimate
  features of the samples and of the whole reference split (lower is better).
- ``modes_covered``: classes predicted for at least ``COVERAGE_SHARE / K`` of
  the samples (10% of the uniform share: 1% of the samples on MNIST), so a
  few stray misclassifications do not count as a mode.
- ``class_kl``: ``KL(p || q)`` with ``p`` the histogram of predicted classes
  (``0 log 0 = 0``) and ``q`` the reference split's label histogram with
  add-one smoothing, which keeps the value finite when a class is absent.
- ``mean_confidence``: mean of the largest softmax probability.
- ``class_accuracy`` (conditional generators only): the fraction of samples
  the evaluator assigns to the class they were generated for.
- ``intra_class_fid`` (conditional generators only): the mean over classes
  ``k`` of the Fréchet distance between the features of the samples
  generated for ``k`` and of the reference samples labelled ``k`` (the
  intra-FID of Miyato & Koyama 2018, in the evaluator's features).
- ``within_class_spread`` (conditional generators only): the mean over
  classes of ``tr(cov of generated k) / tr(cov of reference k)``: 1 when each
  class is as diverse as the data, near 0 when a class is one image repeated,
  which mode coverage, class KL and class accuracy cannot see.

Classes with fewer than 2 generated (or reference) samples are skipped in
the last two (see :func:`~ganzoo_plugins.metrics.classifier_stats.within_class_values`).

The same features are offered to ``ganzoo nearest --space classifier``
(:meth:`Classifier.features`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import safetensors
import safetensors.torch
import torch

import ganzoo
from ganzoo import EvalContext, GanzooError, Metric, MetricResult, SampleSource
from ganzoo import atomic_path, classifier_accuracy, labelled_batches
from ganzoo_plugins.metrics.classifier_net import (evaluator_network, EvaluatorRecipe, build_trained_evaluator, recipe_for,
                                                   training_precision)
from ganzoo_plugins.metrics.classifier_stats import ClassMoments, Moments, ReferenceStats
from ganzoo_plugins.metrics.classifier_stats import frechet_distance, within_class_values

__all__ = ["COVERAGE_SHARE", "Classifier", "frechet_distance", "register_metrics"]

#: A class counts as covered when it receives at least this fraction of the uniform share ``1/K``.
COVERAGE_SHARE = 0.1

# Bump when the reference file's contents change, so that older files are recomputed (2: per-label mean/cov).
_REFERENCE_VERSION = "2"

_log = logging.getLogger(__name__)
_CACHE_ERRORS = (OSError, KeyError, RuntimeError, ValueError, safetensors.SafetensorError)


class Classifier(Metric):
    """Classifier FID, mode coverage, class KL, confidence and within-class diversity under a CNN trained on the data.

    Args:
        recipe: how the evaluator is built and trained; None (the default)
            takes the documented recipe for the data's shape
            (:func:`~ganzoo_plugins.metrics.classifier_net.recipe_for`);
            tests and experiments may pass another.
        coverage_share: see :data:`COVERAGE_SHARE`.

    Attributes:
        trainings: how many evaluators this instance has trained (0 when
            every ``compute`` found one in the cache).
    """

    name = "classifier"
    description = "Classifier FID, modes covered and class KL under a CNN trained on the dataset (no download)"
    primary = "classifier_fid"
    higher_is_better = False

    def __init__(self, recipe: EvaluatorRecipe | None = None, coverage_share: float = COVERAGE_SHARE) -> None:
        self.recipe = recipe
        self.coverage_share = coverage_share
        self.trainings = 0

    def check(self, context: EvalContext) -> None:
        spec, dataset = context.spec, context.dataset.name
        if not spec.is_image:
            raise GanzooError(
                f"metric 'classifier' needs image data (C, H, W); dataset '{dataset}' has samples of shape {spec.shape}"
            )
        if spec.num_classes < 2:
            raise GanzooError(
                f"metric 'classifier' needs a dataset with at least 2 classes; '{dataset}' has {spec.num_classes}"
            )
        if min(spec.shape[1:]) < 4:
            raise GanzooError(f"metric 'classifier' needs images of at least 4x4 pixels; '{dataset}' has {spec.shape}")

    def compute(self, samples: SampleSource, context: EvalContext) -> MetricResult:
        self.check(context)
        if context.num_samples < 2:
            raise GanzooError("metric 'classifier' needs at least 2 samples (--num-samples)")
        recipe = self.recipe_for(context)
        directory = self.cache_directory(context)
        net, meta = self._evaluator(context, directory)
        reference = self._reference_stats(net, context, directory)

        num_classes = context.spec.num_classes
        moments = Moments(recipe.feature_dim)
        class_moments = ClassMoments(num_classes, recipe.feature_dim) if samples.conditional else None
        predicted = torch.zeros(num_classes, dtype=torch.float64)
        confidence = 0.0
        as_requested = 0
        with torch.inference_mode():
            for batch, requested in _batches_with_classes(samples, context):
                features = net.features(batch.to(context.device))
                probs = net.head(features).softmax(1).cpu()
                moments.add(features)
                top, classes = probs.max(1)
                predicted += torch.bincount(classes, minlength=num_classes).double()
                confidence += float(top.double().sum())
                if requested is not None:
                    as_requested += int((classes == requested).sum())
                    class_moments.add(features, requested)
        mean, cov = moments.mean_cov()

        share = predicted / moments.count
        label_counts = reference.label_counts
        reference_share = (label_counts.double() + 1) / (label_counts.sum() + num_classes)
        nonzero = share > 0
        class_kl = float((share[nonzero] * (share[nonzero] / reference_share[nonzero]).log()).sum())
        threshold = self.coverage_share / num_classes
        values = {
            "classifier_fid": frechet_distance(mean, cov, reference.mean, reference.cov),
            "modes_covered": float((share >= threshold).sum()),
            "class_kl": class_kl,
            "mean_confidence": confidence / moments.count,
        }
        protocol = {
            "evaluator": f"{recipe.network} trained on the dataset's train split "
                         "(ganzoo_plugins.metrics.classifier_net)",
            "evaluator_recipe": recipe.to_json(),
            "evaluator_recipe_hash": recipe.digest(),
            "evaluator_test_accuracy": float(meta["test_accuracy"]),
            "evaluator_train_seconds": float(meta.get("train_seconds", "nan")),
            "evaluator_train_precision": meta.get("train_precision", "fp32"),
            "evaluator_cache": str(directory),
            "feature_dim": recipe.feature_dim,
            "num_samples": moments.count,
            "reference_split": context.ref_split,
            "reference_size": reference.count,
            "coverage_threshold": threshold,
            "kl": "KL(predicted class histogram || reference label histogram, add-one smoothed)",
            "seed": context.seed,
        }
        if samples.conditional:
            values["class_accuracy"] = as_requested / moments.count
            within_values, within_protocol = within_class_values(class_moments, reference)
            values.update(within_values)
            protocol.update(within_protocol)
        return MetricResult(values, protocol)

    def features(self, context: EvalContext) -> Callable[[torch.Tensor], torch.Tensor]:
        """The evaluator's penultimate features (the space of ``classifier_fid``), trained and cached on first use."""
        self.check(context)
        net, _ = self._evaluator(context, self.cache_directory(context))
        return net.features

    def recipe_for(self, context: EvalContext) -> EvaluatorRecipe:
        """The recipe given to the constructor, or the documented one for the data's shape."""
        return self.recipe or recipe_for(context.spec.shape)

    def cache_directory(self, context: EvalContext) -> Path:
        """``cache_dir/classifier/<dataset>-<key>``: everything that determines the evaluator."""
        key = {
            "dataset": context.dataset.name,
            "data_root": str(Path(context.data_root).expanduser().resolve()),
            "data_options": dict(context.data_options),
            "spec": context.spec.to_json(),
            "recipe": self.recipe_for(context).digest(),
        }
        digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]
        return Path(context.cache_dir) / "classifier" / f"{context.dataset.name}-{digest}"

    def _evaluator(self, context: EvalContext, directory: Path) -> tuple[torch.nn.Module, dict[str, str]]:
        """The cached evaluator and its metadata, trained and cached first if missing or unreadable."""
        recipe = self.recipe_for(context)
        path = directory / "evaluator.safetensors"
        net = evaluator_network(context.spec.shape, context.spec.num_classes, recipe)
        cached = _read(path)
        if cached is not None and "test_accuracy" in cached[1]:
            tensors, meta = cached
            try:
                net.load_state_dict(tensors)
                return net.to(context.device).eval(), meta
            except RuntimeError:  # a stale file: retrain and overwrite it
                pass
        for stale in directory.glob("reference-*.safetensors"):  # features of another evaluator
            stale.unlink(missing_ok=True)
        _log.info("training the classifier evaluator for '%s' (cached in %s)", context.dataset.name, directory)
        start = time.perf_counter()
        net = build_trained_evaluator(
            context.spec.shape, context.spec.num_classes, recipe, context.split_data("train"), context.device
        )
        seconds = time.perf_counter() - start
        self.trainings += 1
        meta = {
            "test_accuracy": repr(classifier_accuracy(net, context.split_data("test"), context.batch_size, context.device)),
            "train_seconds": f"{seconds:.1f}",
            "recipe": json.dumps(recipe.to_json(), sort_keys=True),
            "train_precision": training_precision(recipe, context.device),
            "dataset": context.dataset.name,
            "spec": json.dumps(context.spec.to_json()),
        }
        _write(path, {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}, meta)
        return net, meta

    def _reference_stats(self, net: torch.nn.Module, context: EvalContext, directory: Path) -> ReferenceStats:
        """Feature statistics of the reference split, overall and per label (cached per split)."""
        path = directory / f"reference-{context.ref_split}.safetensors"
        cached = _read(path)
        if cached is not None and cached[1].get("version") == _REFERENCE_VERSION:
            tensors, meta = cached
            if set(ReferenceStats.TENSORS) <= tensors.keys():
                stats = {name: tensors[name] for name in ReferenceStats.TENSORS}
                return ReferenceStats(count=int(meta["count"]), **stats)
        num_classes, dim = context.spec.num_classes, self.recipe_for(context).feature_dim
        moments, class_moments = Moments(dim), ClassMoments(num_classes, dim)
        batches = -(-len(context.reference) // context.batch_size)
        with torch.inference_mode():
            for batch, labels in ganzoo.track(labelled_batches(context.reference, context.batch_size),
                                              f"reference statistics of the {context.ref_split} split", batches):
                features = net.features(batch.to(context.device))
                moments.add(features)
                class_moments.add(features, labels)
        if moments.count < 2:
            raise GanzooError(f"the {context.ref_split} split of '{context.dataset.name}' has fewer than 2 samples")
        mean, cov = moments.mean_cov()
        class_means, class_covs = class_moments.means_covs()
        reference = ReferenceStats(mean, cov, class_moments.counts, moments.count, class_means, class_covs)
        _write(path, reference.tensors(), {"count": str(moments.count), "version": _REFERENCE_VERSION})
        return reference


def _batches_with_classes(
    samples: SampleSource, context: EvalContext
) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
    """``(batch, requested classes)`` from a conditional source, ``(batch, None)`` from any other."""
    if samples.conditional:
        yield from samples.labeled_batches(context.num_samples, context.batch_size)
    else:
        for batch in samples.batches(context.num_samples, context.batch_size):
            yield batch, None


def _read(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]] | None:
    """A cached file's tensors and metadata, or None when absent or unreadable."""
    try:
        with safetensors.safe_open(str(path), framework="pt") as handle:
            return {key: handle.get_tensor(key) for key in handle.keys()}, handle.metadata() or {}
    except _CACHE_ERRORS:
        return None


def _write(path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, str]) -> None:
    """Write atomically; an unwritable cache only costs time on the next call."""
    try:
        with atomic_path(path) as temp:
            safetensors.torch.save_file(tensors, str(temp), metadata=meta)
    except OSError as error:
        _log.warning("could not cache %s: %s", path, error)


@ganzoo.hookimpl
def register_metrics(register: Callable[[Metric], None]) -> None:
    """Register ``classifier``."""
    register(Classifier())
