"""Standing batch-norm statistics: the generator that samples carries population statistics of its own weights.

Batch norm's running statistics are an exponential average (momentum 0.1)
over the last training steps, so they describe generators a few dozen steps
older than the one being sampled; in eval mode every normalised layer is then
slightly off. "Standing statistics" (Brock et al. 2019, BigGAN, section 3.1
and appendix; StudioGAN's ``standing_statistics`` option) recompute them for
the weights at hand: the generator runs in train mode on fresh noise and the
batch statistics of every pass are averaged with equal weight (``momentum =
None``). Sampling in eval mode then normalises as the average training batch
did, with none of batch mode's dependence on the other samples of a batch.

The trainer applies this to a copy of the generator before it draws grids,
evaluates, or writes the generator file (``generator.safetensors``,
``best.safetensors``); the resumable training state keeps the raw running
statistics, so training and resume are untouched. Generators without batch
norm are used as they are.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from ganzoo.compute.precision import autocast

__all__ = ["STANDING_BATCH", "STANDING_SAMPLES", "has_batch_norm", "with_standing_statistics"]

#: Samples the statistics are averaged over (8 passes of :data:`STANDING_BATCH`).
STANDING_SAMPLES = 2048
STANDING_BATCH = 256


def has_batch_norm(network: nn.Module) -> bool:
    """Whether any module of ``network`` is a batch norm that tracks running statistics."""
    return any(isinstance(module, _BatchNorm) and module.track_running_stats for module in network.modules())


def with_standing_statistics(
    generator: nn.Module,
    latent_dim: int,
    *,
    device: torch.device,
    seed: int,
    precision: str = "fp32",
    num_classes: int | None = None,
    samples: int = STANDING_SAMPLES,
    batch_size: int = STANDING_BATCH,
) -> nn.Module:
    """A copy of ``generator`` in eval mode whose batch norms hold standing statistics.

    Noise (and, for a conditional generator, classes drawn uniformly from
    ``num_classes``) comes from a CPU generator seeded with ``seed``, so the
    result is a function of the weights and the seed alone and no global RNG
    stream moves. ``generator`` itself is not modified. Without batch norm,
    ``generator`` is returned unchanged.
    """
    if not has_batch_norm(generator):
        return generator
    standing = _local_batch_norm(copy.deepcopy(generator))
    norms = [module for module in standing.modules() if isinstance(module, _BatchNorm) and module.track_running_stats]
    momenta = [norm.momentum for norm in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative average: every pass weighs the same
    rng = torch.Generator().manual_seed(seed)
    standing.train()
    with torch.no_grad(), autocast(precision, device.type):
        for start in range(0, samples, batch_size):
            count = min(batch_size, samples - start)
            z = torch.randn(count, latent_dim, generator=rng).to(device)
            if num_classes:
                standing(z, torch.randint(num_classes, (count,), generator=rng).to(device))
            else:
                standing(z)
    for norm, momentum in zip(norms, momenta):
        norm.momentum = momentum
    return standing.eval()


class _LocalBatchNorm(_BatchNorm):
    """A batch norm of any input rank that normalises over this process's batch only."""

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2-D input (got {input.dim()}-D)")


def _local_batch_norm(network: nn.Module) -> nn.Module:
    """``network`` with synchronised batch norms replaced by local ones holding the same state.

    Only rank 0 samples during a distributed run; a synchronised batch norm in
    train mode would wait there for the other ranks.
    """
    for name, child in network.named_children():
        if isinstance(child, _BatchNorm) and type(child).__name__ in ("SyncBatchNorm", "CpuSyncBatchNorm"):
            local = _LocalBatchNorm(child.num_features, child.eps, child.momentum, child.affine,
                                    child.track_running_stats, device=child.running_mean.device
                                    if child.running_mean is not None else None)
            local.load_state_dict(child.state_dict())
            setattr(network, name, local)
        else:
            _local_batch_norm(child)
    return network
