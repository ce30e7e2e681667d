"""A sweep's results summarised: mean ± std over seeds for each arch x loss x data combination."""

from __future__ import annotations

import math
import statistics
from typing import Any

from ganzoo.bench.cells import CellResult


def primary_key(results: list[CellResult]) -> str | None:
    """The key of ``best`` shared by the results (the first metric's primary value)."""
    for result in results:
        if result.best:
            return next(iter(result.best))
    return None


def group(results: list[CellResult]) -> list[dict[str, Any]]:
    """Mean ± std over seeds for each arch x loss x data combination."""
    key = primary_key(results)
    groups: dict[tuple[str, str, str, str], list[CellResult]] = {}
    for result in results:
        groups.setdefault((result.cell.data, result.cell.arch, result.cell.loss, result.cell.variant), []).append(result)
    rows = []
    for (data, arch, loss, variant), members in groups.items():
        ok = [m for m in members if m.status == "ok"]
        row: dict[str, Any] = {"data": data, "arch": arch, "loss": loss, "variant": variant, "seeds": len(members),
                               "ok": len(ok),
                               "statuses": sorted({m.status for m in members}),
                               "reason": next((m.reason for m in members if m.reason), None)}
        row["img_per_s"] = _spread([m.img_per_s for m in ok])
        row["wall_s"] = _spread([m.wall_s for m in ok])
        row["peak_memory_mb"] = _spread([m.peak_memory_bytes / 2**20 if m.peak_memory_bytes else None for m in ok])
        if key:
            row["final"] = _spread([m.final.get(key) for m in ok])
            row["best"] = _spread([m.best.get(key) for m in ok])
        rows.append(row)
    return rows


def _spread(values: list[float | None]) -> dict[str, float] | None:
    present = [v for v in values if v is not None and math.isfinite(v)]
    if not present:
        return None
    return {"mean": statistics.fmean(present), "std": statistics.stdev(present) if len(present) > 1 else 0.0, "n": len(present)}
