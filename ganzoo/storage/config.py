"""Run configuration: every setting of a training run as plain values.

:class:`RunConfig` is what the user chose (``None`` = not chosen).
:func:`resolve_hyperparameters` fills the gaps from the loss's defaults and
then from :data:`TRAINER_DEFAULTS`, so ``config.json`` records the values
actually used and where each came from.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ganzoo.contract.components import SPECTRAL_NORM_CHOICES, Architecture, Loss
from ganzoo.errors import GanzooError
from ganzoo.compute.precision import CHOICES as PRECISION_CHOICES
from ganzoo.storage.paths import absolute_path

#: Used when neither the user nor the loss sets a value (DCGAN's settings).
TRAINER_DEFAULTS: Mapping[str, Any] = {
    "n_critic": 1,
    "lr_g": 2e-4,
    "lr_d": 2e-4,
    "betas": (0.5, 0.999),
    "optimizer": "adam",
}
#: ``--optimizer`` values (see :func:`ganzoo.training.fastpath.make_optimizer`).
OPTIMIZER_CHOICES = ("adam", "adamw", "rmsprop")
#: ``--lr-schedule`` values (see :func:`ganzoo.training.schedules.lr_factor`).
LR_SCHEDULE_CHOICES = ("constant", "linear")
DEFAULT_STEPS = 10_000
#: Steps are counted in 64-bit integers on the device.
MAX_STEPS = 2**63 - 1
#: Seeds are 32-bit, as in NumPy; larger ones would overflow the per-epoch shuffling seed.
MAX_SEED = 2**32 - 1
ON_NAN_CHOICES = ("stop", "rollback")
#: ``--generator`` values: what grids, evaluations and generator files sample from.
GENERATOR_CHOICES = ("raw", "ema")


@dataclass
class RunConfig:
    """Everything a user can set for ``ganzoo run``."""

    arch: str
    loss: str
    data: str
    steps: int | None = None
    epochs: float | None = None
    batch_size: int = 64
    lr_g: float | None = None
    lr_d: float | None = None
    betas: tuple[float, float] | None = None
    n_critic: int | None = None
    optimizer: str | None = None
    lr_schedule: str = "constant"
    regularizers: list[str] | None = None
    augmentations: list[str] = field(default_factory=list)
    spectral_norm: str | None = None
    ema: float | None = None
    ema_start: int = 0
    generator: str | None = None
    latent_dim: int = 100
    seed: int = 0
    device: str = "auto"
    data_root: str | None = None
    download: bool = True
    sample_every: int = 500
    checkpoint_every: int = 1000
    log_every: int = 50
    grad_clip: float | None = None
    workers: int = 0
    arch_options: dict[str, Any] = field(default_factory=dict)
    data_options: dict[str, Any] = field(default_factory=dict)
    metrics: list[str] = field(default_factory=list)
    eval_every: int | None = None
    eval_samples: int = 5000
    ref_split: str = "train"
    inception_weights: str | None = None
    max_minutes: float | None = None
    log: list[str] = field(default_factory=list)
    precision: str = "auto"
    compile: bool = False
    preload: bool | None = None
    threads: int | None = None
    on_nan: str = "stop"
    sync_bn: bool = False
    recipe: str | None = None

    def __post_init__(self) -> None:
        positive = ("batch_size", "latent_dim", "sample_every", "checkpoint_every", "log_every", "eval_samples")
        for name in positive:
            if getattr(self, name) <= 0:
                raise GanzooError(f"--{name.replace('_', '-')} must be positive, got {getattr(self, name)}")
        for name in ("steps", "epochs", "n_critic", "lr_g", "lr_d", "grad_clip", "max_minutes"):
            value = getattr(self, name)
            if value is not None and not value > 0:  # also refuses NaN
                raise GanzooError(f"--{name.replace('_', '-')} must be positive, got {value}")
            if isinstance(value, float) and not math.isfinite(value):
                raise GanzooError(f"--{name.replace('_', '-')} must be a finite number, got {value}")
        for name in ("steps", "batch_size", "latent_dim"):
            if (getattr(self, name) or 0) > MAX_STEPS:
                raise GanzooError(f"--{name.replace('_', '-')} must be at most 2**63 - 1, got {getattr(self, name)}")
        if not 0 <= self.seed <= MAX_SEED:
            raise GanzooError(f"--seed must lie in 0..{MAX_SEED} (32 bits), got {self.seed}")
        if self.optimizer is not None and self.optimizer not in OPTIMIZER_CHOICES:
            raise GanzooError(f"unknown --optimizer '{self.optimizer}'. Valid choices: {', '.join(OPTIMIZER_CHOICES)}.")
        if self.lr_schedule not in LR_SCHEDULE_CHOICES:
            raise GanzooError(f"unknown --lr-schedule '{self.lr_schedule}'. "
                              f"Valid choices: {', '.join(LR_SCHEDULE_CHOICES)}.")
        if self.ema is not None and not 0 < self.ema < 1:  # also refuses NaN
            raise GanzooError(f"--ema must be a decay in (0, 1) such as 0.999, got {self.ema}")
        if self.ema_start < 0:
            raise GanzooError(f"--ema-start must be 0 or more, got {self.ema_start}")
        if self.generator is not None and self.generator not in GENERATOR_CHOICES:
            raise GanzooError(f"unknown --generator '{self.generator}'. Valid choices: {', '.join(GENERATOR_CHOICES)}.")
        if self.generator == "ema" and self.ema is None:
            raise GanzooError("--generator ema needs --ema DECAY (e.g. --ema 0.999)")
        if self.spectral_norm is not None and self.spectral_norm not in SPECTRAL_NORM_CHOICES:
            raise GanzooError(f"unknown --spectral-norm '{self.spectral_norm}'. "
                              f"Valid choices: {', '.join(SPECTRAL_NORM_CHOICES)}.")
        if self.on_nan not in ON_NAN_CHOICES:
            raise GanzooError(f"unknown --on-nan '{self.on_nan}'. Valid choices: {', '.join(ON_NAN_CHOICES)}.")
        if self.steps is not None and self.epochs is not None:
            raise GanzooError("give --steps or --epochs, not both")
        if self.eval_every is not None and self.eval_every <= 0:
            raise GanzooError(f"--eval-every must be positive, got {self.eval_every}")
        if self.eval_every is not None and not self.metrics:
            raise GanzooError("--eval-every needs --metrics (e.g. --metrics classifier)")
        if self.precision not in PRECISION_CHOICES:
            raise GanzooError(f"unknown precision '{self.precision}'. Valid choices: {', '.join(PRECISION_CHOICES)}.")
        if self.threads is not None and self.threads <= 0:
            raise GanzooError(f"--threads must be positive, got {self.threads}")
        if self.workers < 0:
            raise GanzooError(f"--workers must be 0 or more, got {self.workers}")
        for name in ("data_root", "inception_weights"):
            value = getattr(self, name)
            if value is not None:
                if "\x00" in value:
                    raise GanzooError(f"--{name.replace('_', '-')} contains a NUL character: {value!r}")
                # Recorded absolute: a run resumed, evaluated or rerun from another directory reads the same place.
                setattr(self, name, absolute_path(value))

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; :meth:`from_json` inverts it."""
        data = dataclasses.asdict(self)
        data["betas"] = list(self.betas) if self.betas is not None else None
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any], source: str = "the recorded config") -> RunConfig:
        """Rebuild a config from :meth:`to_json` output, ignoring unknown keys.

        A value of the wrong type is a GanzooError naming the option and ``source`` (where the values came from).
        """
        fields = {f.name: f for f in dataclasses.fields(cls)}
        values = {key: value for key, value in data.items() if key in fields}
        for key, value in values.items():
            _check_type(key, value, str(fields[key].type), source)
        try:
            if values.get("betas") is not None:
                values["betas"] = tuple(float(beta) for beta in values["betas"])
            return cls(**values)
        except (TypeError, ValueError) as error:  # a hand-edited config.json with values of the wrong type
            raise GanzooError(f"invalid value in {source}: {error}") from None


_JSON_TYPES: Mapping[str, Any] = {"int": int, "float": (int, float), "str": str, "bool": bool, "dict": dict,
                                   "list": list, "tuple": (list, tuple)}


def _check_type(name: str, value: Any, annotation: str, source: str) -> None:
    """Refuse a value of the wrong JSON type (a hand-edited config.json, a faulty recipe), naming the option."""
    options = [part.strip() for part in annotation.split("|")]
    if value is None and "None" in options:
        return
    for option in options:
        expected = _JSON_TYPES.get(option.split("[")[0])
        if expected is not None and isinstance(value, expected):
            if isinstance(value, bool) and option in ("int", "float"):
                continue
            return
    wanted = " or ".join(option for option in options if option != "None")
    raise GanzooError(f"--{name.replace('_', '-')} in {source} must be {wanted}, got {value!r}")


def sampled_generator(config: RunConfig) -> str:
    """``raw`` or ``ema``: ``--generator``, else the average when ``--ema`` is on."""
    return config.generator or ("ema" if config.ema is not None else "raw")


def resolved_spectral_norm(config: RunConfig, architecture: Architecture) -> str:
    """The networks spectral norm is applied to: ``--spectral-norm``, else the architecture's default, else none."""
    return config.spectral_norm or architecture.defaults.get("spectral_norm", "none")


def resolve_hyperparameters(config: RunConfig, loss: Loss) -> dict[str, Any]:
    """The optimisation settings in force: user value, else the loss's default, else ganzoo's."""
    resolved = {}
    for key, fallback in TRAINER_DEFAULTS.items():
        user_value = getattr(config, key)
        if user_value is not None:
            resolved[key] = user_value
        else:
            resolved[key] = loss.defaults.get(key, fallback)
    resolved["betas"] = tuple(float(b) for b in resolved["betas"])
    resolved["n_critic"] = int(resolved["n_critic"])
    if resolved["optimizer"] not in OPTIMIZER_CHOICES:
        raise GanzooError(f"loss '{loss.name}' asks for optimizer '{resolved['optimizer']}'; "
                          f"valid choices: {', '.join(OPTIMIZER_CHOICES)}")
    return resolved


def total_steps(config: RunConfig, dataset_size: int, n_critic: int) -> int:
    """Generator steps for the run: ``--steps``, or ``--epochs`` passes over the data.

    One generator step draws ``n_critic`` batches, so an epoch of
    ``dataset_size // batch_size`` batches is that many divided by ``n_critic``.
    """
    if config.steps is not None:
        return config.steps
    if config.epochs is None:
        return DEFAULT_STEPS
    batches_per_epoch = max(1, dataset_size // config.batch_size)
    steps = config.epochs * batches_per_epoch / n_critic
    if steps > MAX_STEPS:
        raise GanzooError(f"--epochs {config.epochs} means {steps:.3g} steps, more than the limit {MAX_STEPS}")
    if round(steps) < 1:
        epoch = batches_per_epoch / n_critic
        raise GanzooError(f"--epochs {config.epochs:g} is less than one step (one epoch of {dataset_size} samples at "
                          f"batch {config.batch_size} is {epoch:g} steps); use --epochs {1 / epoch:.2g} or more, "
                          "or --steps")
    return round(steps)
