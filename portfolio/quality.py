"""The portfolio's quality panel: evaluation scores and escalation rates per pattern and per business unit
over the last 28 days, and the agents drifting now. Each figure links to the agents behind it."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from urllib.parse import urlencode

from django.db.models import QuerySet, Sum
from django.urls import reverse

from portfolio import sources
from registry.choices import Pattern
from telemetry.models import DailyEvaluation, DailyUsage

QUALITY_DAYS = 28


@dataclass
class QualityRow:
    label: str
    url: str
    invocations: int = 0
    escalations: int = 0
    # evaluation name -> [score sum, scored]
    scores: dict = field(default_factory=dict)
    score_cells: list = field(default_factory=list)

    @property
    def escalation_rate(self) -> float | None:
        return self.escalations / self.invocations if self.invocations else None

    @property
    def escalation_percent(self) -> float | None:
        rate = self.escalation_rate
        return None if rate is None else rate * 100

    def score(self, name: str) -> float | None:
        total, scored = self.scores.get(name, (0.0, 0))
        return total / scored if scored else None

    def cells(self, names: list[str]) -> list[float | None]:
        return [self.score(n) for n in names]


@dataclass
class Quality:
    since: date
    evaluations: list[str]
    by_pattern: list[QualityRow]
    by_unit: list[QualityRow]
    drifting: list[dict]

    @property
    def tables(self) -> list[tuple[str, list[QualityRow]]]:
        return [("pattern", self.by_pattern), ("business unit", self.by_unit)]


def _agents_url(params: dict) -> str:
    return reverse("portfolio:agents") + "?" + urlencode(params, doseq=True)


def quality(agents: QuerySet, today: date) -> Quality:
    """Four queries: usage and evaluations grouped by pattern and unit (two), the open drift findings (one),
    and the units' slugs come with the grouping."""
    since = today - timedelta(days=QUALITY_DAYS - 1)
    scope = agents.values("pk")
    groups: dict[tuple[str, str], QualityRow] = {}

    def row(kind: str, key: str, label: str, slug: str = "") -> QualityRow:
        params = {"pattern": key} if kind == "pattern" else {"business_unit": slug}
        return groups.setdefault((kind, key), QualityRow(label=label, url=_agents_url(params)))

    usage = (
        DailyUsage.objects.filter(day__gte=since, day__lte=today, agent__in=scope)
        .order_by()
        .values("agent__pattern", "agent__business_unit__name", "agent__business_unit__slug")
        .annotate(n=Sum("invocations"), e=Sum("escalations"))
    )
    for r in usage:
        for target in (
            row("pattern", r["agent__pattern"], Pattern(r["agent__pattern"]).label),
            row(
                "unit",
                r["agent__business_unit__slug"],
                r["agent__business_unit__name"],
                r["agent__business_unit__slug"],
            ),
        ):
            target.invocations += r["n"] or 0
            target.escalations += r["e"] or 0
    evaluations = (
        DailyEvaluation.objects.filter(day__gte=since, day__lte=today, agent__in=scope, scored__gt=0)
        .order_by()
        .values("name", "agent__pattern", "agent__business_unit__name", "agent__business_unit__slug")
        .annotate(total=Sum("score_sum"), scored=Sum("scored"))
    )
    names = set()
    for r in evaluations:
        names.add(r["name"])
        for target in (
            row("pattern", r["agent__pattern"], Pattern(r["agent__pattern"]).label),
            row(
                "unit",
                r["agent__business_unit__slug"],
                r["agent__business_unit__name"],
                r["agent__business_unit__slug"],
            ),
        ):
            mine = target.scores.setdefault(r["name"], [0.0, 0])
            mine[0] += r["total"] or 0
            mine[1] += r["scored"] or 0
    drifting = []
    findings = sources.open_findings()
    if findings is not None:
        for f in (
            findings.filter(kind="drift", agent__in=scope).select_related("agent").order_by("-opened_at", "pk")[:50]
        ):
            metrics = defaultdict(list)
            for m in f.details.get("metrics", []):
                metrics[m["metric"]].append(m)
            drifting.append(
                {
                    "agent": f.agent.name,
                    "url": reverse("registry:agent-detail", args=[f.agent.key]),
                    "finding_url": reverse("governance:finding-detail", args=[f.pk]),
                    "severity": f.severity,
                    "summary": f.summary,
                    "metrics": len(metrics),
                }
            )
    by = defaultdict(list)
    for (kind, _), r in groups.items():
        r.score_cells = r.cells(sorted(names))
        by[kind].append(r)
    return Quality(
        since=since,
        evaluations=sorted(names),
        by_pattern=sorted(by["pattern"], key=lambda r: r.label),
        by_unit=sorted(by["unit"], key=lambda r: r.label),
        drifting=drifting,
    )
