"""Data-parallel training across processes: torch.distributed and DistributedDataParallel, launched by torchrun.

``torchrun --nproc-per-node N -m ganzoo run ...`` starts N copies of
``ganzoo run``; torchrun tells each its place through the environment
(``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``/``MASTER_PORT``).
:func:`joined` turns that into a :class:`World`: the process group (NCCL
on CUDA, gloo on the CPU), this process's device (``cuda:LOCAL_RANK``) and
the few collectives the run loop needs. Without torchrun the world is a
single process and every collective returns its input, so single-process
runs pay nothing.

How a run uses it (see :mod:`ganzoo.training.runner` and docs/distributed.md): every
rank draws the same global batches and global noise and keeps its share
(items ``rank::world_size``), both networks are wrapped in DDP, so the
gradients, and hence the weights, are those of one process with the same
global batch; rank 0 alone writes files; decisions that end or rewind the
loop (a signal, the time budget, a divergence) are agreed by all ranks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn

from ganzoo.distributed.agreement import AgreedError, AgreedFlag
from ganzoo.errors import GanzooError

T = TypeVar("T")


@dataclass(frozen=True)
class Launch:
    """This process's place as torchrun (or another launcher) wrote it into the environment."""

    rank: int
    local_rank: int
    world_size: int
    local_world_size: int = 1  # processes on this node

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0, the one process that writes files and prints."""
        return self.rank == 0


class World:
    """The processes that train one model together, seen from one of them.

    Args:
        launch: this process's rank, local rank and the world size.
        device: this process's device.
        backend: ``nccl`` or ``gloo``; None for a single process.

    A world of one process has no process group; its collectives return
    their input unchanged.
    """

    def __init__(self, launch: Launch, device: torch.device, backend: str | None = None) -> None:
        self.rank = launch.rank
        self.local_rank = launch.local_rank
        self.size = launch.world_size
        self.device = device
        self.backend = backend
        # Control decisions (stop, time up, errors) travel over their own gloo group on the CPU: they never wait
        # for a GPU, nor queue behind DDP's gradient all-reduces.
        self._control = dist.new_group(backend="gloo") if self.distributed else None

    @classmethod
    def single(cls, device: torch.device) -> World:
        """The world of a process training alone on ``device``."""
        return cls(Launch(0, 0, 1, 1), device)

    @property
    def distributed(self) -> bool:
        """Whether more than one process trains."""
        return self.size > 1

    @property
    def is_main(self) -> bool:
        """Whether this process is rank 0, which alone writes the run's files and reports progress."""
        return self.rank == 0

    def describe(self) -> dict[str, Any]:
        """What ``config.json`` records about the processes a run used."""
        return {"world_size": self.size, "backend": self.backend}

    def wrap(self, network: nn.Module) -> nn.Module:
        """``network`` in DistributedDataParallel (gradients averaged over ranks); itself for one process."""
        if not self.distributed:
            return network
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(network, device_ids=device_ids)

    def shard(self, batch: torch.Tensor) -> torch.Tensor:
        """This rank's part of a global batch: items ``rank::world_size``."""
        return batch[self.rank :: self.size] if self.distributed else batch

    def flag(self) -> AgreedFlag:
        """A per-step flag (a stop request, the time budget) that all ranks see set at the same step."""
        return AgreedFlag(self._control if self.distributed else None)

    def mean(self, tensor: torch.Tensor) -> torch.Tensor:
        """The average of ``tensor`` over ranks (a new tensor, on this rank's device)."""
        if not self.distributed:
            return tensor
        total = tensor.detach().clone()
        dist.all_reduce(total, op=dist.ReduceOp.SUM)
        return total / self.size

    def gather(self, value: T) -> list[T]:
        """Every rank's ``value`` (picklable), in rank order, on every rank."""
        if not self.distributed:
            return [value]
        values: list[Any] = [None] * self.size
        dist.all_gather_object(values, value, group=self._control)
        return values

    def from_main(self, make: Callable[[], T]) -> T:
        """``make()`` evaluated on rank 0 and sent to every rank (e.g. a run directory named after the time)."""
        if not self.distributed:
            return make()
        box = [make() if self.is_main else None]
        dist.broadcast_object_list(box, src=0, group=self._control)
        return box[0]

    def agreed(self, work: Callable[[], T]) -> T:
        """Run ``work`` on every rank; if it raised :class:`GanzooError` on any rank, raise it on all.

        Without this, a check that fails on one rank only (rank 0's output
        directory, one node's data) would leave the others waiting in the
        next collective.
        """
        try:
            result, problem = work(), None
        except GanzooError as error:
            if not self.distributed:
                raise
            result, problem = None, error
        if not self.distributed:
            return result
        problems = self.gather(str(problem) if problem is not None else None)
        failed = [(rank, text) for rank, text in enumerate(problems) if text is not None]
        if failed:
            rank, text = failed[0]
            raise AgreedError(text if rank == 0 else f"rank {rank}: {text}")
        return result

    def main_first(self, work: Callable[[], T]) -> T:
        """Run ``work`` on rank 0, then, once it succeeded there, on the other ranks (errors agreed as in
        :meth:`agreed`). Rank 0 alone downloads missing data or creates the run directory; the others
        then read what it made instead of racing it."""
        first = self.agreed(lambda: work() if self.is_main else None)
        later = self.agreed(lambda: None if self.is_main else work())
        return first if self.is_main else later

    def earliest(self, finding: tuple[int, str] | None) -> tuple[int, str] | None:
        """The finding ``(step, what)`` with the lowest step over all ranks, or None when no rank has one."""
        findings = [item for item in self.gather(finding) if item is not None]
        return min(findings, key=lambda item: item[0]) if findings else None

    def replica_digests(self, tensors: Mapping[str, torch.Tensor]) -> list[str]:
        """Every rank's SHA-256 of ``tensors`` (weights and optimizer states), in rank order.

        DDP keeps these bit-identical across ranks; a difference means a
        desynchronised run, which must not be checkpointed.
        """
        digest = hashlib.sha256()
        for name in sorted(tensors):
            digest.update(name.encode())
            digest.update(tensors[name].detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
        return self.gather(digest.hexdigest())

    def barrier(self) -> None:
        """Wait until every rank gets here (e.g. so no rank exits before rank 0 has written its checkpoint)."""
        if self.distributed:
            dist.barrier(group=self._control)


#: How gloo and NCCL phrase a peer that went away (gloo raises a plain RuntimeError).
_PEER_LOST_MARKERS = ("gloo", "NCCL", "Connection reset", "Connection closed", "ProcessGroup")


def is_peer_lost(error: BaseException) -> bool:
    """Whether ``error`` is a collective failing because another process died or hung."""
    if isinstance(error, dist.DistError):
        return True
    return isinstance(error, RuntimeError) and any(marker in str(error) for marker in _PEER_LOST_MARKERS)
