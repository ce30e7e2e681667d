"""``DataSpec``: the shape, classes and known modes of a dataset's samples."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class DataSpec:
    """The shape and classes of a dataset's samples.

    Attributes:
        shape: ``(C, H, W)`` for images, ``(D,)`` for vector data. Samples are
            float tensors of exactly this shape with values in ``[-1, 1]``.
        num_classes: number of class labels (0 when the data has none).
        class_names: one human-readable name per class, index = label.
        modes: the known centres of the data's modes, one point of ``shape``
            each (a synthetic mixture such as ``ring8``); empty when unknown.
            Scatter plots of samples draw them, so a reader can judge coverage.
    """

    shape: tuple[int, ...]
    num_classes: int = 0
    class_names: tuple[str, ...] = field(default=())
    modes: tuple[tuple[float, ...], ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))
        object.__setattr__(self, "class_names", tuple(self.class_names))
        object.__setattr__(self, "modes", tuple(tuple(float(v) for v in mode) for mode in self.modes))
        if any(len(self.shape) != 1 or len(mode) != self.shape[0] for mode in self.modes):
            raise ValueError(f"DataSpec.modes must be points of vector data of shape {self.shape}")
        if not self.shape or any(s <= 0 for s in self.shape):
            raise ValueError(f"DataSpec.shape must be positive sizes, got {self.shape}")
        if self.class_names and len(self.class_names) != self.num_classes:
            raise ValueError(
                f"DataSpec has {self.num_classes} classes but {len(self.class_names)} class names"
            )

    @property
    def is_image(self) -> bool:
        """True for ``(C, H, W)`` data."""
        return len(self.shape) == 3

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; :meth:`from_json` inverts it."""
        data: dict[str, Any] = {
            "shape": list(self.shape),
            "num_classes": self.num_classes,
            "class_names": list(self.class_names),
        }
        if self.modes:  # only where known, so image specs read exactly as before
            data["modes"] = [list(mode) for mode in self.modes]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DataSpec:
        """Rebuild a spec written by :meth:`to_json`."""
        return cls(
            shape=tuple(data["shape"]),
            num_classes=int(data.get("num_classes", 0)),
            class_names=tuple(data.get("class_names", ())),
            modes=tuple(tuple(mode) for mode in data.get("modes", ())),
        )
