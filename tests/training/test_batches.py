"""Batch order is a pure function of (seed, position): the basis of exact resume."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ganzoo import InMemoryDataset
from ganzoo.training.batches import BatchStream


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


@settings(max_examples=20, deadline=None)
@given(world_size=st.sampled_from([1, 2, 4]), per_rank=st.integers(1, 3), seed=st.integers(0, 5),
       position=st.integers(0, 12))
def test_shards_of_every_rank_make_up_exactly_the_single_process_batch(world_size, per_rank, seed, position):
    data = dataset(48)
    global_batch = world_size * per_rank
    whole = BatchStream(data, global_batch, seed, torch.device("cpu"), position=position)
    shards = [BatchStream(data, global_batch, seed, torch.device("cpu"), position=position, shard=(rank, world_size))
              for rank in range(world_size)]
    for _ in range(6):
        samples, labels = next(whole)
        parts = [next(shard) for shard in shards]
        assert all(len(part[0]) == per_rank for part in parts)
        rebuilt = torch.stack([part[0] for part in parts], dim=1).reshape(samples.shape)
        assert torch.equal(rebuilt, samples)
        assert torch.equal(torch.stack([part[1] for part in parts], dim=1).reshape(-1), labels)
    assert {shard.position for shard in shards} == {whole.position}


def test_a_global_batch_that_does_not_split_evenly_is_refused():
    import pytest

    from ganzoo.errors import GanzooError

    with pytest.raises(GanzooError, match="--batch-size 6 .* divisible by the 4 processes"):
        BatchStream(dataset(20), 6, 0, torch.device("cpu"), shard=(0, 4))
