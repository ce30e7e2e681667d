"""What a training run writes besides metrics: fixed-noise grids, checkpoints, the best generator."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ganzoo.evaluation.evaluate import EVAL_FILE, append_record, is_better
from ganzoo.evaluation.sampling import class_labels, generate, save_grid
from ganzoo.evaluation.sources import GeneratorSamples
from ganzoo.evaluation.standing import STANDING_SAMPLES, has_batch_norm, with_standing_statistics
from ganzoo.storage.checkpoint import GeneratorRecord, save_generator, write_checkpoint
from ganzoo.storage.config import sampled_generator
from ganzoo.storage.rundir import RunDir
from ganzoo.training.assembly import Assembly
from ganzoo.training.recovery import STATE_KIND
from ganzoo.training.spectral_norm import folded
from ganzoo.training.trainer import AdversarialTrainer
from ganzoo.version import __version__

GRID_SIZE = 64


def fixed_noise(assembly: Assembly) -> tuple[torch.Tensor, torch.Tensor | None, int | None]:
    """The grid's noise, its labels (one row per class for a conditional model) and images per row."""
    labels, per_row = None, None
    count = GRID_SIZE
    if assembly.architecture.conditional:
        labels, per_row = class_labels(assembly.spec, GRID_SIZE, None)
        count = len(labels)
    rng = torch.Generator().manual_seed(assembly.config.seed + 1)
    return torch.randn(count, assembly.config.latent_dim, generator=rng), labels, per_row


class SamplingGenerator:
    """The generator that grids, evaluations and generator files use at a step.

    It is the trained generator (``--generator``: the raw one or its ``--ema`` average), spectral norm folded into
    plain weights, with standing batch-norm statistics
    (:mod:`ganzoo.evaluation.standing`), computed once per step however many
    of those outputs the step writes; the trainer's own generator is untouched.
    """

    def __init__(self, assembly: Assembly) -> None:
        self.assembly = assembly
        self._step: int | None = None
        self._network: nn.Module | None = None

    def at(self, trainer: AdversarialTrainer, step: int) -> nn.Module:
        if self._network is None or self._step != step:
            assembly = self.assembly
            num_classes = assembly.spec.num_classes if assembly.architecture.conditional else None
            # seed + 1 draws the grid's noise; + 2 keeps the standing noise a stream of its own.
            source = trainer.average.network if sampled_generator(assembly.config) == "ema" else trainer.generator
            self._network = with_standing_statistics(
                folded(source, assembly.build_plain_generator), assembly.config.latent_dim, device=assembly.device, seed=assembly.config.seed + 2,
                precision=assembly.precision, num_classes=num_classes,
            )
            self._step = step
        return self._network

    def forget(self) -> None:
        """Drop the cached copy (after a rollback the weights of a step change)."""
        self._step, self._network = None, None


def write_grid(generator: nn.Module, assembly: Assembly, run_dir: RunDir, step: int,
                grid: tuple[torch.Tensor, torch.Tensor | None, int | None]) -> torch.Tensor:
    noise, labels, per_row = grid
    samples = generate(
        generator, assembly.config.latent_dim, len(noise), device=assembly.device,
        noise=noise, labels=labels, conditional=assembly.architecture.conditional, precision=assembly.precision,
    )
    save_grid(samples, assembly.spec, run_dir.sample_path(step), per_row)
    return samples


def write_checkpoint_files(trainer: AdversarialTrainer, sampling: SamplingGenerator, run_dir: RunDir, step: int,
                           best_value: float | None, divergence: dict[str, Any]) -> None:
    assembly = sampling.assembly
    tensors, meta = trainer.state()
    write_checkpoint(run_dir.state_path, tensors, {
        "kind": STATE_KIND, "step": step, "batches_drawn": trainer.batches.position, "best_value": best_value,
        "threads": torch.get_num_threads(),
        "arch": assembly.architecture.name, "loss": assembly.loss.name, "data": assembly.dataset.name,
        **divergence, **meta,
    })
    generator = sampling.at(trainer, step)
    save_generator(run_dir.generator_path, generator, generator_record(assembly, step, generator))


def generator_record(assembly: Assembly, step: int, generator: nn.Module) -> GeneratorRecord:
    extra = {
        "data": assembly.dataset.name,
        "data_options": {k: list(v) if isinstance(v, tuple) else v for k, v in assembly.data_options.items()},
        "loss": assembly.loss.name,
        "ganzoo_version": __version__,
    }
    config = assembly.config
    extra["generator"] = (f"ema (decay {config.ema}, from step {config.ema_start})"
                          if sampled_generator(config) == "ema" else "raw")
    if has_batch_norm(generator):
        extra["batch_norm_statistics"] = f"standing, {STANDING_SAMPLES} samples"
    return GeneratorRecord(
        arch=assembly.architecture.name,
        arch_options={k: list(v) if isinstance(v, tuple) else v for k, v in assembly.arch_options.items()},
        spec=assembly.spec.to_json(),
        latent_dim=assembly.config.latent_dim,
        conditional=bool(assembly.architecture.conditional),
        step=step,
        extra=extra,
    )


class BestCheckpoint:
    """Evaluates during training and keeps the generator with the best first metric.

    GANs often get worse after their best point (DCGAN and LSGAN collapse),
    so the last checkpoint alone is not the one to report.
    """

    def __init__(self, sampling: SamplingGenerator, run_dir: RunDir) -> None:
        self.assembly = sampling.assembly
        self.sampling = sampling
        self.run_dir = run_dir
        self.value: float | None = None

    def evaluate(self, trainer: AdversarialTrainer, step: int) -> dict[str, Any]:
        evaluation = self.assembly.evaluation
        config = self.assembly.config
        generator = self.sampling.at(trainer, step)
        samples = GeneratorSamples(generator, config.latent_dim, self.assembly.spec, self.assembly.device,
                                   config.seed, precision=self.assembly.precision,
                                   conditional=bool(self.assembly.architecture.conditional))
        # Metrics may train evaluators or draw subsets: keep the training RNG streams untouched.
        devices = [self.assembly.device] if self.assembly.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            results = evaluation.run(samples)
        metric, key, higher = evaluation.primary
        value = results[metric].values[key]
        improved = is_better(value, self.value, higher)
        if improved:
            self.value = value
            save_generator(self.run_dir.best_generator_path, generator, generator_record(self.assembly, step, generator))
        append_record(self.run_dir.path / EVAL_FILE, evaluation.record(
            results, step=step, generator=str(self.run_dir.generator_path), during_training=True,
            sampled_from=generator_record(self.assembly, step, generator).extra["generator"],
            arch=self.assembly.architecture.name, loss=self.assembly.loss.name, data=self.assembly.dataset.name,
        ))
        record = {"step": step, "eval": {name: r.values for name, r in results.items()}, "best": improved}
        self.run_dir.append_metrics(record)
        return record
