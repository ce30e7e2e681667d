"""``ganzoo sample --vary NAME``: a grid whose rows share their noise and whose columns sweep one latent code."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ganzoo.contract.latents import LatentCode, noise_with_codes
from ganzoo.errors import GanzooError, unknown_choice

#: Columns of a sweep of a continuous code, from -1 to 1 (the range codes are drawn from in training).
CONTINUOUS_STEPS = 10


def sweep_noise(codes: Sequence[LatentCode], name: str, count: int, latent_dim: int,
                seed: int) -> tuple[torch.Tensor, int]:
    """Noise for about ``count`` samples, one grid row per noise draw, and the samples per row.

    Each row holds one draw of ``z`` repeated across its columns with only
    the code ``name`` changed: every category of a categorical code in turn,
    or ``CONTINUOUS_STEPS`` evenly spaced values of a continuous one (each of
    its dimensions set to the same value). The other codes keep their drawn
    values, so a row shows what that one code controls.
    """
    if not codes:
        raise GanzooError(f"--vary {name}: this generator has no latent codes to vary")
    by_name = {code.name: code for code in codes}
    if name not in by_name:
        raise unknown_choice("latent code", name, list(by_name))
    code = by_name[name]
    columns = code.size if code.kind == "categorical" else CONTINUOUS_STEPS
    rows = max(1, -(-count // columns))
    base = torch.randn(rows, latent_dim, generator=torch.Generator().manual_seed(seed)).repeat_interleave(columns, 0)
    if code.kind == "categorical":
        values = torch.arange(columns).repeat(rows)
    else:
        values = torch.linspace(-1, 1, columns).repeat(rows)[:, None].expand(-1, code.size)
    return noise_with_codes(base, codes, {name: values}), columns
