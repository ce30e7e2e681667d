"""Sample sources for evaluation: a generator, or a fixed tensor of samples."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from ganzoo.contract.components import DataSpec
from ganzoo.contract.progress import track
from ganzoo.errors import GanzooError
from ganzoo.contract.metrics import SampleSource
from ganzoo.evaluation.sampling import generate


@dataclass(eq=False)
class GeneratorSamples(SampleSource):
    """Samples drawn from a generator under ``inference_mode``, batch by batch.

    Noise comes from a CPU generator seeded with ``seed`` on every call to
    :meth:`batches`, so two metrics of one evaluation see the same samples.
    ``precision`` is the autocast the generator runs under (its run's). A
    ``conditional`` generator is asked for balanced classes (sample ``i`` of
    class ``i % num_classes``), available through :meth:`labeled_batches`.
    """

    generator: nn.Module
    latent_dim: int
    spec: DataSpec
    device: torch.device
    seed: int = 0
    precision: str = "fp32"
    conditional: bool = False

    def batches(self, count: int, batch_size: int) -> Iterator[torch.Tensor]:
        for samples, _ in self._generate(count, batch_size):
            yield samples

    def labeled_batches(self, count: int, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if not self.conditional:
            raise GanzooError("these samples come from an unconditional generator: they have no classes")
        return self._generate(count, batch_size)

    def _generate(self, count: int, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
        rng = torch.Generator().manual_seed(self.seed)
        starts = range(0, count, batch_size)
        for start in track(starts, f"generating {count:,} samples", len(starts)):
            noise = torch.randn(min(batch_size, count - start), self.latent_dim, generator=rng)
            labels = None
            if self.conditional:
                labels = torch.arange(start, start + len(noise)) % self.spec.num_classes
            samples = generate(self.generator, self.latent_dim, len(noise), device=self.device, noise=noise,
                               labels=labels, conditional=self.conditional, batch_size=len(noise),
                               precision=self.precision)
            yield samples.clamp(-1, 1), labels


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
