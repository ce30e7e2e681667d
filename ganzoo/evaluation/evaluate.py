"""Running metric plugins on a generator and recording the numbers with their protocol."""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ganzoo.version import __version__
from ganzoo.storage.atomic import append_line
from ganzoo.contract.components import DataSpec, Dataset
from ganzoo.errors import GanzooError
from ganzoo.contract.metrics import EvalContext, Metric, MetricResult, SampleSource
from ganzoo.storage.paths import cache_root
from ganzoo.registry.loading import Registry

EVAL_FILE = "eval.jsonl"
REF_SPLITS = ("train", "test")


@dataclass
class EvalSettings:
    """How to evaluate: the user's ``--num-samples``, ``--ref-split`` and friends."""

    num_samples: int = 10_000
    ref_split: str = "train"
    batch_size: int = 256
    seed: int = 0
    inception_weights: str | None = None
    cache_dir: Path | None = None
    download: bool = True

    def __post_init__(self) -> None:
        if self.ref_split not in REF_SPLITS:
            raise GanzooError(f"unknown reference split '{self.ref_split}'. Valid choices: {', '.join(REF_SPLITS)}.")
        if self.num_samples < 1 or self.batch_size < 1:
            raise GanzooError("--num-samples and --batch-size must be positive")


@dataclass
class Evaluation:
    """Checked metrics bound to one dataset, ready to evaluate any number of generators."""

    metrics: list[Metric]
    context: EvalContext
    settings: EvalSettings = field(default_factory=EvalSettings)

    @property
    def primary(self) -> tuple[str, str, bool]:
        """(metric name, value key, higher is better) of the metric that ranks checkpoints."""
        first = self.metrics[0]
        return first.name, first.primary, first.higher_is_better

    def run(self, source: SampleSource) -> dict[str, MetricResult]:
        """Every metric on ``source``, in order."""
        results = {}
        for metric in self.metrics:
            result = metric.compute(source, self.context)
            results[metric.name] = MetricResult({k: float(v) for k, v in result.values.items()}, result.protocol)
        return results

    def record(self, results: dict[str, MetricResult], **extra: Any) -> dict[str, Any]:
        """A JSON record: values and the full protocol of every metric, plus the common settings."""
        return {
            **extra,
            "time": time.time(),
            "metrics": {name: {"values": r.values, "protocol": r.protocol} for name, r in results.items()},
            "protocol": {
                "num_samples": self.context.num_samples,
                "ref_split": self.context.ref_split,
                "seed": self.context.seed,
                "batch_size": self.context.batch_size,
                "dataset": self.context.dataset.name,
                "data_options": dict(self.context.data_options),
                "ganzoo_version": __version__,
                "torch_version": torch.__version__,
                "python": platform.python_version(),
            },
        }


def prepare_evaluation(
    metric_names: Sequence[str],
    registry: Registry,
    *,
    dataset: Dataset,
    spec: DataSpec,
    data_root: str,
    data_options: dict[str, Any],
    device: torch.device,
    settings: EvalSettings,
) -> Evaluation:
    """Look up and check every metric before anything is generated."""
    if not metric_names:
        raise GanzooError(f"no metrics given. Valid choices: {', '.join(registry.names('metrics'))}.")
    duplicates = sorted({name for name in metric_names if list(metric_names).count(name) > 1})
    if duplicates:
        raise GanzooError(f"metric '{duplicates[0]}' is listed twice in --metrics")
    metrics = [registry.metric(name) for name in metric_names]
    context = EvalContext(
        dataset=dataset,
        spec=spec,
        data_root=data_root,
        data_options=data_options,
        ref_split=settings.ref_split,
        num_samples=settings.num_samples,
        batch_size=settings.batch_size,
        device=device,
        seed=settings.seed,
        cache_dir=settings.cache_dir or cache_root(),
        inception_weights=settings.inception_weights,
        download=settings.download,
    )
    for metric in metrics:
        metric.check(context)
    return Evaluation(metrics, context, settings)


def split_names(text: str | None) -> list[str]:
    """A comma-separated option value as names: ``"fid,kid"`` -> ``["fid", "kid"]``."""
    return [name.strip() for name in (text or "").split(",") if name.strip()]


def append_record(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON line to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    append_line(path, json.dumps(record))


def is_better(value: float, best: float | None, higher_is_better: bool) -> bool:
    """Whether ``value`` beats ``best`` (None = nothing yet; NaN never wins)."""
    if value != value:
        return False
    if best is None:
        return True
    return value > best if higher_is_better else value < best
