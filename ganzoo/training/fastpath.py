"""Speed settings the trainer applies to any architecture: memory format, fused optimizers, torch.compile.

Each one was kept because it measured faster (docs/benchmarks.md); none changes
what is computed, only how.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def prefer_channels_last(network: nn.Module) -> nn.Module:
    """Switch a network with 2-D convolutions to channels-last memory format (in place).

    oneDNN on CPU and cuDNN on tensor-core GPUs run convolutions in NHWC
    natively; NCHW weights cost a layout conversion per layer per pass.
    Networks without 2-D convolutions are returned unchanged.
    """
    if any(isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)) for module in network.modules()):
        network.to(memory_format=torch.channels_last)
    return network


def make_optimizer(name: str, network: nn.Module, *, lr: float, betas: tuple[float, float]) -> torch.optim.Optimizer:
    """The ``--optimizer`` over ``network``'s parameters, fused into one kernel where the device has one.

    ``adam`` and ``adamw`` (torch's decoupled weight decay, 0.01) use
    ``betas``; ``rmsprop`` (torch's defaults: alpha 0.99, eps 1e-8, no
    momentum, as WGAN's reference code) ignores them. The per-parameter
    Python loop of plain Adam dominates small models' steps (MLP GAN on
    MNIST: 1.3x faster fused); fused Adam exists for floating parameters on
    CPU and CUDA, foreach is the fallback and RMSprop's only fast path.
    """
    parameters = list(network.parameters())
    if name == "rmsprop":
        return torch.optim.RMSprop(parameters, lr=lr, foreach=True)
    kind = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[name]
    fusable = all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in parameters)
    if fusable:
        return kind(parameters, lr=lr, betas=betas, fused=True)
    return kind(parameters, lr=lr, betas=betas, foreach=True)


def compiled(network: nn.Module, device: torch.device, mode: str | None = None) -> Callable[..., torch.Tensor]:
    """``network`` through ``torch.compile``; on CUDA with CUDA graphs ("reduce-overhead") unless ``mode`` says otherwise.

    The module itself stays uncompiled, so its state dict keys and
    checkpoints are the same with or without ``--compile``.
    """
    if mode is None:
        mode = "reduce-overhead" if device.type == "cuda" else "default"
    return torch.compile(network, mode=mode, dynamic=False)
