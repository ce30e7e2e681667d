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

import contextlib
import datetime
import hashlib
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn

from ganzoo.compute.devices import resolve_device
from ganzoo.errors import GanzooError

#: Minutes a rank waits in a collective for the others (rank 0 evaluating alone, a slow checkpoint).
TIMEOUT_ENV = "GANZOO_DIST_TIMEOUT_MINUTES"
DEFAULT_TIMEOUT_MINUTES = 60.0
#: Set by torchrun in its workers: how many times it has restarted them after a failure (``--max-restarts``).
RESTART_COUNT_ENV = "TORCHELASTIC_RESTART_COUNT"
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


def launch_from_environment(environ: Mapping[str, str] | None = None) -> Launch:
    """Read ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE`` and ``LOCAL_WORLD_SIZE``; a process started without a
    launcher is rank 0 of 1."""
    environ = os.environ if environ is None else environ

    def read(name: str, default: int) -> int:
        text = environ.get(name, str(default))
        try:
            return int(text)
        except ValueError:
            raise GanzooError(f"environment variable {name}={text!r} is not an integer "
                              "(it is set by torchrun; do not set it by hand)") from None

    rank, local_rank, world_size = read("RANK", 0), read("LOCAL_RANK", 0), read("WORLD_SIZE", 1)
    launch = Launch(rank, local_rank, world_size, read("LOCAL_WORLD_SIZE", local_rank + 1))
    if (launch.world_size < 1 or not 0 <= launch.rank < launch.world_size
            or not 0 <= launch.local_rank < launch.local_world_size):
        raise GanzooError(f"inconsistent launcher environment: RANK={launch.rank}, LOCAL_RANK={launch.local_rank}, "
                          f"WORLD_SIZE={launch.world_size}, LOCAL_WORLD_SIZE={launch.local_world_size}")
    return launch


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


#: How gloo and NCCL phrase a peer that went away (gloo raises a plain RuntimeError).
_PEER_LOST_MARKERS = ("gloo", "NCCL", "Connection reset", "Connection closed", "ProcessGroup")


def is_peer_lost(error: BaseException) -> bool:
    """Whether ``error`` is a collective failing because another process died or hung."""
    if isinstance(error, dist.DistError):
        return True
    return isinstance(error, RuntimeError) and any(marker in str(error) for marker in _PEER_LOST_MARKERS)


class AgreedError(GanzooError):
    """An error every rank raises together, from a decision they took together: rank 0 alone prints it."""


def _join(requested_device: str) -> tuple[World, bool]:
    launch = launch_from_environment()
    if launch.world_size == 1:
        return World(launch, resolve_device(requested_device)), False
    device = resolve_device(requested_device)
    if device.type == "mps":
        raise GanzooError("--device mps cannot train with several processes; use cuda (NCCL) or cpu (gloo)")
    if device.type == "cuda":
        if device.index is not None:
            raise GanzooError(f"--device {requested_device} names one GPU, but torchrun started {launch.world_size} "
                              "processes; use --device cuda (each process takes cuda:LOCAL_RANK)")
        # LOCAL_WORLD_SIZE (set by torchrun) lets every process of the node give the same answer.
        if launch.local_world_size > torch.cuda.device_count():
            raise GanzooError(f"torchrun started {launch.local_world_size} processes on a node with "
                              f"{torch.cuda.device_count()} GPU(s); one process per GPU: --nproc-per-node "
                              f"{torch.cuda.device_count()} or fewer")
        device = torch.device("cuda", launch.local_rank)
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    if dist.is_initialized():  # a library user set the group up already
        if dist.get_backend() != backend:
            raise GanzooError(f"the process group uses {dist.get_backend()}, but a {device.type} run needs {backend}")
        return World(launch, device, backend), False
    timeout = datetime.timedelta(minutes=_timeout_minutes())
    store = _attempt_store(launch, timeout)
    rendezvous = {"store": store, "rank": launch.rank, "world_size": launch.world_size} if store else {}
    dist.init_process_group(backend, timeout=timeout, device_id=device if device.type == "cuda" else None, **rendezvous)
    return World(launch, device, backend), True


def _attempt_store(launch: Launch, timeout: datetime.timedelta) -> dist.Store | None:
    """torchrun's key-value store seen through a prefix of this attempt; None outside torchrun (plain env://).

    Workers that torchrun restarted (``--max-restarts``) would otherwise find the
    keys their dead predecessors left (the gloo/NCCL peer addresses) and connect to
    processes that no longer exist (pytorch/pytorch#167288).
    """
    attempt = os.environ.get(RESTART_COUNT_ENV)
    if attempt is None or "MASTER_ADDR" not in os.environ or "MASTER_PORT" not in os.environ:
        return None
    hosted_by_agent = os.environ.get("TORCHELASTIC_USE_AGENT_STORE", "").lower() == "true"
    store = dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), launch.world_size,
                          is_master=not hosted_by_agent and launch.rank == 0, timeout=timeout)
    return dist.PrefixStore(f"ganzoo/attempt-{attempt}", store)


@contextlib.contextmanager
def joined(requested_device: str) -> Iterator[World]:
    """This process's :class:`World`: joins torchrun's process group for the run and leaves it afterwards."""
    world, owns_group = _join(requested_device)
    try:
        yield world
    except AgreedError:
        # Every rank raised it at the same point, so all are here to leave the group together.
        if owns_group:
            world.barrier()
            dist.destroy_process_group()
        raise
    # Not after other errors: tearing gloo down while another rank is already gone can abort the process
    # (the CLI then leaves with os._exit).
    if owns_group:
        dist.destroy_process_group()


def _timeout_minutes() -> float:
    text = os.environ.get(TIMEOUT_ENV, str(DEFAULT_TIMEOUT_MINUTES))
    try:
        minutes = float(text)
    except ValueError:
        minutes = float("nan")
    if not minutes > 0:
        raise GanzooError(f"{TIMEOUT_ENV}={text!r} must be a positive number of minutes")
    return minutes
