"""A training run's lifecycle: run directory, logging, samples, checkpoints, interrupts.

The step itself lives in :mod:`ganzoo.training`; this module decides when to
log, sample and checkpoint, and how to start, resume and stop cleanly.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch

import ganzoo
from ganzoo.assembly import Assembly, assemble
from ganzoo.batches import BatchStream
from ganzoo.callbacks import RunContext
from ganzoo.checkpoint import GeneratorRecord, read_checkpoint, save_generator, write_checkpoint
from ganzoo.config import RunConfig
from ganzoo.errors import GanzooError
from ganzoo.evaluate import EVAL_FILE, append_record, is_better
from ganzoo.paths import default_run_dir
from ganzoo.registry import Registry
from ganzoo.run_support import LoggerFanOut, LossWindow, stop_on_signals
from ganzoo.rundir import RunDir
from ganzoo.sampling import generate, save_grid
from ganzoo.sources import GeneratorSamples
from ganzoo.training import AdversarialTrainer

#: Options that may change when a run is resumed; the others define the run.
RESUMABLE_OPTIONS = frozenset({
    "steps", "epochs", "device", "data_root", "download", "sample_every", "checkpoint_every", "log_every", "workers",
    "inception_weights", "max_minutes", "log", "compile", "preload", "threads",
})
GRID_SIZE = 64
STATE_KIND = "training-state"


class Reporter(Protocol):
    """Receives progress: the CLI shows a progress bar, library users may pass their own."""

    def start(self, total_steps: int, start_step: int) -> None: ...

    def log(self, record: dict[str, Any]) -> None: ...

    def finish(self) -> None: ...


class SilentReporter:
    """A reporter that shows nothing."""

    def start(self, total_steps: int, start_step: int) -> None:
        pass

    def log(self, record: dict[str, Any]) -> None:
        pass

    def finish(self) -> None:
        pass


@dataclass
class RunOutcome:
    """How a run ended."""

    run_dir: Path
    step: int
    total_steps: int
    interrupted: bool
    last_record: dict[str, Any] | None = None
    records: list[dict[str, Any]] = field(default_factory=list)


def start_run(config: RunConfig, registry: Registry, out: str | Path | None = None, reporter: Reporter | None = None) -> RunOutcome:
    """Check everything, create the run directory and train from scratch."""
    run_dir = RunDir(out or default_run_dir(config.arch, config.loss, config.data))
    run_dir.ensure_new()
    assembly = assemble(config, registry)
    run_dir.create()
    run_dir.write_config(assembly.describe())
    return _train(assembly, run_dir, None, reporter or SilentReporter())


def resume_run(path: str | Path, overrides: dict[str, Any], registry: Registry, reporter: Reporter | None = None) -> RunOutcome:
    """Continue the run in ``path`` from its last checkpoint.

    ``overrides`` may only hold :data:`RESUMABLE_OPTIONS`; ``steps`` (or
    ``epochs``) is the run's new total, not a number of extra steps.
    """
    fixed = sorted(set(overrides) - RESUMABLE_OPTIONS)
    if fixed:
        names = ", ".join("--" + name.replace("_", "-") for name in fixed)
        raise GanzooError(f"cannot change {names} when resuming; options that may change: "
                          + ", ".join("--" + n.replace("_", "-") for n in sorted(RESUMABLE_OPTIONS)))
    run_dir = RunDir(path)
    saved = run_dir.read_config()
    values = dict(saved["config"])
    if "steps" in overrides or "epochs" in overrides:
        values["steps"] = values["epochs"] = None
    # A run keeps the precision it started with, even if "auto" would now choose another.
    values["precision"] = saved["resolved"].get("precision", values.get("precision", "fp32"))
    values.update(overrides)
    tensors, meta = read_checkpoint(run_dir.state_path, STATE_KIND)
    assembly = assemble(RunConfig.from_json(values), registry)
    if meta["step"] >= assembly.total_steps:
        raise GanzooError(
            f"{path} is already at step {meta['step']} of {assembly.total_steps}; "
            f"pass --steps larger than {meta['step']} to continue it"
        )
    run_dir.write_config(assembly.describe())
    run_dir.truncate_metrics(meta["step"])
    return _train(assembly, run_dir, (tensors, meta), reporter or SilentReporter())


def _train(assembly: Assembly, run_dir: RunDir, saved: tuple[dict, dict] | None, reporter: Reporter) -> RunOutcome:
    config = assembly.config
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    generator, discriminator = assembly.build_networks()
    batches = BatchStream(
        assembly.train_data, config.batch_size, config.seed, assembly.device,
        position=saved[1]["batches_drawn"] if saved else 0, workers=config.workers, preload=config.preload,
    )
    hyper = assembly.hyperparameters
    trainer = AdversarialTrainer(
        generator, discriminator, assembly.loss, batches,
        latent_dim=config.latent_dim, n_critic=hyper["n_critic"], lr_g=hyper["lr_g"], lr_d=hyper["lr_d"],
        betas=hyper["betas"], grad_clip=config.grad_clip, conditional=assembly.architecture.conditional,
        device=assembly.device, seed=config.seed, precision=assembly.precision, compile=config.compile,
    )
    step = 0
    best = _BestCheckpoint(assembly, run_dir)
    if saved:
        trainer.load_state(saved[0], saved[1], run_dir.state_path)
        step = int(saved[1]["step"])
        best.value = saved[1].get("best_value")
    noise, labels = _fixed_noise(assembly)
    outcome = RunOutcome(run_dir.path, step, assembly.total_steps, interrupted=False)
    run = RunContext(run_dir.path, run_dir.read_config(), assembly.spec, assembly.total_steps, step,
                     generator, discriminator, assembly.device)
    hooks = assembly.hooks
    samples_per_step = config.batch_size * hyper["n_critic"]
    window = LossWindow()
    reporter.start(assembly.total_steps, step)
    hooks.on_run_start(run=run)
    loggers = LoggerFanOut([logger.open(run) for logger in assembly.loggers])
    try:
        with stop_on_signals() as stop:
            deadline = time.monotonic() + 60 * config.max_minutes if config.max_minutes else None
            last = step >= assembly.total_steps
            while not last and not stop.is_set():
                window.add(trainer.step())
                step += 1
                # The time budget ends a run like reaching --steps: final log, grid, eval and checkpoint.
                last = step == assembly.total_steps or (deadline is not None and time.monotonic() >= deadline)
                record = None
                if step % config.log_every == 0 or last:
                    record = window.flush(step, samples_per_step)
                    run_dir.append_metrics(record)
                    reporter.log(record)
                    outcome.last_record = record
                    outcome.records.append(record)
                    loggers.losses(record)
                hooks.on_step_end(run=run, step=step, record=record)
                with window.paused():
                    if step % config.sample_every == 0 or last:
                        loggers.images(step, _write_grid(trainer, assembly, run_dir, step, noise, labels))
                    if assembly.evaluation and (last or (config.eval_every and step % config.eval_every == 0)):
                        evaluated = best.evaluate(trainer, step)
                        reporter.log(evaluated)
                        outcome.records.append(evaluated)
                        hooks.on_eval(run=run, step=step, results=evaluated["eval"], best=evaluated["best"])
                        loggers.evaluation(step, evaluated["eval"])
                    if step % config.checkpoint_every == 0 or last:
                        _write_checkpoint(trainer, assembly, run_dir, step, batches.position, best.value)
                        hooks.on_checkpoint(run=run, step=step, path=str(run_dir.state_path))
            if stop.is_set() and not last:
                _write_checkpoint(trainer, assembly, run_dir, step, batches.position, best.value)
                hooks.on_checkpoint(run=run, step=step, path=str(run_dir.state_path))
                _write_grid(trainer, assembly, run_dir, step, noise, labels)
                outcome.interrupted = True
    finally:
        reporter.finish()
        loggers.close()
    hooks.on_run_end(run=run, step=step, interrupted=outcome.interrupted)
    outcome.step = step
    return outcome


def _fixed_noise(assembly: Assembly) -> tuple[torch.Tensor, torch.Tensor | None]:
    rng = torch.Generator().manual_seed(assembly.config.seed + 1)
    noise = torch.randn(GRID_SIZE, assembly.config.latent_dim, generator=rng)
    labels = None
    if assembly.architecture.conditional:
        labels = torch.arange(GRID_SIZE) % assembly.spec.num_classes
    return noise, labels


def _write_grid(trainer: AdversarialTrainer, assembly: Assembly, run_dir: RunDir, step: int,
                noise: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    samples = generate(
        trainer.generator, assembly.config.latent_dim, len(noise), device=assembly.device,
        noise=noise, labels=labels, conditional=assembly.architecture.conditional, precision=assembly.precision,
    )
    save_grid(samples, assembly.spec, run_dir.sample_path(step))
    return samples


def _write_checkpoint(trainer: AdversarialTrainer, assembly: Assembly, run_dir: RunDir, step: int,
                      batches_drawn: int, best_value: float | None) -> None:
    tensors, meta = trainer.state()
    write_checkpoint(run_dir.state_path, tensors, {
        "kind": STATE_KIND, "step": step, "batches_drawn": batches_drawn, "best_value": best_value, **meta,
    })
    save_generator(run_dir.generator_path, trainer.generator, _generator_record(assembly, step))


def _generator_record(assembly: Assembly, step: int) -> GeneratorRecord:
    return GeneratorRecord(
        arch=assembly.architecture.name,
        arch_options={k: list(v) if isinstance(v, tuple) else v for k, v in assembly.arch_options.items()},
        spec=assembly.spec.to_json(),
        latent_dim=assembly.config.latent_dim,
        conditional=bool(assembly.architecture.conditional),
        step=step,
        extra={
            "data": assembly.dataset.name,
            "data_options": {k: list(v) if isinstance(v, tuple) else v for k, v in assembly.data_options.items()},
            "loss": assembly.loss.name,
            "ganzoo_version": ganzoo.__version__,
        },
    )


class _BestCheckpoint:
    """Evaluates during training and keeps the generator with the best first metric.

    GANs often get worse after their best point (DCGAN and LSGAN collapse),
    so the last checkpoint alone is not the one to report.
    """

    def __init__(self, assembly: Assembly, run_dir: RunDir) -> None:
        self.assembly = assembly
        self.run_dir = run_dir
        self.value: float | None = None

    def evaluate(self, trainer: AdversarialTrainer, step: int) -> dict[str, Any]:
        evaluation = self.assembly.evaluation
        config = self.assembly.config
        samples = GeneratorSamples(trainer.generator, config.latent_dim, self.assembly.spec, self.assembly.device,
                                   config.seed, precision=self.assembly.precision)
        # Metrics may train evaluators or draw subsets: keep the training RNG streams untouched.
        devices = [self.assembly.device] if self.assembly.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            results = evaluation.run(samples)
        metric, key, higher = evaluation.primary
        value = results[metric].values[key]
        improved = is_better(value, self.value, higher)
        if improved:
            self.value = value
            save_generator(self.run_dir.best_generator_path, trainer.generator, _generator_record(self.assembly, step))
        append_record(self.run_dir.path / EVAL_FILE, evaluation.record(
            results, step=step, generator=str(self.run_dir.generator_path), during_training=True,
            arch=self.assembly.architecture.name, loss=self.assembly.loss.name, data=self.assembly.dataset.name,
        ))
        record = {"step": step, "eval": {name: r.values for name, r in results.items()}, "best": improved}
        self.run_dir.append_metrics(record)
        return record
