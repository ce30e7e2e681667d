"""torch-fidelity plumbing for the ``fid``, ``is``, ``kid`` and ``prc`` metrics.

Everything here is shared by the four metrics in :mod:`ganzoo_plugins.metrics.fidelity`:
finding the extractor's weights offline, loading the extractor once, turning
ganzoo samples into the uint8 RGB batches torch-fidelity expects, and the
reference-feature cache.

Reference cache: one safetensors file per (dataset, split, data options,
extractor, weights SHA-256, feature layers) under
``<cache_dir>/fidelity/``, written atomically. It holds the reference
features of every layer FID/KID/PRC use plus the FID mean and covariance
(float64), and its metadata records the full key and the reference size.

Generated samples are streamed through the extractor batch by batch; only
their features are kept, memoised per :class:`ganzoo.SampleSource` object so
that ``--metrics fid,kid,prc,is`` generates and extracts once.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import safetensors
import safetensors.torch
import torch
import torch_fidelity
from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3
from torch_fidelity.metric_fid import fid_features_to_statistics
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY
from torch_fidelity.utils import create_feature_extractor

import ganzoo
from ganzoo import (INCEPTION_WEIGHTS_ENV, EvalContext, GanzooError, InMemoryDataset, SampleSource, atomic_path,
                    unknown_choice)

#: The extractor of the standard FID/IS/KID protocol.
DEFAULT_EXTRACTOR = "inception-v3-compat"
#: Environment variable naming another extractor registered with torch-fidelity (e.g. a test stand-in).
EXTRACTOR_ENV = "GANZOO_FEATURE_EXTRACTOR"
#: The file torch-fidelity downloads for ``inception-v3-compat``.
INCEPTION_FILE = URL_INCEPTION_V3.rsplit("/", 1)[-1]
#: torch-fidelity's names of the metrics whose feature layers are extracted.
METRIC_KEYS = ("isc", "fid", "kid", "prc")
#: How samples in [-1, 1] become pixels; part of the cache key.
PIXELS = "uint8 RGB = round((x + 1) * 127.5), grayscale repeated to 3 channels"


def extractor_name(explicit: str | None) -> str:
    """The extractor to use: ``explicit``, else ``$GANZOO_FEATURE_EXTRACTOR``, else inception-v3-compat."""
    name = explicit or os.environ.get(EXTRACTOR_ENV) or DEFAULT_EXTRACTOR
    if name not in FEATURE_EXTRACTORS_REGISTRY:
        raise unknown_choice("feature extractor", name, FEATURE_EXTRACTORS_REGISTRY, "in torch-fidelity's registry")
    return name


@dataclass(frozen=True)
class Weights:
    """The extractor's weights file (None: the extractor needs none or fetches its own)."""

    path: str | None
    sha256: str | None

    @property
    def tag(self) -> str:
        return self.sha256 or "builtin"


def resolve_weights(metric: str, extractor: str, context: EvalContext) -> Weights:
    """The weights file for ``extractor``, without ever downloading another network.

    ``context.inception_weights`` (else ``$GANZOO_INCEPTION_WEIGHTS``) wins. For
    inception-v3-compat without one, the file must be in torch's hub cache,
    where torch-fidelity itself would download it; it is fetched there only
    when ``context.download`` allows and the network answers.
    """
    given = context.inception_weights or os.environ.get(INCEPTION_WEIGHTS_ENV)
    if given:
        path = Path(given).expanduser()
        if not path.is_file() or not os.access(path, os.R_OK):
            raise GanzooError(
                f"metric '{metric}': weights file '{given}' (--inception-weights / ${INCEPTION_WEIGHTS_ENV}) "
                "does not exist or is not readable"
            )
        return Weights(str(path), _sha256(str(path.resolve())))
    if extractor != DEFAULT_EXTRACTOR:
        return Weights(None, None)
    cached = Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE
    if not cached.is_file():
        _fetch_inception(metric, cached, context.download)
    return Weights(str(cached), _sha256(str(cached)))


def _fetch_inception(metric: str, target: Path, download: bool) -> None:
    reason = "downloading is disabled"
    if download:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(URL_INCEPTION_V3, str(target), progress=False)
            return
        except Exception as error:  # no network, proxy, disk: all end in the same advice
            reason = "the download failed (" + " ".join(str(error).split()) + ")"
    raise GanzooError(
        f"metric '{metric}' needs the Inception weights file {INCEPTION_FILE} ({URL_INCEPTION_V3}); "
        f"it is not in {target.parent} and {reason}. Put the file there, or pass --inception-weights PATH "
        f"(or set {INCEPTION_WEIGHTS_ENV}=PATH)."
    )


@functools.lru_cache(maxsize=8)
def _sha256(path: str, _stamp: tuple[int, int] | None = None) -> str:
    if _stamp is None:  # key the memo on size and mtime so a replaced file is hashed again
        stat = os.stat(path)
        return _sha256(path, (stat.st_size, stat.st_mtime_ns))
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def metric_layers(extractor: str) -> dict[str, str]:
    """torch-fidelity metric key -> the extractor's default feature layer for it."""
    cls = FEATURE_EXTRACTORS_REGISTRY[extractor]
    return {key: cls.get_default_feature_layer_for_metric(key) for key in METRIC_KEYS}


def resize_description(extractor: str) -> str:
    """How the extractor resizes its input (torch-fidelity resizes inside the extractor)."""
    if extractor == DEFAULT_EXTRACTOR:
        return "bilinear like TensorFlow 1.x to 299x299, inside the extractor (torch-fidelity)"
    size = getattr(FEATURE_EXTRACTORS_REGISTRY[extractor], "INPUT_IMAGE_SIZE", None)
    return f"inside extractor '{extractor}'" + (f" to {size}x{size}" if size else "")


@functools.lru_cache(maxsize=1)
def load_extractor(name: str, layers: tuple[str, ...], weights: Weights, device: str) -> torch.nn.Module:
    """torch-fidelity's extractor ``name`` producing ``layers``, on ``device`` (the last one stays loaded)."""
    weights_path = weights.path
    try:
        extractor = create_feature_extractor(
            name, list(layers), cuda=False, verbose=False, feature_extractor_weights_path=weights_path
        )
    except Exception as error:
        if weights_path is None:
            raise
        raise GanzooError(f"cannot load weights file '{weights_path}' for extractor '{name}': {error}") from None
    return extractor.to(device)


def to_uint8_rgb(batch: torch.Tensor) -> torch.Tensor:
    """``(N, C, H, W)`` floats in [-1, 1] -> ``(N, 3, H, W)`` uint8 (grayscale repeated)."""
    pixels = batch.add(1).mul_(127.5).round_().clamp_(0, 255).to(torch.uint8)
    return pixels.expand(-1, 3, -1, -1) if pixels.shape[1] == 1 else pixels


def extract(extractor: torch.nn.Module, batches: Iterable[torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    """Features of every batch, concatenated; only the uint8 batch in flight is held."""
    parts: dict[str, list[torch.Tensor]] = {}
    with torch.inference_mode():
        for batch in batches:
            features = extractor.convert_features_tuple_to_dict(extractor(to_uint8_rgb(batch).to(device)))
            for layer, value in features.items():
                parts.setdefault(layer, []).append(value.float().cpu())
    return {layer: torch.cat(values) for layer, values in parts.items()}


def dataset_batches(dataset: torch.utils.data.Dataset, batch_size: int) -> Iterator[torch.Tensor]:
    """The samples of a ganzoo dataset split, batch by batch."""
    if isinstance(dataset, InMemoryDataset):
        for start in range(0, len(dataset), batch_size):
            yield dataset.batch(torch.arange(start, min(start + batch_size, len(dataset))))[0]
        return
    for samples, _ in torch.utils.data.DataLoader(dataset, batch_size=batch_size, num_workers=0):
        yield samples


class FeatureRun:
    """One extractor with its weights, resolved for one metric and context."""

    _generated: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def __init__(self, metric: str, extractor: str | None, context: EvalContext) -> None:
        self.context = context
        self.name = extractor_name(extractor)
        self.weights = resolve_weights(metric, self.name, context)
        self.layers = metric_layers(self.name)
        self.extractor = load_extractor(
            self.name, tuple(sorted(set(self.layers.values()))), self.weights, str(context.device)
        )

    def generated(self, samples: SampleSource) -> dict[str, torch.Tensor]:
        """Features of ``context.num_samples`` samples, extracted once per source."""
        key = (self.name, self.weights.tag, self.context.num_samples, self.context.batch_size, str(self.context.device))
        memo = self._generated.get(samples)
        if memo is None or memo[0] != key:
            batches = samples.batches(self.context.num_samples, self.context.batch_size)
            memo = (key, extract(self.extractor, batches, self.context.device))
            self._generated[samples] = memo
        return memo[1]

    def reference(self) -> tuple[dict[str, torch.Tensor], int, Path]:
        """Cached reference features (``features/<layer>``, ``fid_mu``, ``fid_sigma``), their count, the file."""
        ref_layers = sorted({self.layers[key] for key in ("fid", "kid", "prc")})
        context = self.context
        key = json.dumps({
            "dataset": context.dataset.name, "split": context.ref_split,
            "data_options": dict(context.data_options), "extractor": self.name,
            "weights_sha256": self.weights.tag, "layers": ref_layers, "pixels": PIXELS,
        }, sort_keys=True, default=str)
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        path = Path(context.cache_dir) / "fidelity" / f"{context.dataset.name}-{context.ref_split}-{self.name}-{digest}.safetensors"
        cached = _read_cache(path, key)
        if cached is not None:
            return cached[0], cached[1], path
        batches = ganzoo.track(dataset_batches(context.reference, context.batch_size),
                               f"{self.name} features of the {context.ref_split} split",
                               -(-len(context.reference) // context.batch_size))
        features = extract(self.extractor, batches, context.device)
        stats = fid_features_to_statistics(features[self.layers["fid"]])
        tensors = {f"features/{layer}": features[layer].contiguous() for layer in ref_layers}
        tensors["fid_mu"] = torch.from_numpy(stats["mu"]).contiguous()
        tensors["fid_sigma"] = torch.from_numpy(stats["sigma"]).contiguous()
        size = len(features[self.layers["fid"]])
        with atomic_path(path) as temp:
            safetensors.torch.save_file(tensors, str(temp), metadata={"key": key, "reference_size": str(size)})
        return tensors, size, path

    def protocol(self, layer: str) -> dict[str, Any]:
        """What every fidelity metric records."""
        return {
            "library": "torch-fidelity",
            "torch_fidelity_version": torch_fidelity.__version__,
            "extractor": self.name,
            "feature_layer": layer,
            "weights_file": Path(self.weights.path).name if self.weights.path else None,
            "weights_sha256": self.weights.sha256,
            "input": PIXELS,
            "resize": resize_description(self.name),
            "num_samples": self.context.num_samples,
            "seed": self.context.seed,
        }


def _read_cache(path: Path, key: str) -> tuple[dict[str, torch.Tensor], int] | None:
    if not path.is_file():
        return None
    try:
        with safetensors.safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            if metadata.get("key") != key:
                return None
            return {name: handle.get_tensor(name) for name in handle.keys()}, int(metadata["reference_size"])
    except Exception:  # a damaged cache file is recomputed, never trusted
        return None
