"""The metric contract: how an evaluation plugin sees generated samples and real data.

A metric plugin registers :class:`Metric` instances through the
``register_metrics`` hook. ganzoo hands each metric a :class:`SampleSource`
(generated samples, streamed in batches) and an :class:`EvalContext` (the
dataset, the reference split, the sample count, the device, a cache
directory); the metric returns a :class:`MetricResult`: named numbers plus
the protocol that produced them, recorded with every number.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import torch

from ganzoo.contract.components import DataSpec, Dataset

#: Environment variable naming a local copy of the Inception weights file.
INCEPTION_WEIGHTS_ENV = "GANZOO_INCEPTION_WEIGHTS"


class SampleSource:
    """Generated samples for evaluation, produced batch by batch and never all at once.

    Attributes:
        spec: the :class:`DataSpec` of the samples.
        conditional: True when every sample was generated for a requested
            class; :meth:`labeled_batches` then yields those classes. Classes
            are balanced: sample ``i`` is of class ``i % spec.num_classes``.
    """

    spec: DataSpec
    conditional: bool = False

    def batches(self, count: int, batch_size: int) -> Iterator[torch.Tensor]:
        """Yield ``count`` samples in CPU float32 batches of at most ``batch_size``, values in ``[-1, 1]``.

        The same source yields the same samples on every call (its seed is fixed).
        """
        for samples, _ in self.labeled_batches(count, batch_size):
            yield samples

    def labeled_batches(self, count: int, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Like :meth:`batches`, with the requested class of each sample (``conditional`` sources only).

        Metrics that need labels (e.g. classification accuracy scores) check
        :attr:`conditional` first. A subclass implements this method or
        :meth:`batches` (then it is not conditional).
        """
        raise NotImplementedError


@dataclass
class EvalContext:
    """Everything a metric needs besides the samples.

    Attributes:
        dataset: the :class:`ganzoo.Dataset` the generator was trained on.
        spec: its spec.
        data_root: where the dataset is read from.
        data_options: the dataset options of the run.
        ref_split: ``"train"`` or ``"test"``: the real split samples are compared with.
        num_samples: how many generated samples to evaluate.
        batch_size: batch size for generation and feature extraction.
        device: where to run networks.
        seed: seeds the generated samples and any randomness of the metric.
        cache_dir: a directory where metrics may cache reference statistics
            or trained evaluators (keyed by what determines them).
        inception_weights: a local Inception weights file, or None.
        download: whether fetching missing data or weights is allowed.
    """

    dataset: Dataset
    spec: DataSpec
    data_root: str
    data_options: Mapping[str, Any] = field(default_factory=dict)
    ref_split: str = "train"
    num_samples: int = 10_000
    batch_size: int = 256
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    seed: int = 0
    cache_dir: Path = field(default_factory=lambda: Path("."))
    inception_weights: str | None = None
    download: bool = True

    @cached_property
    def reference(self) -> torch.utils.data.Dataset:
        """The reference split of the dataset (loaded on first use)."""
        return self.dataset.load(self.data_root, train=self.ref_split == "train", download=self.download, **self.data_options)

    def split_data(self, split: str) -> torch.utils.data.Dataset:
        """The ``"train"`` or ``"test"`` split of the dataset."""
        if split == self.ref_split:
            return self.reference
        return self.dataset.load(self.data_root, train=split == "train", download=self.download, **self.data_options)


@dataclass
class MetricResult:
    """What a metric reports.

    Attributes:
        values: named numbers, e.g. ``{"fid": 23.4}`` or
            ``{"classifier_fid": 3.1, "modes": 10, "kl": 0.02}``.
        protocol: how they were computed: feature extractor, weights hash,
            resizing, sample counts, reference split, ... (JSON-ready).
    """

    values: dict[str, float]
    protocol: dict[str, Any] = field(default_factory=dict)


class Metric:
    """An evaluation of generated samples against a dataset.

    Attributes:
        name: the kebab-case name users pass to ``--metrics``.
        description: one line shown by ``ganzoo list-plugins``.
        primary: the key of :attr:`MetricResult.values` that ranks
            checkpoints when this metric is the first of ``--metrics``.
        higher_is_better: whether a larger primary value is better.

    A metric that measures in a feature space may also offer that space to
    other commands by overriding :meth:`features` (``ganzoo nearest --space NAME``).
    """

    name: str = ""
    description: str = ""
    primary: str = ""
    higher_is_better: bool = False

    def check(self, context: EvalContext) -> None:
        """Raise ``GanzooError`` if this metric cannot evaluate data like ``context``'s.

        Called before any sample is generated, so an impossible request
        (``modes`` on MNIST, an image metric on 2-D points, Inception weights
        that are not available offline) fails at once with one line.
        The default accepts everything.
        """

    def compute(self, samples: SampleSource, context: EvalContext) -> MetricResult:
        """Evaluate ``context.num_samples`` samples from ``samples`` against ``context``'s data."""
        raise NotImplementedError

    def features(self, context: EvalContext) -> Callable[[torch.Tensor], torch.Tensor] | None:
        """The feature space this metric measures in, or None (the default: it has none).

        Return a function mapping a batch of images (float32 on
        ``context.device``, values in the data's range ``[-1, 1]``) to
        feature vectors ``(N, D)``, the space this metric measures in; used
        by ``ganzoo nearest --space NAME``, which calls it after
        :meth:`check`, under ``torch.inference_mode``, with batches of at
        most ``context.batch_size``. It may load or train (and cache) its
        extractor as :meth:`compute` does. ``ganzoo nearest`` offers as
        ``--space`` choices the metrics whose class overrides this method,
        so only override it when there is a space to return.
        """
        return None
