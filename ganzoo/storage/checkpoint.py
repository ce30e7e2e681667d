"""Checkpoints as safetensors files: no pickle anywhere.

Two files per run:

- the *generator file* holds the generator's weights and, in its metadata,
  everything needed to rebuild it (architecture, options, spec, latent
  size), so ``ganzoo sample`` works from that file alone;
- the *training state* holds both networks, both optimizers, every RNG
  state and the step counter, so ``--resume`` continues exactly.

Metadata is JSON stored under one safetensors metadata key.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from ganzoo.storage.atomic import atomic_path
from ganzoo.errors import GanzooError
from ganzoo.version import __version__

FORMAT_VERSION = 1
_METADATA_KEY = "ganzoo"


def write_checkpoint(path: str | os.PathLike[str], tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, Any]) -> None:
    """Save tensors and JSON metadata to ``path`` atomically."""
    prepared = {name: tensor.detach().to("cpu").contiguous() for name, tensor in tensors.items()}
    header = {_METADATA_KEY: json.dumps({"format": FORMAT_VERSION, **metadata})}
    with atomic_path(path) as temp:
        save_file(prepared, str(temp), metadata=header)


def read_checkpoint(path: str | os.PathLike[str], kind: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load a checkpoint written by :func:`write_checkpoint` whose metadata ``kind`` matches.

    Only the safetensors header is parsed before the metadata (format version
    and kind) is checked; tensors are read after that. Nothing in the file is
    ever executed: a pickle (``torch.save`` output), whatever its name, is
    refused.

    Raises:
        GanzooError: the file is missing, truncated, a pickle, not a ganzoo
            checkpoint, of another kind or from a newer ganzoo; the message
            names the file.
    """
    if not os.path.isfile(path):
        raise GanzooError(f"checkpoint not found: {path}")
    pickled = _pickle_kind(path)
    if pickled:
        raise GanzooError(
            f"{path} is a {pickled}, not a safetensors checkpoint; ganzoo never unpickles files "
            "(they can run code), it reads only the safetensors files it writes"
        )
    try:
        with safe_open(str(path), framework="pt") as handle:
            header = (handle.metadata() or {}).get(_METADATA_KEY)
            if header is None:
                raise GanzooError(f"{path} is a safetensors file but not a ganzoo checkpoint (no '{_METADATA_KEY}' metadata)")
            metadata = json.loads(header)
            if not isinstance(metadata, dict):
                raise ValueError("metadata is not a JSON object")
            _check_metadata(path, metadata, kind)
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    except (SafetensorError, OSError, ValueError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise GanzooError(f"corrupt or unreadable checkpoint {path}: {reason}") from None
    return tensors, metadata


def _check_metadata(path: object, metadata: dict[str, Any], kind: str) -> None:
    version = metadata.get("format")
    if not isinstance(version, int):
        raise GanzooError(f"{path} is not a ganzoo checkpoint (no format version in its metadata)")
    if version > FORMAT_VERSION:
        raise GanzooError(
            f"{path} was written in checkpoint format {version} by a newer ganzoo; this ganzoo "
            f"{__version__} reads format {FORMAT_VERSION} and older. Upgrade ganzoo to load it"
        )
    if metadata.get("kind") != kind:
        raise GanzooError(f"{path} is not a ganzoo {kind} checkpoint (kind: {metadata.get('kind')!r})")


def _pickle_kind(path: str | os.PathLike[str]) -> str | None:
    """What kind of pickle container the file is, judged by its first bytes; None if it is not one."""
    with open(path, "rb") as handle:
        start = handle.read(4)
    if start.startswith(b"PK\x03\x04"):
        return "zip archive (torch.save output holds pickles)"
    if start[:1] == b"\x80" and start[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "pickle file"
    return None


def module_tensors(prefix: str, module: nn.Module) -> dict[str, torch.Tensor]:
    """A module's state dict with every key under ``prefix.``."""
    return {f"{prefix}.{name}": tensor for name, tensor in module.state_dict().items()}


def load_module(prefix: str, module: nn.Module, tensors: Mapping[str, torch.Tensor], path: object) -> None:
    """Load the ``prefix.`` entries of ``tensors`` into ``module``, after checking names and shapes.

    Raises:
        GanzooError: saying which tensor is missing, unexpected or of another
            shape (``generator.0.weight has shape [256, 2] in the file but
            [128, 2] in the model``).
    """
    start = len(prefix) + 1
    state = {name[start:]: tensor for name, tensor in tensors.items() if name.startswith(prefix + ".")}
    difference = state_difference(prefix, state, module.state_dict())
    if difference:
        raise GanzooError(f"checkpoint {path} does not match the network: {difference}")
    module.load_state_dict(state)


def state_difference(prefix: str, found: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor]) -> str | None:
    """The first difference between a file's tensors and a model's state dict, in words; None if they match."""
    for name, tensor in expected.items():
        if name not in found:
            extra = sorted(set(found) - set(expected))
            hint = f" (the file has {prefix}.{extra[0]} instead)" if extra else ""
            return f"{prefix}.{name} is missing from the file{hint}"
        if tuple(found[name].shape) != tuple(tensor.shape):
            return (f"{prefix}.{name} has shape {list(found[name].shape)} in the file "
                    f"but {list(tensor.shape)} in the model")
    extra = sorted(set(found) - set(expected))
    if extra:
        return f"{prefix}.{extra[0]} is in the file but not in the model"
    return None


def optimizer_parts(prefix: str, optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimizer's state dict into tensors and JSON-ready values."""
    state_dict = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, param_state in state_dict["state"].items():
        for key, value in param_state.items():
            if torch.is_tensor(value):
                tensors[f"{prefix}.{index}.{key}"] = value
            else:
                scalars.setdefault(str(index), {})[key] = value
    return tensors, {"param_groups": state_dict["param_groups"], "scalars": scalars}


def load_optimizer(prefix: str, optimizer: torch.optim.Optimizer, tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> None:
    """Inverse of :func:`optimizer_parts`."""
    state: dict[int, dict[str, Any]] = {}
    for name, tensor in tensors.items():
        if name.startswith(prefix + "."):
            index, key = name[len(prefix) + 1 :].split(".", 1)
            state.setdefault(int(index), {})[key] = tensor
    try:
        for index, values in meta["scalars"].items():
            state.setdefault(int(index), {}).update(values)
        optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    except (KeyError, TypeError, ValueError) as error:
        raise GanzooError(f"the checkpoint's {prefix} state does not fit the optimizer: {error}") from None
    _match_parameter_layouts(optimizer)


def _match_parameter_layouts(optimizer: torch.optim.Optimizer) -> None:
    """Give every per-parameter state tensor its parameter's memory layout (strides).

    A checkpoint's tensors load contiguous, while a convolution's weights may be
    channels-last. Fused Adam pairs a parameter with its moments by raw memory
    position, so mismatched layouts would silently update each weight with
    another weight's moments after a resume.
    """
    for group in optimizer.param_groups:
        for parameter in group["params"]:
            values = optimizer.state.get(parameter, {})
            for key, value in values.items():
                if torch.is_tensor(value) and value.shape == parameter.shape and value.stride() != parameter.stride():
                    values[key] = torch.empty_like(parameter, dtype=value.dtype).copy_(value)


@dataclass(frozen=True)
class GeneratorRecord:
    """What a generator file says about its network."""

    arch: str
    arch_options: dict[str, Any]
    spec: dict[str, Any]
    latent_dim: int
    conditional: bool
    step: int
    extra: dict[str, Any]


def save_generator(path: str | os.PathLike[str], generator: nn.Module, record: GeneratorRecord) -> None:
    """Write the generator file."""
    metadata = {
        "kind": "generator",
        "arch": record.arch,
        "arch_options": record.arch_options,
        "spec": record.spec,
        "latent_dim": record.latent_dim,
        "conditional": record.conditional,
        "step": record.step,
        **record.extra,
    }
    write_checkpoint(path, module_tensors("generator", generator), metadata)


def read_generator(path: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], GeneratorRecord]:
    """Read a generator file's weights and record."""
    tensors, meta = read_checkpoint(path, "generator")
    known = {"kind", "format", "arch", "arch_options", "spec", "latent_dim", "conditional", "step"}
    try:
        record = GeneratorRecord(
            arch=meta["arch"],
            arch_options=dict(meta["arch_options"]),
            spec=dict(meta["spec"]),
            latent_dim=int(meta["latent_dim"]),
            conditional=bool(meta.get("conditional", False)),
            step=int(meta.get("step", 0)),
            extra={key: value for key, value in meta.items() if key not in known},
        )
    except (KeyError, TypeError, ValueError) as error:
        raise GanzooError(f"corrupt or unreadable checkpoint {path}: missing metadata {error}") from None
    return tensors, record
