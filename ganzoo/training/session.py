"""One training session of a run: the loop, its housekeeping (log, grid, eval, checkpoint) and clean stops."""

from __future__ import annotations

import sys
import functools

import time
from typing import Any

import torch

from ganzoo.contract.callbacks import RunContext
from ganzoo.distributed.sync_batchnorm import synchronize_batch_norm
from ganzoo.distributed.agreement import AgreedError
from ganzoo.distributed.world import World, is_peer_lost
from ganzoo.errors import GanzooError
from ganzoo.storage.rundir import RunDir
from ganzoo.training.assembly import Assembly
from ganzoo.training.divergence import DivergedError, DivergenceGuard, divergence_message, set_lr_scale
from ganzoo.training.outputs import BestCheckpoint, SamplingGenerator, fixed_noise, write_checkpoint_files, write_grid
from ganzoo.training.recovery import batches_at, restore, roll_back
from ganzoo.training.reporting import Reporter, RunOutcome, SilentReporter
from ganzoo.training.schedules import lr_factor
from ganzoo.training.run_support import (Due, LoggerFanOut, LossWindow, PluginHookError, StopRequest, after_plugin_error,
                                         housekeeping_due, stop_on_signals)
from ganzoo.training.techniques import Techniques
from ganzoo.training.trainer import AdversarialTrainer


class _NoHooks:
    """Lifecycle hooks on ranks other than 0: plugins see one run, through rank 0."""

    def __getattr__(self, hook_name: str) -> Any:
        return lambda **kwargs: None


class TrainingSession:
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
        regularization = assembly.regularization.to(assembly.device) if assembly.regularization is not None else None
        augmentation = assembly.augmentation.to(assembly.device) if assembly.augmentation is not None else None
        self.trainer = AdversarialTrainer(
            generator, discriminator, assembly.loss, batches_at(assembly, saved[1]["batches_drawn"] if saved else 0),
            latent_dim=config.latent_dim, n_critic=hyper["n_critic"], lr_g=hyper["lr_g"], lr_d=hyper["lr_d"],
            betas=hyper["betas"], grad_clip=config.grad_clip, conditional=assembly.architecture.conditional,
            device=assembly.device, seed=config.seed, precision=assembly.precision, compile=config.compile,
            world=world, optimizer=hyper["optimizer"], techniques=Techniques(regularization=regularization, augmentation=augmentation, ema_decay=config.ema,
                                  ema_start=config.ema_start),
            auxiliary_loss=functools.partial(assembly.architecture.auxiliary_loss, **assembly.arch_options),
        )
        self.assembly, self.config, self.run_dir = assembly, config, run_dir
        self.reporter = reporter if world.is_main else SilentReporter()
        self.sampling = SamplingGenerator(assembly)
        self.best = BestCheckpoint(self.sampling, run_dir)
        self.guard = DivergenceGuard(config.on_nan, assembly.device)
        self.step = 0
        if saved:
            self.step, self.best.value = restore(self.trainer, assembly, run_dir.state_path, saved, self.guard)
        self.checkpoint_step = self.step if saved else None  # the step of the last good checkpoint on disk
        self.grid = fixed_noise(assembly)
        self.outcome = RunOutcome(run_dir.path, self.step, assembly.total_steps, interrupted=False)
        self.run = RunContext(run_dir.path, run_dir.read_config() if world.is_main else {}, assembly.spec,
                              assembly.total_steps, self.step, generator, discriminator, assembly.device)
        self.hooks = assembly.hooks if world.is_main else _NoHooks()
        self.window = LossWindow()
        self.loggers = LoggerFanOut([])

    def train(self) -> RunOutcome:
        """Train to the end (or a signal); errors leave the last good checkpoint and say how to continue."""
        announce = getattr(self.reporter, "announce", None)
        if announce is not None:
            announce(self.run_dir.path)
        self.reporter.start(self.assembly.total_steps, self.step)
        try:
            try:
                self.hooks.on_run_start(run=self.run)
                if self.world.is_main:
                    self.loggers = LoggerFanOut.open(self.assembly.loggers, self.run)
                with stop_on_signals() as stop:
                    self._loop(stop)
            finally:
                self.reporter.finish()
                self.loggers.close(quiet=sys.exc_info()[0] is not None)  # never mask the error that stopped it
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
        time_budget = getattr(self.reporter, "time_budget", None)
        if deadline is not None and time_budget is not None:
            time_budget(60 * config.max_minutes)
        last = self.step >= total
        stopping = False
        # Every decision that ends or rewinds the loop is agreed by all ranks (AgreedFlag, world.earliest):
        # a rank that stopped alone would leave the others waiting in the next all-reduce.
        stop_flag, time_flag = self.world.flag(), self.world.flag()
        while not last:
            stopping = stop_flag.exchange(stop.is_set())
            if stopping:
                break
            if config.lr_schedule != "constant":
                hyper = self.assembly.hyperparameters
                factor = lr_factor(config.lr_schedule, self.step, total)
                set_lr_scale(self.trainer, hyper["lr_g"], hyper["lr_d"], self.guard.lr_scale * factor)
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
                self.sampling.forget()
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
                write_grid(self.sampling.at(self.trainer, self.step), self.assembly, self.run_dir, self.step, self.grid)
            self.outcome.interrupted = True
            self.outcome.signal = next((signum for signum in self.world.gather(stop.signum) if signum), None)

    def _housekeeping(self, due: Due) -> None:
        step, record, main = self.step, None, self.world.is_main
        if due.log:
            # Losses averaged over ranks: those of the global batch. --batch-size is the global batch.
            record = self.window.flush(step, self.config.batch_size * self.assembly.hyperparameters["n_critic"],
                                       average=self.world.mean)
            # Techniques' values (ADA's p) agree over ranks; read here, where the loop syncs anyway.
            record.update({name: float(value) for name, value in self.trainer.techniques.logged_values().items()})
            if main:
                self.run_dir.append_metrics(record)
                self.reporter.log(record)
                self.outcome.last_record = record
                self.outcome.records.append(record)
                self.loggers.losses(record)
        self.hooks.on_step_end(run=self.run, step=step, record=record)
        with self.window.paused():
            if due.sample and main:
                grid = write_grid(self.sampling.at(self.trainer, step), self.assembly, self.run_dir, step, self.grid)
                self.loggers.images(step, grid)
            if due.evaluate and main:  # rank 0 evaluates alone; the others wait in the next collective
                evaluated = self.best.evaluate(self.trainer, step)
                self.reporter.log(evaluated)
                self.outcome.records.append(evaluated)
                self.hooks.on_eval(run=self.run, step=step, results=evaluated["eval"], best=evaluated["best"])
                self.loggers.evaluation(step, evaluated["eval"])
            if due.checkpoint:
                self._checkpoint()
                self.hooks.on_checkpoint(run=self.run, step=step, path=str(self.run_dir.state_path))
                checkpointed = getattr(self.reporter, "checkpointed", None)
                if checkpointed is not None:
                    checkpointed(step, self.run_dir.state_path)

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
            write_checkpoint_files(self.trainer, self.sampling, self.run_dir, self.step, self.best.value,
                                   {**self.guard.state(), **replicas})
        self.checkpoint_step = self.step
