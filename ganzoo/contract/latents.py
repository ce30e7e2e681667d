"""Structured latents: codes carried inside the generator's noise ``z`` (InfoGAN), and what D's extra head scores.

ganzoo always feeds a generator standard-normal noise ``z`` of shape
``(N, latent_dim)``; every sampling path (training, grids, ``ganzoo sample``,
evaluations) draws it the same way. An architecture with structured latent
codes (Chen et al. 2016) declares them with
:meth:`~ganzoo.Architecture.latent_codes`; they occupy the **last** columns of
``z``, in the order declared, and are read from those columns by a fixed
transform, so uniformly distributed codes come out of normal noise:

- a ``categorical`` code of ``size`` K takes K columns; its value is the
  index of the largest (K exchangeable normals: each index equally likely);
- a ``continuous`` code of ``size`` d takes d columns, each mapped through
  the normal CDF to ``2 * Phi(x) - 1``, uniform on ``[-1, 1]``.

:func:`codes_from_noise` reads them (generators and auxiliary losses call it)
and :func:`noise_with_codes` writes chosen values (``ganzoo sample --vary``
uses it to hold a code fixed). The remaining first columns are the
unstructured noise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

#: The kinds of latent code.
CODE_KINDS = ("categorical", "continuous")
# Large enough that the chosen category wins against any normal draw in its other columns.
_CHOSEN_CATEGORY = 1e4


@dataclass(frozen=True)
class LatentCode:
    """One structured code in the last columns of ``z``.

    Attributes:
        name: identifies the code (``digit``, ``rotation``); ``ganzoo sample --vary NAME``.
        kind: ``categorical`` (``size`` categories, one-hot for the network) or
            ``continuous`` (``size`` values uniform on ``[-1, 1]``).
        size: categories, or dimensions; at least 1.
    """

    name: str
    kind: str
    size: int

    def __post_init__(self) -> None:
        if self.kind not in CODE_KINDS:
            raise ValueError(f"LatentCode kind must be one of {', '.join(CODE_KINDS)}, got {self.kind!r}")
        if self.size < 1:
            raise ValueError(f"LatentCode size must be at least 1, got {self.size}")


@dataclass(frozen=True)
class AuxiliaryTarget:
    """What :meth:`ganzoo.Architecture.auxiliary_loss` scores the discriminator's extra output against.

    Attributes:
        real: True for the real batch, False for generated samples.
        labels: the batch's class labels ``(N,)`` for a conditional
            architecture, else None.
        z: the noise the generated batch came from ``(N, latent_dim)``;
            None for the real batch.
        generator_update: True in G's update, False in D's.
    """

    real: bool
    labels: torch.Tensor | None
    z: torch.Tensor | None
    generator_update: bool


def code_width(codes: Sequence[LatentCode]) -> int:
    """Columns of ``z`` the codes take."""
    return sum(code.size for code in codes)


def codes_from_noise(z: torch.Tensor, codes: Sequence[LatentCode]) -> dict[str, torch.Tensor]:
    """The codes' values in ``z``: category indices ``(N,)`` (long), continuous values ``(N, size)`` in [-1, 1]."""
    values, start = {}, z.shape[1] - code_width(codes)
    if start < 0:
        raise ValueError(f"z has {z.shape[1]} columns; the latent codes need {code_width(codes)}")
    for code in codes:
        columns = z[:, start:start + code.size]
        if code.kind == "categorical":
            values[code.name] = columns.argmax(dim=1)
        else:
            values[code.name] = torch.special.erf(columns.float() / 2**0.5)  # = 2 * Phi(x) - 1
        start += code.size
    return values


def noise_with_codes(z: torch.Tensor, codes: Sequence[LatentCode], values: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """A copy of ``z`` whose code columns hold ``values`` (indices, or values in (-1, 1)) for the codes named."""
    z, start = z.clone(), z.shape[1] - code_width(codes)
    for code in codes:
        if code.name in values:
            value = torch.as_tensor(values[code.name], device=z.device)
            columns = z[:, start:start + code.size]
            if code.kind == "categorical":
                chosen = torch.nn.functional.one_hot(value.long().expand(len(z)), code.size)
                columns.copy_(chosen * _CHOSEN_CATEGORY)
            else:
                clamped = value.to(z.dtype).clamp(-1 + 1e-6, 1 - 1e-6)  # erfinv(+-1) is infinite
                columns.copy_((torch.special.erfinv(clamped) * 2**0.5).expand_as(columns))
        start += code.size
    return z
