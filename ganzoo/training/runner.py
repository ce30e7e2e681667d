"""A training run's lifecycle: run directory, logging, samples, checkpoints, interrupts.

The step itself lives in :mod:`ganzoo.training.trainer`; this module decides when to
log, sample and checkpoint, and how to start, resume and stop cleanly.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch

from ganzoo.version import __version__
from ganzoo.training.assembly import Assembly, assemble
from ganzoo.contract.callbacks import RunContext
from ganzoo.storage.checkpoint import GeneratorRecord, read_checkpoint, save_generator, write_checkpoint
from ganzoo.storage.config import RunConfig
from ganzoo.distributed.world import RESTART_COUNT_ENV, AgreedError, World, is_peer_lost, joined
from ganzoo.training.divergence import DivergedError, DivergenceGuard, divergence_message
from ganzoo.errors import GanzooError
from ganzoo.evaluation.evaluate import EVAL_FILE, append_record, is_better
from ganzoo.storage.paths import default_run_dir
from ganzoo.storage.preflight import check_output
from ganzoo.registry.loading import Registry
from ganzoo.training.recovery import STATE_KIND, batches_at, restore, roll_back
from ganzoo.training.run_support import (Due, LoggerFanOut, LossWindow, PluginHookError, StopRequest, after_plugin_error,
                                housekeeping_due, stop_on_signals)
from ganzoo.storage.rundir import RunDir
from ganzoo.evaluation.sampling import class_labels, generate, save_grid
from ganzoo.evaluation.sources import GeneratorSamples
from ganzoo.distributed.sync_batchnorm import synchronize_batch_norm
from ganzoo.training.trainer import AdversarialTrainer

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
    """Check everything, create the run directory and train from scratch.

    Under torchrun every process calls this; rank 0 creates the run directory.
    """
    with joined(config.device) as world:
        run_dir = RunDir(out or world.from_main(lambda: default_run_dir(config.arch, config.loss, config.data)))

        def prepare() -> Assembly:
            if world.is_main:
                check_output(run_dir.path, 0)  # an impossible --out fails before the data is loaded
                run_dir.ensure_new()
            assembly = assemble(config, registry, world)
            if world.is_main:
                check_output(run_dir.path, assembly.parameter_count)
                run_dir.create()
                run_dir.write_config(assembly.describe())
            return assembly

        return _train(world.main_first(prepare), run_dir, None, reporter or SilentReporter())


def continues_after_restart(config: RunConfig, out: str | Path | None) -> bool:
    """Whether this is a worker torchrun restarted (``--max-restarts``) whose run, the same as ``config``,
    already has a checkpoint in ``out``: then the same command continues it, as torchrun expects of scripts.

    The options that define a run must match the recorded ones; precision is left out, since a resumed
    run records the precision ``auto`` chose.
    """
    try:
        restarted = int(os.environ.get(RESTART_COUNT_ENV, "0")) > 0
    except ValueError:
        restarted = False
    run_dir = RunDir(out) if out is not None else None
    if not restarted or run_dir is None or not run_dir.state_path.is_file():
        return False
    recorded = run_dir.read_config().get("config", {})
    wanted = json.loads(json.dumps(config.to_json()))
    defining = set(wanted) - RESUMABLE_OPTIONS - {"precision"}
    return all(recorded.get(key) == wanted[key] for key in defining)


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
    config = RunConfig.from_json(values)
    with joined(config.device) as world:

        def prepare() -> tuple[Assembly, tuple[dict, dict]]:
            tensors, meta = read_checkpoint(run_dir.state_path, STATE_KIND)  # every rank resumes from the same file
            assembly = assemble(config, registry, world)
            if world.is_main:
                check_output(run_dir.path, assembly.parameter_count)
            if meta["step"] >= assembly.total_steps:
                raise GanzooError(
                    f"{path} is already at step {meta['step']} of {assembly.total_steps}; "
                    f"pass --steps larger than {meta['step']} to continue it"
                )
            if world.is_main:
                run_dir.remove_temporary_files()  # left by a process killed mid-write
                run_dir.write_config(assembly.describe())
                run_dir.truncate_metrics(meta["step"])
            return assembly, (tensors, meta)

        assembly, state = world.main_first(prepare)
        return _train(assembly, run_dir, state, reporter or SilentReporter())


def _train(assembly: Assembly, run_dir: RunDir, saved: tuple[dict, dict] | None, reporter: Reporter) -> RunOutcome:
    return _TrainingRun(assembly, run_dir, saved, reporter).train()


class _NoHooks:
    """Lifecycle hooks on ranks other than 0: plugins see one run, through rank 0."""

    def __getattr__(self, hook_name: str) -> Any:
        return lambda **kwargs: None


class _TrainingRun:
    """One training session of a run: from a fresh start or a checkpoint to the end, a signal or an error."""

    def __init__(self, assembly: Assembly, run_dir: RunDir, saved: tuple[dict, dict] | None, reporter: Reporter) -> None:
        config = assembly.config
        self.world = world = assembly.world or World.single(assembly.device)
        if config.threads:
            torch.set_num_threads(config.threads)
        # The same seed on every rank: identical initial weights, noise and RNG states, so one checkpoint resumes all.
        torch.manual_seed(config.seed)
        generator, discriminator = assembly.build_networks()
        if config.sync_bn and world.distributed:
            generator = synchronize_batch_norm(generator, assembly.device)
            discriminator = synchronize_batch_norm(discriminator, assembly.device)
        hyper = assembly.hyperparameters
        self.trainer = AdversarialTrainer(
            generator, discriminator, assembly.loss, batches_at(assembly, saved[1]["batches_drawn"] if saved else 0),
            latent_dim=config.latent_dim, n_critic=hyper["n_critic"], lr_g=hyper["lr_g"], lr_d=hyper["lr_d"],
            betas=hyper["betas"], grad_clip=config.grad_clip, conditional=assembly.architecture.conditional,
            device=assembly.device, seed=config.seed, precision=assembly.precision, compile=config.compile,
            world=world,
        )
        self.assembly, self.config, self.run_dir = assembly, config, run_dir
        self.reporter = reporter if world.is_main else SilentReporter()
        self.best = _BestCheckpoint(assembly, run_dir)
        self.guard = DivergenceGuard(config.on_nan, assembly.device)
        self.step = 0
        if saved:
            self.step, self.best.value = restore(self.trainer, assembly, run_dir.state_path, saved, self.guard)
        self.checkpoint_step = self.step if saved else None  # the step of the last good checkpoint on disk
        self.grid = _fixed_noise(assembly)
        self.outcome = RunOutcome(run_dir.path, self.step, assembly.total_steps, interrupted=False)
        self.run = RunContext(run_dir.path, run_dir.read_config() if world.is_main else {}, assembly.spec,
                              assembly.total_steps, self.step, generator, discriminator, assembly.device)
        self.hooks = assembly.hooks if world.is_main else _NoHooks()
        self.window = LossWindow()
        self.loggers = LoggerFanOut([])

    def train(self) -> RunOutcome:
        """Train to the end (or a signal); errors leave the last good checkpoint and say how to continue."""
        self.reporter.start(self.assembly.total_steps, self.step)
        try:
            try:
                self.hooks.on_run_start(run=self.run)
                if self.world.is_main:
                    self.loggers = LoggerFanOut([logger.open(self.run) for logger in self.assembly.loggers])
                with stop_on_signals() as stop:
                    self._loop(stop)
            finally:
                self.reporter.finish()
                self.loggers.close()
            self.hooks.on_run_end(run=self.run, step=self.step, interrupted=self.outcome.interrupted)
        except PluginHookError as error:
            # Hooks run on rank 0 alone, so this checkpoint is written without asking the other ranks.
            if self.checkpoint_step != self.step and not self.guard.check(self.trainer, self.step, weights=True):
                self._checkpoint(collective=False)  # the training itself was fine: keep it
            finished = self.step >= self.assembly.total_steps
            raise GanzooError(after_plugin_error(error, self.run_dir.path, self.checkpoint_step, finished)) from None
        except OSError as error:  # a full disk, a vanished directory: the previous checkpoint is untouched
            kept = (f"the checkpoint of step {self.checkpoint_step} is intact" if self.checkpoint_step is not None
                    else "no checkpoint was written")
            raise GanzooError(f"stopped at step {self.step}: {error}; {kept}; fix the cause (e.g. free disk space), "
                              f"then continue with: ganzoo run --resume {self.run_dir.path}") from None
        except RuntimeError as error:
            if not (self.world.distributed and is_peer_lost(error)):
                raise
            # Another process died (out of memory, killed); torchrun stops this one too.
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            kept = (f"the checkpoint of step {self.checkpoint_step} is intact" if self.checkpoint_step is not None
                    else "no checkpoint was written")
            raise GanzooError(f"rank {self.world.rank}: lost contact with the other processes at step {self.step} "
                              f"({first_line[:200]}); {kept}; continue with: ganzoo run --resume {self.run_dir.path}"
                              ) from None
        self.world.barrier()  # no rank exits (and makes torchrun stop the others) before rank 0 has written everything
        self.outcome.step = self.step
        return self.outcome

    def _loop(self, stop: StopRequest) -> None:
        config, total = self.config, self.assembly.total_steps
        deadline = time.monotonic() + 60 * config.max_minutes if config.max_minutes else None
        last = self.step >= total
        stopping = False
        # Every decision that ends or rewinds the loop is agreed by all ranks (AgreedFlag, world.earliest):
        # a rank that stopped alone would leave the others waiting in the next all-reduce.
        stop_flag, time_flag = self.world.flag(), self.world.flag()
        while not last:
            stopping = stop_flag.exchange(stop.is_set())
            if stopping:
                break
            losses = self.window.add(self.trainer.step())
            self.step += 1
            self.guard.update(losses, self.step)
            # The time budget ends a run like reaching --steps: final log, grid, eval and checkpoint.
            time_up = time_flag.exchange(time.monotonic() >= deadline) if deadline is not None else False
            last = self.step == total or time_up
            due = housekeeping_due(config, self.step, last, evaluation=bool(config.metrics))
            # The divergence flag is read only where the loop syncs anyway, and before every checkpoint.
            diverged = (self.world.earliest(self.guard.check(self.trainer, self.step, weights=due.checkpoint))
                        if due.anything else None)
            if diverged:
                self.step, self.best.value = roll_back(self.trainer, self.assembly, self.run_dir, self.guard, diverged,
                                                       self.checkpoint_step, writes=self.world.is_main)
                self.window, last = LossWindow(), False
                continue
            self._housekeeping(due)
        stop_flag.settle()
        time_flag.settle()
        if stopping:
            diverged = self.world.earliest(self.guard.check(self.trainer, self.step, weights=True))
            if diverged:
                raise DivergedError(divergence_message(*diverged, str(self.run_dir.path), self.checkpoint_step,
                                                       self.guard.rollbacks > 0))
            self._checkpoint()
            self.hooks.on_checkpoint(run=self.run, step=self.step, path=str(self.run_dir.state_path))
            if self.world.is_main:
                _write_grid(self.trainer, self.assembly, self.run_dir, self.step, self.grid)
            self.outcome.interrupted = True
            self.outcome.signal = next((signum for signum in self.world.gather(stop.signum) if signum), None)

    def _housekeeping(self, due: Due) -> None:
        step, record, main = self.step, None, self.world.is_main
        if due.log:
            # Losses averaged over ranks: those of the global batch. --batch-size is the global batch.
            record = self.window.flush(step, self.config.batch_size * self.assembly.hyperparameters["n_critic"],
                                       average=self.world.mean)
            if main:
                self.run_dir.append_metrics(record)
                self.reporter.log(record)
                self.outcome.last_record = record
                self.outcome.records.append(record)
                self.loggers.losses(record)
        self.hooks.on_step_end(run=self.run, step=step, record=record)
        with self.window.paused():
            if due.sample and main:
                self.loggers.images(step, _write_grid(self.trainer, self.assembly, self.run_dir, step, self.grid))
            if due.evaluate and main:  # rank 0 evaluates alone; the others wait in the next collective
                evaluated = self.best.evaluate(self.trainer, step)
                self.reporter.log(evaluated)
                self.outcome.records.append(evaluated)
                self.hooks.on_eval(run=self.run, step=step, results=evaluated["eval"], best=evaluated["best"])
                self.loggers.evaluation(step, evaluated["eval"])
            if due.checkpoint:
                self._checkpoint()
                self.hooks.on_checkpoint(run=self.run, step=step, path=str(self.run_dir.state_path))

    def _checkpoint(self, collective: bool = True) -> None:
        """Rank 0 writes the training state; with several ranks, after checking that they all hold the same weights."""
        replicas: dict[str, Any] = {}
        if self.world.distributed and collective:
            digests = self.world.replica_digests(self.trainer.replicated_tensors())
            if len(set(digests)) > 1:
                kept = f"the checkpoint of step {self.checkpoint_step} is kept" if self.checkpoint_step is not None else ""
                raise AgreedError(f"the {self.world.size} processes hold different weights at step {self.step} "
                                  f"(a bug or a hardware fault), so it is not checkpointed; {kept}")
            replicas = {"world_size": self.world.size, "replica_digests": digests}
        if self.world.is_main:
            _write_checkpoint(self.trainer, self.assembly, self.run_dir, self.step, self.best.value,
                              {**self.guard.state(), **replicas})
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
            "ganzoo_version": __version__,
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
