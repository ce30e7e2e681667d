"""Line charts as inline SVG: no script, no external file, readable without a network."""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 420, 240
LEFT, RIGHT, TOP, BOTTOM = 58, 14, 30, 40
#: Series colours (Okabe-Ito, readable by colour-blind viewers).
COLOURS = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000")
#: Charts with at most this many points per series mark each point.
MARKED_POINTS = 40


@dataclass(frozen=True)
class Series:
    """One named line: ``(x, y)`` points; non-finite values are dropped when drawn."""

    name: str
    points: list[tuple[float, float]]

    def finite(self) -> list[tuple[float, float]]:
        """The points whose coordinates are both finite numbers, in x order."""
        kept = [(float(x), float(y)) for x, y in self.points if _finite(x) and _finite(y)]
        return sorted(kept, key=lambda point: point[0])


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values (1, 2 or 5 times a power of ten apart) covering ``low..high``."""
    if high <= low:
        high = low + 1
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    # the round step whose number of intervals is nearest the one asked for
    step = min((m * magnitude for m in (1, 2, 5, 10)), key=lambda s: abs((high - low) / s - (count - 1)))
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        if value >= low - step * 1e-9:
            ticks.append(round(value, 12))
        value += step
    return ticks or [low, high]


def tick_label(value: float) -> str:
    """A short axis label: ``12k``-style thousands above 10,000, else up to 4 significant digits."""
    if value == 0:
        return "0"
    if abs(value) >= 10_000:
        return f"{value / 1000:.4g}k"
    return f"{value:.4g}"


def _range(values: list[float]) -> tuple[float, float]:
    low, high = min(values), max(values)
    if high == low:  # a flat line: give it room above and below
        pad = abs(low) * 0.1 or 1.0
        return low - pad, high + pad
    pad = (high - low) * 0.05
    return low - pad, high + pad


def line_chart(title: str, series: list[Series], x_label: str = "step", y_label: str = "") -> str:
    """An SVG ``<svg class="chart">`` element plotting every series against one pair of axes.

    The title, legend and labels are HTML-escaped here; callers pass plain text.
    """
    drawn = [(s, s.finite()) for s in series]
    points = [p for _, finite in drawn for p in finite]
    parts = [(f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
              f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{escape(title)}">'),
             f"<title>{escape(title)}</title>",
             f'<text class="chart-title" x="{LEFT}" y="18">{escape(title)}</text>']
    if not points:
        parts.append(f'<text class="chart-empty" x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">'
                     "no finite values</text></svg>")
        return "".join(parts)
    x_low, x_high = _range([x for x, _ in points]) if len({x for x, _ in points}) == 1 else (
        min(x for x, _ in points), max(x for x, _ in points))
    y_low, y_high = _range([y for _, y in points])
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def sx(x: float) -> float:
        return LEFT + (x - x_low) / (x_high - x_low) * inner_w

    def sy(y: float) -> float:
        return TOP + (1 - (y - y_low) / (y_high - y_low)) * inner_h

    parts.append(_axes(nice_ticks(x_low, x_high), nice_ticks(y_low, y_high), sx, sy, x_label, y_label))
    for index, (one, finite) in enumerate(drawn):
        colour = COLOURS[index % len(COLOURS)]
        coordinates = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in finite)
        parts.append(f'<g class="series" data-name="{escape(one.name)}">')
        if len(finite) > 1:
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.8" points="{coordinates}"/>')
        if len(finite) <= MARKED_POINTS:
            parts += [f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2.6" fill="{colour}"/>' for x, y in finite]
        parts.append("</g>")
    if len(series) > 1:
        parts.append(_legend([s.name for s in series]))
    parts.append("</svg>")
    return "".join(parts)


def _axes(x_ticks: list[float], y_ticks: list[float], sx, sy, x_label: str, y_label: str) -> str:
    bottom, right = HEIGHT - BOTTOM, WIDTH - RIGHT
    parts = ['<g class="axes" font-size="10" fill="#59636e">',
             f'<line x1="{LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#8c959f"/>',
             f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}" stroke="#8c959f"/>']
    for tick in y_ticks:
        y = sy(tick)
        if TOP - 0.5 <= y <= bottom + 0.5:
            parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="#eaeef2"/>')
            parts.append(f'<text x="{LEFT - 6}" y="{y + 3:.1f}" text-anchor="end">{tick_label(tick)}</text>')
    for tick in x_ticks:
        x = sx(tick)
        if LEFT - 0.5 <= x <= right + 0.5:
            parts.append(f'<line x1="{x:.1f}" y1="{bottom}" x2="{x:.1f}" y2="{bottom + 4}" stroke="#8c959f"/>')
            parts.append(f'<text x="{x:.1f}" y="{bottom + 15}" text-anchor="middle">{tick_label(tick)}</text>')
    parts.append(f'<text x="{LEFT + (right - LEFT) / 2}" y="{HEIGHT - 6}" text-anchor="middle">{escape(x_label)}</text>')
    if y_label:
        parts.append(f'<text transform="translate(12 {TOP + (bottom - TOP) / 2}) rotate(-90)" '
                     f'text-anchor="middle">{escape(y_label)}</text>')
    parts.append("</g>")
    return "".join(parts)


def _legend(names: list[str]) -> str:
    parts = ['<g class="legend" font-size="10">']
    x = WIDTH - RIGHT
    for index, name in reversed(list(enumerate(names))):
        width = 14 + 6 * len(name)
        x -= width
        colour = COLOURS[index % len(COLOURS)]
        parts.append(f'<rect x="{x}" y="12" width="9" height="9" fill="{colour}"/>')
        parts.append(f'<text x="{x + 12}" y="20" fill="#1f2328">{escape(name)}</text>')
        x -= 8
    parts.append("</g>")
    return "".join(parts)
