"""Numeric precision of training: fp32, or autocast to bf16 / fp16 (with loss scaling for fp16).

``auto`` (the default) picks bf16 where the hardware computes it natively and
fp32 elsewhere; docs/benchmarks.md has the measurements behind that rule.
"""

from __future__ import annotations

import contextlib
import functools
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ganzoo.errors import GanzooError

PRECISIONS = ("fp32", "bf16", "fp16")
CHOICES = ("auto", *PRECISIONS)
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_precision(requested: str, device: torch.device) -> str:
    """The precision ``requested`` means on ``device``: ``auto`` becomes bf16 or fp32.

    bf16 is chosen on CUDA cards that support it (Ampere and later) and on
    CPUs with native bf16 arithmetic (AVX512-BF16 or AMX), where it measured
    1.6-2.2x faster than fp32 with no loss of sample quality. Elsewhere bf16
    is emulated or unsupported, so fp32 is the safe default.
    """
    if requested not in CHOICES:
        raise GanzooError(f"unknown precision '{requested}'. Valid choices: {', '.join(CHOICES)}.")
    if requested != "auto":
        return requested
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device.type == "cpu":
        return "bf16" if cpu_has_native_bf16() else "fp32"
    return "fp32"


@functools.cache
def cpu_has_native_bf16() -> bool:
    """Whether this CPU executes bf16 matrix products natively (x86 AVX512-BF16 or AMX-BF16 on Linux)."""
    if platform.system() != "Linux":
        return False
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    flags = next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines() if line.startswith("flags")), [])
    return "avx512_bf16" in flags or "amx_bf16" in flags


def autocast(precision: str, device_type: str) -> contextlib.AbstractContextManager:
    """Autocast to ``precision`` (one of :data:`PRECISIONS`) on ``device_type``; nothing for fp32."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type, dtype=_DTYPES[precision])


class Precision:
    """Autocast for forward passes and, for fp16, one gradient scaler per optimizer.

    Losses are always computed from float32 logits, so only the networks run
    in reduced precision; parameters and optimizer states stay float32.
    """

    def __init__(self, name: str, device: torch.device) -> None:
        name = resolve_precision(name, device)
        self.name = name
        self.device_type = device.type
        self.scalers = {
            role: torch.amp.GradScaler(device.type, enabled=name == "fp16") for role in ("generator", "discriminator")
        }

    def autocast(self) -> contextlib.AbstractContextManager:
        """The context forward passes run in."""
        return autocast(self.name, self.device_type)

    def step(self, role: str, loss: torch.Tensor, optimizer: torch.optim.Optimizer,
             clip: Callable[[], None]) -> None:
        """Backpropagate ``loss`` and update ``optimizer`` (scaled, unscaled before clipping, for fp16)."""
        scaler = self.scalers[role]
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        clip()
        scaler.step(optimizer)
        scaler.update()

    def state(self) -> dict[str, Any]:
        """JSON-ready scaler states (empty unless fp16)."""
        return {role: scaler.state_dict() for role, scaler in self.scalers.items() if scaler.is_enabled()}

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state` returned."""
        for role, scaler_state in state.items():
            self.scalers[role].load_state_dict(scaler_state)
