"""Planning a sweep: the cells of an arch x loss x dataset x seed grid, and the budget they share.

A combination that cannot work (an architecture that cannot build for a
dataset's shape, a dataset that is missing) becomes a skipped cell with its
reason, found before any cell starts.
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from ganzoo.contract.components import DataSpec, Dataset
from ganzoo.errors import GanzooError
from ganzoo.evaluation.evaluate import EvalSettings, prepare_evaluation
from ganzoo.registry import Registry
from ganzoo.registry.options import resolve_options

LATENT_DIM = 100
_VARIANT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
#: Options every cell sets itself, which a variant may not.
_CELL_OPTIONS = frozenset({"--arch", "--loss", "--data", "--seed", "--steps", "--out", "-o", "--resume", "--device",
                           "--data-root"})


@dataclass
class Cell:
    """One run of the grid; ``skip_reason`` says why it cannot run (an impossible combination), ``failure``
    why it failed before starting (its data cannot be read)."""

    arch: str
    loss: str
    data: str
    seed: int
    skip_reason: str | None = None
    failure: str | None = None
    variant: str = ""  # a --variant axis value: its name, and the ganzoo run options it adds
    variant_args: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        variant = f"-{self.variant}" if self.variant else ""
        return f"{self.data}-{self.arch}-{self.loss}{variant}-seed{self.seed}"

    @property
    def combination(self) -> str:
        return f"{self.arch}+{self.loss}" + (f" [{self.variant}]" if self.variant else "")


@dataclass
class BenchSettings:
    """The budget and options every cell shares."""

    steps: int | None = None
    minutes: float | None = None
    metrics: list[str] = field(default_factory=list)
    eval_every: int | None = None
    eval_samples: int = 2000
    batch_size: int | None = None
    log_every: int = 50
    device: str = "auto"
    data_root: str | None = None
    nproc_per_cell: int = 1

    def __post_init__(self) -> None:
        if (self.steps is None) == (self.minutes is None):
            raise GanzooError("give exactly one budget per cell: --steps N or --minutes M")
        if self.minutes is not None and not 0 < self.minutes < math.inf:  # also refuses NaN
            raise GanzooError(f"--minutes must be a positive finite number, got {self.minutes}")
        if self.nproc_per_cell < 1:
            raise GanzooError(f"--nproc-per-cell must be positive, got {self.nproc_per_cell}")


def parse_variants(texts: Sequence[str]) -> list[tuple[str, tuple[str, ...]]]:
    """``--variant NAME=OPTIONS`` values: ``("r1", ("--reg", "r1:gamma=1"))``; ``NAME=`` is the plain run.

    Options are ``ganzoo run`` options as on its command line (quoted as one
    argument); every cell of the grid runs once per variant.
    """
    variants = []
    for text in texts:
        name, sep, options = text.partition("=")
        name = name.strip()
        if not sep or not _VARIANT_NAME.match(name):
            raise GanzooError(f"--variant expects NAME=OPTIONS with a name of letters, digits, '-' or '_' "
                              f"(e.g. r1='--reg r1:gamma=1'), got '{text}'")
        try:
            args = tuple(shlex.split(options))
        except ValueError as error:
            raise GanzooError(f"--variant {name}: cannot split its options ({error})") from None
        fixed = sorted(set(args) & _CELL_OPTIONS)
        if args and not args[0].startswith("--") or fixed:
            raise GanzooError(f"--variant {name}: give ganzoo run options other than the grid's own "
                              f"({', '.join(sorted(_CELL_OPTIONS))}), got '{options}'")
        variants.append((name, args))
    names = [name for name, _ in variants]
    if len(set(names)) != len(names):
        raise GanzooError(f"--variant names must differ, got {', '.join(names)}")
    return variants


def plan(registry: Registry, archs: Sequence[str], losses: Sequence[str], datas: Sequence[str],
         seeds: Sequence[int], data_root: str, metrics: Sequence[str] = (), eval_samples: int = 2000,
         variants: Sequence[tuple[str, tuple[str, ...]]] = ()) -> list[Cell]:
    """Every cell of the grid. Each dataset is read once, here: cells whose data cannot be read are
    failed before any starts; combinations that cannot work (an architecture for the data's shape, a
    metric for the data) are skipped with their reason."""
    for kind, names in (("architectures", archs), ("losses", losses), ("datasets", datas)):
        for name in names:
            registry.get(kind, name)  # unknown names fail the whole command, with a did-you-mean
    cells = []
    for data in datas:
        dataset = registry.dataset(data)
        spec, failure, skip = None, None, None
        try:
            spec = dataset.spec_for(data_root, **dataset.options)
            dataset.load(data_root, train=True, download=True, **dataset.options)
        except GanzooError as error:
            failure = str(error)
        if spec is not None and metrics:
            skip = _metric_problem(registry, dataset, spec, data_root, metrics, eval_samples)
        for arch in archs:
            for loss in losses:
                reason = None if failure else skip or _build_problem(registry, arch, loss, spec)
                cells.extend(Cell(arch, loss, data, seed, reason, failure, variant, args)
                             for variant, args in (variants or [("", ())]) for seed in seeds)
    return cells


def _metric_problem(registry: Registry, dataset: Dataset, spec: DataSpec, data_root: str, metrics: Sequence[str],
                    eval_samples: int) -> str | None:
    """Why one of ``metrics`` cannot evaluate this dataset (``classifier`` on 2-D points), if one cannot."""
    try:
        prepare_evaluation(metrics, registry, dataset=dataset, spec=spec, data_root=data_root,
                           data_options=dict(dataset.options), device=torch.device("cpu"),
                           settings=EvalSettings(num_samples=eval_samples))
    except GanzooError as error:
        return str(error)
    return None


def _build_problem(registry: Registry, arch: str, loss: str, spec: Any) -> str | None:
    architecture = registry.architecture(arch)
    options = resolve_options(architecture.options, {}, registry.loss(loss).defaults.get("architecture_options", {}),
                              owner=f"architecture '{arch}'", flag="--arch-option")
    try:
        architecture.build(spec, LATENT_DIM, **options)
    except GanzooError as error:
        return str(error)
    return None
