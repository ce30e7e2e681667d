"""Planning a sweep: the cells of an arch x loss x dataset x seed grid, and the budget they share.

A combination that cannot work (an architecture that cannot build for a
dataset's shape, a dataset that is missing) becomes a skipped cell with its
reason, found before any cell starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ganzoo.errors import GanzooError
from ganzoo.registry import Registry
from ganzoo.registry.options import resolve_options

LATENT_DIM = 100


@dataclass
class Cell:
    """One run of the grid; ``skip_reason`` says why it cannot run, if it cannot."""

    arch: str
    loss: str
    data: str
    seed: int
    skip_reason: str | None = None

    @property
    def name(self) -> str:
        return f"{self.data}-{self.arch}-{self.loss}-seed{self.seed}"

    @property
    def combination(self) -> str:
        return f"{self.arch}+{self.loss}"


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
        if self.nproc_per_cell < 1:
            raise GanzooError(f"--nproc-per-cell must be positive, got {self.nproc_per_cell}")


def plan(registry: Registry, archs: Sequence[str], losses: Sequence[str], datas: Sequence[str],
         seeds: Sequence[int], data_root: str) -> list[Cell]:
    """Every cell of the grid, with a skip reason for combinations that cannot work."""
    for kind, names in (("architectures", archs), ("losses", losses), ("datasets", datas)):
        for name in names:
            registry.get(kind, name)  # unknown names fail the whole command, with a did-you-mean
    cells = []
    for data in datas:
        dataset = registry.dataset(data)
        try:
            spec, data_problem = dataset.spec_for(data_root, **dataset.options), None
        except GanzooError as error:
            spec, data_problem = None, str(error)
        for arch in archs:
            for loss in losses:
                reason = data_problem or _build_problem(registry, arch, loss, spec)
                cells.extend(Cell(arch, loss, data, seed, reason) for seed in seeds)
    return cells


def _build_problem(registry: Registry, arch: str, loss: str, spec: Any) -> str | None:
    architecture = registry.architecture(arch)
    options = resolve_options(architecture.options, {}, registry.loss(loss).defaults.get("architecture_options", {}),
                              owner=f"architecture '{arch}'", flag="--arch-option")
    try:
        architecture.build(spec, LATENT_DIM, **options)
    except GanzooError as error:
        return str(error)
    return None
