"""The report of one run directory: summary, configuration, training curves, evaluations, sample grids."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ganzoo.evaluation.evaluate import EVAL_FILE
from ganzoo.report.charts import Series, line_chart
from ganzoo.report.files import (
    evenly_spaced,
    read_object,
    read_png,
    read_records,
    step_grids,
)
from ganzoo.report.page import (
    as_number,
    cell,
    data_table,
    document,
    esc,
    key_value_table,
    png_image,
    section,
    shown,
)
from ganzoo.storage.rundir import RunDir

SUMMARY_FILE = "summary.json"
#: Sample grids shown at most besides the last one.
MAX_GRIDS = 12
#: metrics.jsonl keys that are not curves, or that have a chart of their own.
_NOT_CURVES = {"step", "time", "d_loss", "g_loss", "penalty", "img_per_s"}


def run_page(path: Path) -> str:
    """The whole HTML page for the run directory ``path``."""
    run = RunDir(path)
    config = read_object(run.config_path)
    summary = read_object(path / SUMMARY_FILE) if (path / SUMMARY_FILE).is_file() else None
    # metrics.jsonl also holds the evaluation lines the progress display shows; the losses are the curves
    records = [r for r in read_records(run.metrics_path) if "d_loss" in r or "g_loss" in r]
    evaluations = read_records(path / EVAL_FILE)
    sections = [
        section("Summary", _summary(summary, records), "summary"),
        section("Configuration", _configuration(config), "configuration"),
        section("Training", _training(records), "training"),
        section("Evaluation", _evaluation(evaluations), "evaluation"),
        section("Samples", _samples(run), "samples"),
    ]
    return document(f"ganzoo run: {path.resolve().name}", _subtitle(config, summary), sections)


def _subtitle(config: Mapping[str, Any], summary: Mapping[str, Any] | None) -> str:
    options = _mapping(config.get("config"))
    parts = [esc(f"{options.get(key, '?')}") for key in ("arch", "loss", "data")]
    text = " &middot; ".join(parts)
    if summary:
        stopped = str(summary.get("stopped", "unknown"))
        kind = "ok" if stopped in ("finished", "time-budget") else "bad"
        text += (f' &middot; <span class="pill {kind}">{esc(stopped)}</span> at step '
                 f"{esc(summary.get('step', '?'))} of {esc(summary.get('total_steps', '?'))}")
    else:
        text += ' &middot; <span class="pill">no summary.json (still running, or stopped early)</span>'
    return text


def _summary(summary: Mapping[str, Any] | None, records: list[dict[str, Any]]) -> str:
    parts = []
    if summary is not None:
        parts.append(key_value_table(summary, SUMMARY_FILE))
    if records:
        last = {key: value for key, value in records[-1].items() if key != "time"}
        parts.append(key_value_table(last, "last training record"))
    if not parts:
        return '<p class="note">No summary.json and no training records yet.</p>'
    return f'<div class="cards">{"".join(parts)}</div>'


def _configuration(config: Mapping[str, Any]) -> str:
    known = ("config", "resolved", "versions", "plugins")
    cards = [key_value_table(_mapping(config.get("config")), "options (config)"),
             key_value_table(_mapping(config.get("resolved")), "values in force (resolved)")]
    cards.append(key_value_table(_mapping(config.get("versions")), "versions"))
    cards += [key_value_table(_mapping(value) if isinstance(value, Mapping) else {key: value}, key)
              for key, value in config.items() if key not in known]
    raw = json.dumps(config, indent=2, sort_keys=True, default=str)
    return (f'<div class="cards">{"".join(cards)}</div>'
            f"<h3>plugins</h3>{_plugins(config.get('plugins'))}"
            f"<details><summary>config.json as written</summary><pre>{esc(raw)}</pre></details>")


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _plugins(plugins: Any) -> str:
    """One row per component the run used, with the plugin and distribution that provided it."""
    rows: list[tuple[str, Mapping[str, Any]]] = []
    for kind, records in _mapping(plugins).items():
        for record in records if isinstance(records, list) else [records]:
            rows.append((kind, record if isinstance(record, Mapping) else {"name": record}))
    if not rows:
        return '<p class="note">none recorded</p>'
    columns = ["name", "plugin", "distribution", "version"]
    columns += sorted({key for _, record in rows for key in record} - set(columns))
    body = [[cell(kind)] + [cell(shown(record[key]) if key in record else None) for key in columns]
            for kind, record in rows]
    return data_table(["kind", *columns], body, "plugins")


def _training(records: list[dict[str, Any]]) -> str:
    if not records:
        return '<p class="note">No metrics.jsonl records yet.</p>'
    charts = [line_chart("losses", [_curve(records, "d_loss", "D"), _curve(records, "g_loss", "G")], y_label="loss")]
    penalty = _curve(records, "penalty", "penalty")
    if any(y != 0 for _, y in penalty.finite()):
        charts.append(line_chart("penalty", [penalty], y_label="penalty"))
    charts.append(line_chart("throughput (img/s)", [_curve(records, "img_per_s", "img/s")], y_label="img/s"))
    others = [key for key in dict.fromkeys(k for r in records for k in r) if key not in _NOT_CURVES]
    for key in others:  # what techniques log (an ADA probability, regularizer terms), where numeric
        curve = _curve(records, key, key)
        if curve.finite():
            charts.append(line_chart(key, [curve]))
    return (f'<p class="note">{len(records)} training records in metrics.jsonl, steps {esc(records[0].get("step"))} to '
            f'{esc(records[-1].get("step"))}; each is the mean over its logging window.</p>'
            f'<div class="charts">{"".join(charts)}</div>')


def _curve(records: list[dict[str, Any]], key: str, name: str) -> Series:
    points = [(as_number(r.get("step")), as_number(r.get(key))) for r in records]
    return Series(name, [(x, y) for x, y in points if x is not None and y is not None])


def _evaluation(evaluations: list[dict[str, Any]]) -> str:
    if not evaluations:
        return '<p class="note">No evaluations (eval.jsonl): run with --metrics, or use ganzoo eval.</p>'
    curves: dict[str, list[tuple[float, float]]] = {}
    for record in evaluations:
        for name, value_key, value in _values(record):
            step, number = as_number(record.get("step")), as_number(value)
            curves.setdefault(f"{name}.{value_key}", [])
            if step is not None and number is not None:
                curves[f"{name}.{value_key}"].append((step, number))
    charts = "".join(line_chart(key, [Series(key, points)]) for key, points in curves.items())
    columns = ["step", "evaluated by", "sampled from", *curves]
    rows = []
    for record in evaluations:
        values = {f"{name}.{key}": value for name, key, value in _values(record)}
        source = "training" if record.get("during_training") else "ganzoo eval"
        rows.append([cell(record.get("step")), cell(source), cell(record.get("sampled_from"))]
                    + [cell(values.get(key)) for key in curves])
    return (f'<div class="charts">{charts}</div><h3>records</h3>{data_table(columns, rows, "evaluations")}'
            f"{_protocols(evaluations)}")


def _values(record: Mapping[str, Any]) -> list[tuple[str, str, Any]]:
    """``(metric, value key, value)`` of one eval.jsonl record."""
    found = []
    for name, result in _mapping(record.get("metrics")).items():
        for key, value in _mapping(_mapping(result).get("values")).items():
            found.append((str(name), str(key), value))
    return found


def _protocols(evaluations: list[dict[str, Any]]) -> str:
    """Each distinct protocol once, with the steps it was used at."""
    distinct: dict[str, tuple[dict[str, Any], list[str]]] = {}
    for record in evaluations:
        protocol = {**_mapping(record.get("protocol")),
                    "metrics": {name: _mapping(result).get("protocol", {})
                                for name, result in _mapping(record.get("metrics")).items()}}
        key = json.dumps(protocol, sort_keys=True, default=str)
        distinct.setdefault(key, (protocol, []))[1].append(str(record.get("step", "?")))
    tables = [key_value_table(protocol, f"protocol (step {', '.join(steps)})") for protocol, steps in distinct.values()]
    return f'<div class="cards">{"".join(tables)}</div>'


def _samples(run: RunDir) -> str:
    grids = step_grids(run.samples_dir)
    if not grids:
        return '<p class="note">No sample grids (samples/step_*.png) yet.</p>'
    shown_grids = evenly_spaced(grids, MAX_GRIDS)
    figures = []
    for step, path in shown_grids:
        data = read_png(path)
        if data is not None:
            figures.append(f'<figure class="grid" data-step="{step}">{png_image(data, f"samples at step {step}", "pixelated")}'
                           f"<figcaption>step {step:,}</figcaption></figure>")
    note = "" if len(shown_grids) == len(grids) else (
        f'<p class="note">{len(shown_grids)} of {len(grids)} grids, evenly spaced, and the last.</p>')
    return f'{note}<div class="grids">{"".join(figures)}</div>'
