"""``--sync-bn``: batch norm over the global batch in data-parallel runs.

Without it every rank normalises with the statistics of its own share of
the batch, so DCGAN trained on N processes sees N smaller batches, not one
large one. On CUDA this is PyTorch's ``nn.SyncBatchNorm``. PyTorch's refuses
CPU tensors, so gloo (CPU) runs use :class:`CpuSyncBatchNorm`, which
computes the same global statistics with two differentiable all-reduces.
Both keep the state-dict keys of ``nn.BatchNorm*d``, so checkpoints load
into unsynchronised networks (sampling, evaluation) unchanged.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


class _SumOverRanks(torch.autograd.Function):
    """All-reduce (sum) whose gradient is the all-reduced gradient: each rank's input affects every rank's output."""

    @staticmethod
    def forward(ctx: Any, tensor: torch.Tensor) -> torch.Tensor:
        total = tensor.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(total)
        return total

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        return _SumOverRanks.apply(grad)  # differentiable again, for gradient penalties


class CpuSyncBatchNorm(_BatchNorm):
    """Batch norm whose training statistics are those of the batch of all ranks together (gloo, CPU tensors).

    Mean and variance are computed in two passes (sum and count, then the
    sum of squared deviations), as accurately as single-process batch norm;
    running statistics are updated as ``nn.BatchNorm*d`` does, with the
    unbiased global variance. In eval mode, or with one process, it is
    ordinary batch norm.
    """

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(input)
        self._check_input_dim(input)
        values = input.float()
        dims = [0] + list(range(2, input.dim()))
        shape = [1, -1] + [1] * (input.dim() - 2)
        local_count = torch.full((1,), values.numel() // values.shape[1], dtype=values.dtype, device=values.device)
        sums = _SumOverRanks.apply(torch.cat([values.sum(dims), local_count]))
        count = sums[-1]
        mean = sums[:-1] / count
        centred = values - mean.view(shape)
        variance = _SumOverRanks.apply((centred * centred).sum(dims)) / count
        if self.track_running_stats:
            self._update_running_stats(mean.detach(), variance.detach() * count / (count - 1).clamp(min=1))
        output = centred * torch.rsqrt(variance.view(shape) + self.eps)
        if self.affine:
            output = output * self.weight.view(shape) + self.bias.view(shape)
        return output.to(input.dtype)

    @torch.no_grad()
    def _update_running_stats(self, mean: torch.Tensor, unbiased_variance: torch.Tensor) -> None:
        self.num_batches_tracked.add_(1)
        factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        self.running_mean.lerp_(mean.to(self.running_mean.dtype), factor)
        self.running_var.lerp_(unbiased_variance.to(self.running_var.dtype), factor)


def synchronize_batch_norm(network: nn.Module, device: torch.device) -> nn.Module:
    """``network`` with every batch-norm layer computing global-batch statistics (its weights and buffers kept).

    Returns the converted network (a new object only when ``network`` is
    itself a batch-norm layer).
    """
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(network)
    return _to_cpu_sync(network)


def _to_cpu_sync(module: nn.Module) -> nn.Module:
    if isinstance(module, _BatchNorm) and not isinstance(module, (CpuSyncBatchNorm, nn.SyncBatchNorm)):
        synced = CpuSyncBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                                  module.track_running_stats, device=_device_of(module), dtype=_dtype_of(module))
        synced.load_state_dict(module.state_dict())
        synced.train(module.training)
        return synced
    for name, child in module.named_children():
        setattr(module, name, _to_cpu_sync(child))
    return module


def _device_of(module: nn.Module) -> torch.device | None:
    tensor = next(iter(module.state_dict().values()), None)
    return tensor.device if tensor is not None else None


def _dtype_of(module: nn.Module) -> torch.dtype | None:
    return module.weight.dtype if module.weight is not None else (
        module.running_mean.dtype if module.running_mean is not None else None)
