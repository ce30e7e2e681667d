"""Decisions every rank takes together: a per-step flag agreed without stalling, and errors raised by all."""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist

from ganzoo.errors import GanzooError


class AgreedError(GanzooError):
    """An error every rank raises together, from a decision they took together: rank 0 alone prints it."""


class AgreedFlag:
    """A boolean that every rank reads alike, agreed without stalling the step.

    Each :meth:`exchange` starts an all-reduce (max) of this rank's value
    and returns the result of the previous exchange, which has had a whole
    step to arrive (about 0.3 ms on gloo over loopback, more across nodes: too
    much to wait for every step). So with several ranks a flag takes effect one
    step after it was set, on every rank at the same step; with one process
    (no group) it takes effect at once.
    """

    def __init__(self, group: Any) -> None:
        self._group = group
        self._pending: tuple[torch.Tensor, Any] | None = None

    def exchange(self, value: bool) -> bool:
        """Offer this rank's value; get the agreed value of the previous exchange (False at the first)."""
        if self._group is None:
            return value
        offered = torch.tensor([int(value)], dtype=torch.int32)
        work = dist.all_reduce(offered, op=dist.ReduceOp.MAX, group=self._group, async_op=True)
        previous, self._pending = self._pending, (offered, work)
        return self._read(previous)

    def settle(self) -> bool:
        """Wait for the last exchange and return its agreed value (call it where every rank stops exchanging)."""
        previous, self._pending = self._pending, None
        return self._read(previous)

    @staticmethod
    def _read(exchange: tuple[torch.Tensor, Any] | None) -> bool:
        if exchange is None:
            return False
        tensor, work = exchange
        work.wait()
        return bool(tensor.item())
