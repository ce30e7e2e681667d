"""Checks made before a run directory exists: can the networks be built, held and saved?

The networks are first built on PyTorch's ``meta`` device, which allocates
nothing, so an architecture/data combination or a width the machine cannot
hold is an error in milliseconds instead of an out-of-memory kill. The output
location is then probed: its nearest existing ancestor must be a directory we
can create files in, with room for a few checkpoints.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganzoo.contract.components import Architecture, DataSpec
from ganzoo.errors import GanzooError

#: Bytes per parameter in memory while training: the weight, its gradient and two Adam moments (fp32).
TRAINING_BYTES_PER_PARAMETER = 16
#: Bytes per parameter on disk: state (weights + two Adam moments) and generator files, each written
#: to a temporary file beside the previous one before the rename.
CHECKPOINT_BYTES_PER_PARAMETER = 2 * 4 * 4
#: Room kept for metrics, sample grids and plots.
FREE_SPACE_FLOOR = 16 * 2**20


def check_build(architecture: Architecture, spec: DataSpec, latent_dim: int, options: dict[str, Any]) -> int:
    """Build the networks without allocating memory; return their parameter count.

    Raises:
        GanzooError: the architecture refuses the combination, or fails to
            build it with these options (e.g. a size too large to represent).
    """
    try:
        with torch.device("meta"):
            networks = architecture.build(spec, latent_dim, **options)
    except GanzooError:
        raise
    except Exception as error:
        if "overflow" in str(error).lower():  # sizes no tensor can have: building for real would fail too
            raise _cannot_build(architecture, spec, latent_dim, options, error) from None
        # Some architectures cannot be built on the meta device; build them for real instead.
        try:
            networks = architecture.build(spec, latent_dim, **options)
        except GanzooError:
            raise
        except (RuntimeError, ValueError, OverflowError, MemoryError, TypeError) as real_error:
            raise _cannot_build(architecture, spec, latent_dim, options, real_error) from None
    return sum(_parameter_count(network) for network in networks)


def _cannot_build(architecture: Architecture, spec: DataSpec, latent_dim: int, options: dict[str, Any],
                  error: BaseException) -> GanzooError:
    reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    shown = ", ".join(f"{key}={value}" for key, value in options.items())
    return GanzooError(
        f"architecture '{architecture.name}' cannot build networks for data of shape {spec.shape} "
        f"with --latent-dim {latent_dim} and options {shown or 'none'}: {reason}"
    )


def _parameter_count(network: nn.Module) -> int:
    return sum(tensor.numel() for tensor in (*network.parameters(), *network.buffers()))


def check_memory(parameter_count: int, device: torch.device, architecture: str) -> None:
    """Refuse networks whose weights and optimizer states alone exceed the device's memory."""
    available = _device_memory(device)
    needed = parameter_count * TRAINING_BYTES_PER_PARAMETER
    if available is not None and needed > available:
        raise GanzooError(
            f"architecture '{architecture}' with these options has {parameter_count:,} parameters, "
            f"about {_gib(needed)} with gradients and Adam state: more than the {_gib(available)} of {device}; "
            "choose smaller widths"
        )


def _device_memory(device: torch.device) -> int | None:
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).total_memory
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def check_path_text(path: str | os.PathLike[str], flag: str) -> None:
    """Refuse a path no file system can hold (a NUL byte, a name too long) before anything uses it."""
    text = os.fspath(path)
    if "\x00" in text:
        raise GanzooError(f"{flag} contains a NUL character: {text!r}")
    limit = 255
    try:
        limit = os.pathconf(_nearest_existing(Path(text)), "PC_NAME_MAX")
    except (OSError, ValueError):
        pass
    for part in Path(text).parts:
        if len(os.fsencode(part)) > limit:
            raise GanzooError(f"{flag} {_shown(Path(text))}: {os.strerror(errno.ENAMETOOLONG)}")


def check_output(path: str | os.PathLike[str], parameter_count: int) -> None:
    """Refuse a run directory that cannot be created, written or hold a few checkpoints."""
    check_writable(path, parameter_count * CHECKPOINT_BYTES_PER_PARAMETER + FREE_SPACE_FLOOR, "--out",
                   "this run's checkpoints")


def check_writable(path: str | os.PathLike[str], needed_bytes: int, flag: str = "--out", what: str = "the output",
                   is_file: bool = False) -> None:
    """Refuse an output location (a directory, or a file with ``is_file``) that cannot be created or
    written, or whose file system has less than ``needed_bytes`` free for ``what``.

    Nothing is left behind: the probe file is created in the nearest existing
    ancestor and removed at once.
    """
    check_path_text(path, flag)
    path = Path(path)
    if is_file and path.is_dir():
        raise GanzooError(f"cannot write {flag} {_shown(path)}: it is a directory; name a file")
    try:
        ancestor = _nearest_existing(path.parent if is_file else path)
    except (OSError, ValueError) as error:
        raise GanzooError(f"cannot use {flag} {_shown(path)}: {_reason(error)}") from None
    if not ancestor.is_dir():
        raise GanzooError(f"cannot create {flag} {_shown(path)}: {ancestor} is a file, not a directory")
    try:
        with tempfile.TemporaryFile(dir=ancestor, prefix=".ganzoo-probe-"):
            pass
        free = shutil.disk_usage(ancestor).free
    except OSError as error:
        raise GanzooError(f"cannot write to {ancestor} (for {flag} {_shown(path)}): {_reason(error)}") from None
    if free < needed_bytes:
        raise GanzooError(f"only {_mib(free)} free on {ancestor}; {what} need about {_mib(needed_bytes)}. "
                          f"Free some space or choose another {flag}")


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation on this machine (Linux's MemAvailable), if known."""
    try:
        with open("/proc/meminfo") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _nearest_existing(path: Path) -> Path:
    current = path.absolute()
    while not current.exists():
        if current.parent == current:
            break
        current = current.parent
    return current


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__


def _shown(path: Path) -> str:
    text = str(path)
    return text if len(text) <= 80 else text[:77] + "..."


def _gib(count: int) -> str:
    return f"{count / 2**30:,.1f} GiB"


def _mib(count: int) -> str:
    return f"{count / 2**20:,.0f} MiB"
