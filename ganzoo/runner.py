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
from ganzoo.callbacks import RunContext
from ganzoo.checkpoint import GeneratorRecord, read_checkpoint, save_generator, write_checkpoint
from ganzoo.config import RunConfig
from ganzoo.divergence import DivergedError, DivergenceGuard, divergence_message
from ganzoo.errors import GanzooError
from ganzoo.evaluate import EVAL_FILE, append_record, is_better
from ganzoo.paths import default_run_dir
from ganzoo.preflight import check_output
from ganzoo.registry import Registry
from ganzoo.recovery import STATE_KIND, batches_at, restore, roll_back
from ganzoo.run_support import (Due, LoggerFanOut, LossWindow, PluginHookError, StopRequest, after_plugin_error,
                                housekeeping_due, stop_on_signals)
from ganzoo.rundir import RunDir
from ganzoo.sampling import class_labels, generate, save_grid
from ganzoo.sources import GeneratorSamples
from ganzoo.training import AdversarialTrainer

#: Options that may change when a run is resumed; the others define the run.
RESUMABLE_OPTIONS = frozenset({
    "steps", "epochs", "device", "data_root", "download", "sample_every", "checkpoint_every", "log_every", "workers",
    "inception_weights", "max_minutes", "log", "compile", "preload", "threads", "on_nan",
})
GRID_SIZE = 64


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
    signal: int | None = None  # the signal that interrupted the run (SIGINT or SIGTERM)
    records: list[dict[str, Any]] = field(default_factory=list)


def start_run(config: RunConfig, registry: Registry, out: str | Path | None = None, reporter: Reporter | None = None) -> RunOutcome:
    """Check everything, create the run directory and train from scratch."""
    run_dir = RunDir(out or default_run_dir(config.arch, config.loss, config.data))
    check_output(run_dir.path, 0)  # an impossible --out fails before the data is loaded
    run_dir.ensure_new()
    assembly = assemble(config, registry)
    check_output(run_dir.path, assembly.parameter_count)
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
    check_output(run_dir.path, assembly.parameter_count)
    if meta["step"] >= assembly.total_steps:
        raise GanzooError(
            f"{path} is already at step {meta['step']} of {assembly.total_steps}; "
            f"pass --steps larger than {meta['step']} to continue it"
        )
    run_dir.remove_temporary_files()  # left by a process killed mid-write
    run_dir.write_config(assembly.describe())
    run_dir.truncate_metrics(meta["step"])
    return _train(assembly, run_dir, (tensors, meta), reporter or SilentReporter())


def _train(assembly: Assembly, run_dir: RunDir, saved: tuple[dict, dict] | None, reporter: Reporter) -> RunOutcome:
    return _TrainingRun(assembly, run_dir, saved, reporter).train()


class _TrainingRun:
    """One training session of a run: from a fresh start or a checkpoint to the end, a signal or an error."""

    def __init__(self, assembly: Assembly, run_dir: RunDir, saved: tuple[dict, dict] | None, reporter: Reporter) -> None:
        config = assembly.config
        if config.threads:
            torch.set_num_threads(config.threads)
        torch.manual_seed(config.seed)
        generator, discriminator = assembly.build_networks()
        hyper = assembly.hyperparameters
        self.trainer = AdversarialTrainer(
            generator, discriminator, assembly.loss, batches_at(assembly, saved[1]["batches_drawn"] if saved else 0),
            latent_dim=config.latent_dim, n_critic=hyper["n_critic"], lr_g=hyper["lr_g"], lr_d=hyper["lr_d"],
            betas=hyper["betas"], grad_clip=config.grad_clip, conditional=assembly.architecture.conditional,
            device=assembly.device, seed=config.seed, precision=assembly.precision, compile=config.compile,
        )
        self.assembly, self.config, self.run_dir, self.reporter = assembly, config, run_dir, reporter
        self.best = _BestCheckpoint(assembly, run_dir)
        self.guard = DivergenceGuard(config.on_nan, assembly.device)
        self.step = 0
        if saved:
            self.step, self.best.value = restore(self.trainer, assembly, run_dir.state_path, saved, self.guard)
        self.checkpoint_step = self.step if saved else None  # the step of the last good checkpoint on disk
        self.grid = _fixed_noise(assembly)
        self.outcome = RunOutcome(run_dir.path, self.step, assembly.total_steps, interrupted=False)
        self.run = RunContext(run_dir.path, run_dir.read_config(), assembly.spec, assembly.total_steps, self.step,
                              generator, discriminator, assembly.device)
        self.hooks = assembly.hooks
        self.window = LossWindow()
        self.loggers = LoggerFanOut([])

    def train(self) -> RunOutcome:
        """Train to the end (or a signal); errors leave the last good checkpoint and say how to continue."""
        self.reporter.start(self.assembly.total_steps, self.step)
        try:
            try:
                self.hooks.on_run_start(run=self.run)
                self.loggers = LoggerFanOut([logger.open(self.run) for logger in self.assembly.loggers])
                with stop_on_signals() as stop:
                    self._loop(stop)
            finally:
                self.reporter.finish()
                self.loggers.close()
            self.hooks.on_run_end(run=self.run, step=self.step, interrupted=self.outcome.interrupted)
        except PluginHookError as error:
            if self.checkpoint_step != self.step and not self.guard.check(self.trainer, self.step, weights=True):
                self._checkpoint()  # the training itself was fine: keep it
            finished = self.step >= self.assembly.total_steps
            raise GanzooError(after_plugin_error(error, self.run_dir.path, self.checkpoint_step, finished)) from None
        except OSError as error:  # a full disk, a vanished directory: the previous checkpoint is untouched
            kept = (f"the checkpoint of step {self.checkpoint_step} is intact" if self.checkpoint_step is not None
                    else "no checkpoint was written")
            raise GanzooError(f"stopped at step {self.step}: {error}; {kept}; fix the cause (e.g. free disk space), "
                              f"then continue with: ganzoo run --resume {self.run_dir.path}") from None
        self.outcome.step = self.step
        return self.outcome

    def _loop(self, stop: StopRequest) -> None:
        config, total = self.config, self.assembly.total_steps
        deadline = time.monotonic() + 60 * config.max_minutes if config.max_minutes else None
        last = self.step >= total
        while not last and not stop.is_set():
            losses = self.window.add(self.trainer.step())
            self.step += 1
            self.guard.update(losses, self.step)
            # The time budget ends a run like reaching --steps: final log, grid, eval and checkpoint.
            last = self.step == total or (deadline is not None and time.monotonic() >= deadline)
            due = housekeeping_due(config, self.step, last, evaluation=self.assembly.evaluation is not None)
            # The divergence flag is read only where the loop syncs anyway, and before every checkpoint.
            diverged = self.guard.check(self.trainer, self.step, weights=due.checkpoint) if due.anything else None
            if diverged:
                self.step, self.best.value = roll_back(self.trainer, self.assembly, self.run_dir, self.guard, diverged,
                                                       self.checkpoint_step)
                self.window, last = LossWindow(), False
                continue
            self._housekeeping(due)
        if stop.is_set() and not last:
            diverged = self.guard.check(self.trainer, self.step, weights=True)
            if diverged:
                raise DivergedError(divergence_message(*diverged, str(self.run_dir.path), self.checkpoint_step,
                                                       self.guard.rollbacks > 0))
            self._checkpoint()
            self.hooks.on_checkpoint(run=self.run, step=self.step, path=str(self.run_dir.state_path))
            _write_grid(self.trainer, self.assembly, self.run_dir, self.step, self.grid)
            self.outcome.interrupted = True
            self.outcome.signal = stop.signum

    def _housekeeping(self, due: Due) -> None:
        step, record = self.step, None
        if due.log:
            record = self.window.flush(step, self.config.batch_size * self.assembly.hyperparameters["n_critic"])
            self.run_dir.append_metrics(record)
            self.reporter.log(record)
            self.outcome.last_record = record
            self.outcome.records.append(record)
            self.loggers.losses(record)
        self.hooks.on_step_end(run=self.run, step=step, record=record)
        with self.window.paused():
            if due.sample:
                self.loggers.images(step, _write_grid(self.trainer, self.assembly, self.run_dir, step, self.grid))
            if due.evaluate:
                evaluated = self.best.evaluate(self.trainer, step)
                self.reporter.log(evaluated)
                self.outcome.records.append(evaluated)
                self.hooks.on_eval(run=self.run, step=step, results=evaluated["eval"], best=evaluated["best"])
                self.loggers.evaluation(step, evaluated["eval"])
            if due.checkpoint:
                self._checkpoint()
                self.hooks.on_checkpoint(run=self.run, step=step, path=str(self.run_dir.state_path))

    def _checkpoint(self) -> None:
        _write_checkpoint(self.trainer, self.assembly, self.run_dir, self.step, self.best.value, self.guard.state())
        self.checkpoint_step = self.step


def _fixed_noise(assembly: Assembly) -> tuple[torch.Tensor, torch.Tensor | None, int | None]:
    """The grid's noise, its labels (one row per class for a conditional model) and images per row."""
    labels, per_row = None, None
    count = GRID_SIZE
    if assembly.architecture.conditional:
        labels, per_row = class_labels(assembly.spec, GRID_SIZE, None)
        count = len(labels)
    rng = torch.Generator().manual_seed(assembly.config.seed + 1)
    return torch.randn(count, assembly.config.latent_dim, generator=rng), labels, per_row


def _write_grid(trainer: AdversarialTrainer, assembly: Assembly, run_dir: RunDir, step: int,
                grid: tuple[torch.Tensor, torch.Tensor | None, int | None]) -> torch.Tensor:
    noise, labels, per_row = grid
    samples = generate(
        trainer.generator, assembly.config.latent_dim, len(noise), device=assembly.device,
        noise=noise, labels=labels, conditional=assembly.architecture.conditional, precision=assembly.precision,
    )
    save_grid(samples, assembly.spec, run_dir.sample_path(step), per_row)
    return samples


def _write_checkpoint(trainer: AdversarialTrainer, assembly: Assembly, run_dir: RunDir, step: int,
                      best_value: float | None, divergence: dict[str, Any]) -> None:
    tensors, meta = trainer.state()
    write_checkpoint(run_dir.state_path, tensors, {
        "kind": STATE_KIND, "step": step, "batches_drawn": trainer.batches.position, "best_value": best_value,
        "arch": assembly.architecture.name, "loss": assembly.loss.name, "data": assembly.dataset.name,
        **divergence, **meta,
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
            save_generator(self.run_dir.best_generator_path, trainer.generator, _generator_record(self.assembly, step))
        append_record(self.run_dir.path / EVAL_FILE, evaluation.record(
            results, step=step, generator=str(self.run_dir.generator_path), during_training=True,
            arch=self.assembly.architecture.name, loss=self.assembly.loss.name, data=self.assembly.dataset.name,
        ))
        record = {"step": step, "eval": {name: r.values for name, r in results.items()}, "best": improved}
        self.run_dir.append_metrics(record)
        return record
