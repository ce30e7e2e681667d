"""Reading what runs and sweeps leave on disk, forgiving where a crash can tear a file and strict where not."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ganzoo.errors import GanzooError
from ganzoo.report.page import is_png

_STEP_GRID = re.compile(r"step_(\d+)\.png")


def read_json(path: Path) -> Any:
    """A JSON file written atomically (config.json, summary.json, results.json): corrupt is an error."""
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise GanzooError(f"corrupt {path}: {error}") from None
    except OSError as error:
        raise GanzooError(f"cannot read {path}: {error.strerror or error}") from None


def read_object(path: Path) -> dict[str, Any]:
    """:func:`read_json` of a file that must hold a JSON object."""
    value = read_json(path)
    if not isinstance(value, dict):
        raise GanzooError(f"corrupt {path}: expected a JSON object, found {type(value).__name__}")
    return value


def read_records(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a ``.jsonl`` file, in order; a missing file is none, a torn line is skipped."""
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line torn by a crash, or still being written
        if isinstance(record, dict):
            records.append(record)
    return records


def read_png(path: Path) -> bytes | None:
    """The bytes of a PNG file, or None where it is unreadable or not a PNG (a torn or foreign file)."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return data if is_png(data) else None


def step_grids(samples_dir: Path) -> list[tuple[int, Path]]:
    """``(step, path)`` of every ``step_*.png`` sample grid, in step order."""
    if not samples_dir.is_dir():
        return []
    grids = []
    for path in samples_dir.iterdir():
        match = _STEP_GRID.fullmatch(path.name)
        if match and path.is_file():
            grids.append((int(match.group(1)), path))
    return sorted(grids)


def evenly_spaced(items: list[Any], limit: int) -> list[Any]:
    """At most ``limit`` items evenly spread over ``items`` but for the last, plus the last itself."""
    if len(items) <= limit + 1:
        return list(items)
    earlier = items[:-1]
    chosen = sorted({round(i * (len(earlier) - 1) / max(limit - 1, 1)) for i in range(limit)})
    return [earlier[i] for i in chosen] + [items[-1]]
