"""Reading a written report back in tests: its tables, charts, images and sample-grid figures."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Table:
    """One ``<table>``: its id, header texts and the text of each body cell."""

    table_id: str | None
    classes: str
    heading: str = ""  # the <h3> just before it
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    sort_keys: list[list[str | None]] = field(default_factory=list)

    def pairs(self) -> dict[str, str]:
        """A key-value table's rows (``<th>key</th><td>value</td>``) as a dict."""
        return {row[0]: row[1] for row in self.rows if len(row) == 2}

    def column(self, name: str) -> list[str]:
        """The texts of one column, top to bottom."""
        index = self.header.index(name)
        return [row[index] for row in self.rows]


@dataclass
class Chart:
    """One inline SVG chart: its title, its series' names and how many points each marks."""

    title: str
    series: dict[str, int] = field(default_factory=dict)


@dataclass
class Page:
    """What a report page holds, as the tests look at it."""

    tables: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    images: list[tuple[str, bytes]] = field(default_factory=list)  # (alt, decoded PNG bytes)
    grid_steps: list[int] = field(default_factory=list)
    scripts: int = 0
    texts: list[str] = field(default_factory=list)

    def table(self, table_id: str) -> Table:
        """The table with this id."""
        return next(t for t in self.tables if t.table_id == table_id)

    def kv(self, heading: str) -> dict[str, str]:
        """The rows of the key-value table under the heading ``heading``."""
        return next(t for t in self.tables if t.heading == heading).pairs()

    def chart(self, title: str) -> Chart:
        """The chart with this title."""
        return next(c for c in self.charts if c.title == title)


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self._table: Table | None = None
        self._row: list[str] | None = None
        self._keys: list[str | None] | None = None
        self._cell: list[str] | None = None
        self._in_head = False
        self._heading: list[str] | None = None
        self._last_heading = ""
        self._chart: Chart | None = None
        self._series: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            self._table = Table(a.get("id"), a.get("class") or "", self._last_heading)
        elif tag == "h3":
            self._heading = []
        elif tag == "thead":
            self._in_head = True
        elif tag == "tr" and self._table is not None:
            self._row, self._keys = [], []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
            self._keys.append(a.get("data-sort"))
        elif tag == "svg" and "chart" in (a.get("class") or ""):
            self._chart = Chart(a.get("aria-label") or "")
        elif tag == "g" and self._chart is not None and a.get("class") == "series":
            self._series = a.get("data-name") or ""
            self._chart.series[self._series] = 0
        elif tag == "circle" and self._chart is not None and self._series is not None:
            self._chart.series[self._series] += 1
        elif tag == "img":
            src = a.get("src") or ""
            prefix = "data:image/png;base64,"
            assert src.startswith(prefix), src[:80]
            self.page.images.append((a.get("alt") or "", base64.b64decode(src[len(prefix):])))
        elif tag == "figure" and a.get("data-step") is not None:
            self.page.grid_steps.append(int(a["data-step"]))
        elif tag == "script":
            self.page.scripts += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "h3" and self._heading is not None:
            self._last_heading = "".join(self._heading).strip()
            self._heading = None
        elif tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self._in_head:
                self._table.header = self._row
            else:
                self._table.rows.append(self._row)
                self._table.sort_keys.append(self._keys)
            self._row = None
        elif tag == "thead":
            self._in_head = False
        elif tag == "table" and self._table is not None:
            self.page.tables.append(self._table)
            self._table = None
        elif tag == "g" and self._series is not None:
            self._series = None
        elif tag == "svg" and self._chart is not None:
            self.page.charts.append(self._chart)
            self._chart = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._heading is not None:
            self._heading.append(data)
        self.page.texts.append(data)


def read_page(html: str) -> Page:
    """Parse a report page."""
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return reader.page
