"""Portfolio figures: one set-based function per figure, returning dataclasses.

These functions are the single source of truth. The dashboard, the API, the
CSV/Excel exports and the board pack all call them, so a number reads the
same everywhere. Each takes a :class:`Scope` (which agents the reader may see)
and a :class:`PortfolioFilter` (unit with its sub-units, patterns, risk tiers,
period), and runs a fixed number of grouped queries whatever the portfolio's
size; nothing here loops over agents in Python.

The figures share their reads through a :class:`_Reads` made for one call:
every agent count that can be grouped by (unit, pattern) comes from one scan
of the agents, and the units, the policy and the list URLs are read once.
:func:`dashboard` makes one for all its sections, so the whole dashboard is
nine queries; a figure asked for on its own makes its own. The reader's
agents stay a queryset (permissions and filter composed in one place); the
aggregates over them are SQL in :mod:`portfolio.aggregates`, which says why.

Headline figures describe the portfolio now; the period chooses the window
of the trend, cost and usage charts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cached_property, lru_cache
from urllib.parse import urlencode

from django.db.models import (
    Case,
    Count,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.urls import reverse

from portfolio import aggregates, sources
from portfolio.choices import DIMENSIONS
from portfolio.models import MaturityAssessment, PatternMinimum
from registry import filtersets as registry_filtersets
from registry.choices import RISK_TIER_ORDER, Lifecycle, Pattern, RiskTier
from registry.models import Agent, BusinessUnit
from registry.querysets import ORPHANED

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
RUNNING = aggregates.RUNNING
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
    """``params`` as a query string, as ``urlencode(..., doseq=True)`` writes it, leaving out empty values."""
    return "&".join(
        _query_pair(key, str(v))
        for key, value in params.items()
        if value not in (None, "", [])
        for v in (value if isinstance(value, (list, tuple)) else (value,))
    )


@lru_cache(maxsize=4096)
def _query_pair(key: str, value: str) -> str:
    # A dashboard writes some 200 links from a few dozen distinct keys and values (units, patterns, tiers,
    # states); encoding each pair once per process instead of once per link saves a few milliseconds a page.
    return urlencode([(key, value)])


def _url(base: str, params: dict) -> str:
    query = query_string(params)
    return f"{base}?{query}" if query else base


def catalog_url(flt: PortfolioFilter, **overrides) -> str:
    """The catalog filtered to the agents behind a figure: the dashboard filter plus ``overrides``."""
    return _catalog_url(reverse("registry:catalog"), flt.catalog_params(), overrides)


def _catalog_url(base: str, params: dict, overrides: dict) -> str | None:
    """The list behind a figure: the dashboard's filter narrowed by the figure's own terms.

    None when the two cannot meet (a pattern row outside a pattern filter: the
    figure is 0 and there is no list to open), so a link never opens a wider
    list than the figure counts.
    """
    for key, value in overrides.items():
        if key == "risk_tier" and value == NOT_ASSESSED:
            value = registry_filtersets.NOT_ASSESSED
        current = params.get(key)
        if key in ("pattern", "risk_tier") and current:
            wanted = [value] if isinstance(value, str) else list(value)
            value = [v for v in wanted if v in current]
            if not value:
                return None
        params[key] = value
    return _url(base, params)


def agents_url(flt: PortfolioFilter, **overrides) -> str:
    """The portfolio's own agent list, for the filters the catalog lacks (tool, outcome, maturity trap)."""
    params = flt.catalog_params()
    params.update(overrides)
    return _url(reverse("portfolio:agents"), params)


def findings_url(flt: PortfolioFilter, *, mine: bool = False, **params) -> str | None:
    """The findings list behind a findings figure: open findings about the filtered agents (the figure never
    counts findings about unregistered identities; those have their own figure), the reader's own with ``mine``."""
    base = {"subject": "agent", **flt.catalog_params()}
    if "risk_tier" in base:
        base["risk_tier"] = [registry_filtersets.NOT_ASSESSED if t == NOT_ASSESSED else t for t in base["risk_tier"]]
    if mine:
        base["mine"] = "true"
    base.update(params)
    return sources.findings_url(**base)


# --- The reads the figures share -------------------------------------------------------

OUTCOME_BUCKETS = (
    ("met", "Target met"),
    ("on_track", "Halfway or more"),
    ("behind", "Less than halfway"),
    ("unmeasured", "No metric or no current value"),
)


def _tier_key(tier: str) -> str:
    return tier or "unassessed"


def _sum_rows(rows) -> dict[str, int]:
    total: dict[str, int] = {}
    for row in rows:
        for name, value in row.items():
            total[name] = total.get(name, 0) + (value or 0)
    return total


class _Reads:
    """What several figures read for one scope and filter, each fetched at most once.

    Made for one call (one figure, or :func:`dashboard` for all of them) and
    dropped with it: nothing is kept between requests, so every figure is live.
    """

    def __init__(self, scope: Scope, flt: PortfolioFilter, *, headline_only: bool = False):
        self.scope = scope
        self.flt = flt
        # The API summary asks for the headline alone: its counts need no outcome, tier or user sums.
        self.headline_only = headline_only

    @cached_property
    def agents(self) -> QuerySet:
        return self.flt.apply(self.scope.agents)

    @cached_property
    def non_compliant(self) -> QuerySet | None:
        return sources.non_compliant_agent_ids()

    @cached_property
    def findings(self) -> dict | None:
        """The headline's findings figures (:func:`portfolio.aggregates.findings_figures`), None without findings."""
        open_findings = sources.open_findings()
        if open_findings is None:
            return None
        return aggregates.findings_figures(
            self.scoped, open_findings, sources.completed_control_gap_runs(), shadow=self.scope.full
        )

    @cached_property
    def scoped(self) -> tuple[str, tuple]:
        """The reader's agents under the filter as an SQL subquery, compiled once (see :mod:`portfolio.aggregates`)."""
        return aggregates.scoped(self.agents)

    @cached_property
    def counts(self) -> dict[tuple[int, str], dict]:
        """(unit id, pattern) -> every agent count the figures need, from one grouped scan of the agents.

        The counts are named in :func:`portfolio.aggregates.counts_sql`; only
        the headline's (agents, states, orphans, compliance) when
        ``headline_only``. Every figure is a sum over these groups.
        """
        return aggregates.counts(self.scoped, self.non_compliant, headline_only=self.headline_only)

    @cached_property
    def overall(self) -> dict[str, int]:
        """Every count summed over all the groups."""
        return _sum_rows(self.counts.values())

    @cached_property
    def by_pattern(self) -> dict[str, dict[str, int]]:
        """Every count summed per pattern."""
        groups: dict[str, list] = {}
        for (_, pattern), row in self.counts.items():
            groups.setdefault(pattern, []).append(row)
        return {pattern: _sum_rows(rows) for pattern, rows in groups.items()}

    @cached_property
    def units(self) -> list[BusinessUnit]:
        """Every business unit, in tree order (a unit's path starts with its parent's)."""
        return list(BusinessUnit.objects.order_by("path"))

    @cached_property
    def minimums(self) -> list[PatternMinimum]:
        return list(PatternMinimum.objects.all())

    @cached_property
    def _catalog_base(self) -> str:
        return reverse("registry:catalog")

    @cached_property
    def _agents_base(self) -> str:
        return reverse("portfolio:agents")

    @cached_property
    def _catalog_params(self) -> dict:
        params = self.flt.catalog_params()
        if not self.scope.full:
            # The figures count the reader's own agents: so do the lists they open.
            params["mine"] = "true"
        return params

    def findings_url(self, **params) -> str | None:
        """:func:`findings_url` of this filter and this reader's scope."""
        return findings_url(self.flt, mine=not self.scope.full, **params)

    def catalog_url(self, **overrides) -> str:
        """:func:`catalog_url` of this filter, with the catalog's address reversed once."""
        return _catalog_url(self._catalog_base, dict(self._catalog_params), overrides)

    def agents_url(self, **overrides) -> str:
        """:func:`agents_url` of this filter, with the list's address reversed once."""
        return _url(self._agents_base, {**self._catalog_params, **overrides})


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
    return _headline(_Reads(scope, flt, headline_only=True))


def _headline(reads: _Reads) -> Headline:
    counts = reads.overall
    by_lifecycle = [
        Figure(
            key=f"lifecycle.{state}",
            label=label,
            value=counts.get(f"lc_{state}", 0),
            url=reads.catalog_url(lifecycle=state),
        )
        for state, label in Lifecycle.choices
    ]
    production = counts.get(f"lc_{Lifecycle.PRODUCTION}", 0)

    findings = reads.findings
    tracked = findings is not None and findings["compliance_tracked"] and reads.non_compliant is not None
    compliant = counts.get("compliant", 0) if tracked else None
    percent = None if compliant is None or production == 0 else round(100 * compliant / production, 1)
    compliant_note = (
        "compliance is not tracked yet" if compliant is None else f"{compliant} of {production} production agents"
    )

    severities: list[Figure] = []
    if findings is not None:
        severities = [
            Figure(
                key=f"findings.{sev}",
                label=f"{sev.title()} findings",
                value=findings["by_severity"].get(sev, 0),
                url=reads.findings_url(severity=sev, state="open"),
            )
            for sev in sources.SEVERITIES
        ]

    shadow = findings["shadow"] if findings is not None else None

    return Headline(
        total_agents=Figure("agents", "Agents", counts.get("agents", 0), reads.catalog_url()),
        by_lifecycle=by_lifecycle,
        production_agents=production,
        compliant_production_agents=compliant,
        compliant_percent=Figure(
            "compliant_percent",
            "Production agents fully compliant (%)",
            percent,
            reads.catalog_url(lifecycle=Lifecycle.PRODUCTION),
            compliant_note,
        ),
        findings_by_severity=severities,
        open_findings=Figure(
            "open_findings",
            "Open findings",
            findings["total"] if findings is not None else None,
            reads.findings_url(state="open"),
            "" if findings is not None else "findings are not tracked yet",
        ),
        open_shadow_agents=Figure(
            "open_shadow_agents",
            "Open shadow agents",
            shadow,
            sources.findings_url(kind="shadow_agent", state="open"),
            "organisation-wide" if reads.scope.full else "shown to leadership only",
        ),
        reviews_overdue=Figure(
            "reviews_overdue",
            "Reviews overdue",
            findings["overdue_agents"] if findings is not None else None,
            reads.findings_url(kind="review_overdue", state="open"),
            "" if findings is not None else "reviews are not tracked yet",
        ),
        orphaned_agents=Figure(
            "orphaned_agents",
            "Orphaned agents",
            counts.get("orphaned", 0),
            reads.catalog_url(orphaned="true"),
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
    return _pattern_by_tier(_Reads(scope, flt))


def _pattern_by_tier(reads: _Reads) -> list[Row]:
    tiers = sorted(TIERS_WITH_UNASSESSED, key=lambda t: RISK_TIER_ORDER.get(t, 9))
    labels = {t: RiskTier(t).label if t else "Not assessed" for t in tiers}
    rows = []
    for pattern, label in Pattern.choices:
        counts = reads.by_pattern.get(pattern, {})
        cells = [
            Cell(
                label=labels[t],
                value=counts.get(f"tier_{_tier_key(t)}", 0),
                url=reads.catalog_url(pattern=pattern, risk_tier=t),
                key=_tier_key(t),
            )
            for t in tiers
        ]
        rows.append(Row(pattern, label, cells, reads.catalog_url(pattern=pattern)))
    return rows


def lifecycle_funnel(scope: Scope, flt: PortfolioFilter) -> list[Cell]:
    """Agents per lifecycle state, in funnel order, then suspended and retired."""
    return _lifecycle_funnel(_Reads(scope, flt))


def _lifecycle_funnel(reads: _Reads) -> list[Cell]:
    counts = reads.overall
    return [
        Cell(Lifecycle(state).label, counts.get(f"lc_{state}", 0), reads.catalog_url(lifecycle=state), key=state)
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
    return _adoption_by_unit(_Reads(scope, flt))


def _adoption_by_unit(reads: _Reads) -> list[Bar]:
    groups = _group_units(reads.flt, reads.units)
    paths = {unit.pk: unit.path for unit in reads.units}
    totals: dict[str, dict] = {}
    for (unit_id, _), row in reads.counts.items():
        if not row["reporting"]:
            continue
        group = _group_for(paths[unit_id], groups)
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
                reads.catalog_url(business_unit=unit.slug, lifecycle=list(RUNNING)),
            )
        )
    return bars


def _group_units(flt: PortfolioFilter, units: list[BusinessUnit]) -> list[BusinessUnit]:
    """The units a per-unit chart groups by: the filtered unit's children (and itself), else the roots.

    ``units`` is every unit in path order, so children come out in path order too.
    """
    if flt.business_unit is not None:
        unit = flt.business_unit
        return [unit, *(u for u in units if u.parent_id == unit.pk)]
    roots = [u for u in units if u.parent_id is None]
    if len(roots) == 1:
        # One enterprise root: its divisions say more than a single bar for the whole group.
        return [roots[0], *(u for u in units if u.parent_id == roots[0].pk)]
    return roots


def _group_for(path: str, groups: list[BusinessUnit]) -> BusinessUnit | None:
    """The group a unit path rolls up into: the longest group path that is a prefix, children before the parent."""
    best = None
    for unit in groups:
        if path.startswith(unit.path) and (best is None or len(unit.path) > len(best.path)):
            best = unit
    return best


# --- Outcomes ------------------------------------------------------------------------


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
    """``agents`` annotated with their ``outcome`` bucket: the agent list behind each bucket of the chart.

    The chart's counts use the same rule in SQL (``aggregates.OUTCOME_CASE``); a test holds them together.
    """
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
    return _outcome_attainment(_Reads(scope, flt))


def _outcome_attainment(reads: _Reads) -> Outcomes:
    counts = reads.overall
    buckets = [
        Cell(label, counts.get(f"outcome_{key}", 0), reads.agents_url(outcome=key), key=key)
        for key, label in OUTCOME_BUCKETS
    ]
    # The furthest behind first: the database orders by progress, so only the rows shown are read.
    rows = aggregates.lagging(reads.scoped, LAGGING_OUTCOMES)
    lagging = []
    for r in rows:
        base = r["metric_baseline"] or Decimal(0)
        span = r["metric_target"] - base
        ratio = float((r["metric_current"] - base) / span) if span else 0.0
        lagging.append(
            Lagging(
                r["key"],
                r["name"],
                r["metric_name"],
                r["metric_baseline"],
                r["metric_target"],
                r["metric_current"],
                round(100 * ratio, 1),
                reverse("registry:agent-detail", args=[r["key"]]),
            )
        )
    return Outcomes(buckets, lagging)


# --- Reuse ---------------------------------------------------------------------------


def shared_tools(scope: Scope, flt: PortfolioFilter) -> list[Cell]:
    """Catalog tools granted to two or more live (not retired) agents, most shared first."""
    return _shared_tools(_Reads(scope, flt))


def _shared_tools(reads: _Reads) -> list[Cell]:
    rows = aggregates.shared_tools(reads.scoped, TOP_TOOLS)
    return [Cell(name, n, reads.agents_url(tool=key), key=key) for key, name, n in rows]


# --- Cost and usage ------------------------------------------------------------------


@dataclass(frozen=True)
class UsageMonth:
    month: date
    cost: Decimal
    invocations: int
    tokens: int


def usage_by_month(scope: Scope, flt: PortfolioFilter, today: date) -> list[UsageMonth] | None:
    """Cost and usage per calendar month over the period, from telemetry's daily rollups (None until they exist)."""
    return _usage_by_month(_Reads(scope, flt), today)


def _usage_by_month(reads: _Reads, today: date) -> list[UsageMonth] | None:
    rollup = sources.usage_rollup_model()
    if rollup is None:
        return None
    start, end = reads.flt.window(today)
    return [UsageMonth(*row) for row in aggregates.usage_by_month(reads.scoped, start, end, rollup)]


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


TREND_SUMS = aggregates.TREND_SUMS


def trend(scope: Scope, flt: PortfolioFilter, today: date) -> list[TrendPoint] | None:
    """One point per day with a snapshot in the period, summed over the filter's lines.

    Only readers with the whole portfolio get history: the snapshots are
    organisation-wide and cannot be narrowed to someone's own agents.
    """
    return _trend(_Reads(scope, flt), today)


def _trend(reads: _Reads, today: date) -> list[TrendPoint] | None:
    if not reads.scope.full:
        return None
    flt = reads.flt
    start, end = flt.window(today)
    # Each snapshot with its lines summed in one query; a snapshot without matching lines sums to nothing (0).
    under = ()
    if flt.business_unit is not None:
        under = [u.pk for u in reads.units if u.path.startswith(flt.business_unit.path)]
    rows = aggregates.trend(start, end, under, flt.patterns, flt.risk_tiers)
    return [
        TrendPoint(day=day, open_shadow_agents=shadow, **dict(zip(TREND_SUMS, totals, strict=True)))
        for day, shadow, *totals in rows
    ]


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


def effective_assessments(
    units: list[BusinessUnit], day: date | None = None, *, all_units: list[BusinessUnit] | None = None
) -> dict[int, tuple]:
    """unit id -> (assessment or None, the ancestor it was inherited from or None).

    A unit without an assessment of its own inherits its closest assessed
    ancestor's: a department sits inside its division's practices until
    someone assesses it separately. Two queries whatever the tree's size, one
    when the caller has ``all_units`` (every unit) at hand already.
    """
    if all_units is None:
        all_units = list(BusinessUnit.objects.all())
    by_path = {u.path: u for u in all_units}
    by_id = {u.pk: u for u in all_units}
    latest = {}
    for assessment in MaturityAssessment.objects.latest_per_unit(day):
        # The unit is at hand; without this, reading assessment.business_unit costs a query per unit.
        assessment.business_unit = by_id[assessment.business_unit_id]
        latest[assessment.business_unit_id] = assessment
    result = {}
    for unit in units:
        own = latest.get(unit.pk)
        if own is not None:
            result[unit.pk] = (own, None)
            continue
        found = (None, None)
        parts = unit.path.strip("/").split("/")
        for depth in range(len(parts) - 1, 0, -1):
            ancestor = by_path.get("/" + "/".join(parts[:depth]) + "/")
            if ancestor is not None and ancestor.pk in latest:
                found = (latest[ancestor.pk], ancestor)
                break
        result[unit.pk] = found
    return result


def readiness_for(
    assessment: MaturityAssessment | None, minimum: PatternMinimum, agents: int = 0, url: str = ""
) -> Readiness:
    if assessment is None:
        return Readiness(minimum.pattern, None, (), agents, url)
    shortfalls = tuple(Shortfall(d, has, needs) for d, has, needs in assessment.shortfalls(minimum))
    return Readiness(minimum.pattern, not shortfalls, shortfalls, agents, url)


def maturity(scope: Scope, flt: PortfolioFilter, day: date | None = None) -> list[UnitMaturity]:
    """Every unit under the filter (or all units) with its effective assessment and pattern readiness.

    Agent counts per (unit, pattern) come from the reader's scope, so the
    readiness grid shows where agents are trapped.
    """
    return _maturity(_Reads(scope, flt), day)


def _maturity(reads: _Reads, day: date | None) -> list[UnitMaturity]:
    flt = reads.flt
    units = reads.units
    if flt.business_unit is not None:
        units = [u for u in units if u.path.startswith(flt.business_unit.path)]
    minimums = reads.minimums
    if flt.patterns:
        minimums = [m for m in minimums if m.pattern in flt.patterns]
    effective = effective_assessments(units, day, all_units=reads.units)
    counts = reads.counts
    retired = f"lc_{Lifecycle.RETIRED}"
    # Units without an assessment of their own share their ancestor's: work out each (assessment,
    # pattern) verdict once, then give every unit its own agent count and catalog link.
    verdicts: dict[tuple, Readiness] = {}
    result = []
    for unit in units:
        assessment, inherited_from = effective[unit.pk]
        readiness = []
        for minimum in minimums:
            key = (assessment.pk if assessment else None, minimum.pk)
            verdict = verdicts.get(key)
            if verdict is None:
                verdict = verdicts[key] = readiness_for(assessment, minimum)
            group = counts.get((unit.pk, minimum.pattern))
            live = group["agents"] - group[retired] if group else 0
            url = reads.catalog_url(business_unit=unit.slug, pattern=minimum.pattern)
            readiness.append(Readiness(verdict.pattern, verdict.ready, verdict.shortfalls, live, url))
        result.append(UnitMaturity(unit, assessment, inherited_from, tuple(readiness)))
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
    owner: str  # the owner's full name (their username if the account has none)
    url: str


OWNER_NAME = ("owner__username", "owner__first_name", "owner__last_name")


def _owner_name(row: dict) -> str:
    """A person by name, as the board knows them; the username only for an account without one."""
    return f"{row['owner__first_name']} {row['owner__last_name']}".strip() or row["owner__username"]


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
        "key", "name", "business_unit__name", "risk_tier", "lifecycle", "n_findings", *OWNER_NAME
    )[:limit]
    return [
        RiskItem(
            r["key"],
            r["name"],
            r["business_unit__name"],
            r["risk_tier"],
            r["lifecycle"],
            r["n_findings"],
            _owner_name(r),
            reverse("registry:agent-detail", args=[r["key"]]),
        )
        for r in rows
    ]


def overdue_reviews(scope: Scope, flt: PortfolioFilter, limit: int = 20) -> list[RiskItem] | None:
    qs = sources.review_overdue_agents(flt.apply(scope.agents))
    if qs is None:
        return None
    rows = qs.order_by("name").values("key", "name", "business_unit__name", "risk_tier", "lifecycle", *OWNER_NAME)
    return [
        RiskItem(
            r["key"],
            r["name"],
            r["business_unit__name"],
            r["risk_tier"],
            r["lifecycle"],
            0,
            _owner_name(r),
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
    """Every section of the dashboard, from one set of shared reads (nine queries at any size)."""
    today = now.date()
    reads = _Reads(scope, flt)
    return Dashboard(
        filter=flt,
        scope_full=scope.full,
        generated_at=now,
        headline=_headline(reads),
        pattern_by_tier=_pattern_by_tier(reads),
        funnel=_lifecycle_funnel(reads),
        trend=_trend(reads, today),
        maturity=_maturity(reads, today),
        adoption=_adoption_by_unit(reads),
        usage=_usage_by_month(reads, today),
        outcomes=_outcome_attainment(reads),
        tools=_shared_tools(reads),
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
            orphaned=Count("pk", filter=ORPHANED),
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
