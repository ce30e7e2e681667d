"""Learning-rate schedules: a factor on both learning rates, computed from the step alone.

A schedule that depends only on ``(step, total)`` needs no state of its own:
the checkpoint's step restores it exactly on resume.
"""

from __future__ import annotations


def lr_factor(schedule: str, step: int, total: int) -> float:
    """The factor on the base learning rates for the step after ``step`` completed steps of ``total``.

    ``constant``: 1. ``linear``: ``1 - step / total``, from 1 at the first
    step down to ``1 / total`` at the last, reaching zero at the end, as
    SNGAN's reference code and mimicry decay both learning rates. When a run
    is resumed with a new ``--steps``, the decay follows the new total.
    """
    if schedule == "constant":
        return 1.0
    if schedule == "linear":
        return max(0.0, 1.0 - step / total)
    raise ValueError(f"unknown learning-rate schedule {schedule!r}")
