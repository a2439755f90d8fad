"""The chargeback report: cost per business unit and per agent per calendar month, with the tokens and
invocations behind it, summed from the daily usage rollups in one query."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from urllib.parse import urlencode

from django.db.models import QuerySet, Sum
from django.urls import reverse

from registry.models import BusinessUnit
from telemetry.models import DailyUsage


@dataclass
class ChargeRow:
    """One agent's (or one unit's) month: cost, tokens and invocations, and where they drill down to."""

    label: str
    url: str
    cost: Decimal = Decimal(0)
    tokens: int = 0
    invocations: int = 0
    unit: str = ""
    unit_path: str = ""


@dataclass
class Chargeback:
    month: date
    units: list[ChargeRow] = field(default_factory=list)
    agents: list[ChargeRow] = field(default_factory=list)

    @property
    def total(self) -> ChargeRow:
        return ChargeRow(
            label="Total",
            url="",
            cost=sum((r.cost for r in self.agents), Decimal(0)),
            tokens=sum(r.tokens for r in self.agents),
            invocations=sum(r.invocations for r in self.agents),
        )


def month_bounds(month: date) -> tuple[date, date]:
    start = month.replace(day=1)
    end = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
    return start, end


def parse_month(value: str | None, today: date) -> date:
    """ "2026-03" -> 1 March 2026; anything else (or nothing) -> this month."""
    if value:
        try:
            year, month = (int(p) for p in value.split("-"))
            if not 1 <= year < 9999:  # month_bounds needs the month after it
                raise ValueError
            return date(year, month, 1)
        except ValueError:
            pass
    return today.replace(day=1)


def chargeback(agents: QuerySet, month: date) -> Chargeback:
    """Per agent (in ``agents``: the reader's scope and filter) and per unit, each unit covering its sub-units
    (so its figure is what the unit's budget is measured against). Two queries."""
    start, end = month_bounds(month)
    rows = (
        DailyUsage.objects.filter(day__gte=start, day__lt=end, agent__in=agents.values("pk"))
        .order_by()
        .values("agent_id", "agent__key", "agent__name", "agent__business_unit__name", "agent__business_unit__path")
        .annotate(
            cost=Sum("cost"),
            input_tokens=Sum("input_tokens"),
            output_tokens=Sum("output_tokens"),
            invocations=Sum("invocations"),
        )
    )
    report = Chargeback(month=start)
    by_path: dict[str, ChargeRow] = {}
    for r in rows:
        row = ChargeRow(
            label=r["agent__name"],
            url=reverse("registry:agent-detail", args=[r["agent__key"]]),
            cost=Decimal(r["cost"] or 0),
            tokens=(r["input_tokens"] or 0) + (r["output_tokens"] or 0),
            invocations=r["invocations"] or 0,
            unit=r["agent__business_unit__name"],
            unit_path=r["agent__business_unit__path"],
        )
        report.agents.append(row)
        # A unit's figure covers its sub-units (as its budget does): credit the unit and every ancestor.
        parts = row.unit_path.strip("/").split("/")
        for depth in range(1, len(parts) + 1):
            unit = by_path.setdefault("/" + "/".join(parts[:depth]) + "/", ChargeRow(label="", url=""))
            unit.cost += row.cost
            unit.tokens += row.tokens
            unit.invocations += row.invocations
    for unit in BusinessUnit.objects.filter(path__in=list(by_path)).only("name", "slug", "path"):
        entry = by_path[unit.path]
        entry.label, entry.unit_path = unit.name, unit.path
        entry.url = reverse("portfolio:agents") + "?" + urlencode({"business_unit": unit.slug})
    report.agents.sort(key=lambda r: (-r.cost, r.label))
    report.units = sorted((u for u in by_path.values() if u.label), key=lambda r: r.unit_path)
    return report


CSV_HEADER = ["month", "level", "business_unit", "agent", "cost", "tokens", "invocations"]


def csv_rows(report: Chargeback):
    """The report as CSV rows: every agent, then every unit (a unit's figures cover its sub-units)."""
    month = report.month.strftime("%Y-%m")
    for r in report.agents:
        yield [month, "agent", r.unit, r.label, f"{r.cost:.2f}", r.tokens, r.invocations]
    for r in report.units:
        yield [month, "unit", r.label, "", f"{r.cost:.2f}", r.tokens, r.invocations]
