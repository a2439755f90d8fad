"""Drift and budgets: the method that reads the daily rollups for change, and the month's cost forecast.

The statistics are pure functions of plain numbers (``judge``, ``median``, ``mad``); ``drift_findings``
and ``budget_findings`` load the rollups in a constant number of queries and apply them. The method,
its parameters and its blind spots are written up in docs/policy.md ("Drift and cost").
"""

import calendar
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from statistics import median

from django.db.models import Q, Sum

from governance.choices import Severity
from governance.models import Budget, DriftPolicy
from registry.models import Agent
from telemetry.models import LATENCY_BUCKET_FIELDS, DailyEvaluation, DailyUsage, latency_percentile

# --- Parameters -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DriftParameters:
    """The parameters in force (a DriftPolicy version, or the defaults of docs/policy.md)."""

    recent_days: int = 3
    baseline_days: int = 28
    slide_days: int = 7
    slide_gap_days: int = 21
    slide_baseline_days: int = 28
    mads: float = 3.0
    min_relative_move: float = 0.25
    min_invocations: int = 200
    budget_margin: Decimal = Decimal("0.100")
    version: int | None = None

    @property
    def history_days(self) -> int:
        """How many days back the check reads: the longer of the two baselines."""
        return max(
            self.recent_days + self.baseline_days,
            self.slide_days + self.slide_gap_days + self.slide_baseline_days,
        )


PARAMETER_FIELDS = (
    "recent_days",
    "baseline_days",
    "slide_days",
    "slide_gap_days",
    "slide_baseline_days",
    "mads",
    "min_relative_move",
    "min_invocations",
    "budget_margin",
)


def current_parameters() -> DriftParameters:
    policy = DriftPolicy.objects.current()
    if policy is None:
        return DriftParameters()
    return DriftParameters(**{f: getattr(policy, f) for f in PARAMETER_FIELDS}, version=policy.version)


# --- What is watched ------------------------------------------------------------------------------

# metric -> (label, unit, how to format). Evaluation scores are "evaluation:<name>".
METRICS = {
    "error_rate": ("error rate", "%"),
    "latency_mean": ("mean latency", "ms"),
    "latency_p95": ("p95 latency", "ms"),
    "cost_per_invocation": ("cost per invocation", "$"),
    "tokens_per_invocation": ("tokens per invocation", ""),
    "tool_calls_per_invocation": ("tool calls per invocation", ""),
    "escalation_rate": ("escalation rate", "%"),
}
# Rates move from zero: a move from 0 counts only once it reaches this many (1 percentage point).
RATE_FLOOR = 0.01


def metric_label(metric: str) -> str:
    if metric.startswith("evaluation:"):
        return f"evaluation score “{metric.split(':', 1)[1]}”"
    return METRICS[metric][0]


def format_value(metric: str, value: float | None) -> str:
    if value is None:
        return "—"
    unit = METRICS.get(metric, ("", ""))[1]
    if unit == "%":
        return f"{value * 100:.1f}%"
    if unit == "ms":
        return f"{value:,.0f} ms"
    if unit == "$":
        return f"{value:.4f}"
    return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"


@dataclass(slots=True)
class Day:
    """One day's sums of one agent in one environment (numerators and denominators, so windows pool exactly)."""

    invocations: int = 0
    errors: int = 0
    tool_calls: int = 0
    escalations: int = 0
    tokens: int = 0
    cost: float = 0.0
    latency_total: float = 0.0
    latency_samples: int = 0
    buckets: list = field(default_factory=lambda: [0] * len(LATENCY_BUCKET_FIELDS))
    # evaluation name -> [score sum, scored]
    scores: dict = field(default_factory=dict)

    def add(self, other: "Day") -> None:
        self.invocations += other.invocations
        self.errors += other.errors
        self.tool_calls += other.tool_calls
        self.escalations += other.escalations
        self.tokens += other.tokens
        self.cost += other.cost
        self.latency_total += other.latency_total
        self.latency_samples += other.latency_samples
        self.buckets = [a + b for a, b in zip(self.buckets, other.buckets, strict=True)]
        for name, (total, scored) in other.scores.items():
            mine = self.scores.setdefault(name, [0.0, 0])
            mine[0] += total
            mine[1] += scored

    def values(self) -> dict[str, float]:
        """Every watched metric this day (or window) has a value for."""
        out = {}
        n = self.invocations
        if n:
            out["error_rate"] = self.errors / n
            out["cost_per_invocation"] = self.cost / n
            out["tokens_per_invocation"] = self.tokens / n
            out["tool_calls_per_invocation"] = self.tool_calls / n
            out["escalation_rate"] = self.escalations / n
        if self.latency_samples:
            out["latency_mean"] = self.latency_total / self.latency_samples
        p95 = latency_percentile(self.buckets)
        if p95 is not None:
            out["latency_p95"] = p95
        for name, (total, scored) in self.scores.items():
            if scored:
                out[f"evaluation:{name}"] = total / scored
        return out


def pooled(days) -> Day:
    total = Day()
    for d in days:
        total.add(d)
    return total


# --- The method -----------------------------------------------------------------------------------


def mad(values: list[float], centre: float) -> float:
    """The median absolute deviation around ``centre``."""
    return median(abs(v - centre) for v in values)


@dataclass(frozen=True, slots=True)
class Verdict:
    metric: str
    baseline: float
    current: float
    low: float
    high: float
    mads_outside: float
    relative_move: float

    @property
    def direction(self) -> str:
        return "up" if self.current > self.baseline else "down"


# Fewer baseline days with traffic than this and the baseline is not trusted: not judged.
MIN_BASELINE_DAYS = 5


def judge(metric: str, baseline_days: list[float], current: float, params: DriftParameters) -> Verdict | None:
    """Whether ``current`` left the band of the baseline's daily values: more than ``mads`` MADs from the
    median AND a relative move of at least ``min_relative_move``. None when inside (or not judgeable).

    A perfectly steady baseline has a MAD of 0; the spread used is then 1% of the median (or the rate
    floor for rates at zero), so the relative-move test decides."""
    if len(baseline_days) < MIN_BASELINE_DAYS:
        return None
    centre, spread = _centre_and_spread(metric, baseline_days, params)
    is_rate = METRICS.get(metric, ("", ""))[1] == "%"
    distance = abs(current - centre)
    outside = distance / spread
    if centre:
        relative = distance / abs(centre)
    else:
        relative = float("inf") if distance >= (RATE_FLOOR if is_rate else 1e-9) else 0.0
    low, high = centre - params.mads * spread, centre + params.mads * spread
    if outside > params.mads and relative >= params.min_relative_move:
        return Verdict(metric, centre, current, low, high, outside - params.mads, relative)
    return None


def _centre_and_spread(metric: str, baseline_days: list[float], params: DriftParameters) -> tuple[float, float]:
    """The baseline's median and the spread the band is measured in: its MAD, at least 1% of the median
    (or, for a rate whose baseline is zero, the rate floor spread over the band)."""
    centre = median(baseline_days)
    is_rate = METRICS.get(metric, ("", ""))[1] == "%"
    floor = max(abs(centre) * 0.01, RATE_FLOOR / params.mads if is_rate and centre == 0 else 1e-9)
    return centre, max(mad(baseline_days, centre), floor)


def band(metric: str, baseline_days: list[float], params: DriftParameters) -> tuple[float, float, float] | None:
    """(low, median, high) of a baseline, for the charts: the same band :func:`judge` tests against."""
    if len(baseline_days) < MIN_BASELINE_DAYS:
        return None
    centre, spread = _centre_and_spread(metric, baseline_days, params)
    return centre - params.mads * spread, centre, centre + params.mads * spread


def judge_series(days: dict[date, Day], today: date, params: DriftParameters) -> list[tuple[str, Verdict]]:
    """Both tests over one agent-environment's days: [("jump" | "slide", verdict)], at most one per metric
    (the jump wins when both fire)."""
    found: dict[str, tuple[str, Verdict]] = {}
    tests = (
        ("jump", params.recent_days, params.recent_days, params.baseline_days),
        ("slide", params.slide_days, params.slide_days + params.slide_gap_days, params.slide_baseline_days),
    )
    for test, recent_len, gap_end, baseline_len in tests:
        recent = pooled(d for day, d in days.items() if 0 <= (today - day).days < recent_len)
        if recent.invocations < params.min_invocations:
            continue
        baseline = [d for day, d in days.items() if gap_end <= (today - day).days < gap_end + baseline_len]
        per_day = defaultdict(list)
        for d in baseline:
            for metric, value in d.values().items():
                per_day[metric].append(value)
        for metric, current in recent.values().items():
            if metric in found:
                continue
            verdict = judge(metric, per_day.get(metric, []), current, params)
            if verdict:
                found[metric] = (test, verdict)
    return list(found.values())


# --- Loading the rollups --------------------------------------------------------------------------

USAGE_COLUMNS = (
    "agent_id",
    "environment",
    "day",
    "invocations",
    "errors",
    "tool_calls",
    "escalations",
    "input_tokens",
    "output_tokens",
    "cost",
    "latency_ms_total",
    "latency_samples",
    *LATENCY_BUCKET_FIELDS,
)
# Evaluations carry no environment: they are judged on the agent's traffic in every environment.
ALL_ENVIRONMENTS = "all"


def load_days(since: date, until: date, agent_ids=None) -> dict[tuple[int, str], dict[date, Day]]:
    """(agent, environment) -> day -> Day, in two queries (usage, evaluations)."""
    series: dict[tuple[int, str], dict[date, Day]] = defaultdict(dict)
    usage = DailyUsage.objects.filter(day__gte=since, day__lte=until, invocations__gt=0)
    evaluations = DailyEvaluation.objects.filter(day__gte=since, day__lte=until, scored__gt=0)
    if agent_ids is not None:
        usage = usage.filter(agent_id__in=agent_ids)
        evaluations = evaluations.filter(agent_id__in=agent_ids)
    nb = len(LATENCY_BUCKET_FIELDS)
    for row in usage.order_by().values_list(*USAGE_COLUMNS).iterator(chunk_size=5000):
        agent_id, env, day, inv, err, tools, esc, tin, tout, cost, lat, samples = row[:12]
        day = date.fromisoformat(day) if isinstance(day, str) else day
        d = Day(inv, err, tools, esc, tin + tout, float(cost), lat, samples, list(row[12 : 12 + nb]))
        series[(agent_id, env)][day] = d
        whole = series[(agent_id, ALL_ENVIRONMENTS)].setdefault(day, Day())
        whole.invocations += inv
    for agent_id, day, name, total, scored in (
        evaluations.order_by().values_list("agent_id", "day", "name", "score_sum", "scored").iterator(chunk_size=5000)
    ):
        day = date.fromisoformat(day) if isinstance(day, str) else day
        series[(agent_id, ALL_ENVIRONMENTS)].setdefault(day, Day()).scores[name] = [total, scored]
    return series


# --- The drift finding ----------------------------------------------------------------------------

SEVERITY_ORDER = [Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL]
TIER_BASE = {"low": 0, "medium": 1, "high": 2, "critical": 3, "": 1}


def drift_severity(tier: str, largest_move: float) -> str:
    """From the tier (unassessed: medium), one step down for a move under 50%, one up from a doubling."""
    level = TIER_BASE.get(tier or "", 1)
    if largest_move >= 1.0:
        level += 1
    elif largest_move < 0.5:
        level -= 1
    return SEVERITY_ORDER[max(0, min(level, 3))]


def describe(entry: dict) -> str:
    metric = entry["metric"]
    where = "" if entry["environment"] == ALL_ENVIRONMENTS else f" in {entry['environment']}"
    return (
        f"{metric_label(metric)}{where} {entry['direction']} from {format_value(metric, entry['baseline'])} "
        f"to {format_value(metric, entry['current'])} ({entry['mads_outside']:.1f} MADs outside the band"
        f"{', slow slide' if entry['test'] == 'slide' else ''})"
    )


def _rounded(value: float) -> float:
    return float(f"{value:.6g}")


def drift_findings(now: datetime, params: DriftParameters | None = None) -> dict[int, dict]:
    """agent id -> {"severity", "summary", "details"} for every agent with at least one drifting metric.
    Three queries: the parameters, the rollups (usage and evaluations), the agents' names and tiers."""
    params = params or current_parameters()
    today = now.date()
    series = load_days(today - timedelta(days=params.history_days), today)
    drifting: dict[int, list[dict]] = defaultdict(list)
    for (agent_id, environment), days in series.items():
        for test, v in judge_series(days, today, params):
            drifting[agent_id].append(
                {
                    "metric": v.metric,
                    "environment": environment,
                    "test": test,
                    "baseline": _rounded(v.baseline),
                    "current": _rounded(v.current),
                    "direction": v.direction,
                    "band": [_rounded(v.low), _rounded(v.high)],
                    "mads_outside": round(v.mads_outside, 1),
                    "relative_move": round(v.relative_move, 3) if v.relative_move != float("inf") else None,
                }
            )
    if not drifting:
        return {}
    agents = dict(
        (pk, (name, tier))
        for pk, name, tier in Agent.objects.filter(pk__in=list(drifting)).values_list("pk", "name", "risk_tier")
    )
    out = {}
    for agent_id, entries in drifting.items():
        if agent_id not in agents:
            continue
        entries.sort(key=lambda e: (-(e["relative_move"] if e["relative_move"] is not None else 1e9), e["metric"]))
        name, tier = agents[agent_id]
        largest = max((e["relative_move"] if e["relative_move"] is not None else 10.0) for e in entries)
        more = f"; and {len(entries) - 1} more" if len(entries) > 1 else ""
        out[agent_id] = {
            "severity": drift_severity(tier, largest),
            "summary": f"{name} drifts: {describe(entries[0])}{more}.",
            "details": {"metrics": entries, "policy_version": params.version},
        }
    return out


# --- Budgets and forecast -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Forecast:
    """A month's cost so far and at month end, at today's run rate and at the run rate of the 7 full days
    before today."""

    month_to_date: Decimal
    today: Decimal
    last_7_days: Decimal
    at_today_rate: Decimal
    at_7_day_rate: Decimal

    @property
    def highest(self) -> Decimal:
        return max(self.at_today_rate, self.at_7_day_rate)


def forecast(month_to_date: Decimal, today_cost: Decimal, last_7: Decimal, now: datetime) -> Forecast:
    """Month-end cost: what was spent, plus the days left after today at each run rate. "Today's run rate"
    is today's cost so far scaled to the whole day (the elapsed share of the UTC day)."""
    today = now.date()
    days_in_month = calendar.monthrange(today.year, today.month)[1]
    days_left = Decimal(days_in_month - today.day)
    elapsed = Decimal(now.hour * 3600 + now.minute * 60 + now.second) / Decimal(86400)
    day_rate = today_cost / elapsed if elapsed > Decimal("0.04") else last_7 / 7
    remaining_today = day_rate * (1 - elapsed)
    q = Decimal("0.01")
    return Forecast(
        month_to_date=month_to_date.quantize(q),
        today=today_cost.quantize(q),
        last_7_days=last_7.quantize(q),
        at_today_rate=(month_to_date + remaining_today + day_rate * days_left).quantize(q),
        at_7_day_rate=(month_to_date + (last_7 / 7) * ((1 - elapsed) + days_left)).quantize(q),
    )


def _cost_sums(now: datetime):
    """The usage rows a forecast reads, and the three sums it needs, for grouping in SQL: month to date,
    today so far, and the 7 full days before today."""
    today = now.date()
    month_start = today.replace(day=1)
    week_start = today - timedelta(days=7)
    usage = DailyUsage.objects.filter(day__gte=min(month_start, week_start), day__lte=today).order_by()
    sums = {
        "mtd": Sum("cost", filter=Q(day__gte=month_start)),
        "today": Sum("cost", filter=Q(day=today)),
        "week": Sum("cost", filter=Q(day__gte=week_start, day__lt=today)),
    }
    return usage, sums


def _decimals(*values) -> tuple[Decimal, Decimal, Decimal]:
    return tuple(Decimal(v or 0) for v in values)


def cost_by_agent(now: datetime, agent_ids=None) -> dict[int, tuple[Decimal, Decimal, Decimal]]:
    """agent id -> (month to date, today so far, the 7 full days before today) cost, in one query
    returning a row per agent (summed by PostgreSQL, not per agent and day in Python)."""
    usage, sums = _cost_sums(now)
    if agent_ids is not None:
        usage = usage.filter(agent_id__in=agent_ids)
    rows = usage.values("agent_id").annotate(**sums).values_list("agent_id", "mtd", "today", "week")
    return {agent_id: _decimals(mtd, today, week) for agent_id, mtd, today, week in rows}


def cost_by_unit(now: datetime) -> dict[str, tuple[Decimal, Decimal, Decimal]]:
    """business unit path -> the same three costs of the agents filed directly under it, in one query."""
    usage, sums = _cost_sums(now)
    rows = (
        usage.values("agent__business_unit__path")
        .annotate(**sums)
        .values_list("agent__business_unit__path", "mtd", "today", "week")
    )
    return {path or "": _decimals(mtd, today, week) for path, mtd, today, week in rows}


def budget_status(now: datetime) -> list[dict]:
    """Every budget with its forecast: [{"budget", "agent"/"unit", "forecast"}], in at most three queries
    whatever the number of budgets and agents: only budgeted agents' costs are read, and a unit's
    budget sums its units' totals (a row per unit, not per agent)."""
    budgets = list(Budget.objects.select_related("agent", "business_unit"))
    if not budgets:
        return []
    agent_ids = [b.agent_id for b in budgets if b.agent_id]
    costs = cost_by_agent(now, agent_ids=agent_ids) if agent_ids else {}
    unit_costs = cost_by_unit(now) if len(agent_ids) < len(budgets) else {}
    out = []
    for b in budgets:
        if b.agent_id:
            mtd, today, week = costs.get(b.agent_id, (Decimal(0),) * 3)
        else:
            # A unit's budget covers its own agents and those of every unit below it (paths share the prefix).
            prefix = b.business_unit.path
            mtd = today = week = Decimal(0)
            for path, (m, t, w) in unit_costs.items():
                if path.startswith(prefix):
                    mtd += m
                    today += t
                    week += w
        out.append({"budget": b, "forecast": forecast(mtd, today, week, now)})
    return out


def budget_findings(now: datetime, params: DriftParameters | None = None) -> dict[tuple, dict]:
    """("agent", id) or ("unit", id) -> finding fields, for budgets whose forecast passes them by the margin.
    Severity: medium while only forecast; high once the actual month-to-date cost passes the budget."""
    params = params or current_parameters()
    out = {}
    for entry in budget_status(now):
        b, f = entry["budget"], entry["forecast"]
        limit = b.monthly_amount * (1 + Decimal(params.budget_margin))
        if f.highest <= limit and f.month_to_date <= b.monthly_amount:
            continue
        passed = f.month_to_date > b.monthly_amount
        what = b.agent.name if b.agent_id else f"business unit {b.business_unit.name}"
        summary = (
            f"{what} has spent {f.month_to_date} this month, over its budget of {b.monthly_amount}."
            if passed
            else f"{what} is forecast to spend {f.highest} this month against a budget of {b.monthly_amount}."
        )
        out[("agent", b.agent_id) if b.agent_id else ("unit", b.business_unit_id)] = {
            "severity": Severity.HIGH if passed else Severity.MEDIUM,
            "summary": summary,
            "details": {
                "budget": str(b.monthly_amount),
                "month_to_date": str(f.month_to_date),
                "forecast_today_rate": str(f.at_today_rate),
                "forecast_7_day_rate": str(f.at_7_day_rate),
                "margin": str(params.budget_margin),
                "actual_passed": passed,
                "business_unit": b.business_unit.name if b.business_unit_id else None,
            },
            "unit": b.business_unit if b.business_unit_id else None,
        }
    return out
