"""``ganzoo augment``: does a conditional generator's data help a classifier?

For each seed the same classifier trains with the same budget (optimizer
steps, batch size, learning-rate schedule; :mod:`ganzoo.evaluation.classify`) on

- ``real``: a class-stratified fraction of the real train split,
- ``real+synthetic``: that subset plus ``N`` generated samples per class,
- ``synthetic``: the ``N`` per class alone (the Classification Accuracy Score
  of Ravuri & Vinyals 2019),

and is tested on the real test split. A seed fixes the real subset, the
generated samples, the classifier's initial weights and its batch order; the
three settings of one seed share the subset and the initial weights, so
``real+synthetic - real`` is a paired difference.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from ganzoo.version import __version__
from ganzoo.storage.atomic import write_text_atomic
from ganzoo.evaluation.classifier_nets import CLASSIFIERS, check_classifiable
from ganzoo.evaluation.classify import TrainingBudget, classifier_accuracy, dataset_labels, dataset_tensors, train_classifier
from ganzoo.errors import GanzooError, unknown_choice
from ganzoo.storage.paths import absolute_path, default_data_root
from ganzoo.storage.preflight import check_path_text, check_writable
from ganzoo.registry.loading import Registry
from ganzoo.storage.rundir import RunDir, run_dir_of
from ganzoo.evaluation.sampling import LoadedGenerator, find_generator_file, load_generator
from ganzoo.evaluation.sources import GeneratorSamples

AUGMENT_FILE = "augment.json"
#: Room a report needs (a few KiB, with margin).
REPORT_BYTES = 2**20
#: The three training sets, in the order they are trained and reported.
SETTINGS: dict[str, str] = {
    "real": "a class-stratified fraction of the real train split",
    "real+synthetic": "that fraction plus N generated samples per class",
    "synthetic": "N generated samples per class only (CAS)",
}
DIFFERENCE = "real+synthetic - real"


@dataclass(frozen=True)
class AugmentSettings:
    """What ``ganzoo augment`` trains: the data mix, the classifier and its budget."""

    synthetic_per_class: int = 1000
    real_fraction: float = 1.0
    classifier: str = "small-cnn"
    seeds: tuple[int, ...] = (0, 1, 2)
    steps: int = 2000
    batch_size: int = 128
    learning_rate: float = 1e-3
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.threads is not None and self.threads <= 0:
            raise GanzooError(f"--threads must be positive, got {self.threads}")
        if not 0 < self.real_fraction <= 1:
            raise GanzooError(f"--real-fraction must lie in (0, 1], got {self.real_fraction}")
        for name in ("synthetic_per_class", "steps", "batch_size"):
            if getattr(self, name) <= 0:
                raise GanzooError(f"--{name.replace('_', '-')} must be positive, got {getattr(self, name)}")
        if not self.learning_rate > 0:  # also refuses NaN
            raise GanzooError(f"--lr must be positive, got {self.learning_rate}")
        if self.classifier not in CLASSIFIERS:
            raise unknown_choice("classifier", self.classifier, CLASSIFIERS)
        if not self.seeds:
            raise GanzooError("--seeds needs at least one seed")
        if len(set(self.seeds)) != len(self.seeds):
            raise GanzooError(f"--seeds lists a seed twice: {','.join(map(str, self.seeds))}")
        self.budget  # noqa: B018 -- building the budget checks steps, batch size and learning rate

    @property
    def budget(self) -> TrainingBudget:
        """The classifier's training budget, the same for every setting and seed."""
        return TrainingBudget(steps=self.steps, batch_size=self.batch_size, learning_rate=self.learning_rate)


@dataclass
class AugmentData:
    """The generator and the real splits an augmentation study reads."""

    generator: LoadedGenerator
    generator_file: Path
    data_name: str
    data_root: str
    train: torch.utils.data.Dataset
    test: torch.utils.data.Dataset
    run_dir: Path


def open_study(source: str, data_name: str, registry: Registry, device: torch.device,
               data_root: str | None = None) -> AugmentData:
    """Load the run's conditional generator and the real data, refusing any mismatch before training."""
    dataset = registry.dataset(data_name)
    file = find_generator_file(source)
    loaded = load_generator(file, registry, device)
    if not loaded.record.conditional:
        raise GanzooError(f"{file}: architecture '{loaded.record.arch}' is not class-conditional; augment needs a "
                          f"conditional generator (e.g. --arch cmlp or cdcgan)")
    trained_on = loaded.record.extra.get("data")
    if trained_on != data_name:
        raise GanzooError(f"--data {data_name}: the generator in {file} was trained on '{trained_on}'")
    check_classifiable(loaded.spec, f"augment on dataset '{data_name}'")
    run_dir = run_dir_of(file)
    saved = RunDir(run_dir).read_config()["resolved"] if RunDir(run_dir).config_path.is_file() else {}
    if data_root:
        check_path_text(data_root, "--data-root")
    root = absolute_path(data_root) if data_root else saved.get("data_root") or default_data_root()
    options = loaded.record.extra.get("data_options", saved.get("data_options", {}))
    train = dataset.load(root, train=True, **options)
    test = dataset.load(root, train=False, **options)
    return AugmentData(loaded, file, data_name, str(root), train, test, run_dir)


def stratified_subset(labels: torch.Tensor, fraction: float, num_classes: int, seed: int) -> torch.Tensor:
    """Sorted indices of ``round(fraction * n_c)`` (at least 1) random samples of each class ``c``."""
    generator = torch.Generator().manual_seed(seed)
    chosen = []
    for label in range(num_classes):
        members = torch.nonzero(labels == label).flatten()
        if len(members) == 0:
            continue
        keep = max(1, round(fraction * len(members)))
        chosen.append(members[torch.randperm(len(members), generator=generator)[:keep]])
    return torch.cat(chosen).sort().values


def synthetic_set(generator: LoadedGenerator, per_class: int, seed: int,
                  batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """``per_class`` samples of every class from ``generator``, with the classes they were asked for."""
    source = GeneratorSamples(generator.network, generator.record.latent_dim, generator.spec, generator.device,
                              seed=seed, conditional=True)
    chunks = list(source.labeled_batches(per_class * generator.spec.num_classes, batch_size))
    return torch.cat([x for x, _ in chunks]), torch.cat([y for _, y in chunks]).long()


#: Called after each training with (seed, setting, test accuracy, training-set size, seconds).
Progress = Callable[[int, str, float, int, float], None]


def run_study(data: AugmentData, settings: AugmentSettings, progress: Progress | None = None) -> dict[str, Any]:
    """Train and test every setting for every seed; returns the JSON-ready report (see :func:`write_report`)."""
    spec, device = data.generator.spec, data.generator.device
    if settings.threads:
        torch.set_num_threads(settings.threads)
    real_labels = dataset_labels(data.train)
    rows = []
    for seed in settings.seeds:
        real = dataset_tensors(data.train, stratified_subset(real_labels, settings.real_fraction,
                                                             spec.num_classes, seed))
        synthetic = synthetic_set(data.generator, settings.synthetic_per_class, seed)
        sets = {
            "real": real,
            "real+synthetic": (torch.cat([real[0], synthetic[0]]), torch.cat([real[1], synthetic[1]])),
            "synthetic": synthetic,
        }
        for name, (images, labels) in sets.items():
            start = time.perf_counter()
            net = train_classifier(settings.classifier, spec, images, labels, settings.budget, seed, device)
            score = classifier_accuracy(net, data.test, 512, device)
            seconds = time.perf_counter() - start
            rows.append({"seed": seed, "setting": name, "accuracy": score, "train_size": len(images),
                         "seconds": round(seconds, 2)})
            if progress:
                progress(seed, name, score, len(images), seconds)
    return {"protocol": _protocol(data, settings), "results": rows, "summary": summarize(rows)}


def summarize(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Test accuracy per setting, and the paired ``real+synthetic - real`` difference, over seeds.

    Each entry has ``mean``, ``std`` (sample standard deviation), ``n``,
    ``per_seed`` (in seed order) and, for settings, ``train_size``.
    """
    seeds = list(dict.fromkeys(row["seed"] for row in rows))
    found = {(row["setting"], row["seed"]): row for row in rows}
    summary: dict[str, dict[str, Any]] = {}
    for name in SETTINGS:
        scores = [found[name, seed]["accuracy"] for seed in seeds if (name, seed) in found]
        if scores:
            size = next(found[name, seed]["train_size"] for seed in seeds if (name, seed) in found)
            summary[name] = {**mean_std(scores), "per_seed": scores, "train_size": size}
    paired = [found["real+synthetic", seed]["accuracy"] - found["real", seed]["accuracy"]
              for seed in seeds if ("real", seed) in found and ("real+synthetic", seed) in found]
    if paired:
        summary[DIFFERENCE] = {**mean_std(paired), "per_seed": paired}
    return summary


def mean_std(values: list[float]) -> dict[str, float]:
    """``{"mean", "std", "n"}``; the std is the sample standard deviation (0 for one value)."""
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"mean": statistics.fmean(values), "std": std, "n": len(values)}


def _protocol(data: AugmentData, settings: AugmentSettings) -> dict[str, Any]:
    record = data.generator.record
    return {
        **asdict(settings),
        "seeds": list(settings.seeds),
        "budget": settings.budget.to_json(),
        "settings": SETTINGS,
        "real_subset": "round(F * n_c) (at least 1) images of each class c, drawn with the seed",
        "std": "sample standard deviation over seeds",
        "test_split": "test",
        "test_size": len(data.test),
        "train_split_size": len(data.train),
        "dataset": data.data_name,
        "data_root": data.data_root,
        "generator": str(data.generator_file),
        "generator_step": record.step,
        "generator_arch": record.arch,
        "generator_arch_options": record.arch_options,
        "generator_loss": record.extra.get("loss"),
        "device": str(data.generator.device),
        "threads": torch.get_num_threads(),
        "ganzoo_version": __version__,
        "torch_version": torch.__version__,
        "python": platform.python_version(),
    }


def report_path(out: str | None, run_dir: Path, force: bool = False) -> Path:
    """Where a study's report goes, checked before any classifier trains: ``--out`` (refused when it
    exists, unless ``force``), else the first free ``RUN/augment.json``, ``RUN/augment-2.json``, ...,
    so an earlier study is never replaced."""
    if out:
        check_path_text(out, "--out")
        path = Path(out)
        if path.exists() and not force:
            raise GanzooError(f"--out {path} already holds a report; pass --force to replace it, or choose "
                              "another --out (without --out each study gets a file of its own)")
    else:
        stem, suffix = Path(AUGMENT_FILE).stem, Path(AUGMENT_FILE).suffix
        path = run_dir / AUGMENT_FILE
        number = 2
        while path.exists():
            path, number = run_dir / f"{stem}-{number}{suffix}", number + 1
    check_writable(path, REPORT_BYTES, "--out", "the report", is_file=True)
    return path


def write_report(report: dict[str, Any], path: str | Path) -> Path:
    """Write the report as JSON, atomically; returns the path."""
    write_text_atomic(path, json.dumps(report, indent=2) + "\n")
    return Path(path)
