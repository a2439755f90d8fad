"""Turns report dataclasses into the page's charts and their table views.

One :class:`ChartView` per chart: the inline SVG plus a table with the same
numbers and links, so the chart reads without hunting a legend and a screen
reader (or a print) gets every figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.utils import timezone
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

from portfolio import charts, reports
from portfolio.choices import DIMENSIONS, MATURITY_FILLS
from registry.choices import Lifecycle, Pattern, RiskTier


@dataclass(frozen=True)
class TableCell:
    text: str
    url: str | None = None


@dataclass
class ChartView:
    key: str
    title: str
    summary: str
    svg: SafeString | None
    headers: list[str] = field(default_factory=list)
    rows: list[list[TableCell]] = field(default_factory=list)
    empty: str = ""

    @property
    def table_body(self) -> SafeString:
        """The table view's rows as HTML: a row header, then data cells, each a link when it has one.

        Built here rather than looped over in the template: the dashboard's
        tables hold some 600 cells, and the template's loop over them cost more
        than rendering the rest of the page.
        """
        html = []
        for row in self.rows:
            html.append("<tr>")
            for i, cell in enumerate(row):
                text = _escape(cell.text)
                inner = f'<a href="{_escape(cell.url)}">{text}</a>' if cell.url else text
                html.append(f'<th scope="row">{inner}</th>' if i == 0 else f"<td>{inner}</td>")
            html.append("</tr>")
        return mark_safe("".join(html))  # noqa: S308 (every text and URL is escaped above)


def _escape(text) -> str:
    """``conditional_escape`` (what the template did), escaping plain strings the fast way charts do."""
    return conditional_escape(text) if hasattr(text, "__html__") else charts.escape(text)


def _c(text, url=None) -> TableCell:
    return TableCell(str(text), url)


def pattern_tier_chart(rows: list[reports.Row]) -> ChartView:
    tiers = [(c.key, c.label) for c in rows[0].cells] if rows else []
    legend = [(label, charts.TIER_FILLS[key]) for key, label in tiers]
    bar_rows = [
        charts.BarRow(
            r.label,
            [charts.Segment(c.label, c.value, c.url, charts.TIER_FILLS[c.key]) for c in r.cells],
            r.url,
        )
        for r in rows
    ]
    total = sum(r.total for r in rows)
    high = sum(c.value for r in rows for c in r.cells if c.key in (RiskTier.HIGH, RiskTier.CRITICAL))
    return ChartView(
        "pattern-tier",
        "Agents by pattern and risk tier",
        f"{total} agents; {high} of them high or critical risk.",
        charts.stacked_bars(
            bar_rows,
            title="Agents by pattern and risk tier",
            desc="One bar per pattern, split by risk tier.",
            legend=legend,
        )
        if total
        else None,
        ["Pattern", *[label for _, label in tiers], "Total"],
        [[_c(r.label, r.url), *[_c(c.value, c.url) for c in r.cells], _c(r.total, r.url)] for r in rows],
        "No agents match this filter.",
    )


def funnel_chart(cells: list[reports.Cell]) -> ChartView:
    segs = [charts.Segment(c.label, c.value, c.url, charts.LIFECYCLE_FILLS[c.key]) for c in cells]
    production = next((c.value for c in cells if c.key == Lifecycle.PRODUCTION), 0)
    total = sum(c.value for c in cells)
    return ChartView(
        "funnel",
        "Lifecycle funnel",
        f"{production} of {total} agents are in production.",
        charts.bars(
            segs,
            title="Lifecycle funnel",
            desc="Agents in each lifecycle state, from proposal to production, then suspended and retired.",
        )
        if total
        else None,
        ["State", "Agents"],
        [[_c(c.label, c.url), _c(c.value, c.url)] for c in cells],
        "No agents match this filter.",
    )


def trend_chart(points: list[reports.TrendPoint] | None, flt: reports.PortfolioFilter) -> ChartView:
    title = f"Findings and shadow agents, last {flt.weeks} weeks"
    if points is None:
        return ChartView("trend", title, "History is shown to leadership, the board and administrators.", None)
    weekly = reports.weekly(points)
    if not weekly:
        return ChartView("trend", title, "No daily snapshots in this period yet.", None)
    labels = [p.day.strftime("%d %b") for p in weekly]
    findings_link = reports.findings_url(flt, state="open")
    shadow_link = reports.sources.findings_url(kind="shadow_agent")
    series = [
        charts.Series("Open findings", [p.open_findings for p in weekly], charts.SERIES_FILLS[0], findings_link),
        charts.Series(
            "High or critical", [p.open_findings_high for p in weekly], charts.SERIES_FILLS[1], findings_link
        ),
        charts.Series(
            "Open shadow agents", [p.open_shadow_agents for p in weekly], charts.SERIES_FILLS[2], shadow_link
        ),
        charts.Series("Maturity traps", [p.maturity_traps for p in weekly], charts.SERIES_FILLS[3], None),
    ]
    first, last = weekly[0], weekly[-1]
    return ChartView(
        "trend",
        title,
        f"Open findings went from {first.open_findings} to {last.open_findings}; "
        f"shadow agents from {first.open_shadow_agents} to {last.open_shadow_agents}.",
        charts.lines(
            labels,
            series,
            title=title,
            desc="Week-end values from the daily portfolio snapshots.",
            urls=[findings_link] * len(labels),
        ),
        [
            "Week ending",
            "Agents",
            "Open findings",
            "High or critical",
            "Shadow agents",
            "Reviews overdue",
            "Maturity traps",
        ],
        [
            [
                _c(p.day.isoformat()),
                _c(p.agents),
                _c(p.open_findings, findings_link),
                _c(p.open_findings_high),
                _c(p.open_shadow_agents, shadow_link),
                _c(p.reviews_overdue),
                _c(p.maturity_traps),
            ]
            for p in weekly
        ],
    )


_SLUG = "__unit__"


def _maturity_urls():
    """unit -> its maturity page: the address reversed once per chart, not once per unit (a slug
    needs no quoting)."""
    from django.urls import reverse

    pattern = reverse("portfolio:unit-maturity", args=[_SLUG])
    return lambda unit: pattern.replace(_SLUG, unit.slug)


def heatmap_chart(units: list[reports.UnitMaturity]) -> ChartView:
    cols = [d.title() for d in DIMENSIONS] + ["Overall"]
    rows = []
    table = []
    maturity_url = _maturity_urls()
    for um in units:
        url = maturity_url(um.unit)
        note = f"(as {um.inherited_from.name})" if um.inherited_from else ""
        label = um.unit.name
        if um.assessment is None:
            cells = [charts.GridCell("—", "#f3f4f6", url, f"{um.unit.name}: not assessed") for _ in cols]
            table.append([_c(um.unit.name, url), *[_c("not assessed") for _ in cols]])
        else:
            # Each of these derives from the scores again: read them once per unit, not once per cell.
            scores, ceiling, overall = um.scores, um.ceiling, um.overall
            cells = [
                charts.GridCell(
                    str(scores[d]),
                    MATURITY_FILLS[scores[d]],
                    url,
                    f"{um.unit.name}, {d}: {scores[d]}" + (" (the ceiling)" if d in ceiling else ""),
                    marked=d in ceiling,
                )
                for d in DIMENSIONS
            ]
            cells.append(
                charts.GridCell(str(overall), MATURITY_FILLS[overall], url, f"{um.unit.name}: overall {overall}")
            )
            table.append(
                [
                    _c(um.unit.name + (f" (inherits {um.inherited_from.name})" if um.inherited_from else ""), url),
                    *[_c(f"{scores[d]}{' ▲ ceiling' if d in ceiling else ''}") for d in DIMENSIONS],
                    _c(overall),
                ]
            )
        rows.append(charts.GridRow(label, cells, url, note))
    assessed = [u for u in units if u.assessment]
    weakest = min(assessed, key=lambda u: (u.overall, u.unit.path)) if assessed else None
    summary = (
        f"{len(assessed)} of {len(units)} units have a maturity level (own or inherited). "
        + (
            f"Lowest: {weakest.unit.name} at {weakest.overall}, held back by {', '.join(weakest.ceiling)}."
            if weakest
            else ""
        )
        + " Outlined cells are each unit's ceiling."
    )
    return ChartView(
        "heatmap",
        "Maturity heat map",
        summary,
        charts.grid(
            cols,
            rows,
            title="Maturity heat map",
            desc="Each unit's level per dimension; the weakest (the ceiling) is outlined.",
        )
        if units
        else None,
        ["Unit", *cols],
        table,
        "No business units.",
    )


def readiness_chart(units: list[reports.UnitMaturity]) -> ChartView:
    patterns = [r.pattern for r in units[0].readiness] if units else []
    col_labels = {
        "employee_enablement": "Employee",
        "expert_empowerment": "Expert",
        "workplace_services": "Workplace",
        "core_process": "Core process",
        "external_engagement": "External",
        "ai_first": "AI-first",
    }
    cols = [col_labels[p] for p in patterns]
    rows, table = [], []
    trapped = 0
    maturity_url = _maturity_urls()
    for um in units:
        unit_url = maturity_url(um.unit)
        cells, trow = [], [_c(um.unit.name, unit_url)]
        for r in um.readiness:
            if r.ready is None:
                cell = charts.GridCell("?", "#f3f4f6", r.url, f"{um.unit.name}: not assessed; {r.agents} agents")
                text = "not assessed"
            elif r.ready:
                cell = charts.GridCell(
                    f"ready · {r.agents}",
                    "#c8ebd5",
                    r.url,
                    f"{um.unit.name} is ready for {Pattern(r.pattern).label}; {r.agents} agents",
                )
                text = f"ready ({r.agents} agents)"
            else:
                short = ", ".join(f"{s.dimension} −{s.gap}" for s in r.shortfalls)
                fill = "#f4a3a3" if r.trapped else "#fde2c4"
                cell = charts.GridCell(
                    f"−{r.gap} · {r.agents}",
                    fill,
                    r.url,
                    f"{um.unit.name}, {Pattern(r.pattern).label}: short on {short}; {r.agents} agents",
                    marked=r.trapped,
                    text_fill="#7f1d1d" if r.trapped else charts.INK,
                )
                text = f"short: {short} ({r.agents} agents{', trapped' if r.trapped else ''})"
                trapped += r.agents if r.trapped else 0
            cells.append(cell)
            trow.append(_c(text, r.url))
        rows.append(charts.GridRow(um.unit.name, cells, unit_url))
        table.append(trow)
    return ChartView(
        "readiness",
        "Pattern readiness per unit",
        f"{trapped} agents sit in units not yet mature enough for their pattern (red, outlined). "
        "Cells show the levels missing and the agents of that pattern.",
        charts.grid(
            cols,
            rows,
            title="Pattern readiness per unit",
            desc="Ready, or the total levels a unit lacks for each pattern, with the number of agents.",
        )
        if units and patterns
        else None,
        ["Unit", *[Pattern(p).label for p in patterns]],
        table,
        "No business units.",
    )


def _pct(part, whole) -> int:
    return round(100 * part / whole) if whole else 0


def adoption_chart(bars_: list[reports.Bar]) -> ChartView:
    rows = [
        charts.BarRow(
            b.label,
            [
                charts.Segment("Eligible users", b.values["eligible"], b.url, "#b8c0cc"),
                charts.Segment(
                    "Active users",
                    b.values["active"],
                    b.url,
                    charts.SERIES_FILLS[0],
                    f"{b.values['active']:,} ({_pct(b.values['active'], b.values['eligible'])}%)",
                ),
            ],
            b.url,
        )
        for b in bars_
    ]
    eligible = sum(b.values["eligible"] for b in bars_)
    active = sum(b.values["active"] for b in bars_)
    return ChartView(
        "adoption",
        "Adoption: eligible against active users",
        f"{active:,} of {eligible:,} eligible users are active ({_pct(active, eligible)}%) across running agents.",
        charts.paired_bars(
            rows,
            title="Adoption",
            desc="Eligible and active users of running agents per unit.",
            legend=[("Eligible", "#b8c0cc"), ("Active", charts.SERIES_FILLS[0])],
        )
        if bars_
        else None,
        ["Unit", "Eligible users", "Active users", "Active share"],
        [
            [
                _c(b.label, b.url),
                _c(f"{b.values['eligible']:,}"),
                _c(f"{b.values['active']:,}"),
                _c(f"{_pct(b.values['active'], b.values['eligible'])}%"),
            ]
            for b in bars_
        ],
        "No running agents report eligible users.",
    )


def currency() -> str:
    """The ISO code of the currency telemetry reports cost in (``PORTFOLIO_CURRENCY``)."""
    return getattr(settings, "PORTFOLIO_CURRENCY", "EUR")


def partial_months(months: list[reports.UsageMonth], flt: reports.PortfolioFilter, today: date) -> list[bool]:
    """Whether each month is only partly covered: the period starts after its first day, ends before
    its last, or the month is not over yet (its cost is still growing)."""
    start, end = flt.window(today)
    result = []
    for m in months:
        first = m.month.replace(day=1)
        last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        result.append(first < start or last > end or last >= today)
    return result


def usage_chart(
    months: list[reports.UsageMonth] | None, flt: reports.PortfolioFilter, today: date | None = None
) -> ChartView:
    title = "Cost per month"
    if months is None:
        return ChartView("usage", title, "Telemetry usage rollups are not available yet.", None)
    today = today or timezone.localdate()
    code = currency()
    labels = [m.month.strftime("%b %Y") for m in months]
    partial = partial_months(months, flt, today)
    url = reports.catalog_url(flt, lifecycle=[Lifecycle.PILOT, Lifecycle.PRODUCTION])
    total = sum((m.cost for m in months), Decimal(0))
    costs = [float(m.cost) for m in months]
    tick_values = charts.nice_ticks(max(costs, default=0))
    compact = len(months) > 6
    partial_names = [label for label, p in zip(labels, partial, strict=True) if p]
    note = f" {', '.join(partial_names)} {'is' if len(partial_names) == 1 else 'are'} partial." if partial_names else ""
    return ChartView(
        "usage",
        title,
        f"Cost over the period: {charts.money(total, code)} ({code}), "
        f"{sum(m.invocations for m in months):,} invocations.{note}",
        charts.columns(
            labels,
            costs,
            title=f"Cost per month ({code})",
            desc=f"Monthly cost in {code} from telemetry rollups; partly covered months are drawn pale.",
            urls=[url] * len(labels),
            texts=[charts.money(c, code, compact=compact) for c in costs],
            ticks=[charts.money(t, code, compact=True) for t in tick_values],
            tick_values=tick_values,
            partial=partial,
            series=f"Cost ({code})",
        )
        if months
        else None,
        ["Month", f"Cost ({code})", "Invocations", "Tokens", "Coverage"],
        [
            [
                _c(labels[i]),
                _c(charts.money(m.cost, code)),
                _c(f"{m.invocations:,}"),
                _c(f"{m.tokens:,}"),
                _c("partial month" if partial[i] else "whole month"),
            ]
            for i, m in enumerate(months)
        ],
        "No usage reported in this period.",
    )


OUTCOME_FILLS = {"met": "#2e9e5b", "on_track": "#e0b020", "behind": "#d64545", "unmeasured": "#b8c0cc"}


def outcomes_chart(outcomes: reports.Outcomes) -> ChartView:
    segs = [charts.Segment(c.label, c.value, c.url, OUTCOME_FILLS[c.key]) for c in outcomes.buckets]
    total = sum(c.value for c in outcomes.buckets)
    met = next(c.value for c in outcomes.buckets if c.key == "met")
    rows = [[_c(c.label, c.url), _c(c.value, c.url)] for c in outcomes.buckets]
    return ChartView(
        "outcomes",
        "Outcome attainment",
        f"{met} of {total} running agents have reached their success metric's target.",
        charts.bars(
            segs,
            title="Outcome attainment",
            desc="Running agents by progress of their success metric from baseline to target.",
        )
        if total
        else None,
        ["Progress towards target", "Agents"],
        rows,
        "No running agents match this filter.",
    )


def tools_chart(cells: list[reports.Cell]) -> ChartView:
    segs = [charts.Segment(c.label, c.value, c.url, charts.SERIES_FILLS[4]) for c in cells]
    return ChartView(
        "tools",
        "Tools shared across agents",
        f"{len(cells)} catalog tools are reused by two or more agents." if cells else "",
        charts.bars(
            segs,
            title="Tools shared across agents",
            desc="Catalog tools by the number of live agents allowed to call them.",
            label_width=220,
            unit=" agents",
        )
        if cells
        else None,
        ["Tool", "Agents"],
        [[_c(c.label, c.url), _c(c.value, c.url)] for c in cells],
        "No tool is shared by two or more agents yet.",
    )


def all_charts(dash: reports.Dashboard) -> list[ChartView]:
    return [
        pattern_tier_chart(dash.pattern_by_tier),
        funnel_chart(dash.funnel),
        trend_chart(dash.trend, dash.filter),
        heatmap_chart(dash.maturity),
        readiness_chart(dash.maturity),
        adoption_chart(dash.adoption),
        usage_chart(dash.usage, dash.filter, dash.generated_at.date()),
        outcomes_chart(dash.outcomes),
        tools_chart(dash.tools),
    ]
