"""The dashboard's SVG charts: labels that fit, round axis values, and a cost chart a reader can price."""

import re
import xml.etree.ElementTree as ET
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portfolio import charts, presenters, reports

SVG = "{http://www.w3.org/2000/svg}"
LONG = "Research and Development Excellence and Advanced Manufacturing Engineering"


def _texts(svg: str) -> tuple[float, list[ET.Element]]:
    root = ET.fromstring(str(svg))  # noqa: S314 (our own markup)
    return float(root.get("width")), list(root.iter(f"{SVG}text"))


def _extent(text: ET.Element) -> tuple[float, float]:
    """Where a <text> starts and ends, measured the way the charts measure (erring wide)."""
    x = float(text.get("x"))
    w = charts.text_width(text.text or "", float(text.get("font-size")), bold=text.get("font-weight") == "bold")
    anchor = text.get("text-anchor")
    return (x - w, x) if anchor == "end" else (x - w / 2, x + w / 2) if anchor == "middle" else (x, x + w)


def _clipped(svg) -> list[str]:
    width, texts = _texts(svg)
    return [t.text for t in texts if _extent(t)[0] < 0 or _extent(t)[1] > width]


def _rows(labels):
    return [
        charts.BarRow(label, [charts.Segment("a", 3, None, "#111111"), charts.Segment("b", 12345, None, "#222222")])
        for label in labels
    ]


LABELS = ["Research and Development", LONG, "HR", "No metric or no current value"]


@pytest.mark.parametrize(
    "draw",
    [
        lambda: charts.stacked_bars(_rows(LABELS), title="t", desc="d", legend=[("Not assessed", "#ccc")] * 9),
        lambda: charts.paired_bars(_rows(LABELS), title="t", desc="d", legend=[("Eligible", "#ccc")]),
        lambda: charts.bars([charts.Segment(label, 7, None) for label in LABELS], title="t", desc="d", unit=" agents"),
        lambda: charts.grid(
            ["Strategy", "Governance", "Core process"],
            [charts.GridRow(label, [charts.GridCell("ready · 12", "#fff")] * 3, note="(as Group)") for label in LABELS],
            title="t",
            desc="d",
        ),
        lambda: charts.lines(
            [f"{d:02d} Dec" for d in range(1, 14)],
            [charts.Series("Open findings", [433, 12, 5, *[1] * 10], "#000")],
            title="t",
            desc="d",
            urls=[None] * 13,
        ),
        lambda: charts.columns(
            ["Sep 2026", "Oct 2026"],
            [2155.76, 4017.09],
            title="t",
            desc="d",
            urls=[None, None],
            texts=["€2,156", "€4,017"],
            partial=[True, False],
            series="Cost (EUR)",
        ),
    ],
    ids=["stacked", "paired", "bars", "grid", "lines", "columns"],
)
def test_no_label_runs_past_the_charts_edges(draw):
    assert _clipped(draw()) == []


def test_a_label_too_long_for_its_area_wraps_onto_two_lines_without_losing_a_word():
    label = "Research and Development Excellence Programme"
    svg = charts.stacked_bars(_rows([label]), title="t", desc="d", legend=[], label_width=200)
    _, texts = _texts(svg)
    label_lines = [t.text for t in texts if t.get("text-anchor") == "end"]
    assert len(label_lines) == 2
    assert " ".join(label_lines) == label


def test_a_label_too_long_even_for_two_lines_ends_in_an_ellipsis_after_a_whole_word():
    label = " ".join([LONG] * 3)
    svg = charts.stacked_bars(_rows([label, "HR"]), title="t", desc="d", legend=[])
    _, texts = _texts(svg)
    first, second = [t.text for t in texts if t.get("text-anchor") == "end"][:2]
    assert second.endswith(" …")
    assert label.startswith(f"{first} {second[:-2]}")
    assert _clipped(svg) == []
    # and the whole label is still in each segment's title
    assert f"<title>{label}, b: 12,345</title>" in str(svg)


def test_the_first_and_last_dates_of_a_line_chart_stay_inside_it():
    svg = charts.lines(
        ["21 Sep", "28 Sep", "06 Dec"], [charts.Series("s", [1, 2, 3], "#000")], title="t", desc="d", urls=[None] * 3
    )
    _, texts = _texts(svg)
    dates = {t.text: t.get("text-anchor") for t in texts if t.text and t.text[:2].isdigit() and " " in t.text}
    assert dates == {"21 Sep": "start", "28 Sep": "middle", "06 Dec": "end"}


def _is_round(value: float) -> bool:
    if value == 0:
        return True
    mantissa = value / 10 ** int(f"{value:e}".split("e")[1])
    return round(mantissa, 6) in (1, 2, 2.5, 5)


@given(st.floats(min_value=0.01, max_value=1e9, allow_nan=False))
def test_tick_values_are_round_and_cover_the_largest_value(maximum):
    ticks = charts.nice_ticks(maximum)
    assert ticks[0] == 0
    assert ticks[-1] >= maximum
    assert len(ticks) <= 7
    steps = {round(b - a, 9) for a, b in zip(ticks, ticks[1:], strict=False)}
    assert len(steps) == 1
    step = steps.pop()
    assert _is_round(step)
    assert all(abs(t / step - round(t / step)) < 1e-6 for t in ticks)


def test_the_line_charts_axis_reads_in_round_values():
    svg = charts.lines(
        ["a", "b"], [charts.Series("Open findings", [433, 236], "#000")], title="t", desc="d", urls=[None, None]
    )
    _, texts = _texts(svg)
    axis = [t.text for t in texts if t.get("text-anchor") == "end" and t.text.isdigit()]
    assert axis == ["0", "100", "200", "300", "400", "500"]


def _month(day: date, cost: str) -> reports.UsageMonth:
    return reports.UsageMonth(day, Decimal(cost), 1000, 5000)


def test_months_the_period_covers_only_in_part_are_marked_partial():
    # given a 12-week window ending 18 November 2026: from 27 August
    flt = reports.PortfolioFilter(period="12w")
    months = [_month(date(2026, m, 1), "10") for m in (8, 9, 10, 11)]
    # when / then: August (starts before the window) and November (not over) are partial
    assert presenters.partial_months(months, flt, date(2026, 11, 18)) == [True, False, False, True]
    # and a period ending on a past month's last day leaves that month whole
    past = reports.PortfolioFilter(period="12w", end=date(2026, 10, 31))
    assert presenters.partial_months([_month(date(2026, 10, 1), "1")], past, date(2026, 11, 18)) == [False]


def test_the_cost_chart_shows_its_currency_the_amounts_and_partial_months(settings):
    # given
    settings.PORTFOLIO_CURRENCY = "EUR"
    months = [_month(date(2026, 9, 1), "2155.76"), _month(date(2026, 10, 1), "4017.09")]
    # when
    view = presenters.usage_chart(months, reports.PortfolioFilter(period="12w"), date(2026, 10, 20))
    # then the title and legend name the currency and every column carries its amount
    svg = str(view.svg)
    assert "Cost per month (EUR)" in svg
    assert "Cost (EUR)" in svg
    _, texts = _texts(svg)
    shown = [t.text for t in texts]
    assert "€2,156" in shown
    assert "€4,017" in shown
    # and the axis reads in round amounts of the currency
    assert [t for t in shown if re.fullmatch(r"€[\d,]+", t) and t not in ("€2,156", "€4,017")] == [
        "€0",
        "€1,000",
        "€2,000",
        "€3,000",
        "€4,000",
        "€5,000",
    ]
    # and October, not over on the 20th, is marked partial, as is September (the window starts 29 July: whole)
    assert shown.count("partial") == 1
    assert "Oct 2026 is partial." in view.summary
    assert view.rows[1][-1].text == "partial month"
    assert view.headers[1] == "Cost (EUR)"


def test_money_keeps_the_currency_and_rounds_half_up():
    assert charts.money(Decimal("1234.5"), "EUR") == "€1,235"
    assert charts.money(Decimal("12.345"), "USD") == "$12.35"
    assert charts.money(Decimal("52000"), "CHF", compact=True) == "CHF 52.0k"
    assert charts.money(0, "GBP", compact=True) == "£0"
