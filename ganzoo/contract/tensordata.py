"""A dataset held in memory as one tensor: a helper for dataset plugins.

Datasets that fit in memory (MNIST, CIFAR-10, the 2-D toys) should return an
:class:`InMemoryDataset` from ``Dataset.load``: the trainer then draws whole
batches by indexing one tensor instead of collating item by item.
"""

from __future__ import annotations

import torch


class InMemoryDataset(torch.utils.data.Dataset):
    """Samples and labels held as two tensors.

    Args:
        samples: ``(N, *shape)``; ``uint8`` pixels (0..255, scaled to
            ``[-1, 1]`` when read) or floats already in ``[-1, 1]``.
        labels: ``(N,)`` integer labels; ``None`` means all zero.

    Items are ``(float32 sample in [-1, 1], int label)`` as the
    :class:`ganzoo.Dataset` contract requires.
    """

    def __init__(self, samples: torch.Tensor, labels: torch.Tensor | None = None) -> None:
        if labels is None:
            labels = torch.zeros(len(samples), dtype=torch.long)
        if len(labels) != len(samples):
            raise ValueError(f"{len(samples)} samples but {len(labels)} labels")
        self.samples = samples
        self.labels = labels.long()

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self._scale(self.samples[index]), int(self.labels[index])

    def to(self, device: torch.device) -> InMemoryDataset:
        """The same dataset held on ``device`` (pixels stay ``uint8`` there: 4x less memory)."""
        return InMemoryDataset(self.samples.to(device), self.labels.to(device))

    @property
    def nbytes(self) -> int:
        """Memory the samples and labels take."""
        return self.samples.nbytes + self.labels.nbytes

    def batch(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The samples and labels at ``indices`` as two batched tensors."""
        indices = indices.to(self.samples.device)
        return self._scale(self.samples[indices]), self.labels[indices]

    def _scale(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.uint8:
            return x.float().div_(127.5).sub_(1.0)
        return x.float()
