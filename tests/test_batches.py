"""Batch order is a pure function of (seed, position): the basis of exact resume."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ganzoo import InMemoryDataset
from ganzoo.batches import BatchStream


class ItemByItem(torch.utils.data.Dataset):
    """The same data without a batch() method, so the DataLoader path is used."""

    def __init__(self, data: InMemoryDataset) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int):
        return self.data[index]


def dataset(size: int) -> InMemoryDataset:
    return InMemoryDataset(torch.arange(size, dtype=torch.uint8).reshape(size, 1), torch.arange(size) % 3)


@settings(max_examples=40, deadline=None)
@given(size=st.integers(4, 60), batch_size=st.integers(1, 8), seed=st.integers(0, 10), split=st.integers(0, 30))
def test_resuming_at_a_position_replays_the_same_batches(size, batch_size, seed, split):
    data = dataset(size)
    if batch_size > size:
        return
    straight = BatchStream(data, batch_size, seed, torch.device("cpu"))
    expected = [next(straight) for _ in range(split + 5)]
    resumed = BatchStream(data, batch_size, seed, torch.device("cpu"), position=split)
    for samples, labels in expected[split:]:
        got_samples, got_labels = next(resumed)
        assert torch.equal(got_samples, samples) and torch.equal(got_labels, labels)
    assert resumed.position == split + 5


@settings(max_examples=20, deadline=None)
@given(size=st.integers(4, 40), batch_size=st.integers(1, 4), seed=st.integers(0, 5))
def test_each_epoch_visits_every_full_batch_once_and_both_paths_agree(size, batch_size, seed):
    data = dataset(size)
    fast = BatchStream(data, batch_size, seed, torch.device("cpu"))
    slow = BatchStream(ItemByItem(data), batch_size, seed, torch.device("cpu"))
    per_epoch = size // batch_size
    seen = []
    for _ in range(per_epoch):
        (a, la), (b, lb) = next(fast), next(slow)
        assert torch.equal(a, b) and torch.equal(la, lb)
        assert a.min() >= -1 and a.max() <= 1
        seen.extend(((a.flatten() + 1) * 127.5).round().long().tolist())
    assert len(seen) == len(set(seen)) == per_epoch * batch_size
