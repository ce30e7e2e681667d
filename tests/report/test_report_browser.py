"""The written pages in a real headless Chromium: no script errors, images load, charts draw, tables sort.

Skips where the playwright package or a Chromium executable is missing (CI
installs Debian's chromium; playwright comes with the dev extra and drives it,
so no ``playwright install`` is needed). Where .ci/run found a browser it sets
``GANZOO_REQUIRE_BROWSER=1``, and a missing one fails instead of skipping.
With ``GANZOO_REPORT_SCREENSHOTS=DIR`` it also saves ``DIR/report-run.png``
and ``DIR/report-bench.png`` for a person to look at.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

from ganzoo.report.page import cell, data_table, document, section
from tests.helpers import invoke
from tests.report.conftest import bench_results

SCREENSHOTS_ENV = "GANZOO_REPORT_SCREENSHOTS"
#: Set by .ci/run where it installed a browser: then a missing playwright or Chromium fails instead of skipping.
REQUIRE_ENV = "GANZOO_REQUIRE_BROWSER"


def unavailable(reason: str) -> None:
    """Skip for ``reason``, or fail where ``$GANZOO_REQUIRE_BROWSER`` says the browser must be there."""
    if os.environ.get(REQUIRE_ENV):
        pytest.fail(f"{reason}, but ${REQUIRE_ENV} is set")
    pytest.skip(reason)


def chromium_executable(playwright) -> str | None:
    """A system Chromium (or Chrome), else playwright's own bundled browser where it is installed."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    try:
        bundled = playwright.chromium.executable_path
    except Exception:  # noqa: BLE001 - any failure here just means there is no bundled browser
        return None
    return bundled if bundled and Path(bundled).is_file() else None


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install playwright)")
    with sync_playwright() as playwright:
        executable = chromium_executable(playwright)
        if executable is None:
            unavailable("no Chromium executable (apt-get install chromium, or playwright install chromium)")
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield launched
        launched.close()


class Opened:
    """A page opened from a file, with every console error and uncaught exception it raised."""

    def __init__(self, browser, path: Path) -> None:
        self.errors: list[str] = []
        self.page = browser.new_page(viewport={"width": 1200, "height": 900})
        self.page.on("console", lambda message: self.errors.append(message.text) if message.type == "error" else None)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.goto(path.resolve().as_uri(), wait_until="load")

    def column(self, table: str, index: int) -> list[str]:
        """The visible texts of one column of the table with id ``table``, top to bottom."""
        return self.page.eval_on_selector_all(
            f"#{table} tbody tr", f"rows => rows.map(row => row.cells[{index}].textContent.trim())")


def written(source: Path, out: Path) -> Path:
    result = invoke("report", source, "-o", out)
    assert result.exit_code == 0, result.output
    return out


def assert_rendered(opened: Opened, tmp_path: Path, screenshot_name: str) -> None:
    """No errors, every image decoded, every chart laid out with a size, and a screenshot with content."""
    page = opened.page
    images = page.eval_on_selector_all("img", "imgs => imgs.map(i => [i.complete, i.naturalWidth, i.alt])")
    assert images and all(complete and width > 0 for complete, width, _ in images), images
    charts = page.eval_on_selector_all(
        "svg.chart", "svgs => svgs.map(s => { const r = s.getBoundingClientRect(); return [r.width, r.height]; })")
    assert all(width > 100 and height > 50 for width, height in charts), charts
    shot = tmp_path / screenshot_name
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    with Image.open(shot) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
        assert colours is None or len(colours) > 50, "the screenshot is (nearly) one colour"
    if os.environ.get(SCREENSHOTS_ENV):
        target = Path(os.environ[SCREENSHOTS_ENV]) / screenshot_name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, target)
    assert opened.errors == []


def test_a_run_page_renders_in_chromium(browser, toy_run, tmp_path):
    opened = Opened(browser, written(toy_run, tmp_path / "run.html"))
    assert opened.page.locator("svg.chart").count() >= 6  # losses, img/s and the four modes values
    grids = opened.page.locator("figure.grid img")
    assert grids.count() == 13
    assert opened.page.eval_on_selector_all("figure.grid img", "i => i.map(x => getComputedStyle(x).imageRendering)") \
        == ["pixelated"] * 13
    assert_rendered(opened, tmp_path, "report-run.png")


def test_digit_grids_load_in_chromium(browser, digits_run, tmp_path):
    opened = Opened(browser, written(digits_run, tmp_path / "digits.html"))
    sizes = opened.page.eval_on_selector_all("figure.grid img", "i => i.map(x => [x.naturalWidth, x.naturalHeight])")
    with Image.open(min((digits_run / "samples").glob("step_*.png"))) as first:
        assert sizes == [list(first.size)] * 4
    assert opened.errors == []


def test_a_bench_page_renders_and_its_table_sorts(browser, bench_dir, tmp_path):
    opened = Opened(browser, written(bench_dir, tmp_path / "bench.html"))
    cells = bench_results(bench_dir)["cells"]
    rows = opened.page.locator("#cells-table tbody tr")
    assert rows.count() == len(cells)
    assert all(rows.nth(i).is_visible() for i in range(len(cells)))
    header = opened.page.eval_on_selector_all("#cells-table thead th", "ths => ths.map(t => t.textContent)")
    loss, speed = header.index("loss"), header.index("img_per_s")
    assert opened.column("cells-table", loss) == [c["loss"] for c in cells]
    before = opened.column("cells-table", 0)
    opened.page.locator("#cells-table thead th").nth(loss).click()
    assert opened.column("cells-table", loss) == sorted(c["loss"] for c in cells)
    opened.page.locator("#cells-table thead th").nth(loss).click()  # again: descending
    assert opened.column("cells-table", loss) == sorted((c["loss"] for c in cells), reverse=True)
    assert opened.column("cells-table", 0) != before, "sorting did not move the rows"
    opened.page.locator("#cells-table thead th").nth(speed).click()
    shown = [float(text) for text in opened.column("cells-table", speed)]
    assert shown == sorted(shown)
    assert opened.page.locator("#cells-table thead th").nth(speed).get_attribute("aria-sort") == "ascending"
    assert_rendered(opened, tmp_path, "report-bench.png")


def test_numbers_sort_as_numbers_and_empty_cells_go_last(browser, tmp_path):
    values = [10, None, 9, 100, 2.5]
    table = data_table(["value", "name"], [[cell(v), cell(f"row{i}")] for i, v in enumerate(values)], "numbers")
    page_file = tmp_path / "numbers.html"
    page_file.write_text(document("numbers", "", [section("numbers", table, "numbers")]), encoding="utf-8")
    opened = Opened(browser, page_file)
    opened.page.locator("#numbers thead th").first.click()
    assert opened.column("numbers", 0) == ["2.5", "9", "10", "100", ""]
    opened.page.locator("#numbers thead th").first.click()
    assert opened.column("numbers", 0) == ["100", "10", "9", "2.5", ""]
    opened.page.locator("#numbers thead th").nth(1).press("Enter")  # keyboard too
    assert opened.column("numbers", 1) == [f"row{i}" for i in range(5)]
    assert opened.errors == []


def test_a_hostile_config_value_does_not_run(browser, toy_run, tmp_path):
    run = shutil.copytree(toy_run, tmp_path / "run")
    config = json.loads((run / "config.json").read_text())
    config["config"]["data_root"] = "<script>window.pwned = 1</script><img src=x onerror='window.pwned = 2'>"
    (run / "config.json").write_text(json.dumps(config))
    opened = Opened(browser, written(run, tmp_path / "hostile.html"))
    assert opened.page.evaluate("window.pwned") is None
    assert "window.pwned = 1" in opened.page.locator("#configuration").inner_text()
    assert opened.errors == []
