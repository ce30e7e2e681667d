"""The report of one ``ganzoo bench`` sweep: settings, machine, sortable result tables, the plots it drew."""

from __future__ import annotations

import csv
import datetime
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ganzoo.report.files import read_object, read_png
from ganzoo.report.page import (
    as_number,
    cell,
    data_table,
    document,
    esc,
    key_value_table,
    png_image,
    section,
)

RESULTS_FILE = "results.json"
RESULTS_CSV = "results.csv"
MOSAIC_FILE = "samples-mosaic.png"


def bench_page(path: Path) -> str:
    """The whole HTML page for the bench directory ``path``."""
    results = read_object(path / RESULTS_FILE)
    cells = [c for c in results.get("cells") or [] if isinstance(c, Mapping)]
    combinations = [c for c in results.get("combinations") or [] if isinstance(c, Mapping)]
    key = _primary_key(cells)
    sections = [
        section("Results per cell", _cells_table(path, cells), "cells"),
        section("Per combination", _combinations_table(combinations, key), "combinations"),
        section("Settings", _settings(results, cells), "settings"),
        section("Plots", _images(path), "plots"),
    ]
    return document(f"ganzoo bench: {path.resolve().name}", _subtitle(cells, results), sections)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _primary_key(cells: list[Mapping[str, Any]]) -> str | None:
    """The metric value that ranks cells (the one key of a cell's ``best``), where any cell has one."""
    for one in cells:
        best = _mapping(one.get("best"))
        if best:
            return str(next(iter(best)))
    return None


def _subtitle(cells: list[Mapping[str, Any]], results: Mapping[str, Any]) -> str:
    statuses = Counter(str(one.get("status", "?")) for one in cells)
    pills = " ".join(f'<span class="pill {"ok" if status == "ok" else "bad"}">{count} {esc(status)}</span>'
                     for status, count in sorted(statuses.items()))
    when = as_number(results.get("time"))
    stamp = "" if when is None else " &middot; written " + esc(
        datetime.datetime.fromtimestamp(when, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    return f"{len(cells)} cells {pills}{stamp}"


def _csv_rows(path: Path) -> tuple[list[str], list[dict[str, str]]] | None:
    """results.csv's header and rows, or None where it is missing or unreadable."""
    try:
        with (path / RESULTS_CSV).open(newline="") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            return list(reader.fieldnames or []), rows
    except (OSError, csv.Error, UnicodeDecodeError):
        return None


def _cells_table(path: Path, cells: list[Mapping[str, Any]]) -> str:
    """Every results.csv column, then every other final metric value from results.json; one row per cell."""
    table = _csv_rows(path)
    if table is not None and len(table[1]) == len(cells):
        columns, rows = table
    else:  # no (or a stale) results.csv: the scalar fields of results.json's cells
        columns = list(dict.fromkeys(k for one in cells for k, v in one.items()
                                     if not isinstance(v, (Mapping, list)) and k != "skip_reason"))
        rows = [{k: one.get(k) for k in columns} for one in cells]
    finals = list(dict.fromkeys(k for one in cells for k in _mapping(one.get("final"))))
    extra = [k for k in finals if f"final {k}" not in columns]
    header = columns + [f"final {k}" for k in extra]
    body = []
    for row, one in zip(rows, cells):
        final = _mapping(one.get("final"))
        body.append([cell(row.get(column)) for column in columns] + [cell(final.get(k)) for k in extra])
    if not body:
        return '<p class="note">No cells in results.json.</p>'
    return (f'<p class="note">Click a column header to sort. Each cell is one run directory in this folder, '
            f"named as in the name column.</p>{data_table(header, body, 'cells-table')}")


def _spread(value: Any, digits: int = 4) -> str:
    """A cell sorting by the mean, showing ``mean ± std`` over seeds (just the mean for one seed)."""
    spread = _mapping(value)
    mean = as_number(spread.get("mean"))
    if mean is None:
        return cell(None)
    std, count = as_number(spread.get("std")), as_number(spread.get("n")) or 0
    text = f"{mean:.{digits}g} ± {std:.2g}" if count > 1 and std is not None else f"{mean:.{digits}g}"
    return cell(mean, text)


def _combinations_table(combinations: list[Mapping[str, Any]], key: str | None) -> str:
    if not combinations:
        return '<p class="note">No combinations in results.json.</p>'
    header = ["data", "arch", "loss", "variant", "ok", "seeds", "img/s", "wall s", "peak MiB"]
    header += [f"final {key}", f"best {key}"] if key else []
    header.append("status")
    body = []
    for row in combinations:
        status = ", ".join(str(s) for s in row.get("statuses") or [])
        if row.get("reason"):
            status += f": {row['reason']}"
        cells = [cell(row.get(k)) for k in ("data", "arch", "loss", "variant", "ok", "seeds")]
        cells += [_spread(row.get("img_per_s")), _spread(row.get("wall_s"), 3), _spread(row.get("peak_memory_mb"))]
        cells += [_spread(row.get("final"), 3), _spread(row.get("best"), 3)] if key else []
        body.append(cells + [cell(status)])
    return ('<p class="note">Mean &plusmn; standard deviation over seeds; img/s is the median training throughput '
            f"of each cell.</p>{data_table(header, body, 'combinations-table')}")


def _settings(results: Mapping[str, Any], cells: list[Mapping[str, Any]]) -> str:
    settings = dict(_mapping(results.get("settings")))
    command = settings.pop("command", None)
    parts = [f"<h3>command</h3><pre>{esc(command)}</pre>" if command else ""]
    cards = [key_value_table(settings, "bench settings"), key_value_table(_mapping(results.get("machine")), "machine")]
    protocol = next((one["protocol"] for one in cells if isinstance(one.get("protocol"), Mapping)), None)
    if protocol:
        cards.append(key_value_table(protocol, "evaluation protocol (first evaluated cell)"))
    return "".join(parts) + f'<div class="cards">{"".join(cards)}</div>'


def _images(path: Path) -> str:
    """Every PNG bench wrote beside results.json (metric plots, then the sample mosaic), embedded."""
    files = sorted(p for p in path.glob("*.png") if p.is_file())
    files.sort(key=lambda p: p.name == MOSAIC_FILE)
    figures = []
    for file in files:
        data = read_png(file)
        if data is not None:
            caption = "final sample grids (first seed of each combination)" if file.name == MOSAIC_FILE else file.stem
            figures.append(f"<figure>{png_image(data, file.name, 'plot')}<figcaption>{esc(caption)}</figcaption></figure>")
    if not figures:
        return '<p class="note">No plots (bench draws them when cells report metrics or sample grids).</p>'
    return f'<div class="plots">{"".join(figures)}</div>'
