"""The page skeleton every report shares: escaping, tables, embedded images, the CSS and the sorting script.

Every string that came from a file goes through :func:`esc` (or a helper that
calls it), so a config value holding ``<script>`` shows as text.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any

from ganzoo.version import __version__

CSS = """
:root { --fg: #1f2328; --muted: #59636e; --border: #d1d9e0; --alt: #f6f8fa; --accent: #0969da; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: #fff;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 20px 48px; }
h1 { font-size: 1.6rem; margin: 0 0 4px; }
h2 { font-size: 1.2rem; margin: 32px 0 12px; padding-bottom: 4px; border-bottom: 1px solid var(--border); }
h3 { font-size: 1rem; margin: 12px 0 6px; }
p.subtitle, p.note, .muted { color: var(--muted); }
p.subtitle { margin: 0 0 8px; }
table { border-collapse: collapse; font-size: 13px; margin: 0 0 12px; }
th, td { border: 1px solid var(--border); padding: 3px 8px; text-align: left; vertical-align: top;
  overflow-wrap: anywhere; }
th { background: var(--alt); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.kv { width: 100%; }
table.kv th { width: 42%; font-weight: 500; }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th:hover { color: var(--accent); }
table.sortable th[aria-sort="ascending"]::after { content: " \\25B2"; font-size: 10px; }
table.sortable th[aria-sort="descending"]::after { content: " \\25BC"; font-size: 10px; }
tbody tr:nth-child(even) td { background: #fbfcfd; }
.scroll { overflow-x: auto; }
.scroll td { white-space: nowrap; }
.scroll th { overflow-wrap: normal; min-width: 3em; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(330px, 1fr)); gap: 8px 20px;
  align-items: start; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 14px; }
svg.chart { display: block; width: 100%; height: auto; border: 1px solid var(--border); border-radius: 6px; }
svg.chart .chart-title { font-size: 12px; font-weight: 600; fill: var(--fg); }
svg.chart .chart-empty { font-size: 12px; fill: var(--muted); }
.grids { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); gap: 14px; }
.plots { display: grid; gap: 18px; }
figure { margin: 0; }
figcaption { color: var(--muted); font-size: 13px; text-align: center; }
img.pixelated { display: block; width: 100%; height: auto; image-rendering: pixelated;
  border: 1px solid var(--border); }
img.plot { display: block; max-width: 100%; height: auto; margin: 0 auto; }
.pill { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px; background: var(--alt);
  border: 1px solid var(--border); }
.pill.ok { background: #dafbe1; border-color: #4ac26b; }
.pill.bad { background: #ffebe9; border-color: #ff8182; }
pre, code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
pre { background: var(--alt); padding: 12px; overflow: auto; max-height: 480px; white-space: pre-wrap;
  overflow-wrap: anywhere; }
details { margin: 8px 0; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
"""

# Click a header to sort its table; numbers (data-sort) sort numerically, empty cells last.
SCRIPT = """
(function () {
  function key(row, index) {
    var cell = row.cells[index];
    if (!cell) { return ""; }
    var value = cell.getAttribute("data-sort");
    return (value === null ? cell.textContent : value).trim();
  }
  function sortBy(table, header, index) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var ascending = header.getAttribute("aria-sort") !== "ascending";
    var numeric = rows.every(function (row) { var k = key(row, index); return k === "" || !isNaN(Number(k)); });
    rows.sort(function (a, b) {
      var x = key(a, index), y = key(b, index);
      if (x === "" || y === "") { return (x === "") - (y === ""); }
      var order = numeric ? Number(x) - Number(y) : x.localeCompare(y, undefined, {numeric: true});
      return ascending ? order : -order;
    });
    Array.prototype.forEach.call(header.parentNode.cells, function (cell) { cell.removeAttribute("aria-sort"); });
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    rows.forEach(function (row) { body.appendChild(row); });
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (header, index) {
      header.tabIndex = 0;
      header.title = "sort by this column";
      header.addEventListener("click", function () { sortBy(table, header, index); });
      header.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); sortBy(table, header, index); }
      });
    });
  });
})();
"""

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def esc(value: object) -> str:
    """``value`` as HTML text, safe inside elements and quoted attributes."""
    return escape(str(value), quote=True)


def shown(value: Any) -> str:
    """A config or record value as plain text: strings as they are, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return json.dumps(value, separators=(", ", ": "), default=str)


def number_text(value: float) -> str:
    """A measured number: integers with thousands separators, others to 6 significant digits."""
    if isinstance(value, int) or (math.isfinite(value) and value == int(value) and abs(value) < 1e15):
        return f"{int(value):,}"
    return f"{value:.6g}"


def as_number(value: Any) -> float | None:
    """``value`` as a finite float where it is (or reads as) one, else None."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Nested mappings as ``(dotted key, leaf value)`` rows; lists and empty mappings are leaves."""
    rows: list[tuple[str, Any]] = []
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            rows += flatten(value, f"{name}.")
        else:
            rows.append((name, value))
    return rows


def key_value_table(mapping: Mapping[str, Any], heading: str | None = None) -> str:
    """A two-column table of a (possibly nested) mapping, one row per leaf."""
    rows = "".join(f"<tr><th>{esc(key)}</th><td>{esc(shown(value))}</td></tr>" for key, value in flatten(mapping))
    title = f"<h3>{esc(heading)}</h3>" if heading else ""
    if not rows:
        return f'{title}<p class="note">none</p>'
    return f'<div>{title}<table class="kv"><tbody>{rows}</tbody></table></div>'


def cell(value: Any, text: str | None = None) -> str:
    """One ``<td>``: numbers right-aligned with their exact value in ``data-sort``; None is an empty cell.

    ``text`` replaces the shown text (``1.2 ± 0.1``) while the cell still sorts by ``value``.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return '<td data-sort=""></td>'
    if isinstance(value, float) and not math.isfinite(value):
        return f'<td class="num" data-sort="">{esc(value)}</td>'  # sorts with the empty cells
    number = as_number(value)
    if number is not None:
        return f'<td class="num" data-sort="{number!r}">{esc(number_text(number) if text is None else text)}</td>'
    return f"<td>{esc(shown(value) if text is None else text)}</td>"


def data_table(columns: Sequence[str], rows: Iterable[Sequence[str]], table_id: str = "", sortable: bool = True) -> str:
    """A table with a header row; ``rows`` hold ready ``<td>`` strings (see :func:`cell`)."""
    head = "".join(f'<th scope="col">{esc(name)}</th>' for name in columns)
    body = "".join("<tr>" + "".join(row) + "</tr>" for row in rows)
    attributes = (f' id="{esc(table_id)}"' if table_id else "") + (' class="sortable"' if sortable else "")
    return f'<div class="scroll"><table{attributes}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def png_image(data: bytes, alt: str, css_class: str) -> str:
    """An ``<img>`` holding the PNG bytes as a data URI (no file beside the page needed)."""
    encoded = base64.b64encode(data).decode("ascii")
    return f'<img class="{esc(css_class)}" alt="{esc(alt)}" src="data:image/png;base64,{encoded}">'


def is_png(data: bytes) -> bool:
    """Whether ``data`` starts like a PNG file (a torn or foreign file is left out of the page)."""
    return data.startswith(PNG_SIGNATURE)


def section(title: str, body: str, section_id: str) -> str:
    """A titled part of the page."""
    return f'<section id="{esc(section_id)}"><h2>{esc(title)}</h2>{body}</section>'


def document(title: str, subtitle: str, sections: Sequence[str]) -> str:
    """The whole self-contained HTML page (``subtitle`` is HTML the caller escaped)."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
        f"<h1>{esc(title)}</h1>\n<p class=\"subtitle\">{subtitle}</p>\n"
        + "\n".join(sections)
        + f"\n<footer>Written by ganzoo {esc(__version__)} <code>ganzoo report</code>.</footer>\n"
        f"</main>\n<script>{SCRIPT}</script>\n</body>\n</html>\n"
    )
