"""The dashboard's aggregates, written in SQL over the reader's agents.

The reader's agents (their permissions and the dashboard filter) stay an ORM
queryset, composed in one place (:class:`portfolio.reports.Scope` and
``PortfolioFilter.apply``); :func:`scoped` compiles it once per call, and the
statements here read from it as a subquery. Built with the ORM, these
statements (the grouped count alone has some thirty filtered aggregates) cost
more Python to assemble on every request than the database took to answer
them for a portfolio of a thousand agents: the dashboard took 2.7 times as
long as the same aggregates written by hand, and 1.5 times with them here.

The SQL is plain enough for both PostgreSQL and SQLite (``FILTER`` needs
SQLite 3.30). Everything interpolated into it is a constant of this module
or a choice value checked by :func:`_literal`; the reader's values travel as
parameters.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from functools import cache

from django.db import connections, router
from django.db.models import QuerySet

from portfolio.sources import SEVERITIES
from registry.choices import Lifecycle, RiskTier
from registry.models import Agent, User

# The columns of the scoped agents every statement here may read.
SCOPED_COLUMNS = (
    "id",
    "key",
    "name",
    "business_unit_id",
    "owner_id",
    "pattern",
    "risk_tier",
    "lifecycle",
    "eligible_users",
    "active_users",
    "metric_name",
    "metric_baseline",
    "metric_target",
    "metric_current",
)
# The running agents: the ones with users and outcomes to report.
RUNNING = (Lifecycle.PILOT, Lifecycle.PRODUCTION)
OUTCOMES = ("met", "on_track", "behind", "unmeasured")
TIERS = (*RiskTier.values, "")  # "": not assessed yet (reports.NOT_ASSESSED)
METRIC_PLACES = 2  # Agent.metric_*
COST_PLACES = 6  # DailyUsage.cost

_BASE = "COALESCE(a.metric_baseline, 0)"
# Which outcome bucket a success metric puts an agent in; the same rule as reports.with_outcome (the
# agent list behind each bucket), and a test holds the two to the same answer. Progress is
# (current - baseline) / (target - baseline) with the baseline 0 when unset; a target below the
# baseline means lower is better; written without division, so a target equal to its baseline is safe.
OUTCOME_CASE = f"""CASE
    WHEN a.metric_target IS NULL OR a.metric_current IS NULL THEN 'unmeasured'
    WHEN a.metric_target >= {_BASE} THEN CASE
        WHEN a.metric_current >= a.metric_target THEN 'met'
        WHEN (a.metric_current - {_BASE}) * 2 >= a.metric_target - {_BASE} THEN 'on_track'
        ELSE 'behind' END
    ELSE CASE
        WHEN a.metric_current <= a.metric_target THEN 'met'
        WHEN (a.metric_current - {_BASE}) * 2 <= a.metric_target - {_BASE} THEN 'on_track'
        ELSE 'behind' END
    END"""


def _literal(value: str) -> str:
    """A choice value as an SQL string literal; only lowercase words can be one."""
    if not re.fullmatch(r"[a-z_]*", value):
        raise ValueError(f"not a choice value: {value!r}")
    return f"'{value}'"


def _in(values) -> str:
    return "(" + ", ".join(_literal(v) for v in values) + ")"


def _compiled(qs: QuerySet) -> tuple[str, tuple]:
    """A queryset's SQL, unordered, and its parameters."""
    sql, params = qs.order_by().query.sql_with_params()
    return sql, tuple(params)


def scoped(agents: QuerySet) -> tuple[str, tuple]:
    """``agents`` as an SQL subquery with :data:`SCOPED_COLUMNS`, and its parameters."""
    return _compiled(agents.values(*SCOPED_COLUMNS))


def fetch(sql: str, params) -> list[tuple]:
    # Raw SQL passes the database router by: ask it where the portfolio's reads go (the read replica
    # on a routed page, config/db_router.py), as the ORM would.
    with connections[router.db_for_read(Agent)].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


@cache
def counts_sql(*, compliance: bool, headline_only: bool) -> tuple[str, tuple[str, ...]]:
    """The grouped count per (unit, pattern): the statement (with ``{scope}`` and, when
    ``compliance``, ``{non_compliant}`` to fill in) and the names of its counts.

    Per group: agents, per lifecycle state (``lc_<state>``), orphans (the
    owner's account is inactive, retired agents left out), fully compliant
    production agents (``compliant``, while compliance is tracked); unless
    ``headline_only``: per risk tier (``tier_<tier>``, ``tier_unassessed``),
    running agents per outcome bucket (``outcome_<bucket>``), and the eligible
    and active users of the running agents that report them (``reporting``
    says how many do). The outcome is worked out once per agent in the inner
    select, not once per bucket.
    """
    running = f"a.lifecycle IN {_in(RUNNING)}"
    reporting = f"{running} AND a.eligible_users IS NOT NULL"
    columns = {"agents": "COUNT(*)"}
    for state in Lifecycle.values:
        columns[f"lc_{state}"] = f"COUNT(*) FILTER (WHERE a.lifecycle = {_literal(state)})"
    columns["orphaned"] = f"COUNT(*) FILTER (WHERE NOT u.is_active AND a.lifecycle <> {_literal(Lifecycle.RETIRED)})"
    if compliance:
        columns["compliant"] = (
            f"COUNT(*) FILTER (WHERE a.lifecycle = {_literal(Lifecycle.PRODUCTION)} "
            "AND a.id NOT IN ({non_compliant}))"
        )
    source = "({scope}) a"
    if not headline_only:
        for tier in TIERS:
            columns[f"tier_{tier or 'unassessed'}"] = f"COUNT(*) FILTER (WHERE a.risk_tier = {_literal(tier)})"
        for outcome in OUTCOMES:
            columns[f"outcome_{outcome}"] = f"COUNT(*) FILTER (WHERE {running} AND a.outcome = {_literal(outcome)})"
        columns["reporting"] = f"COUNT(*) FILTER (WHERE {reporting})"
        columns["eligible"] = f"COALESCE(SUM(a.eligible_users) FILTER (WHERE {reporting}), 0)"
        columns["active"] = f"COALESCE(SUM(COALESCE(a.active_users, 0)) FILTER (WHERE {reporting}), 0)"
        source = f"(SELECT a.*, {OUTCOME_CASE} AS outcome FROM ({{scope}}) a) a"
    select = ",\n       ".join(f"{expr} AS {name}" for name, expr in columns.items())
    sql = (
        f"SELECT a.business_unit_id, a.pattern,\n       {select}\n"
        f"  FROM {source}\n  JOIN {User._meta.db_table} u ON u.id = a.owner_id\n"
        " GROUP BY a.business_unit_id, a.pattern"
    )
    return sql, tuple(columns)


def counts(agents_sql: tuple[str, tuple], non_compliant: QuerySet | None, *, headline_only: bool) -> dict:
    """(unit id, pattern) -> {count name: value}; see :func:`counts_sql`."""
    sql, names = counts_sql(compliance=non_compliant is not None, headline_only=headline_only)
    scope_sql, scope_params = agents_sql
    params: tuple = ()
    if non_compliant is not None:
        nc_sql, params = _compiled(non_compliant)
        # The compliance filter comes before the FROM clause, so its parameters come first.
        sql = sql.replace("{non_compliant}", nc_sql)
    sql = sql.replace("{scope}", scope_sql)
    rows = fetch(sql, params + scope_params)
    return {(unit_id, pattern): dict(zip(names, values, strict=True)) for unit_id, pattern, *values in rows}


def _decimal(value, places: int) -> Decimal | None:
    """A numeric column's value as the model field gives it: PostgreSQL returns a Decimal, SQLite an
    integer or a float (whose sums can carry binary noise such as 3.7500000000000004)."""
    if value is None or isinstance(value, Decimal):
        return value
    return Decimal(repr(value)).quantize(Decimal(1).scaleb(-places))


def lagging(agents_sql: tuple[str, tuple], limit: int) -> list[dict]:
    """The running agents whose metric has come less than halfway, the furthest behind first."""
    scope_sql, params = agents_sql
    sql = f"""SELECT a.key, a.name, a.metric_name, a.metric_baseline, a.metric_target, a.metric_current
  FROM ({scope_sql}) a
 WHERE a.lifecycle IN {_in(RUNNING)} AND {OUTCOME_CASE} = 'behind'
 ORDER BY CASE WHEN a.metric_target = {_BASE} THEN 0
               ELSE (a.metric_current - {_BASE}) * 1.0 / (a.metric_target - {_BASE}) END,
          a.key
 LIMIT {int(limit)}"""
    return [
        {
            "key": key,
            "name": name,
            "metric_name": metric_name,
            "metric_baseline": _decimal(baseline, METRIC_PLACES),
            "metric_target": _decimal(target, METRIC_PLACES),
            "metric_current": _decimal(current, METRIC_PLACES),
        }
        for key, name, metric_name, baseline, target, current in fetch(sql, params)
    ]


def findings_figures(
    agents_sql: tuple[str, tuple], open_findings: QuerySet, control_gap_runs: QuerySet | None, *, shadow: bool
) -> dict:
    """The headline's findings figures in one statement.

    ``total``, ``by_severity`` and ``overdue_agents`` (agents with an open
    ``review_overdue`` finding) count the open findings about the scoped
    agents; ``shadow`` the open shadow-agent findings of the whole
    organisation (None unless asked for); ``compliance_tracked`` whether the
    control-gap check has completed a sweep.
    """
    findings_sql, findings_params = _compiled(open_findings.values("agent_id", "kind", "severity"))
    scope_sql, scope_params = agents_sql
    params: tuple = ()
    tracked_sql = "0 = 1"
    if control_gap_runs is not None:
        runs_sql, params = _compiled(control_gap_runs)
        tracked_sql = f"EXISTS ({runs_sql})"
    shadow_count = "NULL"
    if shadow:
        shadow_count = f"(SELECT COUNT(*) FROM ({findings_sql}) s WHERE s.kind = 'shadow_agent')"
        params += findings_params
    per_severity = ", ".join(f"COUNT(*) FILTER (WHERE f.severity = {_literal(s)})" for s in SEVERITIES)
    sql = f"""SELECT CASE WHEN {tracked_sql} THEN 1 ELSE 0 END, {shadow_count},
       COUNT(*), COUNT(DISTINCT f.agent_id) FILTER (WHERE f.kind = 'review_overdue'), {per_severity}
  FROM ({findings_sql}) f
 WHERE f.agent_id IN (SELECT a.id FROM ({scope_sql}) a)"""
    tracked, shadow_agents, total, overdue, *severities = fetch(sql, params + findings_params + scope_params)[0]
    return {
        "compliance_tracked": bool(tracked),
        "shadow": shadow_agents,
        "total": total,
        "by_severity": dict(zip(SEVERITIES, severities, strict=True)),
        "overdue_agents": overdue,
    }


def _placeholders(values) -> str:
    return "(" + ", ".join(["%s"] * len(values)) + ")"


def _day(value) -> date:
    # SQLite hands dates back as text.
    return value if isinstance(value, date) else date.fromisoformat(value)


TREND_SUMS = ("agents", "production_agents", "open_findings", "open_findings_high", "reviews_overdue", "maturity_traps")


def trend(start: date, end: date, unit_ids=(), patterns=(), tiers=()) -> list[tuple]:
    """(day, open shadow agents, *TREND_SUMS) per snapshot taken from ``start`` to ``end``.

    The sums cover the lines of the given units, patterns and risk tiers (all
    when none are given); a snapshot without such lines sums to 0.
    """
    from portfolio.models import PortfolioSnapshot, PortfolioSnapshotLine

    on, params = ["l.snapshot_id = s.id"], []
    for column, values in (("business_unit_id", unit_ids), ("pattern", patterns), ("risk_tier", tiers)):
        if values:
            on.append(f"l.{column} IN {_placeholders(values)}")
            params.extend(values)
    sums = ", ".join(f"COALESCE(SUM(l.{name}), 0)" for name in TREND_SUMS)
    sql = f"""SELECT s.taken_on, s.open_shadow_agents, {sums}
  FROM {PortfolioSnapshot._meta.db_table} s
  LEFT JOIN {PortfolioSnapshotLine._meta.db_table} l ON {" AND ".join(on)}
 WHERE s.taken_on >= %s AND s.taken_on <= %s
 GROUP BY s.id, s.taken_on, s.open_shadow_agents
 ORDER BY s.taken_on"""
    return [(_day(day), *rest) for day, *rest in fetch(sql, [*params, start, end])]


def shared_tools(agents_sql: tuple[str, tuple], limit: int) -> list[tuple]:
    """(tool key, tool name, live agents) for the catalog tools granted to two or more live scoped agents."""
    from registry.models import AgentVersion, AgentVersionTool, Tool

    scope_sql, params = agents_sql
    sql = f"""SELECT t.key, t.name, COUNT(DISTINCT v.agent_id) AS n
  FROM {AgentVersionTool._meta.db_table} g
  JOIN {AgentVersion._meta.db_table} v ON v.id = g.version_id
  JOIN {Tool._meta.db_table} t ON t.id = g.tool_id
 WHERE v.agent_id IN (SELECT a.id FROM ({scope_sql}) a WHERE a.lifecycle <> {_literal(Lifecycle.RETIRED)})
 GROUP BY t.key, t.name
HAVING COUNT(DISTINCT v.agent_id) >= 2
 ORDER BY n DESC, t.key
 LIMIT {int(limit)}"""
    return fetch(sql, params)


def usage_by_month(agents_sql: tuple[str, tuple], start: date, end: date, rollup) -> list[tuple]:
    """(first day of the month, cost, invocations, tokens) per calendar month from ``start`` to ``end``,
    summed over the scoped agents' daily usage rollups (``rollup``, the telemetry model)."""
    month_sql, month_params = connections[router.db_for_read(Agent)].ops.date_trunc_sql("month", "r.day", ())
    scope_sql, scope_params = agents_sql
    sql = f"""SELECT {month_sql}, SUM(r.cost), SUM(r.invocations), SUM(r.input_tokens + r.output_tokens)
  FROM {rollup._meta.db_table} r
 WHERE r.day >= %s AND r.day <= %s AND r.agent_id IN (SELECT a.id FROM ({scope_sql}) a)
 GROUP BY 1
 ORDER BY 1"""
    return [
        (
            _day(month.date() if isinstance(month, datetime) else month),
            _decimal(cost, COST_PLACES),
            int(calls),
            int(tokens),
        )
        for month, cost, calls, tokens in fetch(sql, (*month_params, start, end, *scope_params))
    ]
