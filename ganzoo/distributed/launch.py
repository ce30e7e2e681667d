"""Joining the processes torchrun started: its environment read into a ``Launch``, the process group set up
(NCCL on CUDA, gloo on the CPU) and left again, each process on its own device."""

from __future__ import annotations

import contextlib
import datetime
import os
from collections.abc import Iterator, Mapping

import torch
import torch.distributed as dist

from ganzoo.compute.devices import resolve_device
from ganzoo.distributed.agreement import AgreedError
from ganzoo.distributed.world import Launch, World
from ganzoo.errors import GanzooError

#: Minutes a rank waits in a collective for the others (rank 0 evaluating alone, a slow checkpoint).
TIMEOUT_ENV = "GANZOO_DIST_TIMEOUT_MINUTES"
DEFAULT_TIMEOUT_MINUTES = 60.0
#: Set by torchrun in its workers: how many times it has restarted them after a failure (``--max-restarts``).
RESTART_COUNT_ENV = "TORCHELASTIC_RESTART_COUNT"


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
