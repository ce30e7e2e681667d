"""Sample sources for evaluation: a generator, or a fixed tensor of samples."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn

from ganzoo.contract import DataSpec
from ganzoo.errors import GanzooError
from ganzoo.metrics import SampleSource
from ganzoo.sampling import generate


class GeneratorSamples(SampleSource):
    """Samples drawn from a generator under ``inference_mode``, batch by batch.

    Noise comes from a CPU generator seeded with ``seed`` on every call to
    :meth:`batches`, so two metrics of one evaluation see the same samples.
    ``precision`` is the autocast the generator runs under (its run's).
    """

    def __init__(self, generator: nn.Module, latent_dim: int, spec: DataSpec, device: torch.device, seed: int = 0,
                 precision: str = "fp32") -> None:
        self.generator = generator
        self.precision = precision
        self.latent_dim = latent_dim
        self.spec = spec
        self.device = device
        self.seed = seed

    def batches(self, count: int, batch_size: int) -> Iterator[torch.Tensor]:
        rng = torch.Generator().manual_seed(self.seed)
        for start in range(0, count, batch_size):
            noise = torch.randn(min(batch_size, count - start), self.latent_dim, generator=rng)
            yield generate(self.generator, self.latent_dim, len(noise), device=self.device, noise=noise,
                           batch_size=len(noise), precision=self.precision).clamp(-1, 1)


class TensorSamples(SampleSource):
    """A fixed set of samples (e.g. real images, to evaluate the data against itself)."""

    def __init__(self, samples: torch.Tensor, spec: DataSpec) -> None:
        self.samples = samples
        self.spec = spec

    def batches(self, count: int, batch_size: int) -> Iterator[torch.Tensor]:
        if count > len(self.samples):
            raise GanzooError(f"asked for {count} samples but only {len(self.samples)} are available")
        for start in range(0, count, batch_size):
            yield self.samples[start : min(start + batch_size, count)].float()
