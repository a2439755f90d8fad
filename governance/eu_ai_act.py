"""The EU AI Act in operation: the serious-incident report clock (Art. 73) and the obligations timeline.

Both read policy data (``RiskPolicy.incident_report_days`` and ``eu_ai_act_timeline``), so a change in
the law is a policy edit, published and audited like any other.

The clock of a serious incident runs from ``aware_at`` for the days its category allows. It has stages:
``running``; ``half`` once 50% of the time is gone; ``nearly_missed`` at 90%; ``missed`` past the
deadline. The first report to the authority (the initial one may be incomplete) stops the clock:
``reported`` or ``reported_late``. The check ``incident_report_due`` raises one finding per agent for the
incidents whose clock is at ``half`` or later, high at 50%, critical from 90% ("nearly missed") and
when missed; the board is e-mailed once per stage (``ReportClockAlert``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from governance.choices import AuthorityReportKind, ReportClockStage, SeriousIncidentCategory

HALF = 0.5
NEARLY = 0.9
ALERT_STAGES = (ReportClockStage.HALF, ReportClockStage.NEARLY_MISSED, ReportClockStage.MISSED)


@dataclass(frozen=True)
class ReportClock:
    """The report clock of one serious incident at one moment."""

    category: str
    days: int
    aware_at: datetime
    deadline: datetime
    now: datetime
    first_report_at: datetime | None
    reports: int
    final_sent: bool

    @property
    def elapsed_fraction(self) -> float:
        end = self.first_report_at or self.now
        total = (self.deadline - self.aware_at).total_seconds()
        return max(0.0, (end - self.aware_at).total_seconds() / total) if total > 0 else 1.0

    @property
    def time_left(self) -> timedelta:
        return self.deadline - self.now

    @property
    def stage(self) -> str:
        if self.first_report_at is not None:
            late = self.first_report_at > self.deadline
            return ReportClockStage.REPORTED_LATE if late else ReportClockStage.REPORTED
        if self.now >= self.deadline:
            return ReportClockStage.MISSED
        fraction = self.elapsed_fraction
        if fraction >= NEARLY:
            return ReportClockStage.NEARLY_MISSED
        if fraction >= HALF:
            return ReportClockStage.HALF
        return ReportClockStage.RUNNING

    def get_stage_label(self) -> str:
        return ReportClockStage(self.stage).label

    @property
    def still_due(self) -> list[str]:
        """What the deployer still owes the authority, in words."""
        if self.first_report_at is None:
            return [f"Initial report by {self.deadline:%d %b %Y %H:%M} UTC (it may be incomplete)."]
        if not self.final_sent:
            return ["Follow-up reports completing the initial one, then a final report."]
        return []

    def time_left_label(self) -> str:
        if self.first_report_at is not None:
            return "Reported"
        seconds = int(self.time_left.total_seconds())
        sign, seconds = ("overdue by ", -seconds) if seconds < 0 else ("", seconds)
        days, rest = divmod(seconds, 86400)
        hours, rest = divmod(rest, 3600)
        minutes = rest // 60
        text = f"{days} d {hours} h" if days else f"{hours} h {minutes} min"
        return sign + text


def report_days(policy, category: str) -> int:
    """The days the policy allows to report a serious incident of ``category``."""
    table = getattr(policy, "incident_report_days", None) or {}
    return int(table[category])


def report_clock(incident, policy, now: datetime, reports=None) -> ReportClock | None:
    """The clock of ``incident`` (None when it is not a serious incident). ``reports``: its authority
    reports if already loaded (else they are read)."""
    if not incident.serious_category:
        return None
    if reports is None:
        reports = list(incident.authority_reports.all())
    days = report_days(policy, incident.serious_category)
    sent = sorted(r.sent_at for r in reports)
    return ReportClock(
        category=incident.serious_category,
        days=days,
        aware_at=incident.aware_at,
        deadline=incident.aware_at + timedelta(days=days),
        now=now,
        first_report_at=sent[0] if sent else None,
        reports=len(reports),
        final_sent=any(r.kind == AuthorityReportKind.FINAL for r in reports),
    )


def validate_report_days(value) -> str | None:
    """The message that refuses a report-days table, or None when it is usable."""
    if not isinstance(value, dict) or set(value) != set(SeriousIncidentCategory.values):
        return "Give the days to report for each category: " + ", ".join(SeriousIncidentCategory.values) + "."
    if any(isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 365 for v in value.values()):
        return "Each deadline is a whole number of days between 1 and 365."
    return None


def validate_timeline(value) -> str | None:
    """The message that refuses a timeline, or None when it is usable."""
    from governance.choices import EUAIActCategory

    if not isinstance(value, list) or not value:
        return "Give the obligations as a list of {code, title, applies_from, categories}."
    codes = set()
    for entry in value:
        if not isinstance(entry, dict) or set(entry) != {"code", "title", "applies_from", "categories"}:
            return "Each obligation has exactly: code, title, applies_from, categories."
        if not isinstance(entry["code"], str) or not entry["code"] or entry["code"] in codes:
            return "Each obligation needs its own code."
        codes.add(entry["code"])
        if not isinstance(entry["title"], str) or not entry["title"].strip():
            return f"{entry['code']}: give a title."
        try:
            date.fromisoformat(entry["applies_from"])
        except (TypeError, ValueError):
            return f"{entry['code']}: applies_from must be a date (YYYY-MM-DD)."
        categories = entry["categories"]
        if not isinstance(categories, list) or set(categories) - set(EUAIActCategory.values):
            return f"{entry['code']}: categories must be among {', '.join(EUAIActCategory.values)}."
    return None


@dataclass(frozen=True)
class Obligation:
    code: str
    title: str
    applies_from: date
    categories: tuple[str, ...]

    def applies_on(self, day: date) -> bool:
        return self.applies_from <= day


def obligations(policy) -> list[Obligation]:
    rows = getattr(policy, "eu_ai_act_timeline", None) or []
    result = [
        Obligation(e["code"], e["title"], date.fromisoformat(e["applies_from"]), tuple(e["categories"])) for e in rows
    ]
    return sorted(result, key=lambda o: (o.applies_from, o.code))


def obligations_for(policy, category: str | None, today: date) -> dict[str, list[Obligation]]:
    """The obligations reaching an agent of EU AI Act ``category``: those that apply ``today`` and those coming."""
    reaching = [o for o in obligations(policy) if category and category in o.categories]
    return {
        "apply": [o for o in reaching if o.applies_on(today)],
        "coming": [o for o in reaching if not o.applies_on(today)],
    }


@dataclass
class ObligationView:
    """One obligation of the timeline with the agents it reaches (for the portfolio page)."""

    obligation: Obligation
    applies: bool
    agents: list = None  # type: ignore[assignment]


def portfolio_obligations(policy, agents, today: date) -> list[ObligationView]:
    """Every obligation of the timeline, whether it applies ``today``, and which of ``agents`` (an Agent
    queryset the reader may see) it reaches through their confirmed assessment's category."""
    from governance.models import RiskAssessment

    categories = dict(
        RiskAssessment.objects.filter(status="confirmed", agent__in=agents.values("pk")).values_list(
            "agent_id", "eu_ai_act_category"
        )
    )
    by_id = {a.pk: a for a in agents.filter(pk__in=list(categories)).select_related("business_unit")}
    views = []
    for obligation in obligations(policy):
        reached = sorted(
            (by_id[agent_id] for agent_id, category in categories.items() if category in obligation.categories),
            key=lambda a: a.name,
        )
        views.append(ObligationView(obligation, obligation.applies_on(today), reached))
    return views
