"""``ganzoo interpolate``: walks through latent space between the noise of consecutive seeds.

Each seed's noise is the one sample ``ganzoo sample -n 1 --seed SEED`` draws: ``torch.randn(latent_dim,
generator=torch.Generator().manual_seed(SEED))``, so a walk's end frames are the samples
``ganzoo sample -n 1 --seed A`` and ``--seed B`` show. (With ``-n`` above 1 the rows differ: torch fills
larger draws in groups of 16.) All of ``z`` is interpolated, including the
columns that hold an architecture's structured codes (InfoGAN): they are read from ``z`` by
continuous transforms (a normal CDF; the arg-max of a categorical code's columns), so a walk moves
them too, a categorical code switching once on the way.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator, Sequence

import torch

from ganzoo.errors import GanzooError, unknown_choice

#: The interpolation methods, the default first (slerp suits the Gaussian latents every ganzoo generator reads).
METHODS = ("slerp", "linear")
#: Below this sine of the angle between the endpoints, slerp's formula divides by almost zero: fall back to lerp.
PARALLEL_SINE = 1e-6


def lerp(a: torch.Tensor, b: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
    """``(1 - t) a + t b`` for vectors ``a``, ``b`` of shape ``(D,)``.

    ``t`` is a number (the result has shape ``(D,)``) or a 1-D tensor of ``T`` values (shape ``(T, D)``).
    """
    weights, scalar = _weights(t)
    out = (1 - weights) * a.double() + weights * b.double()
    return (out[0] if scalar else out).to(a.dtype)


def slerp(a: torch.Tensor, b: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
    """Spherical interpolation (Shoemake 1985; for GAN latents White 2016, "Sampling Generative Networks").

    The standard formula on the unnormalised vectors, as in White's code:
    ``sin((1 - t) omega) / sin(omega) * a + sin(t omega) / sin(omega) * b``, with ``omega`` the angle
    between ``a`` and ``b``. For unit vectors it follows the great circle at constant speed; otherwise
    the norm changes smoothly from ``|a|`` to ``|b|`` (it stays near ``sqrt(D)`` for Gaussian noise, where
    the midpoint of linear interpolation is too short by a factor ``cos(omega / 2)``). When ``a`` and ``b``
    are (nearly) parallel or opposite, the great circle is undefined or the formula unstable, and the
    result is :func:`lerp`'s. ``t`` as in :func:`lerp`; ``t = 0`` and ``t = 1`` give ``a`` and ``b`` exactly.
    """
    a64, b64 = a.double(), b.double()
    norms = a64.norm() * b64.norm()
    if norms == 0:
        return lerp(a, b, t)
    omega = torch.arccos((a64 @ b64 / norms).clamp(-1.0, 1.0))
    sine = torch.sin(omega)
    if sine < PARALLEL_SINE:
        return lerp(a, b, t)
    weights, scalar = _weights(t)
    out = torch.sin((1 - weights) * omega) / sine * a64 + torch.sin(weights * omega) / sine * b64
    return (out[0] if scalar else out).to(a.dtype)


def seed_noise(seed: int, latent_dim: int) -> torch.Tensor:
    """The noise ``z`` of ``seed``, shape ``(latent_dim,)``: what ``ganzoo sample -n 1 --seed SEED`` draws."""
    return torch.randn(latent_dim, generator=torch.Generator().manual_seed(seed))


def check_interpolation(seeds: Sequence[int], frames: int, method: str) -> None:
    """Refuse a walk with fewer than two seeds, fewer than two frames, or an unknown method."""
    if len(seeds) < 2:
        raise GanzooError(f"--seeds needs at least two seeds to walk between (like 0,1), got {len(seeds)}")
    if frames < 2:
        raise GanzooError(f"--frames must be at least 2 (both endpoints are frames), got {frames}")
    if method not in METHODS:
        raise unknown_choice("interpolation method", method, METHODS)


def interpolation_noise(seeds: Sequence[int], frames: int, latent_dim: int, method: str = METHODS[0]) -> torch.Tensor:
    """Noise for a grid of walks: ``(len(seeds) - 1) * frames`` rows of ``latent_dim`` values.

    Row ``r`` of the grid goes from seed ``seeds[r]``'s noise to ``seeds[r + 1]``'s in ``frames`` evenly
    spaced steps, both endpoints included; rows follow one another in the result.
    """
    check_interpolation(seeds, frames, method)
    blend = slerp if method == "slerp" else lerp
    steps = torch.linspace(0, 1, frames, dtype=torch.float64)
    points = [seed_noise(seed, latent_dim) for seed in seeds]
    return torch.cat([blend(start, end, steps) for start, end in itertools.pairwise(points)])


@contextlib.contextmanager
def seeded_global_rng(seed: int, device: torch.device) -> Iterator[None]:
    """Seed torch's global RNG (and ``device``'s, for CUDA) with ``seed`` inside, restoring it afterwards.

    Some generators draw from the global RNG as they run (StyleGAN2's per-pixel noise); seeding it
    makes their samples a function of the command line.
    """
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def _weights(t: float | torch.Tensor) -> tuple[torch.Tensor, bool]:
    """``t`` as a float64 column ``(T, 1)``, and whether it was a single number."""
    weights = torch.as_tensor(t, dtype=torch.float64)
    if weights.ndim > 1 or not torch.isfinite(weights).all():
        raise ValueError(f"interpolation weights must be finite numbers or a 1-D tensor, got {t!r}")
    return weights.reshape(-1, 1), weights.ndim == 0
