"""The ``modes`` metric: mode coverage and sample quality on 2-D Gaussian-mixture toys.

The protocol of VEEGAN (Srivastava et al., 2017) and PacGAN (Lin et al., 2018)
on their 2,500-sample evaluations of the ring of Metz et al. (2017) and the 5x5 grid:

* each sample is assigned to its nearest mode centre;
* it is *high quality* if it lies within 3 sigma of that centre (sigma: the
  dataset's per-mode std);
* a mode is *covered* if it receives at least ``threshold`` high-quality
  samples. The papers draw 2,500 samples and require 20 of them; ganzoo
  keeps that ratio for any sample count: ``threshold = ceil(20 * N / 2500)``
  (at least 1), so 2,500 samples need 20, 10,000 need 80.

Any dataset object with ``centers`` (``(K, D)``, on the samples' scale) and
``std`` (a float) works, so third-party mixtures need nothing from ganzoo.
Samples are streamed and only per-mode counts are kept.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

import ganzoo
from ganzoo import EvalContext, GanzooError, Metric, MetricResult, SampleSource

SIGMA_MULTIPLE = 3.0
#: VEEGAN / PacGAN: a mode counts when it gets 20 of 2,500 samples as high-quality samples.
PAPER_THRESHOLD, PAPER_SAMPLES = 20, 2500
#: Additive (Laplace) smoothing of the mode histogram, so that the KL stays finite.
KL_SMOOTHING = 1.0


def coverage_threshold(num_samples: int) -> int:
    """High-quality samples a mode needs to count as covered: ``ceil(20 * num_samples / 2500)``, at least 1."""
    return max(1, -(-PAPER_THRESHOLD * num_samples // PAPER_SAMPLES))


def mode_kl(counts: torch.Tensor) -> float:
    """KL(p || uniform) of the smoothed histogram ``p = (counts + 1) / (sum + K)``, in nats.

    0 for a perfectly even spread, close to ``log K`` when everything falls on
    one mode. With no high-quality sample at all there is no histogram; that
    is reported as ``log K``, the value of total collapse, so that producing
    nothing on the modes never scores better than dropping modes.
    """
    k = len(counts)
    if counts.sum() == 0:
        return math.log(k)
    p = (counts.double() + KL_SMOOTHING) / (counts.sum().double() + KL_SMOOTHING * k)
    return float((p * (p * k).log()).sum())


def mixture_of(context: EvalContext) -> tuple[torch.Tensor, float]:
    """The dataset's ``(K, D)`` centres and std, or a one-line ``GanzooError`` if it is no Gaussian mixture."""
    dataset = context.dataset
    centers, std = getattr(dataset, "centers", None), getattr(dataset, "std", None)
    name = getattr(dataset, "name", "") or type(dataset).__name__
    if centers is None or std is None:
        raise GanzooError(
            f"metric 'modes' needs a Gaussian-mixture dataset with centers and std "
            f"(such as ring8 or grid25); dataset '{name}' has none"
        )
    try:
        centers = torch.as_tensor(centers, dtype=torch.float32)
        std = float(std)
    except (TypeError, ValueError, RuntimeError):
        message = f"metric 'modes': dataset '{name}' has centers or std that are not numbers"
        raise GanzooError(message) from None
    dim = math.prod(context.spec.shape)
    if centers.ndim != 2 or len(centers) == 0 or centers.shape[1] != dim or not std > 0:
        raise GanzooError(
            f"metric 'modes': dataset '{name}' needs centers of shape (K, {dim}) and a positive std, "
            f"got centers {tuple(centers.shape)} and std {std}"
        )
    return centers, std


class ModesMetric(Metric):
    """Modes covered, high-quality share and mode-histogram KL on Gaussian-mixture toys.

    Values:
        modes_covered: modes with at least :func:`coverage_threshold` high-quality samples.
        modes_total: the number of modes K.
        high_quality_share: the fraction of samples within 3 sigma of their nearest mode.
        mode_kl: :func:`mode_kl` of the high-quality samples' mode histogram.
    """

    name = "modes"
    description = "Modes covered and high-quality share on Gaussian mixtures (VEEGAN, PacGAN protocol)."
    primary = "modes_covered"
    higher_is_better = True

    def check(self, context: EvalContext) -> None:
        mixture_of(context)

    def compute(self, samples: SampleSource, context: EvalContext) -> MetricResult:
        centers, std = mixture_of(context)
        radius = SIGMA_MULTIPLE * std
        counts = torch.zeros(len(centers), dtype=torch.long)
        seen = 0
        for batch in samples.batches(context.num_samples, context.batch_size):
            points = batch.reshape(len(batch), -1).float()
            # Exact differences, not torch.cdist: its matmul shortcut loses precision at sigma ~ 0.01.
            squared = (points[:, None, :] - centers[None]).pow(2).sum(-1)
            nearest_squared, nearest = squared.min(dim=1)
            good = nearest_squared <= radius**2
            counts += torch.bincount(nearest[good], minlength=len(centers))
            seen += len(points)
        threshold = coverage_threshold(seen)
        values = {
            "modes_covered": float((counts >= threshold).sum()),
            "modes_total": float(len(centers)),
            "high_quality_share": float(counts.sum()) / seen if seen else 0.0,
            "mode_kl": mode_kl(counts),
        }
        protocol = {
            "rule": (
                "nearest mode; high quality within 3 sigma; a mode is covered with at least "
                "ceil(20 * num_samples / 2500) high-quality samples (VEEGAN 2017, PacGAN 2018)"
            ),
            "sigma_multiple": SIGMA_MULTIPLE,
            "sigma": std,
            "threshold": threshold,
            "num_samples": seen,
            "num_modes": len(centers),
            "kl": "KL(p || uniform) in nats, p = (high-quality counts + 1) / (total + K)",
            "seed": context.seed,
        }
        return MetricResult(values, protocol)


@ganzoo.hookimpl
def register_metrics(register: Callable[[Metric], None]) -> None:
    """Register ``modes``."""
    register(ModesMetric())
