"""Choosing the device a run uses."""

from __future__ import annotations

import torch

from ganzoo.errors import GanzooError


def resolve_device(requested: str) -> torch.device:
    """``auto`` picks cuda, then mps, then cpu; an explicit device must exist."""
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(requested)
    except (RuntimeError, ValueError):
        raise GanzooError(f"unknown device '{requested}'. Valid choices: auto, cpu, cuda, cuda:N, mps.") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise GanzooError(f"device '{requested}' requested but CUDA is not available here; use --device cpu")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise GanzooError(f"device '{requested}' does not exist; this machine has {torch.cuda.device_count()} GPU(s)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise GanzooError(f"device '{requested}' requested but MPS is not available here; use --device cpu")
    if device.type not in {"cpu", "cuda", "mps"}:
        raise GanzooError(f"unsupported device '{requested}'. Valid choices: auto, cpu, cuda, cuda:N, mps.")
    return device
