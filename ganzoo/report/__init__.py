"""``ganzoo report``: one self-contained HTML page for a run directory or a ``ganzoo bench`` sweep.

The page needs no network and no file beside it: charts are inline SVG drawn
here, images are embedded as data URIs, the one script (sorting tables) is
inline. It reads only files the engine writes (config.json, metrics.jsonl,
eval.jsonl, samples/, summary.json; results.json/csv and the plots of a
sweep) and names no plugin.

Layer ``api | report`` (above bench). It imports only storage, evaluation
(file names), errors and version: a sweep's files are read as data, not
through ``ganzoo.bench``.
"""

from __future__ import annotations

import os
from pathlib import Path

from ganzoo.errors import GanzooError
from ganzoo.report.bench_page import RESULTS_FILE, bench_page
from ganzoo.report.run_page import run_page
from ganzoo.storage.atomic import atomic_path
from ganzoo.storage.preflight import check_path_text, check_writable
from ganzoo.storage.rundir import CONFIG_FILE

REPORT_FILE = "report.html"
EXPECTED = f"a run directory (with {CONFIG_FILE}) or a bench directory (with {RESULTS_FILE})"


def report_kind(path: Path) -> str:
    """``"run"`` or ``"bench"``: what the directory ``path`` holds; GanzooError for anything else."""
    if not path.exists():
        raise GanzooError(f"{path}: no such directory; expected {EXPECTED}")
    if not path.is_dir():
        raise GanzooError(f"{path} is a file; expected {EXPECTED}")
    if (path / CONFIG_FILE).is_file():
        return "run"
    if (path / RESULTS_FILE).is_file():
        return "bench"
    raise GanzooError(f"{path} holds neither {CONFIG_FILE} nor {RESULTS_FILE}; expected {EXPECTED}")


def render_report(path: str | os.PathLike[str]) -> str:
    """The HTML page for the run or bench directory ``path``."""
    path = Path(path)
    return run_page(path) if report_kind(path) == "run" else bench_page(path)


def write_report(path: str | os.PathLike[str], out: str | os.PathLike[str] | None = None) -> Path:
    """Write the report of ``path`` to ``out`` (default ``PATH/report.html``) atomically; returns where."""
    check_path_text(path, "PATH")
    source = Path(path)
    report_kind(source)  # a bad PATH is reported before anything about -o
    target = Path(out) if out is not None else source / REPORT_FILE
    check_path_text(target, "-o")
    if target.exists() and not target.is_file():
        raise GanzooError(f"cannot write -o {target}: it is not a regular file; name an .html file")
    page = render_report(source)
    check_writable(target, len(page.encode()), "-o", "the report", is_file=True)
    with atomic_path(target) as temp:
        temp.write_text(page, encoding="utf-8")
    return target
