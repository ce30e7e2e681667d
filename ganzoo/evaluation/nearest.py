"""Nearest real images of generated samples: the memorisation check behind ``ganzoo nearest``.

Distances are Euclidean: between flattened images in the data's ``[-1, 1]``
range (``pixel`` space, the default) or between the vectors of a metric's
feature space (:meth:`ganzoo.Metric.features`). The real split is streamed
in batches with a running top-k, so at most a ``queries x batch`` distance
matrix is held, whatever the split's size.

Precision: each batch is ranked with the expanded square
``|q|^2 + |c|^2 - 2 q.c`` (one matrix product) in float64. Its cancellation
is worst exactly where memorisation is, at distances near 0 (float32 would
leave an error of about 1e-7 of ``|q|^2 + |c|^2``: 3e-4 for a CIFAR-sized
image, a distance of 0.02 for an exact copy). So the ``k`` candidates each
batch contributes are then measured directly, ``sum((q - c)^2)`` in float64:
a copied training image is at distance 0 exactly, and only candidates whose
squared distances differ by less than about 1e-15 of the squared norms can
swap places.

The statistic that tells memorisation apart: the median distance of the
generated samples to their nearest image in the searched split, divided by
the same median for as many held-out real images (from the other split). A
ratio well below 1 means samples sit closer to the split than unseen real
images do: they copy it.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import torch

from ganzoo.contract.metrics import EvalContext, Metric
from ganzoo.contract.progress import track
from ganzoo.errors import GanzooError, unknown_choice
from ganzoo.evaluation.classify import dataset_tensors, labelled_batches
from ganzoo.registry.loading import Registry

#: Maps a CPU float32 batch of images in ``[-1, 1]`` to ``(N, D)`` vectors.
Embedding = Callable[[torch.Tensor], torch.Tensor]

PIXEL_SPACE = "pixel"
#: Values of float64 one direct-distance step holds at once (128 MiB).
_DIRECT_CHUNK_VALUES = 2**24


@dataclass
class Neighbours:
    """The ``k`` nearest candidates of each query, nearest first.

    Attributes:
        distances: ``(n, k)`` float64 Euclidean distances, ascending along each row.
        indices: ``(n, k)`` long positions of the neighbours in the candidate stream (the split's order).
    """

    distances: torch.Tensor
    indices: torch.Tensor

    def rows(self, start: int, stop: int) -> Neighbours:
        """The neighbours of queries ``start`` to ``stop - 1``."""
        return Neighbours(self.distances[start:stop], self.indices[start:stop])


def nearest_neighbours(queries: torch.Tensor, candidates: Iterable[torch.Tensor], k: int,
                       device: torch.device | None = None) -> Neighbours:
    """The ``k`` nearest candidates of every query, as a brute-force search over all of them finds them.

    ``queries`` is ``(n, ...)``; ``candidates`` yields batches ``(b, ...)`` of
    the same item shape, whose positions count on from batch to batch. The
    search runs on ``device`` (default: the queries'). Among equal distances
    the lower index comes first.
    """
    if k < 1:
        raise GanzooError(f"-k must be at least 1, got {k}")
    device = device or queries.device
    flat = queries.reshape(len(queries), -1).to(device, torch.float64)
    squared_norms = flat.square().sum(1, keepdim=True)
    best = torch.empty(len(flat), 0, dtype=torch.float64, device=device)
    best_indices = torch.empty(len(flat), 0, dtype=torch.long, device=device)
    offset = 0
    for batch in candidates:
        vectors = batch.reshape(len(batch), -1).to(device, torch.float64)
        if vectors.shape[1] != flat.shape[1]:
            raise ValueError(f"candidates have {vectors.shape[1]} values each, queries {flat.shape[1]}")
        if len(vectors):
            ranked = squared_norms + vectors.square().sum(1) - 2 * flat @ vectors.T  # (n, b)
            local = ranked.topk(min(k, len(vectors)), dim=1, largest=False).indices.sort(dim=1).values
            distances = torch.cat([best, _direct_squared(flat, vectors, local)], 1)
            indices = torch.cat([best_indices, local + offset], 1)
            order = distances.argsort(dim=1, stable=True)[:, :k]  # stable: equal distances stay in index order
            best, best_indices = distances.gather(1, order), indices.gather(1, order)
        offset += len(vectors)
    if best.shape[1] < k:
        raise GanzooError(f"-k {k}: there are only {offset} images to search")
    return Neighbours(best.sqrt().cpu(), best_indices.cpu())


def _direct_squared(queries: torch.Tensor, vectors: torch.Tensor, chosen: torch.Tensor) -> torch.Tensor:
    """``sum((q_i - v_j)^2)`` for each query ``i`` and each ``j`` in its row of ``chosen``, in bounded memory."""
    rows = max(1, _DIRECT_CHUNK_VALUES // max(1, chosen.shape[1] * queries.shape[1]))
    parts = []
    for start in range(0, len(queries), rows):
        picked = vectors[chosen[start : start + rows]]  # (rows, k, D)
        parts.append((queries[start : start + rows, None, :] - picked).square().sum(2))
    return torch.cat(parts)


def pixel_space(batch: torch.Tensor) -> torch.Tensor:
    """The pixel space: each image flattened, values in ``[-1, 1]``."""
    return batch.reshape(len(batch), -1)


def feature_spaces(registry: Registry) -> list[str]:
    """The metrics that offer a feature space: those whose class overrides :meth:`Metric.features`."""
    names = []
    for name in registry.names("metrics"):
        try:
            metric = registry.metric(name)
        except GanzooError:  # registered twice: unusable under this name anyway
            continue
        if type(metric).features is not Metric.features:
            names.append(name)
    return names


def check_space(name: str, registry: Registry) -> Metric | None:
    """The metric whose feature space ``--space NAME`` names (None for ``pixel``); one-line errors otherwise."""
    if name == PIXEL_SPACE:
        return None
    spaces = feature_spaces(registry)
    if name not in registry.names("metrics"):
        raise unknown_choice("--space", name, [PIXEL_SPACE, *spaces])
    metric = registry.metric(name)
    if name not in spaces:
        raise _no_features(name, spaces)
    return metric


def feature_embedding(metric: Metric, context: EvalContext, search_device: torch.device) -> Embedding:
    """The embedding into ``metric``'s feature space (after its ``check``), which may train its extractor."""
    metric.check(context)
    features = metric.features(context)
    if features is None:
        raise _no_features(metric.name, [])

    def embed(batch: torch.Tensor) -> torch.Tensor:
        return features(batch.to(context.device)).float().to(search_device)

    return embed


def _no_features(name: str, spaces: list[str]) -> GanzooError:
    offered = ", ".join([PIXEL_SPACE, *(space for space in spaces if space != name)])
    return GanzooError(f"metric '{name}' has no feature space to search in. Valid choices for --space: {offered}.")


def search_device(device: torch.device) -> torch.device:
    """Where distances are computed: ``device``, or the CPU where float64 is missing (MPS)."""
    return device if device.type in ("cpu", "cuda") else torch.device("cpu")


def other_split(split: str) -> str:
    """The split held-out images come from: the one not searched."""
    return "test" if split == "train" else "train"


def check_neighbour_count(context: EvalContext, split: str, k: int) -> None:
    """Refuse ``-k`` larger than the split (this loads the split)."""
    size = len(context.split_data(split))
    if k > size:
        raise GanzooError(f"-k {k}: the {split} split of '{context.dataset.name}' holds only {size} images")


@dataclass
class NearestResult:
    """Neighbours in ``split`` of the generated samples and of as many held-out real images.

    Attributes:
        split: the split searched.
        held_out_split: where the held-out images come from (the other split).
        samples: the neighbours of the generated samples.
        held_out: the neighbours of the held-out images.
        held_out_indices: the held-out images' positions in their split.
    """

    split: str
    held_out_split: str
    samples: Neighbours
    held_out: Neighbours
    held_out_indices: torch.Tensor

    def medians(self) -> tuple[float, float, float | None]:
        """Median nearest distance of the samples, of the held-out images, and their ratio (None if undefined)."""
        generated = statistics.median(self.samples.distances[:, 0].tolist())
        real = statistics.median(self.held_out.distances[:, 0].tolist())
        return generated, real, generated / real if real > 0 else None


def find_nearest(samples: torch.Tensor, context: EvalContext, split: str, k: int, embed: Embedding,
                 device: torch.device) -> NearestResult:
    """Search ``split`` for the ``k`` nearest images of ``samples`` and of held-out real images.

    The held-out images are ``len(samples)`` images of the other split (all
    of it if smaller), drawn without replacement by ``context.seed``.
    Everything is streamed ``context.batch_size`` images at a time.
    """
    held_split = other_split(split)
    held_data = context.split_data(held_split)
    rng = torch.Generator().manual_seed(context.seed)
    chosen = torch.randperm(len(held_data), generator=rng)[: len(samples)].sort().values
    held_images, _ = dataset_tensors(held_data, chosen)
    queries = torch.cat([samples.float(), held_images])
    size = context.batch_size
    with torch.inference_mode():
        embedded = torch.cat([embed(queries[start : start + size]) for start in range(0, len(queries), size)])
        found = nearest_neighbours(embedded, _split_vectors(context, split, embed), k, device)
    count = len(samples)
    return NearestResult(split, held_split, found.rows(0, count), found.rows(count, len(queries)), chosen)


def _split_vectors(context: EvalContext, split: str, embed: Embedding) -> Iterator[torch.Tensor]:
    data = context.split_data(split)
    batches = labelled_batches(data, context.batch_size)
    for images, _ in track(batches, f"searching {len(data):,} {split} images", -(-len(data) // context.batch_size)):
        if tuple(images.shape[1:]) != tuple(context.spec.shape):
            raise GanzooError(f"the {split} split of '{context.dataset.name}' under {context.data_root} holds images "
                              f"of shape {tuple(images.shape[1:])}, the generator makes {tuple(context.spec.shape)}; "
                              "check --data-root")
        yield embed(images)
