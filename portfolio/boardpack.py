"""The board pack: a printable PDF of the portfolio for one unit and period.

Built with ReportLab (pure Python plus small C accelerators in its wheels, no
system services or fonts to install) from the same report functions as the
dashboard: headline figures, charts, top risks, overdue reviews and the
maturity picture.
"""

from __future__ import annotations

import io
from datetime import datetime

from reportlab.graphics.charts.barcharts import HorizontalBarChart
from reportlab.graphics.charts.linecharts import HorizontalLineChart
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from portfolio import charts, reports
from portfolio.choices import DIMENSIONS, MATURITY_FILLS
from registry.choices import Pattern

WIDTH = A4[0] - 30 * mm


def _styles():
    base = getSampleStyleSheet()
    return {
        "title": base["Title"],
        "h2": base["Heading2"],
        "body": base["BodyText"],
        "small": ParagraphStyle("small", parent=base["BodyText"], fontSize=8, leading=10, alignment=TA_LEFT),
    }


def _table(rows, col_widths=None, header=True, extra=()):
    table = Table(rows, colWidths=col_widths, repeatRows=1 if header else 0)
    style = [
        ("FONT", (0, 0), (-1, -1), "Helvetica", 8),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#d0d5dd")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]
    if header:
        style += [
            ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef1f5")),
        ]
    table.setStyle(TableStyle(style + list(extra)))
    return table


def _pattern_tier_drawing(rows: list[reports.Row]) -> Drawing:
    drawing = Drawing(WIDTH, 190)
    chart = HorizontalBarChart()
    chart.x, chart.y, chart.width, chart.height = 150, 10, WIDTH - 170, 170
    tiers = [c.key for c in rows[0].cells]
    chart.data = [[r.cells[i].value for r in rows] for i in range(len(tiers))]
    chart.categoryAxis.categoryNames = [r.label[:32] for r in rows]
    chart.categoryAxis.labels.fontSize = 7
    chart.valueAxis.labels.fontSize = 7
    chart.categoryAxis.style = "stacked"
    chart.valueAxis.valueMin = 0
    for i, tier in enumerate(tiers):
        chart.bars[i].fillColor = colors.HexColor(charts.TIER_FILLS[tier])
    drawing.add(chart)
    x = 150
    for tier in tiers:
        drawing.add(String(x, 182, tier, fontSize=7, fillColor=colors.HexColor(charts.TIER_FILLS[tier])))
        x += 60
    return drawing


def _funnel_drawing(cells: list[reports.Cell]) -> Drawing:
    drawing = Drawing(WIDTH, 150)
    chart = HorizontalBarChart()
    chart.x, chart.y, chart.width, chart.height = 150, 10, WIDTH - 170, 130
    chart.data = [[c.value for c in reversed(cells)]]
    chart.categoryAxis.categoryNames = [c.label for c in reversed(cells)]
    chart.categoryAxis.labels.fontSize = 7
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.valueMin = 0
    chart.bars[0].fillColor = colors.HexColor("#2e9e5b")
    drawing.add(chart)
    return drawing


def _trend_drawing(points: list[reports.TrendPoint]) -> Drawing:
    weekly = reports.weekly(points)
    drawing = Drawing(WIDTH, 170)
    chart = HorizontalLineChart()
    chart.x, chart.y, chart.width, chart.height = 40, 20, WIDTH - 60, 130
    chart.data = [
        [p.open_findings for p in weekly],
        [p.open_findings_high for p in weekly],
        [p.open_shadow_agents for p in weekly],
    ]
    chart.categoryAxis.categoryNames = [p.day.strftime("%d %b") for p in weekly]
    chart.categoryAxis.labels.fontSize = 6
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.valueMin = 0
    names = ("Open findings", "High or critical", "Shadow agents")
    for i, name in enumerate(names):
        chart.lines[i].strokeColor = colors.HexColor(charts.SERIES_FILLS[i])
        chart.lines[i].strokeWidth = 1.5
        drawing.add(String(40 + i * 110, 158, name, fontSize=7, fillColor=colors.HexColor(charts.SERIES_FILLS[i])))
    drawing.add(chart)
    return drawing


def _maturity_table(units: list[reports.UnitMaturity]):
    rows = [["Unit", *[d.title() for d in DIMENSIONS], "Overall", "Ready for"]]
    extra = []
    for i, um in enumerate(units, start=1):
        if um.assessment is None:
            rows.append([um.unit.name, *["—"] * len(DIMENSIONS), "—", "not assessed"])
            continue
        scores = um.scores
        name = um.unit.name + (f" (as {um.inherited_from.name})" if um.inherited_from else "")
        ready = ", ".join(Pattern(p).label.split(" ")[0] for p in um.ready_patterns) or "none"
        rows.append([name, *[str(scores[d]) for d in DIMENSIONS], str(um.overall), ready])
        for j, d in enumerate(DIMENSIONS, start=1):
            extra.append(("BACKGROUND", (j, i), (j, i), colors.HexColor(MATURITY_FILLS[scores[d]])))
            if d in um.ceiling:
                extra.append(("BOX", (j, i), (j, i), 1.5, colors.black))
                extra.append(("FONT", (j, i), (j, i), "Helvetica-Bold", 8))
    return _table(rows, [55 * mm, *[15 * mm] * len(DIMENSIONS), 14 * mm, 36 * mm], extra=extra)


def render(scope: reports.Scope, flt: reports.PortfolioFilter, now: datetime) -> io.BytesIO:
    """The board pack as PDF bytes in a buffer, ready to stream."""
    s = _styles()
    dash = reports.dashboard(scope, flt, now)
    risks = reports.top_risks(scope, flt)
    overdue = reports.overdue_reviews(scope, flt)
    story = [
        Paragraph("Agent portfolio: board pack", s["title"]),
        Paragraph(f"{flt.describe()} · generated {now:%d %B %Y %H:%M} UTC", s["body"]),
        Spacer(1, 6 * mm),
        Paragraph("Headline figures", s["h2"]),
    ]
    figures = [["Figure", "Value", "Note"]] + [
        [f.label, "not tracked" if f.value is None else str(f.value), f.note] for f in dash.headline.figures()
    ]
    story.append(_table(figures, [80 * mm, 25 * mm, 70 * mm]))
    story += [Paragraph("Agents by pattern and risk tier", s["h2"]), _pattern_tier_drawing(dash.pattern_by_tier)]
    story += [Paragraph("Lifecycle funnel", s["h2"]), _funnel_drawing(dash.funnel)]
    if dash.trend:
        story += [
            KeepTogether(
                [Paragraph(f"Findings and shadow agents, last {flt.weeks} weeks", s["h2"]), _trend_drawing(dash.trend)]
            )
        ]
    story.append(Paragraph("Top risks", s["h2"]))
    if risks:
        rows = [["Agent", "Unit", "Tier", "Lifecycle", "Open findings", "Owner"]] + [
            [r.agent_name[:40], r.business_unit[:30], r.risk_tier, r.lifecycle, str(r.open_findings), r.owner]
            for r in risks
        ]
        story.append(_table(rows, [55 * mm, 38 * mm, 16 * mm, 22 * mm, 20 * mm, 25 * mm]))
    else:
        story.append(Paragraph("No assessed live agents in this selection.", s["body"]))
    story.append(Paragraph("Overdue reviews", s["h2"]))
    if overdue is None:
        story.append(Paragraph("Periodic reviews are not tracked yet.", s["body"]))
    elif overdue:
        rows = [["Agent", "Unit", "Tier", "Owner"]] + [
            [r.agent_name[:40], r.business_unit[:30], r.risk_tier, r.owner] for r in overdue
        ]
        story.append(_table(rows, [70 * mm, 50 * mm, 20 * mm, 35 * mm]))
    else:
        story.append(Paragraph("No review is overdue.", s["body"]))
    story += [
        Paragraph("Maturity", s["h2"]),
        Paragraph(
            "Each unit's overall level is its weakest dimension (outlined, the ceiling). "
            "Units without their own assessment use their closest assessed parent's.",
            s["small"],
        ),
        Spacer(1, 2 * mm),
        _maturity_table(dash.maturity),
    ]
    trapped = [(um, r) for um in dash.maturity for r in um.readiness if r.trapped]
    if trapped:
        story.append(Paragraph("Maturity traps: patterns pursued beyond the unit's maturity", s["h2"]))
        rows = [["Unit", "Pattern", "Agents", "Short dimensions"]] + [
            [
                um.unit.name,
                Pattern(r.pattern).label,
                str(r.agents),
                ", ".join(f"{sf.dimension} −{sf.gap}" for sf in r.shortfalls),
            ]
            for um, r in trapped
        ]
        story.append(_table(rows, [45 * mm, 60 * mm, 15 * mm, 55 * mm]))

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title="Agent portfolio board pack",
        author="Agent Registry",
        invariant=1,
    )
    doc.build(story)
    buffer.seek(0)
    return buffer
