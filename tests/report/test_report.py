"""``ganzoo report`` on a real run and a real bench sweep: what the page holds, escaping, and refusals."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import pytest

from ganzoo.report.charts import Series, line_chart, nice_ticks
from ganzoo.report.files import evenly_spaced
from ganzoo.report.page import shown
from tests.helpers import assert_one_line_error, invoke, read_metrics
from tests.report.conftest import bench_results
from tests.report.pages import read_page

HOSTILE = "<script>window.pwned = 1</script>"
SECTIONS = {"config": "options (config)", "resolved": "values in force (resolved)", "versions": "versions"}


def report(path: Path, out: Path | None = None) -> tuple[str, Path]:
    """Run ``ganzoo report PATH [-o OUT]``; returns the page and where it was written."""
    result = invoke("report", path, *(["-o", out] if out else []))
    assert result.exit_code == 0, result.output
    written = out or path / "report.html"
    assert result.output.strip() == f"wrote {written}", result.output
    return written.read_text(encoding="utf-8"), written


def eval_records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "eval.jsonl").read_text().splitlines()]


# ---------------------------------------------------------------- run pages

def test_a_run_page_shows_every_config_value_and_version(digits_run, tmp_path):
    html, _ = report(digits_run, tmp_path / "page.html")
    page = read_page(html)
    config = json.loads((digits_run / "config.json").read_text())
    for section, heading in SECTIONS.items():
        values = page.kv(heading)
        for key, value in config[section].items():
            if not isinstance(value, dict) or not value:
                assert values[key] == shown(value), (section, key)
    options, resolved = page.kv("options (config)"), page.kv("values in force (resolved)")
    assert options["arch"] == "dcgan" and options["batch_size"] == "16" and options["lr_d"] == "null"
    assert resolved["lr_d"] == "0.0002" and resolved["device"] == "cpu" and options["device"] == "auto"
    assert resolved["spec.shape"] == "[1, 28, 28]"  # nested values are flattened to dotted keys
    assert page.kv("versions")["torch"] == config["versions"]["torch"]
    plugins = page.table("plugins")
    assert plugins.header[:3] == ["kind", "name", "plugin"]
    assert ["losses", "bce", "divergence-losses"] == plugins.rows[[r[0] for r in plugins.rows].index("losses")][:3]


def test_a_run_page_has_the_loss_and_speed_curves_and_every_grid(digits_run, tmp_path):
    page = read_page(report(digits_run, tmp_path / "page.html")[0])
    records = [r for r in read_metrics(digits_run) if "d_loss" in r]
    assert [c.title for c in page.charts] == ["losses", "throughput (img/s)"]  # no penalty chart: it is 0 for bce
    assert page.chart("losses").series == {"D": len(records), "G": len(records)}
    assert page.chart("throughput (img/s)").series == {"img/s": len(records)}
    grids = sorted((digits_run / "samples").glob("step_*.png"))
    assert page.grid_steps == [10, 20, 30, 40]
    assert [data for _, data in page.images] == [path.read_bytes() for path in grids]  # embedded as they are
    summary = json.loads((digits_run / "summary.json").read_text())
    assert page.kv("summary.json")["stopped"] == summary["stopped"] == "finished"


def test_a_run_page_has_one_chart_per_metric_value_and_the_protocol(toy_run, tmp_path):
    page = read_page(report(toy_run, tmp_path / "page.html")[0])
    records = eval_records(toy_run)
    expected = [f"{name}.{key}" for name, result in records[0]["metrics"].items() for key in result["values"]]
    assert len(expected) == 4
    assert [c.title for c in page.charts][-4:] == expected
    for title in expected:
        assert page.chart(title).series == {title: len(records)}
    table = page.table("evaluations")
    assert table.column("step") == [str(r["step"]) for r in records] == ["20", "40", "60"]
    name, key = expected[-1].split(".")
    assert [float(v) for v in table.column(expected[-1])] == pytest.approx(
        [r["metrics"][name]["values"][key] for r in records], rel=1e-5)
    values = page.kv("protocol (step 20, 40, 60)")  # one protocol, used at every step
    assert values["num_samples"] == "300" and values["dataset"] == "ring8"
    assert values["metrics.modes.rule"] == records[0]["metrics"]["modes"]["protocol"]["rule"]


def test_many_grids_are_thinned_to_twelve_evenly_spaced_plus_the_last(toy_run, tmp_path):
    page = read_page(report(toy_run, tmp_path / "page.html")[0])
    steps = list(range(4, 61, 4))
    assert sorted(int(p.stem.split("_")[1]) for p in (toy_run / "samples").glob("step_*.png")) == steps
    assert page.grid_steps == evenly_spaced(steps, 12) and len(page.grid_steps) == 13
    assert page.grid_steps[0] == 4 and page.grid_steps[-1] == 60 and page.grid_steps == sorted(page.grid_steps)
    assert "13 of 15 grids" in "".join(page.texts)


def test_evenly_spaced_keeps_short_lists_and_always_the_last():
    assert evenly_spaced([1, 2, 3], 12) == [1, 2, 3]
    assert evenly_spaced(list(range(13)), 12) == list(range(13))
    picked = evenly_spaced(list(range(100)), 12)
    assert len(picked) == 13 and picked[0] == 0 and picked[-1] == 99 and picked[-2] == 98


def test_the_default_output_is_inside_the_run_and_the_page_is_self_contained(toy_run):
    html, written = report(toy_run)
    assert written == toy_run / "report.html"
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", html)
    assert "<link" not in html and "@import" not in html and "url(" not in html
    assert read_page(html).scripts == 1  # the table sorter, inline
    assert not list(toy_run.glob(".*tmp*")), "the atomic write left a temporary file"
    written.unlink()


def test_a_run_still_in_progress_is_reported(toy_run, tmp_path):
    run = shutil.copytree(toy_run, tmp_path / "run")
    (run / "summary.json").unlink()
    with (run / "metrics.jsonl").open("a") as handle:
        handle.write('{"step": 61, "d_lo')  # torn by a crash
    page = read_page(report(run)[0])
    assert "no summary.json (still running, or stopped early)" in page.texts
    assert page.chart("losses").series["D"] == len([r for r in read_metrics(toy_run) if "d_loss" in r])


def test_a_penalty_and_technique_values_get_charts_of_their_own(toy_run, tmp_path):
    run = shutil.copytree(toy_run, tmp_path / "run")
    records = read_metrics(toy_run)
    for index, record in enumerate(records):
        if "d_loss" in record:
            record.update(penalty=0.1 * index, ada_p=0.01 * index)
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    page = read_page(report(run)[0])
    count = len([r for r in records if "d_loss" in r])
    assert [c.title for c in page.charts][:4] == ["losses", "penalty", "throughput (img/s)", "ada_p"]
    assert page.chart("penalty").series == {"penalty": count} and page.chart("ada_p").series == {"ada_p": count}


def test_strings_from_files_are_shown_as_text_never_as_markup(toy_run, tmp_path):
    run = shutil.copytree(toy_run, tmp_path / "run")
    config = json.loads((run / "config.json").read_text())
    config["config"]["data_root"] = HOSTILE
    config["plugins"]["losses"]["plugin"] = "<b>bold</b>"
    config[HOSTILE] = {HOSTILE: HOSTILE}
    (run / "config.json").write_text(json.dumps(config))
    html, _ = report(run)
    assert "window.pwned" in html and HOSTILE not in html and "<b>bold" not in html
    assert "&lt;script&gt;window.pwned = 1&lt;/script&gt;" in html
    page = read_page(html)
    assert page.scripts == 1
    assert page.kv("options (config)")["data_root"] == HOSTILE
    assert page.kv(HOSTILE) == {HOSTILE: HOSTILE}
    assert "<b>bold</b>" in page.table("plugins").column("plugin")


# ---------------------------------------------------------------- bench pages

def test_a_bench_page_has_every_column_and_row(bench_dir, tmp_path):
    page = read_page(report(bench_dir, tmp_path / "page.html")[0])
    results = bench_results(bench_dir)
    with (bench_dir / "results.csv").open(newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    table = page.table("cells-table")
    finals = [f"final {key}" for key in results["cells"][0]["final"]]
    assert table.header == reader.fieldnames + [f for f in finals if f not in reader.fieldnames]
    assert len(table.rows) == len(results["cells"]) == 2
    assert table.column("name") == [cell["name"] for cell in results["cells"]]
    assert table.column("loss") == ["bce", "hinge"]
    index = table.header.index("img_per_s")
    assert [float(keys[index]) for keys in table.sort_keys] == pytest.approx([float(r["img_per_s"]) for r in rows])
    assert len(page.table("combinations-table").rows) == len(results["combinations"])
    assert "sortable" in table.classes.split()


def test_a_bench_page_shows_settings_machine_and_every_plot(bench_dir, tmp_path):
    page = read_page(report(bench_dir, tmp_path / "page.html")[0])
    results = bench_results(bench_dir)
    values = page.kv("bench settings")
    assert values["steps"] == "40" and values["metrics"] == '["modes"]'
    assert page.kv("machine")["cpu_count"] == str(results["machine"]["cpu_count"])
    assert results["settings"]["command"] in page.texts
    plots = sorted(bench_dir.glob("*.png"), key=lambda p: (p.name == "samples-mosaic.png", p.name))
    assert [p.name for p in plots][-1] == "samples-mosaic.png" and len(plots) >= 2
    assert page.images == [(p.name, p.read_bytes()) for p in plots]


def test_bench_strings_are_escaped(bench_dir, tmp_path):
    bench = tmp_path / "bench"
    bench.mkdir()
    results = bench_results(bench_dir)
    results["settings"]["command"] = f"</pre>{HOSTILE}"
    results["cells"][0]["final"][HOSTILE] = 1.0
    (bench / "results.json").write_text(json.dumps(results))
    html, _ = report(bench)
    assert HOSTILE not in html and read_page(html).scripts == 1
    assert f"final {HOSTILE}" in read_page(html).table("cells-table").header


# ---------------------------------------------------------------- refusals

@pytest.mark.parametrize("kind", ["missing", "empty", "file", "unrelated"])
def test_a_path_that_is_no_run_or_bench_is_one_line_and_writes_nothing(tmp_path, kind):
    target = tmp_path / "target"
    if kind == "empty":
        target.mkdir()
    elif kind == "file":
        target.write_text("{}")
    elif kind == "unrelated":
        target.mkdir()
        (target / "notes.txt").write_text("hello")
    before = sorted(tmp_path.rglob("*"))
    line = assert_one_line_error(invoke("report", target), str(target), "expected a run directory")
    assert "config.json" in line and "results.json" in line
    assert sorted(tmp_path.rglob("*")) == before


def test_a_corrupt_config_is_one_line(toy_run, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text('{"config": ')
    assert_one_line_error(invoke("report", run), "corrupt", "config.json")
    assert sorted(run.iterdir()) == [run / "config.json"]


@pytest.mark.parametrize("kind", ["directory", "under-a-file", "device"])
def test_an_output_that_cannot_be_written_is_one_line(toy_run, tmp_path, kind):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    out = {"directory": tmp_path, "under-a-file": blocker / "report.html", "device": Path("/dev/null")}[kind]
    before = sorted(tmp_path.rglob("*"))
    assert_one_line_error(invoke("report", toy_run, "-o", out), str(out))
    assert sorted(tmp_path.rglob("*")) == before and blocker.read_text() == "x"
    assert not (toy_run / "report.html").exists()


# ---------------------------------------------------------------- charts

def test_nice_ticks_are_round_and_cover_the_range():
    assert nice_ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(10, 60) == [10, 20, 30, 40, 50, 60]
    assert nice_ticks(5, 5)  # a flat range still gets ticks


def test_a_chart_drops_non_finite_points_and_escapes_its_labels():
    svg = line_chart("a<b", [Series("x&y", [(1, 1.0), (2, float("nan")), (3, float("inf")), (4, 2.0)])])
    page = read_page(svg)
    assert page.charts[0].title == "a<b" and page.charts[0].series == {"x&y": 2}
    assert "a&lt;b" in svg and "x&amp;y" in svg
    empty = line_chart("nothing", [Series("x", [(1, float("nan"))])])
    assert "no finite values" in empty
