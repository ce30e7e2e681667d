"""Endless shuffled batches whose order depends only on (seed, position).

The trainer records how many batches it has drawn; resuming at that
position replays exactly the batches an uninterrupted run would have seen,
with no hidden sampler state to save.

Datasets held in memory (:class:`ganzoo.InMemoryDataset`) are preloaded:
copied once to the training device as ``uint8``, then indexed, converted
and scaled there, a whole batch at a time. Other datasets, or any dataset
with ``preload=False``, stream through a ``DataLoader`` item by item. Both
paths draw the same indices, so they give the same batches.
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
        preload: hold an in-memory dataset on ``device`` (``None``: when it
            fits, see :func:`fits_on`); ``False`` streams it item by item.
        shard: ``(rank, world_size)`` for data-parallel training: every
            process draws the same global batches of ``batch_size`` (same
            seed, same position) and keeps items ``rank::world_size`` of each,
            so the ranks' parts together are exactly the single-process batch.
    """

    def __init__(
        self,
        dataset: torch.utils.data.Dataset,
        batch_size: int,
        seed: int,
        device: torch.device,
        position: int = 0,
        workers: int = 0,
        preload: bool | None = None,
        shard: tuple[int, int] = (0, 1),
    ) -> None:
        rank, world_size = shard
        if batch_size % world_size:
            raise GanzooError(f"--batch-size {batch_size} (the global batch) must be divisible by the "
                              f"{world_size} processes")
        self.rank, self.world_size = rank, world_size
        in_memory = hasattr(dataset, "batch") and hasattr(dataset, "to")
        if preload and not in_memory:
            raise GanzooError("--preload needs a dataset held in memory (a ganzoo.InMemoryDataset); "
                              "this one is read item by item")
        if len(dataset) < batch_size:
            raise GanzooError(f"--batch-size {batch_size} is larger than the dataset ({len(dataset)} samples)")
        if preload is None:
            preload = in_memory and fits_on(dataset, device)
        self.preloaded = bool(preload)
        if self.preloaded:
            dataset = dataset.to(device)
        self.dataset = dataset
        self.batch_size = batch_size
        self.seed = seed
        self.device = device
        self.position = position
        self.workers = workers
        self.batches_per_epoch = len(dataset) // batch_size
        self._source: Iterator[tuple[torch.Tensor, torch.Tensor]] | None = None

    def __iter__(self) -> BatchStream:
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self._source is None:
            self._source = self._read(self.position)
        samples, labels = next(self._source)
        self.position += 1
        if self.preloaded:
            return samples, labels
        non_blocking = self.device.type == "cuda"
        return samples.to(self.device, non_blocking=non_blocking), labels.to(self.device, non_blocking=non_blocking)

    def _index_batches(self, start: int) -> Iterator[torch.Tensor]:
        epoch, offset = divmod(start, self.batches_per_epoch)
        while True:
            order = epoch_order(len(self.dataset), self.seed, epoch)
            if self.preloaded:
                # One copy per epoch; a copy per batch from pageable memory would wait for the GPU every step.
                order = order.to(self.device)
            for index in range(offset, self.batches_per_epoch):
                yield order[index * self.batch_size : (index + 1) * self.batch_size][self.rank :: self.world_size]
            epoch, offset = epoch + 1, 0

    def _read(self, start: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        indices = self._index_batches(start)
        if self.preloaded:
            return (self.dataset.batch(batch) for batch in indices)
        loader = torch.utils.data.DataLoader(
            self.dataset,
            batch_sampler=(batch.tolist() for batch in indices),
            num_workers=self.workers,
            pin_memory=self.device.type == "cuda",
            # Its own RNG for worker seeds: the global one (dropout etc.) must not depend on the data path.
            generator=torch.Generator().manual_seed(self.seed),
        )
        return (_as_tensors(samples, labels) for samples, labels in loader)


def fits_on(dataset: torch.utils.data.Dataset, device: torch.device, share: float = 0.25) -> bool:
    """Whether an in-memory dataset may be preloaded on ``device``: always on the CPU
    (it is already there), on a GPU when it takes at most ``share`` of the free memory."""
    if device.type != "cuda":
        return device.type == "cpu"
    free, _ = torch.cuda.mem_get_info(device)
    return dataset.nbytes <= share * free


def _as_tensors(samples: torch.Tensor, labels: object) -> tuple[torch.Tensor, torch.Tensor]:
    return samples, torch.as_tensor(labels, dtype=torch.long)
