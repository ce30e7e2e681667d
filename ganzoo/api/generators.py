"""``ganzoo.load_generator``: a saved generator as a ``torch.nn.Module`` that samples images in one call."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ganzoo.compute.devices import resolve_device
from ganzoo.contract.dataspec import DataSpec
from ganzoo.contract.latents import LatentCode
from ganzoo.errors import GanzooError
from ganzoo.evaluation.interpolation import seeded_global_rng
from ganzoo.evaluation.sampling import class_name, generate, load_generator as load_saved_generator, to_unit
from ganzoo.evaluation.truncation import truncated
from ganzoo.registry import Registry, load_registry
from ganzoo.storage.checkpoint import GeneratorRecord


class Generator(nn.Module):
    """A trained ganzoo generator, ready to sample (in eval mode).

    ``forward(z, labels=None)`` is the network itself (outputs in the data's
    ``[-1, 1]`` range). :meth:`sample` is what a notebook wants: ``n`` images
    in ``[0, 1]``, shape ``(n, C, H, W)`` (``(n, D)`` vectors for toy data),
    on the CPU, from the same noise ``ganzoo sample --seed`` draws, so the two
    give the same pictures.

    Attributes:
        network: the architecture's generator module.
        record: what the generator file says (arch, options, step, ...).
        spec: the data spec the network was built for (``spec.class_names``, ``spec.shape``).
        latent_dim: size of the noise ``z``.
        conditional: whether :meth:`sample` needs (or makes up) class labels.
        codes: the structured latent codes in ``z`` (InfoGAN), if any.
    """

    def __init__(self, network: nn.Module, record: GeneratorRecord, spec: DataSpec,
                 codes: Sequence[LatentCode] = ()) -> None:
        super().__init__()
        self.network = network
        self.record = record
        self.spec = spec
        self.latent_dim = record.latent_dim
        self.conditional = record.conditional
        self.codes = tuple(codes)
        self.eval()

    @property
    def device(self) -> torch.device:
        """Where the network's weights live."""
        parameter = next(self.network.parameters(), None)
        return parameter.device if parameter is not None else torch.device("cpu")

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The raw network: ``z`` (and ``labels`` for conditional generators) to outputs in ``[-1, 1]``."""
        if self.conditional:
            if labels is None:
                raise GanzooError(f"this generator ({self.record.arch}) is class-conditional: pass labels")
            return self.network(z, labels)
        return self.network(z)

    def sample(self, n: int, labels: int | str | Sequence[int | str] | torch.Tensor | None = None,
               seed: int | None = None, truncation: float | None = None, batch_size: int = 256) -> torch.Tensor:
        """``n`` images in ``[0, 1]`` on the CPU.

        Args:
            n: how many.
            labels: conditional generators only: one class for all (an index or a
                class name), one per sample, or None for balanced classes (sample
                ``i`` is of class ``i % num_classes``).
            seed: seed of the noise (the same as ``ganzoo sample --seed``; generators that draw
                noise as they run, like StyleGAN2's per-pixel noise, repeat too); None draws fresh noise.
            truncation: the truncation trick's psi in [0, 1] (``--truncation``), for generators that
                support it (1 or None: none).
            batch_size: samples per forward pass.
        """
        if n < 1:
            raise GanzooError(f"sample() needs n >= 1, got {n}")
        chosen = self._labels(n, labels)
        rng = seeded_global_rng(seed, self.device) if seed is not None else contextlib.nullcontext()
        with truncated(self.network, truncation, self.record.arch), rng:
            samples = generate(self.network, self.latent_dim, n, device=self.device, seed=seed, labels=chosen,
                               conditional=self.conditional, batch_size=batch_size)
        return to_unit(samples) if self.spec.is_image else samples

    def _labels(self, n: int, labels: Any) -> torch.Tensor | None:
        if not self.conditional:
            if labels is not None:
                raise GanzooError(f"this generator ({self.record.arch}) is not class-conditional: labels must be None")
            return None
        if labels is None:
            return torch.arange(n) % self.spec.num_classes
        if isinstance(labels, (int, str)):
            labels = [labels] * n
        chosen = torch.tensor([self._class_index(label) for label in list(labels)], dtype=torch.long)
        if len(chosen) != n:
            raise GanzooError(f"sample({n}) got {len(chosen)} labels; give one label, n labels or None")
        return chosen

    def _class_index(self, label: Any) -> int:
        names = [class_name(self.spec, index) for index in range(self.spec.num_classes)]
        if isinstance(label, torch.Tensor):
            label = int(label)
        if isinstance(label, str) and label.lower() in [name.lower() for name in names]:
            return [name.lower() for name in names].index(label.lower())
        if isinstance(label, int) and not isinstance(label, bool) and 0 <= label < self.spec.num_classes:
            return label
        raise GanzooError(f"unknown class {label!r}. Valid choices: {', '.join(names)} "
                          f"(or an index 0-{self.spec.num_classes - 1})")


def load_generator(path: str | os.PathLike[str], device: str | torch.device = "cpu",
                   registry: Registry | None = None) -> Generator:
    """The generator of a run directory, or of any generator file (``.safetensors``), rebuilt from the file alone.

    Args:
        path: a run directory (its ``checkpoints/generator.safetensors``) or a generator file,
            e.g. ``RUN/checkpoints/best-generator.safetensors``.
        device: ``cpu`` (default), ``cuda``, ``cuda:N``, ``mps`` or ``auto``.
        registry: the plugins to rebuild the architecture from (default: the installed ones).
    """
    loaded = load_saved_generator(path, registry or load_registry(), resolve_device(str(device)))
    return Generator(loaded.network, loaded.record, loaded.spec, loaded.codes)
