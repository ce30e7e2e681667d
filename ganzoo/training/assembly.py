"""Turning a :class:`RunConfig` into the parts of a run, checking everything first.

Nothing here writes to disk: every user mistake (unknown names, bad
options, an impossible combination, missing data) surfaces as a
:class:`GanzooError` before a run directory exists.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ganzoo.version import __version__
from ganzoo.storage.config import RunConfig, resolve_hyperparameters, resolved_spectral_norm, sampled_generator, total_steps
from ganzoo.contract.components import Architecture, DataSpec, Dataset, Loss
from ganzoo.contract.recipes import Recipe
from ganzoo.storage.recipes import recipe_record
from ganzoo.compute.devices import resolve_device
from ganzoo.distributed.world import World
from ganzoo.errors import GanzooError
from ganzoo.evaluation.evaluate import EvalSettings, Evaluation, prepare_evaluation
from ganzoo.registry.options import resolve_options
from ganzoo.storage.paths import default_data_root
from ganzoo.compute.precision import resolve_precision
from ganzoo.storage.preflight import check_build, check_memory, check_path_text
from ganzoo.registry.loading import Registry
from ganzoo.training.augmentation import AugmentationChoice, Augmenting, resolve_augmentations
from ganzoo.training.regularization import Regularization, RegularizerChoice, resolve_regularizers
from ganzoo.training.run_support import GuardedHooks
from ganzoo.training.spectral_norm import apply_spectral_norm, check_normalisable, networks_to_normalise


@dataclass
class Assembly:
    """The resolved components, settings and data of one run."""

    config: RunConfig
    architecture: Architecture
    loss: Loss
    dataset: Dataset
    spec: DataSpec
    arch_options: dict[str, Any]
    data_options: dict[str, Any]
    hyperparameters: dict[str, Any]
    data_root: str
    device: torch.device
    precision: str
    train_data: torch.utils.data.Dataset
    total_steps: int
    provenance: dict[str, Any]
    evaluation: Evaluation | None = None
    hooks: Any = None
    loggers: list[Any] = field(default_factory=list)
    parameter_count: int = 0
    world: World | None = None  # the processes training together; None: this one alone
    regularizers: list[RegularizerChoice] = field(default_factory=list)
    regularization: Regularization | None = None  # the built terms of --reg; None when there are none
    augmentations: list[AugmentationChoice] = field(default_factory=list)
    augmentation: Augmenting | None = None  # the built pipes of --augment; None when there are none
    spectral_norm: str = "none"  # --spectral-norm, else the architecture's default
    recipe: Recipe | None = None  # the recipe the run started from (--recipe), where it is installed

    def build_networks(self) -> tuple[nn.Module, nn.Module]:
        """Fresh generator and discriminator on the run's device."""
        generator, discriminator = self.architecture.build(self.spec, self.config.latent_dim, **self.arch_options)
        normalise_generator, normalise_discriminator = networks_to_normalise(self.spectral_norm)
        for network in (generator,) * normalise_generator + (discriminator,) * normalise_discriminator:
            apply_spectral_norm(network)
        return generator.to(self.device), discriminator.to(self.device)

    def build_plain_generator(self) -> nn.Module:
        """A generator of this architecture without spectral norm, initialised by the architecture, not moved."""
        return self.architecture.build(self.spec, self.config.latent_dim, **self.arch_options)[0]

    def describe(self) -> dict[str, Any]:
        """The ``config.json`` content: the user's options, the values in force and versions."""
        return {
            "config": self.config.to_json(),
            "resolved": {
                **{key: list(v) if isinstance(v, tuple) else v for key, v in self.hyperparameters.items()},
                "regularizers": [choice.to_json() for choice in self.regularizers],
                "augmentations": [choice.to_json() for choice in self.augmentations],
                "generator": sampled_generator(self.config),
                "spectral_norm": self.spectral_norm,
                "arch_options": _jsonable(self.arch_options),
                "data_options": _jsonable(self.data_options),
                "spec": self.spec.to_json(),
                "total_steps": self.total_steps,
                "device": str(self.device),
                "precision": self.precision,
                **(self.world.describe() if self.world else {"world_size": 1, "backend": None}),
                "data_root": self.data_root,
                "threads": self.config.threads or torch.get_num_threads(),
                "dataset_size": len(self.train_data),
                "conditional": bool(self.architecture.conditional),
            },
            "versions": {
                "ganzoo": __version__,
                "torch": torch.__version__,
                "python": platform.python_version(),
            },
            "plugins": self.provenance,
            **({"recipe": recipe_record(self.recipe, self.config)} if self.recipe else {}),
        }


def assemble(config: RunConfig, registry: Registry, world: World | None = None) -> Assembly:
    """Resolve and check every part of a run, then load its training data.

    With several processes (``world``), the device is the world's and only
    rank 0, which evaluates and logs, prepares evaluation and loggers.
    """
    architecture = registry.architecture(config.arch)
    loss = registry.loss(config.loss)
    dataset = registry.dataset(config.data)
    device = world.device if world else resolve_device(config.device)
    main = world is None or world.is_main
    precision = resolve_precision(config.precision, device)
    data_root = config.data_root or default_data_root()
    check_path_text(data_root, "--data-root")
    data_options = resolve_options(
        dataset.options, config.data_options, owner=f"dataset '{dataset.name}'", flag="--data-option"
    )
    arch_options = resolve_options(
        architecture.options,
        config.arch_options,
        loss.defaults.get("architecture_options", {}),
        owner=f"architecture '{architecture.name}'",
        flag="--arch-option",
    )
    spec = dataset.spec_for(data_root, **data_options)
    if architecture.conditional and spec.num_classes < 1:
        raise GanzooError(f"architecture '{architecture.name}' is class-conditional but dataset '{dataset.name}' has no classes")
    hyperparameters = resolve_hyperparameters(config, loss)
    regularizers = resolve_regularizers(config.regularizers, loss, registry)
    regularization = Regularization(regularizers, registry, spec) if regularizers else None
    augmentations = resolve_augmentations(config.augmentations, registry)
    augmentation = Augmenting(augmentations, registry, spec) if augmentations else None
    # Building once here (on the meta device: no memory) surfaces an impossible arch/data combination,
    # or networks too large for the machine, before any data is read.
    parameter_count = check_build(architecture, spec, config.latent_dim, arch_options)
    check_memory(parameter_count, device, architecture.name)
    spectral_norm = resolved_spectral_norm(config, architecture)
    _check_techniques_fit(architecture, spec, config.latent_dim, arch_options, spectral_norm, regularizers, registry)
    train_data = dataset.load(data_root, train=True, download=config.download, **data_options)
    if len(train_data) < config.batch_size:
        raise GanzooError(f"--batch-size {config.batch_size} is larger than dataset '{dataset.name}' ({len(train_data)} samples)")
    evaluation = None
    if config.batch_size % (world.size if world else 1):
        raise GanzooError(f"--batch-size {config.batch_size} (the global batch) must be divisible by the "
                          f"{world.size} processes")
    if config.metrics and main:
        evaluation = prepare_evaluation(
            config.metrics, registry, dataset=dataset, spec=spec, data_root=str(data_root),
            data_options=data_options, device=device,
            settings=EvalSettings(num_samples=config.eval_samples, ref_split=config.ref_split, seed=config.seed,
                                  inception_weights=config.inception_weights, download=config.download),
        )
    loggers = [registry.logger(name) for name in config.log]
    for logger in loggers if main else ():
        logger.check()
    # A rerun of a recorded recipe run (--config) holds every value already; it needs the recipe only to record it.
    recipe = registry.recipe(config.recipe) if config.recipe in registry.names("recipes") else None
    return Assembly(
        recipe=recipe,
        spectral_norm=spectral_norm,
        augmentations=augmentations,
        augmentation=augmentation,
        regularizers=regularizers,
        regularization=regularization,
        world=world,
        loggers=loggers,
        hooks=GuardedHooks(registry.hook, registry.plugins),
        parameter_count=parameter_count,
        evaluation=evaluation,
        config=config,
        architecture=architecture,
        loss=loss,
        dataset=dataset,
        spec=spec,
        arch_options=arch_options,
        data_options=data_options,
        hyperparameters=hyperparameters,
        data_root=str(data_root),
        device=device,
        precision=precision,
        train_data=train_data,
        total_steps=total_steps(config, len(train_data), hyperparameters["n_critic"]),
        provenance={
            **{kind: _plugin_record(registry, kind, name)
               for kind, name in (("architectures", config.arch), ("losses", config.loss), ("datasets", config.data),
                                  ("recipes", recipe.name if recipe else None)) if name},
            **{kind: [_plugin_record(registry, kind, choice.name) for choice in chosen]
               for kind, chosen in (("regularizers", regularizers), ("augmentations", augmentations)) if chosen},
        },
    )


def _check_techniques_fit(architecture: Architecture, spec: DataSpec, latent_dim: int, arch_options: dict[str, Any],
                          spectral_norm: str, regularizers: list[RegularizerChoice], registry: Registry) -> None:
    """GanzooError, before anything is written, when spectral norm or a regularizer cannot apply to the networks."""
    if spectral_norm == "none" and not regularizers:
        return
    with torch.device("meta"):  # shapes and submodules only: no memory, no initialisation cost
        generator, discriminator = architecture.build(spec, latent_dim, **arch_options)
    chosen = zip(("generator", "discriminator"), (generator, discriminator), networks_to_normalise(spectral_norm))
    check_normalisable({role: network for role, network, normalised in chosen if normalised}, architecture.name)
    for choice in regularizers:
        registry.regularizer(choice.name).check_networks(generator, discriminator, **choice.options)


def _plugin_record(registry: Registry, kind: str, name: str) -> dict[str, Any]:
    plugin = registry.plugin_of(kind, name)
    return {"name": name, "plugin": plugin.name, "distribution": plugin.distribution, "version": plugin.version}


def _jsonable(options: dict[str, Any]) -> dict[str, Any]:
    return {key: list(value) if isinstance(value, tuple) else value for key, value in options.items()}
