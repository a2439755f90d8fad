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
import math
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from itertools import count

from django.utils.safestring import SafeString, mark_safe
from reportlab.pdfbase.pdfmetrics import stringWidth

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

# The page's system-ui face runs wider than Helvetica's metrics (DejaVu Sans, the widest common
# fallback, by some 12%): text is measured with Helvetica and this margin, so a label never runs
# past the edge the chart leaves it.
WIDTH_FACTOR = 1.15
CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥"}


def text_width(text: str, size: float, *, bold: bool = False) -> float:
    """How wide ``text`` runs at ``size`` px, erring wide."""
    return stringWidth(str(text), "Helvetica-Bold" if bold else "Helvetica", size) * WIDTH_FACTOR


def wrap(text: str, size: float, max_width: float, *, max_lines: int = 2) -> list[str]:
    """``text`` broken at spaces into lines no wider than ``max_width``; a word too long for a line
    is kept whole on its own line (the caller sizes its label area from the longest word). Beyond
    ``max_lines`` the text is cut after a whole word and marked with an ellipsis."""
    lines: list[str] = []
    current = ""
    for word in str(text).split():
        trial = f"{current} {word}".strip()
        if current and text_width(trial, size) > max_width:
            lines.append(current)
            current = word
        else:
            current = trial
    if current:
        lines.append(current)
    if len(lines) > max_lines:
        # Still too long: the last line ends in an ellipsis at a word boundary (the full text is in the
        # element's title and the chart's table view).
        last = lines[max_lines - 1]
        rest = lines[max_lines:]
        while rest or text_width(last + " …", size) > max_width:
            rest = []
            if " " not in last:
                break
            last = last.rsplit(" ", 1)[0]
        lines = [*lines[: max_lines - 1], last + " …"]
    return lines or [""]


def nice_ticks(maximum: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least ``maximum``: steps of 1, 2, 2.5 or 5 times a power of ten."""
    if maximum <= 0:
        return [0, 1]
    raw = maximum / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    if step < 1 and float(maximum).is_integer():
        step = 1
    ticks = [0.0]
    while ticks[-1] < maximum:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def money(value, currency: str, *, compact: bool = False) -> str:
    """An amount with its currency: ``€1,234`` (whole units from 100 up), ``€12.50``; compact: ``€12.3k``."""
    symbol = CURRENCY_SYMBOLS.get(currency)
    # Half a unit rounds up, as on an invoice (a float's format would round half to even).
    amount = float(Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    if abs(amount) >= 100 and not compact:
        amount = float(Decimal(str(amount)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if compact and abs(amount) >= 10_000:
        number = f"{amount / 1000:,.1f}k" if abs(amount) < 1_000_000 else f"{amount / 1_000_000:,.1f}m"
    elif abs(amount) >= 100 or (compact and amount.is_integer()):
        number = f"{amount:,.0f}"
    else:
        number = f"{amount:,.2f}"
    return f"{symbol}{number}" if symbol else f"{currency} {number}"


def spaced_labels(n: int, step: float, label_w: float, gap: float = 8) -> list[tuple[int, str]]:
    """Which of ``n`` evenly spaced axis labels to print, with their anchors: the first (anchored at its
    start) and the last (at its end) always, and a regular selection between them that touches neither."""
    if n <= 1:
        return [(0, "middle")] if n else []

    def extent(i: int, anchor: str) -> tuple[float, float]:
        x = i * step
        return (
            (x, x + label_w)
            if anchor == "start"
            else (x - label_w, x)
            if anchor == "end"
            else (
                x - label_w / 2,
                x + label_w / 2,
            )
        )

    chosen = [(0, "start"), (n - 1, "end")]
    every = max(1, math.ceil((label_w + gap) / step))
    for i in range(every, n - 1, every):
        a0, a1 = extent(i, "middle")
        if all(a1 + gap <= b0 or b1 + gap <= a0 for b0, b1 in (extent(j, anchor) for j, anchor in chosen)):
            chosen.append((i, "middle"))
    return sorted(chosen)


def label_area(labels, size: float, *, minimum: float = 60, maximum: float = 300) -> float:
    """Room for row labels: the longest label's width, capped (longer labels wrap to two lines),
    never narrower than the longest single word."""
    widest = max((text_width(label, size) for label in labels), default=0)
    longest_word = max((text_width(w, size) for label in labels for w in str(label).split()), default=0)
    return max(minimum, min(widest, maximum), longest_word) + 14


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


def _legend(svg: _Svg, items: list[tuple[str, str]], x: float, y: float, right: float | None = None) -> float:
    """Swatches with their names from (x, y), wrapping before ``right``; returns the baseline of the last row."""
    right = svg.width - 4 if right is None else right
    start = x
    for label, fill in items:
        w = 16 + text_width(label, 11) + 14
        if x > start and x + w - 14 > right:
            x, y = start, y + 18
        svg.parts.append(f'<rect x="{x:.1f}" y="{y - 10:.1f}" width="12" height="12" fill="{fill}"/>')
        svg.parts.append(_text(x + 16, y, label, size=11, fill=MUTED))
        x += w
    return y


def _row_label(svg: _Svg, url, name: str, label: str, x: float, y_mid: float, max_width: float, size=12) -> None:
    """A right-aligned row label ending at ``x``, on two lines if it does not fit ``max_width``."""
    lines = wrap(label, size, max_width)
    first = y_mid + size * 0.35 - (len(lines) - 1) * (size + 1) / 2
    inner = "".join(_text(x, first + k * (size + 1), line, size=size, anchor="end") for k, line in enumerate(lines))
    svg.parts.append(_link(url, name, inner))


def stacked_bars(
    rows: list[BarRow], *, title: str, desc: str, legend: list[tuple[str, str]], label_width: int | None = None
) -> SafeString:
    """Horizontal bars, one per row, split into coloured segments (e.g. patterns by risk tier)."""
    width, bar_h, gap = 720, 22, 10
    label_width = label_width or label_area([r.label for r in rows], 12, maximum=250)
    svg = _Svg(width, 0, title, desc)
    top = _legend(svg, legend, label_width, 16) + 14
    totals = [sum(s.value for s in r.segments) for r in rows]
    value_room = max((text_width(_fmt(t), 12) for t in totals), default=0) + 12
    area = width - label_width - value_room
    biggest = max(totals, default=0) or 1
    for i, row in enumerate(rows):
        y = top + i * (bar_h + gap)
        total = totals[i]
        _row_label(
            svg, row.url, f"{row.label}: {_fmt(total)}", row.label, label_width - 8, y + bar_h / 2, label_width - 12
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
    svg.height = int(top + len(rows) * (bar_h + gap) + 6)
    return svg.render()


def bars(items: list[Segment], *, title: str, desc: str, label_width: int | None = None, unit: str = "") -> SafeString:
    """Horizontal bars, one per item, each linking to the list behind it (funnel, reuse, outcomes)."""
    width, bar_h, gap, top = 720, 22, 8, 8
    label_width = label_width or label_area([s.label for s in items], 12, maximum=280)
    height = top + len(items) * (bar_h + gap) + 8
    svg = _Svg(width, height, title, desc)
    texts = [(seg.text or _fmt(seg.value)) + unit for seg in items]
    value_room = max((text_width(t, 12) for t in texts), default=0) + 12
    area = width - label_width - value_room
    biggest = max((s.value for s in items), default=0) or 1
    for i, seg in enumerate(items):
        y = top + i * (bar_h + gap)
        name = f"{seg.label}: {texts[i]}"
        lines = wrap(seg.label, 12, label_width - 12)
        first = y + bar_h / 2 + 4.2 - (len(lines) - 1) * 6.5
        label = "".join(_text(label_width - 8, first + k * 13, line, anchor="end") for k, line in enumerate(lines))
        inner = label + _rect(label_width, y, area * seg.value / biggest, bar_h, seg.fill, name)
        svg.parts.append(_link(seg.url, name, inner))
        svg.parts.append(_text(label_width + area * seg.value / biggest + 6, y + 15, texts[i], fill=MUTED))
    return svg.render()


def paired_bars(
    rows: list[BarRow], *, title: str, desc: str, legend: list[tuple[str, str]], label_width: int | None = None
) -> SafeString:
    """Two or more thin bars per row on one scale (eligible against active users)."""
    width, bar_h, inner_gap, gap = 720, 12, 2, 12
    label_width = label_width or label_area([r.label for r in rows], 12, maximum=250)
    per_row = max((len(r.segments) for r in rows), default=1)
    row_h = per_row * (bar_h + inner_gap)
    svg = _Svg(width, 0, title, desc)
    top = _legend(svg, legend, label_width, 16) + 14
    texts = [s.text or _fmt(s.value) for r in rows for s in r.segments]
    value_room = max((text_width(t, 10) for t in texts), default=0) + 12
    area = width - label_width - value_room
    biggest = max((s.value for r in rows for s in r.segments), default=0) or 1
    for i, row in enumerate(rows):
        y = top + i * (row_h + gap)
        _row_label(svg, row.url, row.label, row.label, label_width - 8, y + row_h / 2, label_width - 12)
        for j, seg in enumerate(row.segments):
            sy = y + j * (bar_h + inner_gap)
            name = f"{row.label}, {seg.label}: {seg.text or _fmt(seg.value)}"
            w = area * seg.value / biggest
            svg.parts.append(_link(seg.url or row.url, name, _rect(label_width, sy, w, bar_h, seg.fill, name)))
            svg.parts.append(_text(label_width + w + 6, sy + 10, seg.text or _fmt(seg.value), size=10, fill=MUTED))
    svg.height = int(top + len(rows) * (row_h + gap) + 8)
    return svg.render()


PARTIAL_FILL = "#fbeab0"


def columns(
    labels: list[str],
    values: list[float],
    *,
    title: str,
    desc: str,
    urls: list[str | None],
    texts: list[str],
    ticks: list[str] | None = None,
    tick_values: list[float] | None = None,
    partial: list[bool] | None = None,
    fill: str = SERIES_FILLS[3],
    series: str = "",
) -> SafeString:
    """Vertical columns per period on one scale (cost per month): a round-valued axis, the value
    above each column, and periods the data only partly covers drawn pale and labelled "partial"."""
    partial = partial or [False] * len(labels)
    tick_values = tick_values or nice_ticks(max(values, default=0))
    ticks = ticks or [_fmt(t) for t in tick_values]
    width, height, bottom, right = 720, 250, 46, 12
    left = max(text_width(t, 10) for t in ticks) + 14
    svg = _Svg(width, height, title, desc)
    legend = [(series, fill)] if series else []
    if any(partial):
        legend.append(("Partial month (period starts or ends within it)", PARTIAL_FILL))
    top = (_legend(svg, legend, left, 16) + 22) if legend else 16
    plot_h = height - bottom - top
    scale_top = tick_values[-1] or 1
    for value, text in zip(tick_values, ticks, strict=True):
        y = height - bottom - plot_h * value / scale_top
        svg.parts.append(f'<line x1="{left:.1f}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="{GRID}"/>')
        svg.parts.append(_text(left - 6, y + 4, text, size=10, fill=MUTED, anchor="end"))
    n = max(len(labels), 1)
    slot = (width - left - right) / n
    col_w = min(slot - 10, 64)
    for i, value in enumerate(values):
        h = plot_h * value / scale_top
        x = left + i * slot + (slot - col_w) / 2
        name = f"{labels[i]}{' (partial month)' if partial[i] else ''}, {series or 'value'}: {texts[i]}"
        if partial[i]:
            rect = _rect(x, height - bottom - h, col_w, h, PARTIAL_FILL, name, stroke=fill, stroke_width=1)
            rect = rect.replace("<rect ", '<rect stroke-dasharray="3 2" ', 1)
        else:
            rect = _rect(x, height - bottom - h, col_w, h, fill, name)
        svg.parts.append(_link(urls[i], name, rect))
        svg.parts.append(_text(x + col_w / 2, height - bottom - h - 5, texts[i], size=10, fill=INK, anchor="middle"))
        cx = left + i * slot + slot / 2
        svg.parts.append(_text(cx, height - bottom + 15, labels[i], size=11, fill=MUTED, anchor="middle"))
        if partial[i]:
            svg.parts.append(_text(cx, height - bottom + 29, "partial", size=10, fill=MUTED, anchor="middle"))
    return svg.render()


def lines(labels: list[str], series: list[Series], *, title: str, desc: str, urls: list[str | None]) -> SafeString:
    """Lines over time with a dot per point; each dot links to the list behind it."""
    width, height, bottom, right = 720, 260, 36, 16
    biggest = max((v for s in series for v in s.values), default=0)
    tick_values = nice_ticks(biggest)
    left = max(text_width(_fmt(t), 10) for t in tick_values) + 14
    svg = _Svg(width, height, title, desc)
    top = _legend(svg, [(s.name, s.fill) for s in series], left, 16) + 14
    plot_w, plot_h = width - left - right, height - top - bottom
    scale_top = tick_values[-1] or 1
    for value in tick_values:
        y = height - bottom - plot_h * value / scale_top
        svg.parts.append(f'<line x1="{left:.1f}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="{GRID}"/>')
        svg.parts.append(_text(left - 6, y + 4, _fmt(value), size=10, fill=MUTED, anchor="end"))
    n = len(labels)
    step_x = plot_w / max(n - 1, 1)
    label_w = max((text_width(label, 10) for label in labels), default=0)
    for i, anchor in spaced_labels(n, step_x, label_w):
        # The first and last labels align with the plot's edges so neither is cut off.
        svg.parts.append(_text(left + i * step_x, height - bottom + 16, labels[i], size=10, fill=MUTED, anchor=anchor))
    for s in series:
        points = [(left + i * step_x, height - bottom - plot_h * v / scale_top) for i, v in enumerate(s.values)]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            svg.parts.append(f'<polyline points="{path}" fill="none" stroke="{s.fill}" stroke-width="2"/>')
        for i, (x, y) in enumerate(points):
            name = f"{labels[i]}, {s.name}: {_fmt(s.values[i])}"
            dot = f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{s.fill}"><title>{escape(name)}</title></circle>'
            svg.parts.append(_link(s.url or urls[i], name, dot))
    return svg.render()


def grid(
    columns_: list[str], rows: list[GridRow], *, title: str, desc: str, label_width: int | None = None
) -> SafeString:
    """A matrix of coloured cells (maturity heat map, pattern readiness); marked cells get a heavy outline."""
    cell_h, top = 30, 34
    labels = [r.label + (f" {r.note}" if r.note else "") for r in rows]
    label_width = label_width or label_area(labels, 12, maximum=260)
    texts = [c.text for r in rows for c in r.cells]
    cell_w = max(
        [92.0]
        + [text_width(c, 11, bold=True) + 10 for c in columns_]
        + [text_width(t, 12, bold=True) + 10 for t in texts]
    )
    width = int(label_width + cell_w * len(columns_) + 10)
    height = top + len(rows) * (cell_h + 4) + 6
    svg = _Svg(width, height, title, desc)
    for j, col in enumerate(columns_):
        svg.parts.append(
            _text(label_width + j * cell_w + cell_w / 2, 20, col, size=11, fill=MUTED, anchor="middle", weight="bold")
        )
    for i, row in enumerate(rows):
        y = top + i * (cell_h + 4)
        _row_label(svg, row.url, labels[i], labels[i], label_width - 8, y + cell_h / 2, label_width - 12)
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
