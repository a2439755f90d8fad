"""Server-rendered SVG charts, inline in the page and safe under our CSP.

Why hand-built rather than pygal: pygal's SVG carries its own <style> and
<script> elements, which the CSP (``style-src 'self'``, ``script-src 'self'``)
blocks inline, and an SVG shown through <img> cannot hold links. These charts
use presentation attributes only (``fill``, ``stroke``, ``font-size``: not
blocked by CSP), wrap every bar, segment and cell in an <a> to the list
behind it, and carry a <title> per segment and a <title>/<desc> for the whole
chart. Each chart on the page sits beside a table with the same numbers.

Each function takes plain values (label, value, url, colour) so the charts
know nothing about the models; ``portfolio.views`` maps report dataclasses in.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import count

from django.utils.safestring import SafeString, mark_safe

INK = "#1f2937"
MUTED = "#6b7280"
GRID = "#e5e7eb"
FONT = 'font-family="system-ui, sans-serif"'

TIER_FILLS = {
    "low": "#4caf50",
    "medium": "#f2c94c",
    "high": "#f2994a",
    "critical": "#d64545",
    "unassessed": "#b8c0cc",
}
LIFECYCLE_FILLS = {
    "proposed": "#9aa5b4",
    "in_review": "#5b8def",
    "approved": "#2bb3a3",
    "pilot": "#e0b020",
    "production": "#2e9e5b",
    "suspended": "#d64545",
    "retired": "#4b5563",
}
SERIES_FILLS = ("#2563eb", "#d64545", "#7c3aed", "#e0b020", "#2e9e5b")

_ids = count(1)


def escape(text) -> str:
    """The same escaping as ``django.utils.html.escape``, without its lazy-string wrapper.

    A dashboard escapes some 2,400 labels, titles and URLs, most of them more
    than once (a segment's link and its table cell); the wrapper's check of
    every argument for lazy strings cost more than the escaping itself, and
    remembering the last few thousand answers saves escaping them again.
    """
    return _escape_str(str(text))


@lru_cache(maxsize=4096)
def _escape_str(text: str) -> str:
    return html.escape(text)


@dataclass(frozen=True)
class Segment:
    label: str
    value: float
    url: str | None = None
    fill: str = SERIES_FILLS[0]
    text: str | None = None  # what to print instead of the value


@dataclass(frozen=True)
class BarRow:
    label: str
    segments: list[Segment]
    url: str | None = None


@dataclass(frozen=True)
class Series:
    name: str
    values: list[float]
    fill: str
    url: str | None = None


@dataclass(frozen=True)
class GridCell:
    text: str
    fill: str
    url: str | None = None
    title: str = ""
    marked: bool = False  # drawn with a heavy outline (the ceiling)
    text_fill: str = INK


@dataclass(frozen=True)
class GridRow:
    label: str
    cells: list[GridCell]
    url: str | None = None
    note: str = ""


@dataclass
class _Svg:
    width: int
    height: int
    title: str
    desc: str
    parts: list[str] = field(default_factory=list)

    def render(self) -> SafeString:
        uid = next(_ids)
        head = (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {self.width} {self.height}" '
            f'width="{self.width}" height="{self.height}" role="group" '
            f'aria-labelledby="chart-t{uid} chart-d{uid}" {FONT}>'
            f'<title id="chart-t{uid}">{escape(self.title)}</title>'
            f'<desc id="chart-d{uid}">{escape(self.desc)}</desc>'
        )
        return mark_safe(head + "".join(self.parts) + "</svg>")  # noqa: S308 (every value is escaped above)


def _fmt(value: float) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


def _link(url: str | None, label: str, inner: str) -> str:
    if not url:
        return f"<g>{inner}</g>"
    return f'<a href="{escape(url)}" aria-label="{escape(label)}">{inner}</a>'


def _text(x, y, content, *, size=12, fill=INK, anchor="start", weight="normal") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" fill="{fill}" text-anchor="{anchor}" '
        f'font-weight="{weight}">{escape(content)}</text>'
    )


def _rect(x, y, w, h, fill, title, *, stroke="none", stroke_width=0) -> str:
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{h:.1f}" fill="{fill}" '
        f'stroke="{stroke}" stroke-width="{stroke_width}"><title>{escape(title)}</title></rect>'
    )


def _legend(svg: _Svg, items: list[tuple[str, str]], x: float, y: float) -> None:
    for label, fill in items:
        svg.parts.append(f'<rect x="{x:.1f}" y="{y - 10:.1f}" width="12" height="12" fill="{fill}"/>')
        svg.parts.append(_text(x + 16, y, label, size=11, fill=MUTED))
        x += 24 + 6.5 * len(label)


def stacked_bars(
    rows: list[BarRow], *, title: str, desc: str, legend: list[tuple[str, str]], label_width: int = 270
) -> SafeString:
    """Horizontal bars, one per row, split into coloured segments (e.g. patterns by risk tier)."""
    width, bar_h, gap, top = 720, 22, 10, 30
    height = top + len(rows) * (bar_h + gap) + 10
    svg = _Svg(width, height, title, desc)
    _legend(svg, legend, label_width, 16)
    area = width - label_width - 60
    biggest = max((sum(s.value for s in r.segments) for r in rows), default=0) or 1
    for i, row in enumerate(rows):
        y = top + i * (bar_h + gap)
        total = sum(s.value for s in row.segments)
        svg.parts.append(
            _link(row.url, f"{row.label}: {_fmt(total)}", _text(label_width - 8, y + 15, row.label, anchor="end"))
        )
        x = label_width
        for seg in row.segments:
            if not seg.value:
                continue
            w = area * seg.value / biggest
            name = f"{row.label}, {seg.label}: {_fmt(seg.value)}"
            svg.parts.append(_link(seg.url, name, _rect(x, y, w, bar_h, seg.fill, name)))
            x += w
        svg.parts.append(_text(x + 6, y + 15, _fmt(total), fill=MUTED))
    return svg.render()


def bars(items: list[Segment], *, title: str, desc: str, label_width: int = 170, unit: str = "") -> SafeString:
    """Horizontal bars, one per item, each linking to the list behind it (funnel, reuse, outcomes)."""
    width, bar_h, gap, top = 720, 22, 8, 8
    height = top + len(items) * (bar_h + gap) + 8
    svg = _Svg(width, height, title, desc)
    area = width - label_width - 90
    biggest = max((s.value for s in items), default=0) or 1
    for i, seg in enumerate(items):
        y = top + i * (bar_h + gap)
        name = f"{seg.label}: {seg.text or _fmt(seg.value)}{unit}"
        inner = _text(label_width - 8, y + 15, seg.label, anchor="end") + _rect(
            label_width, y, area * seg.value / biggest, bar_h, seg.fill, name
        )
        svg.parts.append(_link(seg.url, name, inner))
        svg.parts.append(
            _text(
                label_width + area * seg.value / biggest + 6, y + 15, (seg.text or _fmt(seg.value)) + unit, fill=MUTED
            )
        )
    return svg.render()


def paired_bars(
    rows: list[BarRow], *, title: str, desc: str, legend: list[tuple[str, str]], label_width: int = 170
) -> SafeString:
    """Two or more thin bars per row on one scale (eligible against active users)."""
    width, bar_h, inner_gap, gap, top = 720, 12, 2, 12, 30
    per_row = max((len(r.segments) for r in rows), default=1)
    row_h = per_row * (bar_h + inner_gap)
    height = top + len(rows) * (row_h + gap) + 8
    svg = _Svg(width, height, title, desc)
    _legend(svg, legend, label_width, 16)
    area = width - label_width - 110
    biggest = max((s.value for r in rows for s in r.segments), default=0) or 1
    for i, row in enumerate(rows):
        y = top + i * (row_h + gap)
        svg.parts.append(_link(row.url, row.label, _text(label_width - 8, y + row_h / 2 + 4, row.label, anchor="end")))
        for j, seg in enumerate(row.segments):
            sy = y + j * (bar_h + inner_gap)
            name = f"{row.label}, {seg.label}: {seg.text or _fmt(seg.value)}"
            w = area * seg.value / biggest
            svg.parts.append(_link(seg.url or row.url, name, _rect(label_width, sy, w, bar_h, seg.fill, name)))
            svg.parts.append(_text(label_width + w + 6, sy + 10, seg.text or _fmt(seg.value), size=10, fill=MUTED))
    return svg.render()


def columns(labels: list[str], series: list[Series], *, title: str, desc: str, urls: list[str | None]) -> SafeString:
    """Vertical grouped columns per period (cost and usage per month), each series on its own scale."""
    width, height, left, bottom, top = 720, 240, 50, 40, 30
    svg = _Svg(width, height, title, desc)
    _legend(svg, [(s.name, s.fill) for s in series], left, 16)
    plot_h = height - bottom - top
    n = max(len(labels), 1)
    slot = (width - left - 10) / n
    col_w = max(min((slot - 8) / max(len(series), 1), 36), 4)
    svg.parts.append(
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" stroke="{GRID}"/>'
    )
    for k, s in enumerate(series):
        biggest = max(s.values, default=0) or 1
        for i, value in enumerate(s.values):
            h = plot_h * value / biggest
            x = left + i * slot + 4 + k * col_w
            name = f"{labels[i]}, {s.name}: {_fmt(value)}"
            svg.parts.append(_link(urls[i], name, _rect(x, height - bottom - h, col_w - 2, h, s.fill, name)))
    for i, label in enumerate(labels):
        svg.parts.append(
            _text(left + i * slot + slot / 2, height - bottom + 16, label, size=11, fill=MUTED, anchor="middle")
        )
    return svg.render()


def lines(labels: list[str], series: list[Series], *, title: str, desc: str, urls: list[str | None]) -> SafeString:
    """Lines over time with a dot per point; each dot links to the list behind it."""
    width, height, left, bottom, top, right = 720, 260, 44, 36, 30, 16
    svg = _Svg(width, height, title, desc)
    _legend(svg, [(s.name, s.fill) for s in series], left, 16)
    plot_w, plot_h = width - left - right, height - top - bottom
    biggest = max((v for s in series for v in s.values), default=0) or 1
    steps = 4
    for k in range(steps + 1):
        value = biggest * k / steps
        y = height - bottom - plot_h * k / steps
        svg.parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="{GRID}"/>')
        svg.parts.append(_text(left - 6, y + 4, _fmt(round(value)), size=10, fill=MUTED, anchor="end"))
    n = len(labels)
    step_x = plot_w / max(n - 1, 1)
    label_every = max(1, n // 12)
    for i, label in enumerate(labels):
        if i % label_every == 0 or i == n - 1:
            svg.parts.append(
                _text(left + i * step_x, height - bottom + 16, label, size=10, fill=MUTED, anchor="middle")
            )
    for s in series:
        points = [(left + i * step_x, height - bottom - plot_h * v / biggest) for i, v in enumerate(s.values)]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            svg.parts.append(f'<polyline points="{path}" fill="none" stroke="{s.fill}" stroke-width="2"/>')
        for i, (x, y) in enumerate(points):
            name = f"{labels[i]}, {s.name}: {_fmt(s.values[i])}"
            dot = f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{s.fill}"><title>{escape(name)}</title></circle>'
            svg.parts.append(_link(s.url or urls[i], name, dot))
    return svg.render()


def grid(columns_: list[str], rows: list[GridRow], *, title: str, desc: str, label_width: int = 200) -> SafeString:
    """A matrix of coloured cells (maturity heat map, pattern readiness); marked cells get a heavy outline."""
    cell_w, cell_h, top = 92, 30, 34
    width = label_width + cell_w * len(columns_) + 10
    height = top + len(rows) * (cell_h + 4) + 6
    svg = _Svg(width, height, title, desc)
    for j, col in enumerate(columns_):
        svg.parts.append(
            _text(label_width + j * cell_w + cell_w / 2, 20, col, size=11, fill=MUTED, anchor="middle", weight="bold")
        )
    for i, row in enumerate(rows):
        y = top + i * (cell_h + 4)
        label = row.label + (f" {row.note}" if row.note else "")
        svg.parts.append(_link(row.url, label, _text(label_width - 8, y + 19, label, anchor="end")))
        for j, cell in enumerate(row.cells):
            x = label_width + j * cell_w
            name = cell.title or f"{row.label}, {columns_[j]}: {cell.text}"
            if cell.text and cell.text not in name:
                # A link's name includes the words it shows (WCAG 2.5.3, label in name).
                name = f"{cell.text}: {name}"
            stroke, sw = (INK, 3) if cell.marked else ("#ffffff", 1)
            inner = _rect(x + 2, y, cell_w - 4, cell_h, cell.fill, name, stroke=stroke, stroke_width=sw) + _text(
                x + cell_w / 2,
                y + 19,
                cell.text,
                anchor="middle",
                fill=cell.text_fill,
                weight="bold" if cell.marked else "normal",
            )
            svg.parts.append(_link(cell.url, name, inner))
    return svg.render()
