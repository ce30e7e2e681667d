"""Numeric precision of training: fp32, or autocast to bf16 / fp16 (with loss scaling for fp16)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import torch

from ganzoo.errors import GanzooError

PRECISIONS = ("fp32", "bf16", "fp16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class Precision:
    """Autocast for forward passes and, for fp16, one gradient scaler per optimizer.

    Losses are always computed from float32 logits, so only the networks run
    in reduced precision; parameters and optimizer states stay float32.
    """

    def __init__(self, name: str, device: torch.device) -> None:
        if name not in PRECISIONS:
            raise GanzooError(f"unknown precision '{name}'. Valid choices: {', '.join(PRECISIONS)}.")
        self.name = name
        self.device_type = device.type
        self.scalers = {
            role: torch.amp.GradScaler(device.type, enabled=name == "fp16") for role in ("generator", "discriminator")
        }

    def autocast(self) -> contextlib.AbstractContextManager:
        """The context forward passes run in."""
        if self.name == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=_DTYPES[self.name])

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
