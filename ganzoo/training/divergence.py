"""Divergence: noticing NaN/Inf without waiting for the device, and what a run does about it.

:class:`NanWatch` keeps, on the device, the first step whose losses were not
finite. Updating it is a few tiny kernels per step and never a host sync; the
run loop reads it only at points where it syncs anyway (log flushes, sample
grids, evaluations) and before every checkpoint, where it also checks that
every weight and optimizer state is finite. A diverged state is therefore
never written over the last good checkpoint.

``--on-nan stop`` (the default) ends the run with :class:`DivergedError`
(exit code :data:`EXIT_DIVERGED`); ``--on-nan rollback`` reloads the last good
checkpoint once, with both learning rates times :data:`ROLLBACK_LR_SCALE`.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from ganzoo.distributed.agreement import AgreedError
from ganzoo.training.trainer import AdversarialTrainer
#: Both learning rates are multiplied by this after a rollback.
ROLLBACK_LR_SCALE = 0.5
#: Exit code of a run stopped by divergence (2 is a usage error, 130/143 a signal).
EXIT_DIVERGED = 3


class DivergedError(AgreedError):
    """The run's losses or weights became NaN/Inf and it stopped; the last good checkpoint is kept.

    With several processes, every rank raises it at the same step (the finding is agreed first).
    """


class NanWatch:
    """The first step with a non-finite loss, tracked on the device.

    Args:
        device: where the losses live.
    """

    _NONE = 2**62  # "no bad step yet": larger than any step

    def __init__(self, device: torch.device) -> None:
        self._device = device
        self.reset()

    def reset(self) -> None:
        """Forget earlier steps (after a rollback, or when training starts)."""
        self._first_bad = torch.full((), self._NONE, dtype=torch.int64, device=self._device)

    def update(self, losses: torch.Tensor, step: int) -> None:
        """Note step ``step``'s losses (one tensor of them, on the device) without a host sync."""
        candidate = torch.where(torch.isfinite(losses).all(), self._NONE, step)
        self._first_bad = torch.minimum(self._first_bad, candidate)

    def first_bad_step(self) -> int | None:
        """The first step whose losses were not finite, or None; reading it waits for the device."""
        value = int(self._first_bad.item())
        return value if value != self._NONE else None


class DivergenceGuard:
    """Watches one run for NaN/Inf and keeps what ``--on-nan`` needs: the learning-rate scale and rollbacks done.

    Args:
        on_nan: ``stop`` or ``rollback``.
        device: where the losses live.
    """

    def __init__(self, on_nan: str, device: torch.device) -> None:
        self.on_nan = on_nan
        self.watch = NanWatch(device)
        self.lr_scale = 1.0
        self.rollbacks = 0

    def update(self, losses: torch.Tensor, step: int) -> None:
        """Record step ``step``'s losses, stacked in one tensor on the device (no host sync)."""
        self.watch.update(losses, step)

    def check(self, trainer: AdversarialTrainer, step: int, weights: bool) -> tuple[int, str] | None:
        """``(first bad step, what was not finite)``, or None while healthy.

        Reads the loss flag (one device sync); with ``weights`` (before a
        checkpoint) also checks every weight and optimizer state.
        """
        bad_step = self.watch.first_bad_step()
        if bad_step is not None:
            return bad_step, "a loss became NaN or infinite"
        if weights:
            names = non_finite_tensors(trainer.state()[0])
            if names:
                return step, f"{names[0]} became NaN or infinite"
        return None

    @property
    def may_roll_back(self) -> bool:
        """Whether the next divergence rolls back (``--on-nan rollback``, not used yet) rather than stops."""
        return self.on_nan == "rollback" and self.rollbacks == 0

    def rolled_back(self) -> None:
        """Note a rollback: the learning rates are scaled down once."""
        self.rollbacks += 1
        self.lr_scale *= ROLLBACK_LR_SCALE
        self.watch.reset()

    def restore(self, meta: Mapping[str, object]) -> None:
        """Take over the scale and rollbacks a checkpoint recorded (see :meth:`state`)."""
        self.lr_scale = float(meta.get("lr_scale", 1.0))
        self.rollbacks = int(meta.get("rollbacks", 0))
        self.watch.reset()

    def state(self) -> dict[str, float | int]:
        """What checkpoints record, so a resumed run keeps its lowered learning rates."""
        return {"lr_scale": self.lr_scale, "rollbacks": self.rollbacks}


def non_finite_tensors(tensors: Mapping[str, torch.Tensor]) -> list[str]:
    """Names of the floating-point tensors holding a NaN or an infinity (one sync per device)."""
    flags: dict[torch.device, list[tuple[str, torch.Tensor]]] = {}
    for name, tensor in tensors.items():
        if tensor.is_floating_point():
            flags.setdefault(tensor.device, []).append((name, torch.isfinite(tensor).all()))
    bad = []
    for items in flags.values():  # Adam keeps its step counters on the CPU, the rest may be on a GPU
        finite = torch.stack([flag for _, flag in items]).tolist()
        bad += [name for (name, _), ok in zip(items, finite) if not ok]
    return bad


def set_lr_scale(trainer: AdversarialTrainer, lr_g: float, lr_d: float, scale: float) -> None:
    """Set both optimizers' learning rates to ``scale`` times the run's ``lr_g`` and ``lr_d``.

    Idempotent, so it is safe to apply again after loading a checkpoint whose
    optimizer state already holds the scaled rates.
    """
    for optimizer, base in ((trainer.optimizer_g, lr_g), (trainer.optimizer_d, lr_d)):
        for group in optimizer.param_groups:
            group["lr"] = base * scale


def divergence_message(bad_step: int, what: str, run_dir: str, checkpoint_step: int | None,
                       after_rollback: bool) -> str:
    """The one line a diverged run stops with: the step, what was not finite, the last good checkpoint."""
    again = " again after a rollback" if after_rollback else ""
    if checkpoint_step is None:
        return (f"training diverged{again}: {what} at step {bad_step}, before the first checkpoint "
                f"(--checkpoint-every); lower --lr-g/--lr-d")
    kept = f"the last good checkpoint (step {checkpoint_step}) is kept in {run_dir}"
    advice = ("lower --lr-g/--lr-d" if after_rollback
              else f"roll back to it with: ganzoo run --resume {run_dir} --on-nan rollback")
    return f"training diverged{again}: {what} at step {bad_step}; {kept}; {advice}"
