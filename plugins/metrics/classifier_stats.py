"""Feature statistics for the ``classifier`` metric: running moments, the Fréchet distance, per-class values.

Everything here works on evaluator features (rows of a ``(N, D)`` tensor) and
knows nothing of networks or caches. The per-class values follow the
"intra-FID" of Miyato & Koyama 2018 (cGANs with Projection Discriminator):
one Fréchet distance per class, between the samples generated for class ``k``
and the real samples labelled ``k``, averaged over classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from ganzoo import GanzooError

__all__ = ["ClassMoments", "Moments", "ReferenceStats", "frechet_distance", "within_class_values"]


def frechet_distance(mean1: torch.Tensor, cov1: torch.Tensor, mean2: torch.Tensor, cov2: torch.Tensor) -> float:
    """``||m1 - m2||^2 + tr(C1) + tr(C2) - 2 tr((C1^1/2 C2 C1^1/2)^1/2)`` in float64.

    ``tr((C1 C2)^1/2)`` equals the trace term, and the symmetric form lets both
    square roots come from ``eigh`` (negative round-off eigenvalues clamped
    to zero) instead of a general matrix square root.
    """
    mean1, cov1, mean2, cov2 = (t.double() for t in (mean1, cov1, mean2, cov2))
    root1 = _psd_sqrt(cov1)
    middle = root1 @ cov2 @ root1
    trace_root = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0).sqrt().sum()
    return float((mean1 - mean2).square().sum() + cov1.trace() + cov2.trace() - 2 * trace_root)


def _psd_sqrt(matrix: torch.Tensor) -> torch.Tensor:
    values, vectors = torch.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * values.clamp(min=0).sqrt()) @ vectors.T


class Moments:
    """Running count, sum and sum of outer products of feature rows, in float64."""

    def __init__(self, dim: int) -> None:
        self.count = 0
        self.sum = torch.zeros(dim, dtype=torch.float64)
        self.outer = torch.zeros(dim, dim, dtype=torch.float64)

    def add(self, features: torch.Tensor) -> None:
        features = features.double().cpu()
        self.count += len(features)
        self.sum += features.sum(0)
        self.outer += features.T @ features

    def mean_cov(self) -> tuple[torch.Tensor, torch.Tensor]:
        mean = self.sum / self.count
        cov = (self.outer - self.count * torch.outer(mean, mean)) / (self.count - 1)
        return mean, cov


class ClassMoments:
    """:class:`Moments` kept separately for each of ``num_classes`` labels."""

    def __init__(self, num_classes: int, dim: int) -> None:
        self.counts = torch.zeros(num_classes, dtype=torch.long)
        self.sums = torch.zeros(num_classes, dim, dtype=torch.float64)
        self.outers = torch.zeros(num_classes, dim, dim, dtype=torch.float64)

    def add(self, features: torch.Tensor, labels: torch.Tensor) -> None:
        features, labels = features.double().cpu(), labels.long().cpu()
        for label in labels.unique().tolist():
            rows = features[labels == label]
            self.counts[label] += len(rows)
            self.sums[label] += rows.sum(0)
            self.outers[label] += rows.T @ rows

    def means_covs(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(K, D)`` means and ``(K, D, D)`` unbiased covariances; zeros for a class with fewer than 2 rows."""
        counts = self.counts.double()
        means = self.sums / counts.clamp(min=1)[:, None]
        centred = self.outers - counts[:, None, None] * means[:, :, None] * means[:, None, :]
        return means, centred / (counts - 1).clamp(min=1)[:, None, None]


@dataclass(frozen=True)
class ReferenceStats:
    """Evaluator-feature statistics of a reference split, overall and per label.

    Attributes:
        mean, cov: ``(D,)`` and ``(D, D)`` over the whole split.
        label_counts: ``(K,)`` samples per label.
        count: the split's size.
        class_means, class_covs: ``(K, D)`` and ``(K, D, D)`` per label (zeros
            where a label has fewer than 2 samples).
    """

    mean: torch.Tensor
    cov: torch.Tensor
    label_counts: torch.Tensor
    count: int
    class_means: torch.Tensor
    class_covs: torch.Tensor

    TENSORS: ClassVar[tuple[str, ...]] = ("mean", "cov", "label_counts", "class_means", "class_covs")

    def tensors(self) -> dict[str, torch.Tensor]:
        return {name: getattr(self, name) for name in self.TENSORS}


def within_class_values(generated: ClassMoments, reference: ReferenceStats) -> tuple[dict[str, float], dict]:
    """``intra_class_fid`` and ``within_class_spread`` with the protocol entries that describe them.

    For every class ``k`` with at least 2 generated and 2 reference samples
    (and reference features that vary): the Fréchet distance between the
    generated and reference class-``k`` features, and ``tr(C_gen,k) / tr(C_ref,k)``.
    Both are averaged over those classes; the others are skipped and listed
    as ``None`` in the per-class protocol entries.

    Raises:
        GanzooError: when no class has 2 generated samples.
    """
    means, covs = generated.means_covs()
    ref_traces = reference.class_covs.diagonal(dim1=1, dim2=2).sum(1)
    usable = (generated.counts >= 2) & (reference.label_counts >= 2) & (ref_traces > 0)
    if not bool(usable.any()):
        raise GanzooError(
            "metric 'classifier' needs at least 2 samples generated for one class to measure within-class "
            f"diversity; the most any class got is {int(generated.counts.max())} (raise --num-samples)"
        )
    fids: list[float | None] = []
    spreads: list[float | None] = []
    for k in range(len(usable)):
        if not usable[k]:
            fids.append(None)
            spreads.append(None)
            continue
        fids.append(frechet_distance(means[k], covs[k], reference.class_means[k], reference.class_covs[k]))
        # The trace of a covariance is >= 0; clamping the diagonal removes round-off of a collapsed class.
        spreads.append(float(covs[k].diagonal().clamp(min=0).sum() / ref_traces[k]))
    used = [k for k in range(len(usable)) if usable[k]]
    values = {
        "intra_class_fid": sum(fids[k] for k in used) / len(used),
        "within_class_spread": sum(spreads[k] for k in used) / len(used),
    }
    protocol = {
        "intra_class": (
            "per class k: Fréchet distance, and tr(cov) of generated over tr(cov) of reference, between the "
            "evaluator features of the samples generated for k and of the reference samples labelled k; "
            "mean over classes with >= 2 generated and >= 2 reference samples (others skipped)"
        ),
        "intra_class_classes": len(used),
        "intra_class_min_samples": int(generated.counts[usable].min()),
        "intra_class_fid_per_class": fids,
        "within_class_spread_per_class": spreads,
    }
    return values, protocol
