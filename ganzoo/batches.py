"""Endless shuffled batches whose order depends only on (seed, position).

The trainer records how many batches it has drawn; resuming at that
position replays exactly the batches an uninterrupted run would have seen,
with no hidden sampler state to save.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from ganzoo.errors import GanzooError


def epoch_order(num_items: int, seed: int, epoch: int) -> torch.Tensor:
    """The permutation of item indices used in ``epoch``."""
    rng = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(num_items, generator=rng)


class BatchStream:
    """Batches ``(samples, labels)`` on ``device``, epoch after epoch, last partial batch dropped.

    Args:
        dataset: a ``torch.utils.data.Dataset`` of ``(sample, label)``; one
            with a ``batch(indices)`` method (``ganzoo.InMemoryDataset``) is
            read a whole batch at a time.
        batch_size: samples per batch.
        seed: fixes the shuffling.
        device: where the batches go.
        position: batches already drawn (to resume).
        workers: DataLoader worker processes for item-by-item datasets.
    """

    def __init__(
        self,
        dataset: torch.utils.data.Dataset,
        batch_size: int,
        seed: int,
        device: torch.device,
        position: int = 0,
        workers: int = 0,
    ) -> None:
        self.dataset = dataset
        self.batch_size = batch_size
        self.seed = seed
        self.device = device
        self.position = position
        self.workers = workers
        self.batches_per_epoch = len(dataset) // batch_size
        if self.batches_per_epoch == 0:
            raise GanzooError(f"--batch-size {batch_size} is larger than the dataset ({len(dataset)} samples)")
        self._source: Iterator[tuple[torch.Tensor, torch.Tensor]] | None = None

    def __iter__(self) -> BatchStream:
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self._source is None:
            self._source = self._read(self.position)
        samples, labels = next(self._source)
        self.position += 1
        non_blocking = self.device.type == "cuda"
        return samples.to(self.device, non_blocking=non_blocking), labels.to(self.device, non_blocking=non_blocking)

    def _index_batches(self, start: int) -> Iterator[torch.Tensor]:
        epoch, offset = divmod(start, self.batches_per_epoch)
        while True:
            order = epoch_order(len(self.dataset), self.seed, epoch)
            for index in range(offset, self.batches_per_epoch):
                yield order[index * self.batch_size : (index + 1) * self.batch_size]
            epoch, offset = epoch + 1, 0

    def _read(self, start: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        indices = self._index_batches(start)
        if hasattr(self.dataset, "batch"):
            return (self.dataset.batch(batch) for batch in indices)
        loader = torch.utils.data.DataLoader(
            self.dataset,
            batch_sampler=(batch.tolist() for batch in indices),
            num_workers=self.workers,
            pin_memory=self.device.type == "cuda",
        )
        return (_as_tensors(samples, labels) for samples, labels in loader)


def _as_tensors(samples: torch.Tensor, labels: object) -> tuple[torch.Tensor, torch.Tensor]:
    return samples, torch.as_tensor(labels, dtype=torch.long)
