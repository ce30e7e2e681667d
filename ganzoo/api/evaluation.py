"""``ganzoo.evaluate``: score a run or generator file with metrics, as ``ganzoo eval`` does (it calls this)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganzoo.compute.devices import resolve_device
from ganzoo.errors import GanzooError
from ganzoo.evaluation.evaluate import EVAL_FILE, EvalSettings, append_record, prepare_evaluation, split_names
from ganzoo.contract.components import Dataset
from ganzoo.evaluation.sampling import LoadedGenerator, find_generator_file, load_generator
from ganzoo.evaluation.sources import GeneratorSamples
from ganzoo.registry import Registry, load_registry
from ganzoo.storage.paths import absolute_path, default_data_root
from ganzoo.storage.preflight import check_path_text
from ganzoo.storage.rundir import RunDir, run_dir_of


@dataclass
class Evaluation:
    """What :func:`evaluate` returns.

    Attributes:
        values: ``{metric: {value name: number}}``, e.g. ``values["classifier"]["classifier_fid"]``.
        record: the full record (step, generator file, protocol of every metric) as eval.jsonl holds it.
        generator_file: the generator file that was scored.
        eval_file: where the record was appended (None with ``append=False``).
    """

    values: dict[str, dict[str, float]]
    record: dict[str, Any]
    generator_file: Path
    eval_file: Path | None


@dataclass
class TrainingData:
    """The dataset a generator was trained on, where it is read from, and its options."""

    dataset: Dataset
    root: str
    options: dict[str, Any]


def training_data(loaded: LoadedGenerator, file: Path, data_root: str | None, registry: Registry) -> TrainingData:
    """The data of ``loaded``'s run: named by its file, read from ``data_root``, else the run's, else the default."""
    run = RunDir(run_dir_of(file))
    saved = run.read_config()["resolved"] if run.config_path.is_file() else {}
    data_name = loaded.record.extra.get("data")
    if not data_name:
        raise GanzooError(f"{file} does not say which dataset it was trained on")
    root = absolute_path(data_root) if data_root else saved.get("data_root") or default_data_root()
    return TrainingData(registry.dataset(data_name), root,
                        loaded.record.extra.get("data_options", saved.get("data_options", {})))


def evaluate(source: str | os.PathLike[str], metrics: str | Sequence[str], *, num_samples: int = 10_000,
             ref_split: str = "train", seed: int = 0, batch_size: int = 256, device: str = "auto",
             data_root: str | None = None, inception_weights: str | None = None, download: bool = True,
             append: bool = True, registry: Registry | None = None) -> Evaluation:
    """Score the generator of ``source`` (a run directory or a generator file) with ``metrics``.

    ``evaluate("runs/x", ["classifier", "fid"], num_samples=5000)`` is
    ``ganzoo eval runs/x --metrics classifier,fid --num-samples 5000``: the same samples,
    the same record, appended to the run's eval.jsonl unless ``append=False``.
    """
    if num_samples < 1 or batch_size < 1:
        raise GanzooError(f"num_samples and batch_size must be positive, got {num_samples} and {batch_size}")
    if data_root:
        check_path_text(data_root, "--data-root")
    names = split_names(metrics) if isinstance(metrics, str) else list(metrics)
    registry = registry or load_registry()
    file = find_generator_file(source)
    loaded = load_generator(file, registry, resolve_device(device))
    run_dir = run_dir_of(file)
    data = training_data(loaded, file, data_root, registry)
    data_name = data.dataset.name
    evaluation = prepare_evaluation(
        names, registry, dataset=data.dataset, spec=loaded.spec, data_root=data.root, data_options=data.options,
        device=loaded.device,
        settings=EvalSettings(num_samples=num_samples, ref_split=ref_split, batch_size=batch_size, seed=seed,
                              inception_weights=inception_weights, download=download),
    )
    samples = GeneratorSamples(loaded.network, loaded.record.latent_dim, loaded.spec, loaded.device, seed,
                               conditional=loaded.record.conditional)
    results = evaluation.run(samples)
    record = evaluation.record(results, step=loaded.record.step, generator=str(file),
                               sampled_from=loaded.record.extra.get("generator", "raw"), arch=loaded.record.arch,
                               loss=loaded.record.extra.get("loss"), data=data_name)
    eval_file = run_dir / EVAL_FILE if append else None
    if eval_file is not None:
        append_record(eval_file, record)
    values = {name: dict(result.values) for name, result in results.items()}
    return Evaluation(values=values, record=record, generator_file=file, eval_file=eval_file)
