"""FID, Inception Score, KID and precision/recall through torch-fidelity.

- ``fid``: Heusel et al., 2017, "GANs Trained by a Two Time-Scale Update Rule
  Converge to a Local Nash Equilibrium". Primary ``fid``, lower is better.
- ``is``: Salimans et al., 2016, "Improved Techniques for Training GANs".
  Primary ``is_mean``, higher is better (no reference data).
- ``kid``: Binkowski et al., 2018, "Demystifying MMD GANs". Primary
  ``kid_mean``, lower is better; subsets of min(1000, samples, reference).
- ``prc``: Kynkaanniemi et al., 2019, "Improved Precision and Recall Metric
  for Assessing Generative Models" (k = 3). Primary ``f_score``, the harmonic
  mean of precision and recall, higher is better: precision alone rewards
  mode collapse and recall alone rewards noise. The reference is a seeded
  random subset of the reference split the size of the generated set.

All four use torch-fidelity's ``inception-v3-compat`` extractor with the
weights file ``weights-inception-2015-12-05-6726825d.pth``, read from
``--inception-weights`` / ``$GANZOO_INCEPTION_WEIGHTS`` or torch's hub cache
(``$TORCH_HOME/hub/checkpoints``); :meth:`check` fails with one line saying
where to put it when it is missing and cannot be downloaded. Another
extractor registered with ``torch_fidelity.register_feature_extractor`` can
be chosen by the ``feature_extractor`` constructor argument or
``$GANZOO_FEATURE_EXTRACTOR``. See :mod:`.fidelity_features` for the cache.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

import ganzoo
from ganzoo import EvalContext, GanzooError, Metric, MetricResult, SampleSource


class FidelityMetric(Metric):
    """A torch-fidelity metric on image data.

    Subclasses set the :class:`ganzoo.Metric` attributes, :attr:`key` (the
    metric's name in torch-fidelity, which picks its feature layer) and
    implement :meth:`score`.

    Args:
        feature_extractor: a name in torch-fidelity's extractor registry;
            None means ``$GANZOO_FEATURE_EXTRACTOR``, else ``inception-v3-compat``.
    """

    key: str = ""
    uses_reference: bool = True

    def __init__(self, feature_extractor: str | None = None) -> None:
        self.feature_extractor = feature_extractor

    def check(self, context: EvalContext) -> None:
        """Image data with 1 or 3 channels, a known extractor, and its weights available offline."""
        from ganzoo_plugins.metrics import fidelity_features as features

        shape = context.spec.shape
        if not context.spec.is_image:
            raise GanzooError(f"metric '{self.name}' needs image data; dataset '{context.dataset.name}' has shape {shape}")
        if shape[0] not in (1, 3):
            raise GanzooError(f"metric '{self.name}' needs 1- or 3-channel images; dataset '{context.dataset.name}' has shape {shape}")
        features.resolve_weights(self.name, features.extractor_name(self.feature_extractor), context)

    def compute(self, samples: SampleSource, context: EvalContext) -> MetricResult:
        from ganzoo_plugins.metrics import fidelity_features as features

        run = features.FeatureRun(self.name, self.feature_extractor, context)
        layer = run.layers[self.key]
        generated = run.generated(samples)[layer]
        protocol = run.protocol(layer)
        reference = None
        if self.uses_reference:
            reference, size, _ = run.reference()
            protocol.update(reference_split=context.ref_split, reference_size=size)
        values, extra = self.score(generated, reference, layer, context)
        return MetricResult(values, {**protocol, **extra})

    def score(
        self, generated: torch.Tensor, reference: dict[str, torch.Tensor] | None, layer: str, context: EvalContext
    ) -> tuple[dict[str, float], dict[str, Any]]:
        """The values and the metric's own protocol entries.

        Args:
            generated: ``(N, D)`` features of the generated samples.
            reference: the cached reference tensors (``features/<layer>``,
                ``fid_mu``, ``fid_sigma``), or None when :attr:`uses_reference` is False.
            layer: the feature layer ``generated`` comes from.
            context: the evaluation context.
        """
        raise NotImplementedError


class FidMetric(FidelityMetric):
    """Frechet Inception Distance against the reference split's cached statistics."""

    name = "fid"
    description = "Frechet Inception Distance (Heusel et al. 2017) via torch-fidelity."
    primary = "fid"
    higher_is_better = False
    key = "fid"

    def score(self, generated, reference, layer, context):
        from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_features_to_statistics, fid_statistics_to_metric

        stats = {"mu": reference["fid_mu"].numpy(), "sigma": reference["fid_sigma"].numpy()}
        fid = fid_statistics_to_metric(fid_features_to_statistics(generated), stats, False)[KEY_METRIC_FID]
        return {"fid": fid}, {}


class InceptionScoreMetric(FidelityMetric):
    """Inception Score of the generated samples alone."""

    name = "is"
    description = "Inception Score (Salimans et al. 2016) via torch-fidelity."
    primary = "is_mean"
    higher_is_better = True
    key = "isc"
    uses_reference = False

    def score(self, generated, reference, layer, context):
        from torch_fidelity.metric_isc import KEY_METRIC_ISC_MEAN, KEY_METRIC_ISC_STD, isc_features_to_metric

        splits = min(10, len(generated))
        out = isc_features_to_metric(generated, splits=splits, shuffle=True, rng_seed=context.seed)
        return {"is_mean": out[KEY_METRIC_ISC_MEAN], "is_std": out[KEY_METRIC_ISC_STD]}, {"isc_splits": splits}


class KidMetric(FidelityMetric):
    """Kernel Inception Distance (cubic polynomial kernel, 100 subsets)."""

    name = "kid"
    description = "Kernel Inception Distance (Binkowski et al. 2018) via torch-fidelity."
    primary = "kid_mean"
    higher_is_better = False
    key = "kid"

    def score(self, generated, reference, layer, context):
        from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kid_features_to_metric

        real = reference[f"features/{layer}"]
        subset = min(1000, len(generated), len(real))
        out = kid_features_to_metric(
            generated, real, kid_subsets=100, kid_subset_size=subset, rng_seed=context.seed, verbose=False
        )
        values = {"kid_mean": out[KEY_METRIC_KID_MEAN], "kid_std": out[KEY_METRIC_KID_STD]}
        return values, {"kid_subset_size": subset, "kid_subsets": 100, "kid_kernel": "poly (degree 3, coef0 1)"}


class PrecisionRecallMetric(FidelityMetric):
    """Improved precision and recall (k-NN manifolds, k = 3); primary: their F-score."""

    name = "prc"
    description = "Precision/recall (Kynkaanniemi et al. 2019) via torch-fidelity; primary f_score."
    primary = "f_score"
    higher_is_better = True
    key = "prc"

    def score(self, generated, reference, layer, context):
        from torch_fidelity.metric_prc import (
            KEY_METRIC_F_SCORE, KEY_METRIC_PRECISION, KEY_METRIC_RECALL, prc_features_to_metric,
        )

        real = reference[f"features/{layer}"]
        if len(real) > len(generated):  # equal-sized sets, as in the paper
            rng = torch.Generator().manual_seed(context.seed)
            real = real[torch.randperm(len(real), generator=rng)[: len(generated)]]
        out = prc_features_to_metric(generated, real, prc_neighborhood=3, save_cpu_ram=True, verbose=False)
        values = {key: out[tf_key] for key, tf_key in
                  (("precision", KEY_METRIC_PRECISION), ("recall", KEY_METRIC_RECALL), ("f_score", KEY_METRIC_F_SCORE))}
        return values, {"prc_neighborhood": 3, "prc_reference_size": len(real)}


METRICS = (FidMetric, InceptionScoreMetric, KidMetric, PrecisionRecallMetric)


@ganzoo.hookimpl
def register_metrics(register: Callable[[Metric], None]) -> None:
    """Register ``fid``, ``is``, ``kid`` and ``prc``."""
    for metric in METRICS:
        register(metric())
