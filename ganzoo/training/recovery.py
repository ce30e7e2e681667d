"""Restoring a run from its training-state checkpoint: on ``--resume`` and on ``--on-nan rollback``.

Both go through :func:`restore`, which checks the checkpoint against the run
(required entries; the architecture, loss and dataset it was written for)
before loading anything into the networks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ganzoo.training.assembly import Assembly
from ganzoo.training.batches import BatchStream
from ganzoo.storage.checkpoint import read_checkpoint
from ganzoo.training.divergence import DivergedError, DivergenceGuard, divergence_message, set_lr_scale
from ganzoo.errors import GanzooError
from ganzoo.storage.rundir import RunDir
from ganzoo.training.trainer import AdversarialTrainer

#: The ``kind`` of the training-state checkpoint (``checkpoints/state.safetensors``).
STATE_KIND = "training-state"
_REQUIRED_META = ("step", "batches_drawn", "optimizer_g", "optimizer_d")
_REQUIRED_TENSORS = ("rng.noise", "rng.torch")


def batches_at(assembly: Assembly, position: int, like: BatchStream | None = None) -> BatchStream:
    """The run's batches from ``position`` on; ``like`` lends its (possibly preloaded) data, so nothing is copied."""
    config = assembly.config
    data = like.dataset if like is not None else assembly.train_data
    preload = like.preloaded if like is not None else config.preload
    world = assembly.world
    return BatchStream(data, config.batch_size, config.seed, assembly.device, position=position,
                       workers=config.workers, preload=preload, shard=(world.rank, world.size) if world else (0, 1))


def restore(trainer: AdversarialTrainer, assembly: Assembly, path: Path, saved: tuple[dict[str, Any], dict[str, Any]],
            guard: DivergenceGuard) -> tuple[int, float | None]:
    """Load a training-state checkpoint into ``trainer``; returns its step and best metric value.

    Restores the networks, optimizers, RNGs, the batch position, and the
    learning-rate scale of earlier rollbacks.
    """
    tensors, meta = saved
    check_state(tensors, meta, assembly, path)
    trainer.batches = batches_at(assembly, int(meta["batches_drawn"]), like=trainer.batches)
    trainer.load_state(tensors, meta, path)
    step = int(meta["step"])
    guard.restore(meta)
    hyper = assembly.hyperparameters
    set_lr_scale(trainer, hyper["lr_g"], hyper["lr_d"], guard.lr_scale)
    return step, meta.get("best_value")


def check_state(tensors: dict[str, Any], meta: dict[str, Any], assembly: Assembly, path: Path) -> None:
    """Refuse a training state that lacks entries or was written for another architecture, loss or dataset."""
    missing = [key for key in _REQUIRED_META if key not in meta] + [name for name in _REQUIRED_TENSORS if name not in tensors]
    if missing:
        raise GanzooError(f"corrupt or unreadable checkpoint {path}: it lacks {', '.join(missing)}")
    for key, used in (("arch", assembly.architecture.name), ("loss", assembly.loss.name), ("data", assembly.dataset.name)):
        if meta.get(key, used) != used:  # checkpoints from before these keys were recorded pass
            raise GanzooError(f"checkpoint {path} was written for {key} '{meta[key]}', this run uses '{used}'")


def roll_back(trainer: AdversarialTrainer, assembly: Assembly, run_dir: RunDir, guard: DivergenceGuard,
              diverged: tuple[int, str], checkpoint_step: int | None, writes: bool = True) -> tuple[int, float | None]:
    """Apply ``--on-nan`` to a divergence: stop, or reload the last good checkpoint once with lower learning rates.

    Returns the restored step and best metric value. Metrics logged after that
    step are dropped (they are redone) and a ``{"event": "rollback"}`` record
    is appended to ``metrics.jsonl`` (``{"event": "diverged"}`` when the run stops). With several
    processes every rank restores the checkpoint and only the one with ``writes`` (rank 0) touches files.

    Raises:
        DivergedError: ``--on-nan stop``, a second divergence, or no
            checkpoint to go back to.
    """
    bad_step, what = diverged
    if not guard.may_roll_back or checkpoint_step is None:
        if writes:
            run_dir.append_metrics({"event": "diverged", "step": bad_step, "reason": what,
                                    "checkpoint_step": checkpoint_step})
        raise DivergedError(divergence_message(bad_step, what, str(run_dir.path), checkpoint_step, guard.rollbacks > 0))
    restored, best_value = restore(trainer, assembly, run_dir.state_path, read_checkpoint(run_dir.state_path, STATE_KIND), guard)
    guard.rolled_back()
    hyper = assembly.hyperparameters
    set_lr_scale(trainer, hyper["lr_g"], hyper["lr_d"], guard.lr_scale)
    if writes:
        run_dir.truncate_metrics(restored)
        run_dir.append_metrics({"event": "rollback", "step": restored, "bad_step": bad_step, "reason": what,
                                "restored_step": restored, "lr_scale": guard.lr_scale})
    return restored, best_value
