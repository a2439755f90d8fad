"""Portfolio figures: one set-based function per figure, returning dataclasses.

These functions are the single source of truth. The dashboard, the API, the
CSV/Excel exports and the board pack all call them, so a number reads the
same everywhere. Each takes a :class:`Scope` (which agents the reader may see)
and a :class:`PortfolioFilter` (unit with its sub-units, patterns, risk tiers,
period), and runs a fixed number of grouped queries whatever the portfolio's
size; nothing here loops over agents in Python.

Headline figures describe the portfolio now; the period chooses the window
of the trend, cost and usage charts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlencode

from django.db.models import Case, Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce
from django.urls import reverse

from portfolio import sources
from portfolio.choices import DIMENSIONS
from portfolio.models import MaturityAssessment, PatternMinimum, PortfolioSnapshot, PortfolioSnapshotLine
from registry.choices import RISK_TIER_ORDER, Lifecycle, Pattern, RiskTier
from registry.models import Agent, AgentVersionTool, BusinessUnit

NOT_ASSESSED = ""
TIERS_WITH_UNASSESSED = (*RiskTier.values, NOT_ASSESSED)
# The order of the funnel: from idea to production. Suspended and retired sit beside it.
FUNNEL = (
    Lifecycle.PROPOSED,
    Lifecycle.IN_REVIEW,
    Lifecycle.APPROVED,
    Lifecycle.PILOT,
    Lifecycle.PRODUCTION,
)
OFF_FUNNEL = (Lifecycle.SUSPENDED, Lifecycle.RETIRED)
PERIODS = {"4w": 4, "12w": 12, "26w": 26, "52w": 52}
DEFAULT_PERIOD = "12w"
TOP_TOOLS = 12
LAGGING_OUTCOMES = 10


# --- Scope and filters ------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """Which agents a reader's figures are computed from.

    ``full`` readers (board, leadership, platform administrators: the
    ``portfolio.view_portfolio`` permission) see the whole portfolio, its
    history and organisation-wide figures such as shadow agents. Everyone else
    sees a portfolio of the agents they own or help maintain, without
    organisation-wide history.
    """

    agents: QuerySet
    full: bool


def scope_for(user) -> Scope:
    base = Agent.objects.for_user(user, "view")
    if user.has_perm("portfolio.view_portfolio"):
        return Scope(agents=base, full=True)
    mine = base.filter(Q(owner=user) | Q(pk__in=Agent.objects.filter(delegations__user=user).values("pk")))
    return Scope(agents=mine, full=False)


@dataclass(frozen=True)
class PortfolioFilter:
    business_unit: BusinessUnit | None = None
    patterns: tuple[str, ...] = ()
    risk_tiers: tuple[str, ...] = ()
    period: str = DEFAULT_PERIOD
    end: date | None = None

    @property
    def weeks(self) -> int:
        return PERIODS.get(self.period, PERIODS[DEFAULT_PERIOD])

    def window(self, today: date) -> tuple[date, date]:
        end = self.end or today
        return end - timedelta(weeks=self.weeks) + timedelta(days=1), end

    def apply(self, agents: QuerySet) -> QuerySet:
        if self.business_unit is not None:
            agents = agents.filter(business_unit__path__startswith=self.business_unit.path)
        if self.patterns:
            agents = agents.filter(pattern__in=self.patterns)
        if self.risk_tiers:
            agents = agents.filter(risk_tier__in=self.risk_tiers)
        return agents

    def catalog_params(self) -> dict:
        """The catalog filter parameters equivalent to this filter."""
        params: dict = {}
        if self.business_unit is not None:
            params["business_unit"] = self.business_unit.slug
        if self.patterns:
            params["pattern"] = list(self.patterns)
        tiers = [t for t in self.risk_tiers if t]
        if tiers:
            params["risk_tier"] = tiers
        return params

    def query_params(self) -> dict:
        """This filter as the dashboard's own query parameters (for exports and the board pack)."""
        params = self.catalog_params()
        params["period"] = self.period
        return params

    def describe(self) -> str:
        parts = [self.business_unit.name if self.business_unit else "Whole organisation"]
        if self.patterns:
            parts.append(", ".join(Pattern(p).label for p in self.patterns))
        if self.risk_tiers:
            parts.append(", ".join(RiskTier(t).label if t else "not assessed" for t in self.risk_tiers) + " risk")
        parts.append(f"last {self.weeks} weeks")
        return " · ".join(parts)


def query_string(params: dict) -> str:
    return urlencode([(k, v) for k, v in params.items() if v not in (None, "", [])], doseq=True)


def _url(base: str, params: dict) -> str:
    query = query_string(params)
    return f"{base}?{query}" if query else base


def catalog_url(flt: PortfolioFilter, **overrides) -> str:
    """The catalog filtered to the agents behind a figure: the dashboard filter plus ``overrides``."""
    params = flt.catalog_params()
    for key, value in overrides.items():
        if key == "risk_tier" and value == NOT_ASSESSED:
            # The catalog cannot filter on "not assessed"; show the wider set rather than a wrong one.
            params.pop("risk_tier", None)
            continue
        params[key] = value
    return _url(reverse("registry:catalog"), params)


def agents_url(flt: PortfolioFilter, **overrides) -> str:
    """The portfolio's own agent list, for the filters the catalog lacks (tool, outcome, maturity trap)."""
    params = flt.catalog_params()
    params.update(overrides)
    return _url(reverse("portfolio:agents"), params)


def findings_url(flt: PortfolioFilter, **params) -> str | None:
    base = {}
    if flt.business_unit is not None:
        base["business_unit"] = flt.business_unit.slug
    base.update(params)
    return sources.findings_url(**base)


# --- Headline figures -------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    value: int | float | None
    url: str | None = None
    note: str = ""


@dataclass(frozen=True)
class Headline:
    total_agents: Figure
    by_lifecycle: list[Figure]
    production_agents: int
    compliant_production_agents: int | None
    compliant_percent: Figure
    findings_by_severity: list[Figure]
    open_findings: Figure
    open_shadow_agents: Figure
    reviews_overdue: Figure
    orphaned_agents: Figure

    def figures(self) -> list[Figure]:
        """Every headline figure in one flat list (exports, API)."""
        return [
            self.total_agents,
            *self.by_lifecycle,
            self.compliant_percent,
            self.open_findings,
            *self.findings_by_severity,
            self.open_shadow_agents,
            self.reviews_overdue,
            self.orphaned_agents,
        ]


def headline(scope: Scope, flt: PortfolioFilter) -> Headline:
    agents = flt.apply(scope.agents)
    lifecycle_counts = {f"lc_{state}": Count("pk", filter=Q(lifecycle=state)) for state in Lifecycle.values}
    counts = agents.aggregate(
        total=Count("pk"),
        # An orphan in retirement needs no new owner.
        orphaned=Count("pk", filter=Q(owner__is_active=False) & ~Q(lifecycle=Lifecycle.RETIRED)),
        **lifecycle_counts,
    )
    by_lifecycle = [
        Figure(
            key=f"lifecycle.{state}",
            label=label,
            value=counts[f"lc_{state}"],
            url=catalog_url(flt, lifecycle=state),
        )
        for state, label in Lifecycle.choices
    ]
    production = counts[f"lc_{Lifecycle.PRODUCTION}"]

    production_agents = agents.filter(lifecycle=Lifecycle.PRODUCTION)
    compliant_qs = sources.compliant_agents(production_agents)
    compliant = compliant_qs.count() if compliant_qs is not None else None
    percent = None if compliant is None or production == 0 else round(100 * compliant / production, 1)
    compliant_note = (
        "compliance is not tracked yet" if compliant is None else f"{compliant} of {production} production agents"
    )

    findings = sources.open_agent_findings(agents)
    severities: list[Figure] = []
    total_findings = None
    if findings is not None:
        field_name = sources.severity_field()
        if field_name:
            rows = dict(findings.values_list(field_name).annotate(n=Count("pk")).order_by())
        else:
            rows = {}
        total_findings = sum(rows.values()) if field_name else findings.count()
        severities = [
            Figure(
                key=f"findings.{sev}",
                label=f"{sev.title()} findings",
                value=rows.get(sev, 0),
                url=findings_url(flt, severity=sev, state="open"),
            )
            for sev in sources.SEVERITIES
        ]

    shadow = None
    if scope.full:
        shadow_qs = sources.open_shadow_findings()
        shadow = shadow_qs.count() if shadow_qs is not None else None

    overdue_qs = sources.review_overdue_agents(agents)
    overdue = overdue_qs.count() if overdue_qs is not None else None

    return Headline(
        total_agents=Figure("agents", "Agents", counts["total"], catalog_url(flt)),
        by_lifecycle=by_lifecycle,
        production_agents=production,
        compliant_production_agents=compliant,
        compliant_percent=Figure(
            "compliant_percent",
            "Production agents fully compliant (%)",
            percent,
            catalog_url(flt, lifecycle=Lifecycle.PRODUCTION),
            compliant_note,
        ),
        findings_by_severity=severities,
        open_findings=Figure(
            "open_findings",
            "Open findings",
            total_findings,
            findings_url(flt, state="open"),
            "" if findings is not None else "findings are not tracked yet",
        ),
        open_shadow_agents=Figure(
            "open_shadow_agents",
            "Open shadow agents",
            shadow,
            sources.findings_url(kind="shadow_agent", state="open"),
            "organisation-wide" if scope.full else "shown to leadership only",
        ),
        reviews_overdue=Figure(
            "reviews_overdue",
            "Reviews overdue",
            overdue,
            findings_url(flt, kind="review_overdue", state="open"),
            "" if overdue is not None else "reviews are not tracked yet",
        ),
        orphaned_agents=Figure(
            "orphaned_agents",
            "Orphaned agents",
            counts["orphaned"],
            catalog_url(flt, orphaned="true"),
            "owner's account is inactive",
        ),
    )


# --- Composition charts -------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One segment of a chart: a count and the catalog list behind it."""

    label: str
    value: int
    url: str
    key: str = ""


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    cells: list[Cell]
    url: str = ""

    @property
    def total(self) -> int:
        return sum(c.value for c in self.cells)


def pattern_by_tier(scope: Scope, flt: PortfolioFilter) -> list[Row]:
    """Agents per pattern, split by risk tier (including not yet assessed)."""
    agents = flt.apply(scope.agents)
    counts = {
        (r["pattern"], r["risk_tier"]): r["n"]
        for r in agents.values("pattern", "risk_tier").annotate(n=Count("pk")).order_by()
    }
    tiers = sorted(TIERS_WITH_UNASSESSED, key=lambda t: RISK_TIER_ORDER.get(t, 9))
    rows = []
    for pattern, label in Pattern.choices:
        cells = [
            Cell(
                label=RiskTier(t).label if t else "Not assessed",
                value=counts.get((pattern, t), 0),
                url=catalog_url(flt, pattern=pattern, risk_tier=t),
                key=t or "unassessed",
            )
            for t in tiers
        ]
        rows.append(Row(pattern, label, cells, catalog_url(flt, pattern=pattern)))
    return rows


def lifecycle_funnel(scope: Scope, flt: PortfolioFilter) -> list[Cell]:
    """Agents per lifecycle state, in funnel order, then suspended and retired."""
    agents = flt.apply(scope.agents)
    counts = dict(agents.values_list("lifecycle").annotate(n=Count("pk")).order_by())
    return [
        Cell(Lifecycle(state).label, counts.get(state, 0), catalog_url(flt, lifecycle=state), key=state)
        for state in (*FUNNEL, *OFF_FUNNEL)
    ]


@dataclass(frozen=True)
class Bar:
    key: str
    label: str
    values: dict[str, float]
    url: str


def adoption_by_unit(scope: Scope, flt: PortfolioFilter) -> list[Bar]:
    """Eligible against active users of the running agents (pilot, production), per unit.

    The units are the children of the filtered unit (or the top-level units),
    each with everything below it; the filtered unit's own agents form a row of
    their own.
    """
    agents = flt.apply(scope.agents).filter(lifecycle__in=(Lifecycle.PILOT, Lifecycle.PRODUCTION))
    rows = (
        agents.filter(eligible_users__isnull=False)
        .values("business_unit__path")
        .annotate(eligible=Sum("eligible_users"), active=Sum(Coalesce("active_users", 0)))
        .order_by()
    )
    groups = _group_units(flt)
    totals: dict[str, dict] = {}
    for row in rows:
        group = _group_for(row["business_unit__path"], groups)
        if group is None:
            continue
        slot = totals.setdefault(group.path, {"eligible": 0, "active": 0})
        slot["eligible"] += row["eligible"] or 0
        slot["active"] += row["active"] or 0
    bars = []
    for unit in groups:
        if unit.path not in totals:
            continue
        t = totals[unit.path]
        bars.append(
            Bar(
                unit.slug,
                unit.name,
                {"eligible": t["eligible"], "active": t["active"]},
                catalog_url(flt, business_unit=unit.slug, lifecycle=[Lifecycle.PILOT, Lifecycle.PRODUCTION]),
            )
        )
    return bars


def _group_units(flt: PortfolioFilter) -> list[BusinessUnit]:
    """The units a per-unit chart groups by: the filtered unit's children (and itself), else the roots."""
    if flt.business_unit is not None:
        unit = flt.business_unit
        return [unit, *BusinessUnit.objects.filter(parent=unit).order_by("path")]
    roots = list(BusinessUnit.objects.filter(parent__isnull=True).order_by("path"))
    if len(roots) == 1:
        # One enterprise root: its divisions say more than a single bar for the whole group.
        return [roots[0], *BusinessUnit.objects.filter(parent=roots[0]).order_by("path")]
    return roots


def _group_for(path: str, groups: list[BusinessUnit]) -> BusinessUnit | None:
    """The group a unit path rolls up into: the longest group path that is a prefix, children before the parent."""
    best = None
    for unit in groups:
        if path.startswith(unit.path) and (best is None or len(unit.path) > len(best.path)):
            best = unit
    return best


# --- Outcomes ------------------------------------------------------------------------

OUTCOME_BUCKETS = (
    ("met", "Target met"),
    ("on_track", "Halfway or more"),
    ("behind", "Less than halfway"),
    ("unmeasured", "No metric or no current value"),
)


def _progress_case():
    """Which outcome bucket an agent's success metric puts it in, computed in the database.

    Progress is (current - baseline) / (target - baseline), baseline 0 when
    unset; a target below the baseline means lower is better. Written without
    division so a target equal to its baseline cannot divide by zero.
    """
    baseline = Coalesce("metric_baseline", Value(Decimal(0)))
    delta = F("metric_current") - baseline
    span = F("metric_target") - baseline
    higher = Q(metric_target__gte=Coalesce("metric_baseline", Value(Decimal(0))))
    return Case(
        When(Q(metric_target__isnull=True) | Q(metric_current__isnull=True), then=Value("unmeasured")),
        When(higher & Q(metric_current__gte=F("metric_target")), then=Value("met")),
        When(~higher & Q(metric_current__lte=F("metric_target")), then=Value("met")),
        When(higher, then=Case(When(Q(_delta2__gte=F("_span")), then=Value("on_track")), default=Value("behind"))),
        default=Case(When(Q(_delta2__lte=F("_span")), then=Value("on_track")), default=Value("behind")),
    ), {"_delta2": delta * 2, "_span": span}


def with_outcome(agents: QuerySet) -> QuerySet:
    case, helpers = _progress_case()
    return agents.annotate(**helpers).annotate(outcome=case)


@dataclass(frozen=True)
class Lagging:
    key: str
    name: str
    metric: str
    baseline: Decimal | None
    target: Decimal
    current: Decimal
    progress: float
    url: str


@dataclass(frozen=True)
class Outcomes:
    buckets: list[Cell]
    lagging: list[Lagging] = field(default_factory=list)


def outcome_attainment(scope: Scope, flt: PortfolioFilter) -> Outcomes:
    """Running agents by how far their success metric has come towards its target."""
    agents = flt.apply(scope.agents).filter(lifecycle__in=(Lifecycle.PILOT, Lifecycle.PRODUCTION))
    annotated = with_outcome(agents)
    counts = dict(annotated.values_list("outcome").annotate(n=Count("pk")).order_by())
    buckets = [Cell(label, counts.get(key, 0), agents_url(flt, outcome=key), key=key) for key, label in OUTCOME_BUCKETS]
    lagging_rows = annotated.filter(outcome="behind").values(
        "key", "name", "metric_name", "metric_baseline", "metric_target", "metric_current"
    )[: LAGGING_OUTCOMES * 5]
    lagging = []
    for r in lagging_rows:
        base = r["metric_baseline"] or Decimal(0)
        span = r["metric_target"] - base
        progress = float((r["metric_current"] - base) / span) if span else 0.0
        lagging.append(
            Lagging(
                r["key"],
                r["name"],
                r["metric_name"],
                r["metric_baseline"],
                r["metric_target"],
                r["metric_current"],
                round(100 * progress, 1),
                reverse("registry:agent-detail", args=[r["key"]]),
            )
        )
    lagging.sort(key=lambda item: (item.progress, item.key))
    return Outcomes(buckets, lagging[:LAGGING_OUTCOMES])


# --- Reuse ---------------------------------------------------------------------------


def shared_tools(scope: Scope, flt: PortfolioFilter) -> list[Cell]:
    """Catalog tools granted to two or more live (not retired) agents, most shared first."""
    agents = flt.apply(scope.agents).exclude(lifecycle=Lifecycle.RETIRED)
    rows = (
        AgentVersionTool.objects.filter(version__agent__in=agents.values("pk"))
        .values("tool__key", "tool__name")
        .annotate(n=Count("version__agent", distinct=True))
        .filter(n__gte=2)
        .order_by("-n", "tool__key")[:TOP_TOOLS]
    )
    return [Cell(r["tool__name"], r["n"], agents_url(flt, tool=r["tool__key"]), key=r["tool__key"]) for r in rows]


# --- Cost and usage ------------------------------------------------------------------


@dataclass(frozen=True)
class UsageMonth:
    month: date
    cost: Decimal
    invocations: int
    tokens: int


def usage_by_month(scope: Scope, flt: PortfolioFilter, today: date) -> list[UsageMonth] | None:
    """Cost and usage per calendar month over the period, from telemetry's daily rollups (None until they exist)."""
    start, end = flt.window(today)
    rows = sources.usage_by_month(flt.apply(scope.agents), start, end)
    if rows is None:
        return None
    return [
        UsageMonth(
            r["month"].date() if isinstance(r["month"], datetime) else r["month"],
            Decimal(r["cost"]),
            int(r["invocations"]),
            int(r["tokens"]),
        )
        for r in rows
    ]


# --- Trends from the daily snapshots -------------------------------------------------


@dataclass(frozen=True)
class TrendPoint:
    day: date
    agents: int
    production_agents: int
    open_findings: int
    open_findings_high: int
    open_shadow_agents: int
    reviews_overdue: int
    maturity_traps: int


def trend(scope: Scope, flt: PortfolioFilter, today: date) -> list[TrendPoint] | None:
    """One point per day with a snapshot in the period, summed over the filter's lines.

    Only readers with the whole portfolio get history: the snapshots are
    organisation-wide and cannot be narrowed to someone's own agents.
    """
    if not scope.full:
        return None
    start, end = flt.window(today)
    lines = PortfolioSnapshotLine.objects.filter(snapshot__taken_on__gte=start, snapshot__taken_on__lte=end)
    if flt.business_unit is not None:
        lines = lines.filter(business_unit__path__startswith=flt.business_unit.path)
    if flt.patterns:
        lines = lines.filter(pattern__in=flt.patterns)
    if flt.risk_tiers:
        lines = lines.filter(risk_tier__in=flt.risk_tiers)
    sums = {
        row["snapshot_id"]: row
        for row in lines.values("snapshot_id")
        .annotate(
            agents=Sum("agents"),
            production_agents=Sum("production_agents"),
            open_findings=Sum("open_findings"),
            open_findings_high=Sum("open_findings_high"),
            reviews_overdue=Sum("reviews_overdue"),
            maturity_traps=Sum("maturity_traps"),
        )
        .order_by()
    }
    points = []
    for snap in PortfolioSnapshot.objects.between(start, end).order_by("taken_on"):
        row = sums.get(snap.pk, {})
        points.append(
            TrendPoint(
                day=snap.taken_on,
                agents=row.get("agents") or 0,
                production_agents=row.get("production_agents") or 0,
                open_findings=row.get("open_findings") or 0,
                open_findings_high=row.get("open_findings_high") or 0,
                open_shadow_agents=snap.open_shadow_agents,
                reviews_overdue=row.get("reviews_overdue") or 0,
                maturity_traps=row.get("maturity_traps") or 0,
            )
        )
    return points


def weekly(points: list[TrendPoint]) -> list[TrendPoint]:
    """One point per 7-day step counting back from the latest, so a 12-week window reads as 12 steps.

    Each step shows the last snapshot within its seven days; a week without
    any snapshot is left out rather than invented.
    """
    if not points:
        return []
    ordered = sorted(points, key=lambda p: p.day)
    end = ordered[-1].day
    steps: dict[int, TrendPoint] = {}
    for point in ordered:
        steps[(end - point.day).days // 7] = point
    return [steps[k] for k in sorted(steps, reverse=True)]


# --- Maturity ------------------------------------------------------------------------


@dataclass(frozen=True)
class Shortfall:
    dimension: str
    has: int
    needs: int

    @property
    def gap(self) -> int:
        return self.needs - self.has


@dataclass(frozen=True)
class Readiness:
    """Whether a unit's maturity carries one pattern, and if not, by how much it falls short."""

    pattern: str
    ready: bool | None  # None: the unit (and its ancestors) were never assessed
    shortfalls: tuple[Shortfall, ...] = ()
    agents: int = 0
    url: str = ""

    @property
    def gap(self) -> int:
        """Total levels missing across the short dimensions."""
        return sum(s.gap for s in self.shortfalls)

    @property
    def trapped(self) -> bool:
        """Agents of this pattern exist although the unit is not ready for it (the maturity trap)."""
        return self.ready is False and self.agents > 0


@dataclass(frozen=True)
class UnitMaturity:
    unit: BusinessUnit
    assessment: MaturityAssessment | None
    inherited_from: BusinessUnit | None = None
    readiness: tuple[Readiness, ...] = ()

    @property
    def scores(self) -> dict[str, int] | None:
        return self.assessment.scores() if self.assessment else None

    @property
    def overall(self) -> int | None:
        return self.assessment.overall if self.assessment else None

    @property
    def ceiling(self) -> list[str]:
        return self.assessment.ceiling_dimensions if self.assessment else []

    @property
    def ready_patterns(self) -> list[str]:
        return [r.pattern for r in self.readiness if r.ready]


def effective_assessments(units: list[BusinessUnit], day: date | None = None) -> dict[int, tuple]:
    """unit id -> (assessment or None, the ancestor it was inherited from or None).

    A unit without an assessment of its own inherits its closest assessed
    ancestor's: a department sits inside its division's practices until
    someone assesses it separately. Two queries whatever the tree's size.
    """
    all_units = {u.path: u for u in BusinessUnit.objects.all()}
    latest = {a.business_unit_id: a for a in MaturityAssessment.objects.latest_per_unit(day)}
    result = {}
    for unit in units:
        own = latest.get(unit.pk)
        if own is not None:
            result[unit.pk] = (own, None)
            continue
        found = (None, None)
        parts = unit.path.strip("/").split("/")
        for depth in range(len(parts) - 1, 0, -1):
            ancestor = all_units.get("/" + "/".join(parts[:depth]) + "/")
            if ancestor is not None and ancestor.pk in latest:
                found = (latest[ancestor.pk], ancestor)
                break
        result[unit.pk] = found
    return result


def readiness_for(assessment: MaturityAssessment | None, minimum: PatternMinimum) -> Readiness:
    if assessment is None:
        return Readiness(minimum.pattern, None)
    shortfalls = tuple(Shortfall(d, has, needs) for d, has, needs in assessment.shortfalls(minimum))
    return Readiness(minimum.pattern, not shortfalls, shortfalls)


def maturity(scope: Scope, flt: PortfolioFilter, day: date | None = None) -> list[UnitMaturity]:
    """Every unit under the filter (or all units) with its effective assessment and pattern readiness.

    Agent counts per (unit, pattern) come from the reader's scope, so the
    readiness grid shows where agents are trapped.
    """
    units_qs = BusinessUnit.objects.all()
    if flt.business_unit is not None:
        units_qs = units_qs.filter(path__startswith=flt.business_unit.path)
    units = list(units_qs.order_by("path"))
    minimums = list(PatternMinimum.objects.all())
    if flt.patterns:
        minimums = [m for m in minimums if m.pattern in flt.patterns]
    effective = effective_assessments(units, day)
    agents = flt.apply(scope.agents).exclude(lifecycle=Lifecycle.RETIRED)
    counts = {
        (r["business_unit_id"], r["pattern"]): r["n"]
        for r in agents.values("business_unit_id", "pattern").annotate(n=Count("pk")).order_by()
    }
    result = []
    for unit in units:
        assessment, inherited_from = effective[unit.pk]
        readiness = tuple(
            Readiness(
                r.pattern,
                r.ready,
                r.shortfalls,
                counts.get((unit.pk, r.pattern), 0),
                catalog_url(flt, business_unit=unit.slug, pattern=r.pattern),
            )
            for r in (readiness_for(assessment, m) for m in minimums)
        )
        result.append(UnitMaturity(unit, assessment, inherited_from, readiness))
    return result


# --- Lists for the board pack -------------------------------------------------------


@dataclass(frozen=True)
class RiskItem:
    agent_key: str
    agent_name: str
    business_unit: str
    risk_tier: str
    lifecycle: str
    open_findings: int
    owner: str
    url: str


def top_risks(scope: Scope, flt: PortfolioFilter, limit: int = 10) -> list[RiskItem]:
    """The riskiest live agents: highest tier first, then most open findings, then name."""
    agents = flt.apply(scope.agents).exclude(lifecycle=Lifecycle.RETIRED).exclude(risk_tier="")
    findings = sources.open_findings()
    tier_rank = Case(
        *[When(risk_tier=t, then=Value(RISK_TIER_ORDER[t])) for t in RiskTier.values],
        default=Value(-1),
        output_field=IntegerField(),
    )
    agents = agents.annotate(tier_rank=tier_rank)
    if findings is not None:
        per_agent = findings.filter(agent=OuterRef("pk")).order_by().values("agent").annotate(c=Count("pk")).values("c")
        agents = agents.annotate(n_findings=Coalesce(Subquery(per_agent, output_field=IntegerField()), 0))
    else:
        agents = agents.annotate(n_findings=Value(0, output_field=IntegerField()))
    rows = agents.order_by("-tier_rank", "-n_findings", "name").values(
        "key", "name", "business_unit__name", "risk_tier", "lifecycle", "n_findings", "owner__username"
    )[:limit]
    return [
        RiskItem(
            r["key"],
            r["name"],
            r["business_unit__name"],
            r["risk_tier"],
            r["lifecycle"],
            r["n_findings"],
            r["owner__username"],
            reverse("registry:agent-detail", args=[r["key"]]),
        )
        for r in rows
    ]


def overdue_reviews(scope: Scope, flt: PortfolioFilter, limit: int = 20) -> list[RiskItem] | None:
    qs = sources.review_overdue_agents(flt.apply(scope.agents))
    if qs is None:
        return None
    rows = qs.order_by("name").values("key", "name", "business_unit__name", "risk_tier", "lifecycle", "owner__username")
    return [
        RiskItem(
            r["key"],
            r["name"],
            r["business_unit__name"],
            r["risk_tier"],
            r["lifecycle"],
            0,
            r["owner__username"],
            reverse("registry:agent-detail", args=[r["key"]]),
        )
        for r in rows[:limit]
    ]


# --- Everything the dashboard shows --------------------------------------------------


@dataclass(frozen=True)
class Dashboard:
    filter: PortfolioFilter
    scope_full: bool
    generated_at: datetime
    headline: Headline
    pattern_by_tier: list[Row]
    funnel: list[Cell]
    trend: list[TrendPoint] | None
    maturity: list[UnitMaturity]
    adoption: list[Bar]
    usage: list[UsageMonth] | None
    outcomes: Outcomes
    tools: list[Cell]


def dashboard(scope: Scope, flt: PortfolioFilter, now: datetime) -> Dashboard:
    today = now.date()
    return Dashboard(
        filter=flt,
        scope_full=scope.full,
        generated_at=now,
        headline=headline(scope, flt),
        pattern_by_tier=pattern_by_tier(scope, flt),
        funnel=lifecycle_funnel(scope, flt),
        trend=trend(scope, flt, today),
        maturity=maturity(scope, flt, today),
        adoption=adoption_by_unit(scope, flt),
        usage=usage_by_month(scope, flt, today),
        outcomes=outcome_attainment(scope, flt),
        tools=shared_tools(scope, flt),
    )


# --- Snapshot lines (written by services.take_portfolio_snapshot) -------------------


def snapshot_lines(now: datetime) -> list[dict]:
    """The whole portfolio grouped by (unit, pattern, tier) with every counted figure: one query per source."""
    from portfolio import services  # local: services imports this module

    agents = Agent.objects.all()
    base = {
        (r["business_unit_id"], r["pattern"], r["risk_tier"]): {
            "agents": r["agents"],
            "production_agents": r["production"],
            "orphaned_agents": r["orphaned"],
        }
        for r in agents.exclude(lifecycle=Lifecycle.RETIRED)
        .values("business_unit_id", "pattern", "risk_tier")
        .annotate(
            agents=Count("pk"),
            production=Count("pk", filter=Q(lifecycle=Lifecycle.PRODUCTION)),
            orphaned=Count("pk", filter=Q(owner__is_active=False)),
        )
        .order_by()
    }
    findings = sources.open_findings()
    if findings is not None:
        sev = sources.severity_field()
        high = Q(**{f"{sev}__in": sources.HIGH_SEVERITIES}) if sev else Q(pk__in=[])
        for r in (
            findings.filter(agent__isnull=False)
            .values("agent__business_unit_id", "agent__pattern", "agent__risk_tier")
            .annotate(
                n=Count("pk"),
                high=Count("pk", filter=high),
                overdue=Count("pk", filter=Q(kind="review_overdue")),
            )
            .order_by()
        ):
            slot = base.setdefault(
                (r["agent__business_unit_id"], r["agent__pattern"], r["agent__risk_tier"]),
                {"agents": 0, "production_agents": 0, "orphaned_agents": 0},
            )
            slot.update(open_findings=r["n"], open_findings_high=r["high"], reviews_overdue=r["overdue"])
    traps = services.find_maturity_traps(now)
    trapped_ids = {t.agent_id for t in traps}
    if trapped_ids:
        for r in (
            Agent.objects.filter(pk__in=trapped_ids)
            .values("business_unit_id", "pattern", "risk_tier")
            .annotate(n=Count("pk"))
            .order_by()
        ):
            slot = base.setdefault(
                (r["business_unit_id"], r["pattern"], r["risk_tier"]),
                {"agents": 0, "production_agents": 0, "orphaned_agents": 0},
            )
            slot["maturity_traps"] = r["n"]
    return [
        {"business_unit_id": unit_id, "pattern": pattern, "risk_tier": tier, **values}
        for (unit_id, pattern, tier), values in sorted(base.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2]))
    ]


def dimension_label(name: str) -> str:
    return dict(zip(DIMENSIONS, ("Strategy", "Process", "Governance", "Technology", "Adoption"), strict=True))[name]
