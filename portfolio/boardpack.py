"""The board pack: a printable PDF of the portfolio for one unit and period.

Built with ReportLab (pure Python plus small C accelerators in its wheels, no
system services or fonts to install) from the same report functions as the
dashboard. A one-page summary comes first (the figures a board asks for and
one sentence per section), then the sections the dashboard has: headline
figures, composition, findings over time, adoption, cost, outcomes, top
risks, overdue reviews and the maturity picture.

Layout rules, each held by a test that renders the pages:

- Nothing runs off the page: every table's columns are fractions of the
  frame's width and every cell is a Paragraph, so long names wrap (at
  spaces) instead of being cut; charts measure their labels and wrap them.
- Every page carries a footer with the classification, the date and
  "Page n of N" (a canvas that knows the page count once the story is laid
  out), all inside the printable area.
- Headings and the sentence under them keep with what follows, so no heading
  sits alone at the bottom of a page.
- Charts print their values (no reading bars against an axis) and their
  legends in black 8 pt text beside a swatch, legible on a grey printer.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal
from xml.sax.saxutils import escape

from django.conf import settings
from reportlab.graphics.shapes import Drawing, Line, PolyLine, Rect, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Frame,
    KeepInFrame,
    KeepTogether,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from portfolio import charts, presenters, reports
from portfolio.choices import DIMENSIONS, MATURITY_FILLS
from registry.choices import Lifecycle, Pattern, RiskTier

PAGE_W, PAGE_H = A4
MARGIN_X = 18 * mm
MARGIN_TOP = 20 * mm
MARGIN_BOTTOM = 22 * mm
FRAME_W = PAGE_W - 2 * MARGIN_X
FRAME_H = PAGE_H - MARGIN_TOP - MARGIN_BOTTOM
# Office printers leave some 4-6 mm unprinted at each edge: nothing is drawn closer than this.
PRINTABLE_INSET = 10 * mm
FOOTER_Y = 12 * mm
HEADER_Y = PAGE_H - 12 * mm

INK = colors.HexColor("#1f2937")
MUTED = colors.HexColor("#4b5563")
RULE = colors.HexColor("#c4cad3")
HEAD_BG = colors.HexColor("#e8ecf2")
FONT, BOLD = "Helvetica", "Helvetica-Bold"
LABEL_SIZE = 8

TITLE = "Agent portfolio: board pack"
SHORT_PATTERNS = {
    "employee_enablement": "Employee",
    "expert_empowerment": "Expert",
    "workplace_services": "Workplace",
    "core_process": "Core process",
    "external_engagement": "External",
    "ai_first": "AI-first",
}


# --- Text ----------------------------------------------------------------------------


def _styles() -> dict[str, ParagraphStyle]:
    body = ParagraphStyle("body", fontName=FONT, fontSize=9, leading=12, textColor=INK, spaceAfter=4)
    return {
        "title": ParagraphStyle("title", parent=body, fontName=BOLD, fontSize=20, leading=24, spaceAfter=4),
        "subtitle": ParagraphStyle("subtitle", parent=body, fontSize=10, leading=13, textColor=MUTED),
        "h1": ParagraphStyle(
            "h1", parent=body, fontName=BOLD, fontSize=14, leading=17, spaceBefore=10, spaceAfter=4, keepWithNext=1
        ),
        "h2": ParagraphStyle(
            "h2", parent=body, fontName=BOLD, fontSize=11, leading=14, spaceBefore=8, spaceAfter=3, keepWithNext=1
        ),
        "body": body,
        # The sentence under a heading introduces what follows: it keeps with it too.
        "lead": ParagraphStyle("lead", parent=body, keepWithNext=1),
        "bullet": ParagraphStyle("bullet", parent=body, leftIndent=10, bulletIndent=0, spaceAfter=3),
        "small": ParagraphStyle("small", parent=body, fontSize=7.5, leading=9.5, textColor=MUTED, keepWithNext=1),
        "cell": ParagraphStyle("cell", fontName=FONT, fontSize=8, leading=10, textColor=INK),
        "cell_num": ParagraphStyle("cell_num", fontName=FONT, fontSize=8, leading=10, textColor=INK, alignment=2),
        "cell_mid": ParagraphStyle("cell_mid", fontName=FONT, fontSize=8, leading=10, textColor=INK, alignment=1),
        "cell_head_mid": ParagraphStyle(
            "cell_head_mid", fontName=BOLD, fontSize=7.5, leading=9.5, textColor=INK, alignment=1
        ),
        "cell_head": ParagraphStyle("cell_head", fontName=BOLD, fontSize=7.5, leading=9.5, textColor=INK),
        "cell_head_num": ParagraphStyle(
            "cell_head_num", fontName=BOLD, fontSize=7.5, leading=9.5, textColor=INK, alignment=2
        ),
        "tile_value": ParagraphStyle("tile_value", fontName=BOLD, fontSize=18, leading=21, textColor=INK),
        "tile_label": ParagraphStyle("tile_label", fontName=BOLD, fontSize=8.5, leading=10.5, textColor=INK),
        "tile_note": ParagraphStyle("tile_note", fontName=FONT, fontSize=7.5, leading=9.5, textColor=MUTED),
    }


def _p(text, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(str(text)), style)


def _n(value) -> str:
    return "not tracked" if value is None else f"{value:,}"


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _dec(value: Decimal | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _tier(value: str) -> str:
    return RiskTier(value).label if value in RiskTier.values else "Not assessed"


def _table(
    s, header: list[str], rows: list[list], fractions: list[float], *, numeric=(), centred=(), extra=()
) -> Table:
    """A table as wide as the frame: column widths are shares of it, every cell a wrapping Paragraph,
    numbers right-aligned (or centred), the header repeated on each page the table runs onto."""
    widths = [FRAME_W * f / sum(fractions) for f in fractions]

    def style(i, head=False):
        kind = "_num" if i in numeric else "_mid" if i in centred else ""
        return s[("cell_head" if head else "cell") + kind]

    data = [[_p(h, style(i, head=True)) for i, h in enumerate(header)]]
    for row in rows:
        data.append([cell if isinstance(cell, Paragraph) else _p(cell, style(i)) for i, cell in enumerate(row)])
    table = Table(data, colWidths=widths, repeatRows=1, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, RULE),
                ("BACKGROUND", (0, 0), (-1, 0), HEAD_BG),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 4),
                ("RIGHTPADDING", (0, 0), (-1, -1), 4),
                ("TOPPADDING", (0, 0), (-1, -1), 2.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
                *extra,
            ]
        )
    )
    return table


# --- Charts ---------------------------------------------------------------------------


def _lines(text: str, width: float, size: float = LABEL_SIZE) -> list[str]:
    """``text`` wrapped at spaces to ``width`` (a word longer than that is split)."""
    return simpleSplit(str(text), FONT, size, width) or [""]


def _legend(drawing: Drawing, items: list[tuple[str, str]], y_top: float) -> float:
    """Swatches with their names in black 8 pt text, wrapping to the drawing's width; returns the height used."""
    x, y = 0.0, y_top - 9
    for label, fill in items:
        w = 12 + stringWidth(label, FONT, LABEL_SIZE) + 14
        if x > 0 and x + w - 14 > drawing.width:
            x, y = 0.0, y - 13
        drawing.add(Rect(x, y - 1, 8, 8, fillColor=colors.HexColor(fill), strokeColor=INK, strokeWidth=0.4))
        drawing.add(String(x + 12, y, label, fontName=FONT, fontSize=LABEL_SIZE, fillColor=INK))
        x += w
    return y_top - y + 6


def _text_on(fill: str) -> colors.Color:
    """Black or white, whichever reads on ``fill``."""
    c = colors.HexColor(fill)
    return INK if (0.299 * c.red + 0.587 * c.green + 0.114 * c.blue) > 0.55 else colors.white


def _hbars(
    rows: list[tuple[str, list[tuple[float, str, str]]]],
    *,
    legend: list[tuple[str, str]] = (),
    total_text=None,
    bar_h: float = 11,
) -> Drawing:
    """Horizontal bars, one per (label, segments); a segment is (value, fill, name). The total is printed
    at the end of each bar and a segment's value inside it where it fits. Labels wrap to two lines."""
    total_text = total_text or (lambda values: f"{sum(values):,}")
    texts = [total_text([v for v, _, _ in segs]) for _, segs in rows]
    label_w = min(max((stringWidth(label, FONT, LABEL_SIZE) for label, _ in rows), default=0) + 6, FRAME_W * 0.36)
    wrapped = [_lines(label, label_w - 6) for label, _ in rows]
    value_w = max((stringWidth(t, BOLD, LABEL_SIZE) for t in texts), default=0) + 8
    area = FRAME_W - label_w - value_w
    row_hs = [max(bar_h + 6, len(lines) * 9.5 + 4) for lines in wrapped]
    legend_h = 0.0
    probe = Drawing(FRAME_W, 0)
    if legend:
        legend_h = _legend(probe, list(legend), 0)
    height = sum(row_hs) + legend_h + 4
    drawing = Drawing(FRAME_W, height)
    if legend:
        _legend(drawing, list(legend), height)
    biggest = max((sum(v for v, _, _ in segs) for _, segs in rows), default=0) or 1
    y = height - legend_h
    for (_label, segs), lines, row_h, text in zip(rows, wrapped, row_hs, texts, strict=True):
        y -= row_h
        mid = y + row_h / 2
        first = mid + (len(lines) - 1) * 4.75 - 2.8
        for k, line in enumerate(lines):
            drawing.add(
                String(
                    label_w - 6,
                    first - k * 9.5,
                    line,
                    fontName=FONT,
                    fontSize=LABEL_SIZE,
                    fillColor=INK,
                    textAnchor="end",
                )
            )
        x = label_w
        for value, fill, _name in segs:
            if not value:
                continue
            w = area * value / biggest
            drawing.add(Rect(x, mid - bar_h / 2, w, bar_h, fillColor=colors.HexColor(fill), strokeColor=None))
            inner = f"{value:,}"
            if len(segs) > 1 and stringWidth(inner, FONT, 7) + 4 < w:
                drawing.add(
                    String(
                        x + w / 2,
                        mid - 2.5,
                        inner,
                        fontName=FONT,
                        fontSize=7,
                        fillColor=_text_on(fill),
                        textAnchor="middle",
                    )
                )
            x += w
        drawing.add(String(x + 4, mid - 2.8, text, fontName=BOLD, fontSize=LABEL_SIZE, fillColor=INK))
    drawing.add(Line(label_w, 0, label_w, height - legend_h, strokeColor=MUTED, strokeWidth=0.5))
    return drawing


def _pattern_tier_drawing(rows: list[reports.Row]) -> Drawing:
    tiers = [(c.key, c.label) for c in rows[0].cells]
    return _hbars(
        [(r.label, [(c.value, charts.TIER_FILLS[c.key], c.label) for c in r.cells]) for r in rows],
        legend=[(label, charts.TIER_FILLS[key]) for key, label in tiers],
    )


def _funnel_drawing(cells: list[reports.Cell]) -> Drawing:
    return _hbars([(c.label, [(c.value, charts.LIFECYCLE_FILLS[c.key], c.label)]) for c in cells])


def _outcome_drawing(cells: list[reports.Cell]) -> Drawing:
    return _hbars([(c.label, [(c.value, presenters.OUTCOME_FILLS[c.key], c.label)]) for c in cells])


def _adoption_drawing(bars: list[reports.Bar]) -> Drawing:
    rows = []
    for b in bars:
        eligible, active = b.values["eligible"], b.values["active"]
        share = round(100 * active / eligible) if eligible else 0
        rows.append((b.label, eligible, active, f"{active:,} active ({share}%)"))
    label_w = min(max((stringWidth(r[0], FONT, LABEL_SIZE) for r in rows), default=0) + 6, FRAME_W * 0.36)
    texts = [f"{r[1]:,} eligible" for r in rows] + [r[3] for r in rows]
    value_w = max(stringWidth(t, FONT, 7.5) for t in texts) + 8
    area = FRAME_W - label_w - value_w
    wrapped = [_lines(r[0], label_w - 6) for r in rows]
    row_hs = [max(24, len(lines) * 9.5 + 4) for lines in wrapped]
    probe = Drawing(FRAME_W, 0)
    legend = [("Eligible users", "#b8c0cc"), ("Active users", charts.SERIES_FILLS[0])]
    legend_h = _legend(probe, legend, 0)
    height = sum(row_hs) + legend_h + 4
    drawing = Drawing(FRAME_W, height)
    _legend(drawing, legend, height)
    biggest = max((r[1] for r in rows), default=0) or 1
    y = height - legend_h
    for (_label, eligible, active, active_text), lines, row_h in zip(rows, wrapped, row_hs, strict=True):
        y -= row_h
        mid = y + row_h / 2
        first = mid + (len(lines) - 1) * 4.75 - 2.8
        for k, line in enumerate(lines):
            drawing.add(
                String(
                    label_w - 6,
                    first - k * 9.5,
                    line,
                    fontName=FONT,
                    fontSize=LABEL_SIZE,
                    fillColor=INK,
                    textAnchor="end",
                )
            )
        for value, fill, text, top in (
            (eligible, "#b8c0cc", f"{eligible:,} eligible", mid + 0.5),
            (active, charts.SERIES_FILLS[0], active_text, mid - 9.5),
        ):
            w = area * value / biggest
            drawing.add(Rect(label_w, top, w, 9, fillColor=colors.HexColor(fill), strokeColor=None))
            drawing.add(String(label_w + w + 4, top + 2, text, fontName=FONT, fontSize=7.5, fillColor=INK))
    drawing.add(Line(label_w, 0, label_w, height - legend_h, strokeColor=MUTED, strokeWidth=0.5))
    return drawing


def _cost_drawing(months: list[reports.UsageMonth], partial: list[bool], code: str) -> Drawing:
    """Cost per month on one scale: round currency ticks, the amount above each column, partial months pale."""
    costs = [float(m.cost) for m in months]
    ticks = charts.nice_ticks(max(costs, default=0))
    tick_texts = [charts.money(t, code, compact=True) for t in ticks]
    compact = len(months) > 6
    texts = [charts.money(c, code, compact=compact) for c in costs]
    legend = [(f"Cost ({code})", charts.SERIES_FILLS[3])]
    if any(partial):
        legend.append(("Partial month: the period covers only part of it", charts.PARTIAL_FILL))
    probe = Drawing(FRAME_W, 0)
    legend_h = _legend(probe, legend, 0)
    plot_h, bottom = 120, 26
    height = legend_h + 14 + plot_h + bottom
    drawing = Drawing(FRAME_W, height)
    _legend(drawing, legend, height)
    left = max(stringWidth(t, FONT, 7.5) for t in tick_texts) + 8
    scale = ticks[-1] or 1
    for value, text in zip(ticks, tick_texts, strict=True):
        y = bottom + plot_h * value / scale
        drawing.add(Line(left, y, FRAME_W, y, strokeColor=RULE, strokeWidth=0.4))
        drawing.add(String(left - 4, y - 2.5, text, fontName=FONT, fontSize=7.5, fillColor=MUTED, textAnchor="end"))
    slot = (FRAME_W - left) / max(len(months), 1)
    col_w = min(slot - 8, 48)
    for i, (cost, text) in enumerate(zip(costs, texts, strict=True)):
        x = left + i * slot + (slot - col_w) / 2
        h = plot_h * cost / scale
        fill = charts.PARTIAL_FILL if partial[i] else charts.SERIES_FILLS[3]
        drawing.add(
            Rect(
                x,
                bottom,
                col_w,
                h,
                fillColor=colors.HexColor(fill),
                strokeColor=colors.HexColor(charts.SERIES_FILLS[3]) if partial[i] else None,
                strokeWidth=0.6,
                strokeDashArray=[2, 1.5] if partial[i] else None,
            )
        )
        cx = x + col_w / 2
        drawing.add(String(cx, bottom + h + 3, text, fontName=BOLD, fontSize=7.5, fillColor=INK, textAnchor="middle"))
        drawing.add(
            String(
                cx,
                bottom - 10,
                months[i].month.strftime("%b %Y"),
                fontName=FONT,
                fontSize=LABEL_SIZE,
                fillColor=INK,
                textAnchor="middle",
            )
        )
        if partial[i]:
            drawing.add(
                String(cx, bottom - 20, "partial", fontName=FONT, fontSize=7, fillColor=MUTED, textAnchor="middle")
            )
    return drawing


def _trend_drawing(weekly: list[reports.TrendPoint]) -> Drawing:
    """Weekly lines on round ticks, each line's latest value printed at its end."""
    series = [
        ("Open findings", [p.open_findings for p in weekly], charts.SERIES_FILLS[0]),
        ("High or critical", [p.open_findings_high for p in weekly], charts.SERIES_FILLS[1]),
        ("Open shadow agents", [p.open_shadow_agents for p in weekly], charts.SERIES_FILLS[2]),
        ("Maturity traps", [p.maturity_traps for p in weekly], charts.SERIES_FILLS[3]),
    ]
    ticks = charts.nice_ticks(max((v for _, values, _ in series for v in values), default=0))
    left = max(stringWidth(f"{t:,.0f}", FONT, 7.5) for t in ticks) + 8
    right = max(stringWidth(f"{values[-1]:,}", BOLD, 7.5) for _, values, _ in series) + 12
    probe = Drawing(FRAME_W, 0)
    legend = [(name, fill) for name, _, fill in series]
    legend_h = _legend(probe, legend, 0)
    plot_h, bottom = 130, 16
    height = legend_h + 10 + plot_h + bottom
    drawing = Drawing(FRAME_W, height)
    _legend(drawing, legend, height)
    plot_w = FRAME_W - left - right
    scale = ticks[-1] or 1
    for value in ticks:
        y = bottom + plot_h * value / scale
        drawing.add(Line(left, y, left + plot_w, y, strokeColor=RULE, strokeWidth=0.4))
        drawing.add(
            String(left - 4, y - 2.5, f"{value:,.0f}", fontName=FONT, fontSize=7.5, fillColor=MUTED, textAnchor="end")
        )
    n = len(weekly)
    step = plot_w / max(n - 1, 1)
    label_w = max(stringWidth(p.day.strftime("%d %b"), FONT, 7.5) for p in weekly)
    for i, anchor in charts.spaced_labels(n, step, label_w):
        drawing.add(
            String(
                left + i * step,
                4,
                weekly[i].day.strftime("%d %b"),
                fontName=FONT,
                fontSize=7.5,
                fillColor=MUTED,
                textAnchor=anchor,
            )
        )
    ends = []
    for _name, values, fill in series:
        points = []
        for i, v in enumerate(values):
            points += [left + i * step, bottom + plot_h * v / scale]
        colour = colors.HexColor(fill)
        if n > 1:
            drawing.add(PolyLine(points, strokeColor=colour, strokeWidth=1.6))
        else:
            drawing.add(Rect(points[0] - 2, points[1] - 2, 4, 4, fillColor=colour, strokeColor=None))
        ends.append([points[-1] - 2.5, f"{values[-1]:,}", colour])
    # The latest values are printed at the lines' ends, pushed apart where two lines end close together.
    ends.sort(key=lambda e: e[0])
    for k in range(1, len(ends)):
        ends[k][0] = max(ends[k][0], ends[k - 1][0] + 8.5)
    for y, text, colour in ends:
        # A dash of the line's colour, then the value in black: a pale line colour would not read as text.
        y = min(y, height - legend_h - 8)
        drawing.add(Line(left + plot_w + 2, y + 2.5, left + plot_w + 7, y + 2.5, strokeColor=colour, strokeWidth=2))
        drawing.add(String(left + plot_w + 9, y, text, fontName=BOLD, fontSize=7.5, fillColor=INK))
    return drawing


# --- Tables ---------------------------------------------------------------------------


def _maturity_table(s, units: list[reports.UnitMaturity]) -> Table:
    header = ["Unit", *[reports.dimension_label(d) for d in DIMENSIONS], "Overall", "Ready for"]
    rows, extra = [], []
    for i, um in enumerate(units, start=1):
        name = um.unit.name + (f" (as {um.inherited_from.name})" if um.inherited_from else "")
        if um.assessment is None:
            rows.append([name, *["—"] * len(DIMENSIONS), "—", "not assessed"])
            continue
        scores = um.scores
        ready = ", ".join(SHORT_PATTERNS.get(p, Pattern(p).label) for p in um.ready_patterns) or "none yet"
        rows.append([name, *[scores[d] for d in DIMENSIONS], um.overall, ready])
        for j, d in enumerate(DIMENSIONS, start=1):
            extra.append(("BACKGROUND", (j, i), (j, i), colors.HexColor(MATURITY_FILLS[scores[d]])))
            if d in um.ceiling:
                extra.append(("BOX", (j, i), (j, i), 1.6, INK))
        extra.append(("BACKGROUND", (6, i), (6, i), colors.HexColor(MATURITY_FILLS[um.overall])))
    extra.append(("VALIGN", (1, 1), (6, -1), "MIDDLE"))
    # Millimetres of the 174 mm frame: each dimension's name fits its column whole.
    centred = set(range(1, len(DIMENSIONS) + 2))
    return _table(s, header, rows, [36, 15, 15, 19, 19, 16, 14, 40], centred=centred, extra=extra)


# --- Pages ------------------------------------------------------------------------------


def _pdf_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("D:%Y%m%d%H%M%S+00'00'")


def _canvas_class(classification: str, scope_text: str, moment: datetime):
    """A canvas that holds its pages until the end, then stamps each with the running header, the
    footer (classification, date, "Page n of N") and writes the real creation date into the metadata."""
    date_text = f"{moment:%d %B %Y}"
    created = _pdf_date(moment)

    class PackCanvas(Canvas):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._doc.setDateFormatter(lambda *_: created)
            self._saved_pages: list[dict] = []

        def showPage(self):  # noqa: N802 (ReportLab's name)
            self._saved_pages.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            total = len(self._saved_pages)
            for number, state in enumerate(self._saved_pages, start=1):
                self.__dict__.update(state)
                self._decorate(number, total)
                super().showPage()
            super().save()

        def _fit(self, text: str, font: str, size: float, width: float) -> float:
            while size > 5.5 and stringWidth(text, font, size) > width:
                size -= 0.25
            return size

        def _decorate(self, number: int, total: int) -> None:
            self.saveState()
            self.setStrokeColor(RULE)
            self.setLineWidth(0.5)
            self.line(MARGIN_X, FOOTER_Y + 9, PAGE_W - MARGIN_X, FOOTER_Y + 9)
            page = f"Page {number} of {total}"
            self.setFillColor(INK)
            self.setFont(BOLD, 7.5)
            self.drawRightString(PAGE_W - MARGIN_X, FOOTER_Y, page)
            left = f"{classification} · {date_text}"
            room = FRAME_W - stringWidth(page, BOLD, 7.5) - 12
            self.setFont(FONT, self._fit(left, FONT, 7.5, room))
            self.drawString(MARGIN_X, FOOTER_Y, left)
            if number > 1:
                header = f"{TITLE} · {scope_text}"
                self.setFillColor(MUTED)
                self.setFont(FONT, self._fit(header, FONT, 7.5, FRAME_W))
                self.drawString(MARGIN_X, HEADER_Y, header)
                self.line(MARGIN_X, HEADER_Y - 3, PAGE_W - MARGIN_X, HEADER_Y - 3)
            self.restoreState()

    return PackCanvas


def _tiles(s, tiles: list[tuple[str, str, str]]) -> Table:
    """Key figures as a grid of tiles: the value large, its label, a short note."""
    cols = 4
    cells = [
        [_p(value, s["tile_value"]), _p(label, s["tile_label"]), _p(note, s["tile_note"])]
        for value, label, note in tiles
    ]
    while len(cells) % cols:
        cells.append("")
    data = [cells[i : i + cols] for i in range(0, len(cells), cols)]
    table = Table(data, colWidths=[FRAME_W / cols] * cols, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("BOX", (0, 0), (-1, -1), 0.4, RULE),
                ("INNERGRID", (0, 0), (-1, -1), 0.4, RULE),
                ("BACKGROUND", (0, 0), (-1, -1), colors.HexColor("#f6f8fb")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 6),
                ("RIGHTPADDING", (0, 0), (-1, -1), 6),
                ("TOPPADDING", (0, 0), (-1, -1), 5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
            ]
        )
    )
    return table


def _top_five(s, risks: list[reports.RiskItem]) -> list:
    if not risks:
        return []
    rows = [[r.agent_name, r.business_unit, _tier(r.risk_tier), r.open_findings, r.owner] for r in risks[:5]]
    return [
        _p("Top five risks", s["h2"]),
        _table(s, ["Agent", "Unit", "Risk tier", "Open findings", "Owner"], rows, [34, 24, 11, 11, 20], numeric={3}),
    ]


def _summary(s, dash: reports.Dashboard, views: dict, risks, overdue, now: datetime) -> list:
    """The first page: the key figures as tiles and one sentence per section."""
    h = dash.headline
    sev = {f.key: f.value for f in h.findings_by_severity}
    code = presenters.currency()
    adoption_active = sum(b.values["active"] for b in dash.adoption)
    adoption_eligible = sum(b.values["eligible"] for b in dash.adoption)
    cost = sum((m.cost for m in dash.usage), Decimal(0)) if dash.usage is not None else None
    tiles = [
        (_n(h.total_agents.value), "Agents", f"{h.production_agents:,} in production"),
        (
            "—" if h.compliant_percent.value is None else f"{h.compliant_percent.value}%",
            "Production agents fully compliant",
            h.compliant_percent.note,
        ),
        (
            _n(h.open_findings.value),
            "Open findings",
            f"{sev.get('findings.critical', 0):,} critical, {sev.get('findings.high', 0):,} high" if sev else "",
        ),
        (_n(h.reviews_overdue.value), "Reviews overdue", h.reviews_overdue.note),
        (_n(h.orphaned_agents.value), "Orphaned agents", h.orphaned_agents.note),
        (_n(h.open_shadow_agents.value), "Open shadow agents", h.open_shadow_agents.note),
        (
            f"{round(100 * adoption_active / adoption_eligible)}%" if adoption_eligible else "—",
            "Active share of eligible users",
            f"{adoption_active:,} of {adoption_eligible:,}",
        ),
        (
            "—" if cost is None else charts.money(cost, code, compact=True),
            f"Cost over the period ({code})",
            dash.filter.describe().split(" · ")[-1],
        ),
    ]
    brief = [views["pattern-tier"].summary + " " + views["funnel"].summary]
    if dash.trend:
        brief.append(views["trend"].summary)
    brief += [views["adoption"].summary, views["usage"].summary, views["outcomes"].summary]
    brief.append(views["heatmap"].summary.replace(" Outlined cells are each unit's ceiling.", ""))
    trapped = sum(r.agents for um in dash.maturity for r in um.readiness if r.trapped)
    if trapped:
        brief.append(
            f"{_count(trapped, 'agent')} {'runs' if trapped == 1 else 'run'} in units not yet mature enough "
            f"for {'its' if trapped == 1 else 'their'} pattern (maturity traps)."
        )
    if risks:
        top = risks[0]
        brief.append(
            f"Highest risk: {top.agent_name} ({_tier(top.risk_tier).lower()} risk, {top.business_unit}, "
            f"{_count(top.open_findings, 'open finding')}), owned by {top.owner}."
        )
    if overdue:
        brief.append(f"{_count(len(overdue), 'agent')} overdue for a periodic review; the list is in this pack.")
    content = [
        _p(TITLE, s["title"]),
        _p(f"{dash.filter.describe()} · prepared {now:%d %B %Y, %H:%M} UTC", s["subtitle"]),
        Spacer(1, 5 * mm),
        _p("Summary", s["h1"]),
        _tiles(s, tiles),
        Spacer(1, 3 * mm),
        _p("In brief", s["h2"]),
        *[Paragraph(escape(text), s["bullet"], bulletText="•") for text in brief],
        *_top_five(s, risks),
        Spacer(1, 2 * mm),
        _p("In this pack", s["h2"]),
        _p(
            "Headline figures · Composition and lifecycle · Findings over time · Adoption · Cost · Outcomes · "
            "Top risks · Overdue reviews · Maturity and maturity traps.",
            s["body"],
        ),
    ]
    # Whatever the data, the summary is one page: it shrinks to fit rather than spilling over.
    return [KeepInFrame(FRAME_W, FRAME_H - 2, content, mode="shrink"), PageBreak()]


def _kept_sections(story: list) -> list:
    """Each section (from one top-level heading to the next) kept on one page where it fits on one: a
    section that does not fit in what is left of a page starts on the next, so no table leaves a row or
    two behind; a section longer than a page flows on, its tables repeating their headers."""
    result, section = [], []
    for flowable in story:
        if isinstance(flowable, Paragraph) and flowable.style.name == "h1" and section:
            result.append(KeepTogether(section))
            section = []
        section.append(flowable)
    if section:
        result.append(KeepTogether(section))
    return result


def render(scope: reports.Scope, flt: reports.PortfolioFilter, now: datetime) -> io.BytesIO:
    """The board pack as PDF bytes in a buffer, ready to stream."""
    s = _styles()
    dash = reports.dashboard(scope, flt, now)
    risks = reports.top_risks(scope, flt)
    overdue = reports.overdue_reviews(scope, flt)
    views = {v.key: v for v in presenters.all_charts(dash)}
    story = _summary(s, dash, views, risks, overdue, now)

    story += [_p("Headline figures", s["h1"])]
    figures = [[f.label, _n(f.value), f.note] for f in dash.headline.figures()]
    story.append(_table(s, ["Figure", "Value", "Note"], figures, [50, 15, 35], numeric={1}))

    story += [_p("Composition and lifecycle", s["h1"]), _p("Agents by pattern and risk tier", s["h2"])]
    if dash.pattern_by_tier and any(r.total for r in dash.pattern_by_tier):
        story += [_p(views["pattern-tier"].summary, s["lead"]), _pattern_tier_drawing(dash.pattern_by_tier)]
    else:
        story.append(_p("No agents match this selection.", s["body"]))
    story += [_p("Lifecycle funnel", s["h2"]), _p(views["funnel"].summary, s["lead"]), _funnel_drawing(dash.funnel)]

    if dash.trend:
        story += [
            _p(f"Findings over time, last {flt.weeks} weeks", s["h1"]),
            _p(views["trend"].summary + " Latest values at the right.", s["lead"]),
            _trend_drawing(reports.weekly(dash.trend)),
        ]

    story += [_p("Adoption", s["h1"])]
    if dash.adoption:
        story += [_p(views["adoption"].summary, s["lead"]), _adoption_drawing(dash.adoption)]
    else:
        story.append(_p(views["adoption"].empty, s["body"]))

    story += [_p("Cost", s["h1"])]
    if dash.usage:
        code = presenters.currency()
        partial = presenters.partial_months(dash.usage, flt, now.date())
        story += [_p(views["usage"].summary, s["lead"]), _cost_drawing(dash.usage, partial, code), Spacer(1, 3 * mm)]
        rows = [
            [
                m.month.strftime("%B %Y"),
                charts.money(m.cost, code),
                f"{m.invocations:,}",
                f"{m.tokens:,}",
                "partial" if partial[i] else "whole",
            ]
            for i, m in enumerate(dash.usage)
        ]
        story.append(
            _table(
                s,
                ["Month", f"Cost ({code})", "Invocations", "Tokens", "Month covered"],
                rows,
                [24, 20, 20, 22, 16],
                numeric={1, 2, 3},
            )
        )
    else:
        story.append(_p(views["usage"].summary if dash.usage is None else views["usage"].empty, s["body"]))

    story += [_p("Outcomes", s["h1"])]
    if any(c.value for c in dash.outcomes.buckets):
        story += [_p(views["outcomes"].summary, s["lead"]), _outcome_drawing(dash.outcomes.buckets)]
        if dash.outcomes.lagging:
            story += [_p("Furthest from their target", s["h2"])]
            rows = [
                [g.name, g.metric, _dec(g.baseline), _dec(g.target), _dec(g.current), f"{g.progress:.0f}%"]
                for g in dash.outcomes.lagging
            ]
            story.append(
                _table(
                    s,
                    ["Agent", "Success metric", "Baseline", "Target", "Current", "Progress"],
                    rows,
                    [30, 30, 11, 11, 11, 10],
                    numeric={2, 3, 4, 5},
                )
            )
    else:
        story.append(_p(views["outcomes"].empty, s["body"]))

    story.append(_p("Top risks", s["h1"]))
    if risks:
        rows = [
            [r.agent_name, r.business_unit, _tier(r.risk_tier), Lifecycle(r.lifecycle).label, r.open_findings, r.owner]
            for r in risks
        ]
        story.append(
            _table(
                s,
                ["Agent", "Unit", "Risk tier", "Lifecycle", "Open findings", "Owner"],
                rows,
                [30, 22, 11, 12, 11, 20],
                numeric={4},
            )
        )
    else:
        story.append(_p("No assessed live agents in this selection.", s["body"]))

    story.append(_p("Overdue reviews", s["h1"]))
    if overdue is None:
        story.append(_p("Periodic reviews are not tracked yet.", s["body"]))
    elif overdue:
        rows = [[r.agent_name, r.business_unit, _tier(r.risk_tier), r.owner] for r in overdue]
        story.append(_table(s, ["Agent", "Unit", "Risk tier", "Owner"], rows, [38, 28, 12, 22]))
    else:
        story.append(_p("No review is overdue.", s["body"]))

    story += [
        _p("Maturity", s["h1"]),
        _p(
            "Levels 1 to 5 per dimension. Each unit's overall level is its weakest dimension; the outlined cells "
            "are that ceiling. Units without their own assessment use their closest assessed parent's (shown "
            "as “as …”). “Ready for” lists the patterns whose minimum levels the unit meets.",
            s["small"],
        ),
        Spacer(1, 2 * mm),
        _maturity_table(s, dash.maturity),
    ]
    trapped = [(um, r) for um in dash.maturity for r in um.readiness if r.trapped]
    if trapped:
        story += [
            _p("Maturity traps", s["h1"]),
            _p(
                "Patterns pursued beyond the unit's maturity: the dimensions short of the pattern's minimum, "
                "as the level the unit has against the level the pattern needs.",
                s["lead"],
            ),
        ]
        rows = [
            [
                um.unit.name,
                Pattern(r.pattern).label,
                r.agents,
                ", ".join(f"{reports.dimension_label(sf.dimension)} {sf.has} of {sf.needs}" for sf in r.shortfalls),
            ]
            for um, r in trapped
        ]
        story.append(
            _table(s, ["Unit", "Pattern", "Agents", "Short on (has of needs)"], rows, [28, 30, 9, 45], numeric={2})
        )

    story = _kept_sections(story)
    buffer = io.BytesIO()
    scope_text = flt.describe()
    doc = BaseDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN_X,
        rightMargin=MARGIN_X,
        topMargin=MARGIN_TOP,
        bottomMargin=MARGIN_BOTTOM,
        title=f"Agent portfolio board pack: {scope_text}",
        author="Agent Registry",
        subject=f"Portfolio of AI agents, {scope_text}",
        creator="Agent Registry",
        invariant=1,  # the same data and moment give the same bytes; the real date goes in through the canvas
    )
    # A frame without inner padding: FRAME_W is exactly the width every table and chart is laid out to.
    frame = Frame(MARGIN_X, MARGIN_BOTTOM, FRAME_W, FRAME_H, 0, 0, 0, 0, id="body")
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame])])
    classification = getattr(settings, "BOARD_PACK_CLASSIFICATION", "Confidential")
    doc.build(story, canvasmaker=_canvas_class(classification, scope_text, now))
    buffer.seek(0)
    return buffer
