"""The background checks: one function per finding kind, and the engine that turns their answers into findings.

Every check is *set-based*: it answers "which subjects have this problem now?"
with a constant number of queries, whatever the size of the catalog, and the
engine reconciles that answer with the open findings:

1. take a transaction-level advisory lock for the kind (PostgreSQL), so two
   sweeps of the same check run one after the other; the conditional unique
   constraint "one open finding per subject and kind" backs it up, and the
   inserts skip conflicts, so even without the lock nothing is raised twice;
2. on PostgreSQL, one statement compares the wanted set with the open
   findings in the database: it opens the missing ones, resolves the cleared
   ones with the time, refreshes changed details and writes the history rows.
   Most checks hand over their detection as a query, so the wanted set never
   passes through Python; checks whose rules are Python send their rows as
   arrays. On SQLite (the demo) the same comparison runs in Python;
3. queue the webhook deliveries of what opened or resolved, and record the run.

Re-running changes nothing. Notification is a separate task (``notifications``).
"""

import hashlib
import json
import logging
import traceback
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from types import SimpleNamespace

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.db.models import (
    Case,
    CharField,
    F,
    Func,
    JSONField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    TextField,
    Value,
    When,
)
from django.db.models.functions import MD5, Cast, Concat, JSONObject, Lower
from django.utils import timezone

from governance import hooks
from governance.choices import (
    CheckRunStatus,
    ControlState,
    EvidenceStatus,
    FindingEventKind,
    FindingKind,
    Severity,
    Validity,
)
from governance.models import (
    CheckRun,
    Control,
    Evidence,
    Finding,
    FindingEvent,
    Release,
    Review,
    RiskAssessment,
    RiskPolicy,
    Waiver,
)
from registry.choices import RUNNING_STATES, Lifecycle, ToolAccess, widest_access
from registry.models import Agent, AgentVersion, AgentVersionTool, McpServer, Tool
from telemetry.choices import LIVE_ENVIRONMENTS
from telemetry.models import ExternalIdentity, IngestDay, Sighting, TelemetrySource, ToolUse

logger = logging.getLogger(__name__)

# Base of the per-check advisory lock keys (one key per finding kind).
CHECK_LOCK_BASE = 7_310_432_000
TIER_SEVERITY = {
    "low": Severity.LOW,
    "medium": Severity.MEDIUM,
    "high": Severity.HIGH,
    "critical": Severity.CRITICAL,
    "": Severity.MEDIUM,
}
# Production telemetry this recent counts as "running in production" for unapproved_in_production.
PRODUCTION_RECENCY = timedelta(days=7)
# Low adoption: active users under one in LOW_ADOPTION_ONE_IN eligible users (20%), in integers so the
# query compares exactly.
LOW_ADOPTION_ONE_IN = 5
LOW_ADOPTION_AFTER = timedelta(days=60)


@dataclass(slots=True)
class Wanted:
    """One finding a check wants open: its severity, one-line summary and details."""

    severity: str
    summary: str
    details: dict = field(default_factory=dict)


# Subject key: ("agent", agent_id) or ("identity", identity).
Subject = tuple[str, object]


@dataclass
class CheckResult:
    kind: str
    found: int = 0
    resolved: int = 0
    still_open: int = 0
    run_id: int | None = None

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "found": self.found,
            "resolved": self.resolved,
            "open": self.still_open,
            "run": self.run_id,
        }


def _agent(agent_id) -> Subject:
    return ("agent", agent_id)


# --- How a check answers ------------------------------------------------------------------------
#
# A check returns the findings it wants open, in one of three shapes:
# - an Agent queryset made by ``wanted_rows``: the detection as one query, with severity, summary
#   and details as expressions; on PostgreSQL the engine reconciles it without reading it;
# - ``{subject: Wanted}`` computed in Python (rules that are Python, upper layers' checks);
# - ``WantedSQL`` (PostgreSQL only), or a list of these shapes, which the engine unites.


class UTCDate(Func):
    """A timestamp as the summaries print it, in UTC: "02 Mar 2026", or "02 Mar 2026 14:05" with ``minutes``."""

    output_field = CharField()

    def __init__(self, expression, *, minutes: bool = False):
        super().__init__(expression)
        self.minutes = minutes

    def as_postgresql(self, compiler, connection, **extra):
        pattern = "DD Mon YYYY HH24:MI" if self.minutes else "DD Mon YYYY"
        template = f"to_char(%(expressions)s AT TIME ZONE 'UTC', '{pattern}')"
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_sqlite(self, compiler, connection, **extra):
        # SQLite's strftime has no month names; stored datetimes are UTC text. The value is named once
        # per part, and so are its parameters.
        value, params = compiler.compile(self.source_expressions[0])
        parts = [
            f"strftime('%%d ', {value})",
            f"substr('JanFebMarAprMayJunJulAugSepOctNovDec', strftime('%%m', {value}) * 3 - 2, 3)",
            f"strftime(' %%Y', {value})",
        ]
        if self.minutes:
            parts.append(f"strftime(' %%H:%%M', {value})")
        return "(" + " || ".join(parts) + ")", tuple(params) * len(parts)


def details_digest(details: dict) -> str:
    """The fingerprint stored beside a finding's details: equal digests mean equal details, so a sweep
    compares the documents only where the digests differ."""
    return hashlib.md5(json.dumps(details, sort_keys=True, default=str).encode(), usedforsecurity=False).hexdigest()


def wanted_rows(agents, *, severity, summary, details=None, digest=None):
    """One finding wanted for every agent in ``agents``, its severity, summary and details given as
    expressions over the agent's row: the whole detection stays one query the database can reconcile.
    ``digest`` fingerprints the details (``details_digest``); constant details get theirs here, other
    expressions are hashed by the database unless the check gives a cheaper expression."""
    if details is None:
        details = Value({}, JSONField())
    if digest is None:
        if isinstance(details, Value):
            digest = Value(details_digest(details.value))
        else:
            digest = MD5(Cast(details, TextField()))
    return agents.order_by().values(
        finding_agent=F("pk"),
        finding_severity=Value(severity) if isinstance(severity, str) else severity,
        finding_summary=summary,
        finding_details=details,
        finding_digest=digest,
    )


@dataclass(frozen=True, slots=True)
class WantedSQL:
    """Wanted findings as a PostgreSQL SELECT of (agent_id, identity, severity, summary, details, digest) rows."""

    sql: str
    params: list


def _by_tier(field: str):
    """The severity of a finding whose weight follows the agent's risk tier (unassessed: medium)."""
    return Case(
        *[When(**{field: tier}, then=Value(severity)) for tier, severity in TIER_SEVERITY.items()],
        default=Value(Severity.MEDIUM),
        output_field=CharField(),
    )


# --- The checks ----------------------------------------------------------------------------------


def shadow_agents(now: datetime) -> dict[Subject, Wanted]:
    """Identities telemetry reported within the retention period that no registered agent claims,
    except those the board marked as known external agents (until the marking expires).
    Computed in Python: few rows, and the environment list is an aggregate both databases spell differently."""
    since = now - timedelta(days=settings.TELEMETRY_RETENTION_DAYS)
    external = ExternalIdentity.objects.current(now).values("identity")
    environments: dict[str, set] = defaultdict(set)
    for identity, environment in (
        Sighting.objects.unclaimed()
        .filter(last_seen_at__gte=since)
        .exclude(identity__in=external)
        .order_by()
        .values_list("identity", "environment")
    ):
        environments[identity].add(environment)
    wanted = {}
    for identity, found_in in environments.items():
        envs = sorted(found_in)
        wanted[("identity", identity)] = Wanted(
            # An unlabelled report (unspecified) is read as live: the safe assumption.
            severity=Severity.HIGH if set(envs) & set(LIVE_ENVIRONMENTS) else Severity.MEDIUM,
            summary=f"{identity} runs ({', '.join(envs)}) but no registered agent claims it.",
            details={"environments": envs},
        )
    return wanted


def unapproved_in_production(now: datetime):
    """Registered agents reporting from production recently without an approved production release.
    Reports that name no known environment (unspecified) count as production: the agent is assumed live."""
    reporting = Sighting.objects.filter(
        environment__in=LIVE_ENVIRONMENTS, agent__isnull=False, last_seen_at__gte=now - PRODUCTION_RECENCY
    ).values("agent_id")
    approved = Release.objects.filter(environment="production").values("agent_id")
    return wanted_rows(
        Agent.objects.filter(pk__in=reporting).exclude(pk__in=approved),
        severity=Case(
            When(risk_tier__in=("high", "critical"), then=Value(Severity.CRITICAL)),
            default=Value(Severity.HIGH),
        ),
        summary=Concat("name", Value(" reports from production without an approved production release.")),
    )


def lapsed_monitoring(now: datetime):
    """Agents in pilot or production silent past their tier's window, or that never reported in it.
    Reads the stored deadlines through their index: ingest moves them with each report, the
    lifecycle and tier hooks and a published policy as those change, and an hourly refresh
    (``telemetry.refresh_monitoring_deadlines``) catches anything that went around them."""
    never = Q(monitoring__last_seen_at__isnull=True)
    return wanted_rows(
        Agent.objects.filter(lifecycle__in=RUNNING_STATES, monitoring__deadline_at__lt=now),
        severity=_by_tier("risk_tier"),
        summary=Case(
            When(never, then=Concat("name", Value(" has never reported telemetry since it started running."))),
            default=Concat(
                "name",
                Value(" has been silent since "),
                UTCDate("monitoring__last_seen_at", minutes=True),
                Value(" UTC."),
            ),
        ),
        details=Case(
            When(never, then=Value({"never_reported": True}, JSONField())),
            default=Value({"never_reported": False}, JSONField()),
        ),
        digest=Case(
            When(never, then=Value(details_digest({"never_reported": True}))),
            default=Value(details_digest({"never_reported": False})),
        ),
    )


def review_overdue(now: datetime):
    """Agents with an open review past its due date (periodic reviews are due by the tier's cadence)."""
    overdue = Review.objects.filter(status="open", due_at__lt=now)
    latest_due = overdue.filter(agent=OuterRef("pk")).order_by("-due_at").values("due_at")[:1]
    return wanted_rows(
        Agent.objects.exclude(lifecycle=Lifecycle.RETIRED).filter(pk__in=overdue.values("agent_id")),
        severity=_by_tier("risk_tier"),
        summary=Concat("name", Value("'s review was due on "), UTCDate(Subquery(latest_due)), Value(".")),
    )


def orphaned_owners(now: datetime):
    """Agents (not retired) whose owner's account is deactivated."""
    return wanted_rows(
        Agent.objects.orphaned(),
        severity=Case(When(lifecycle__in=RUNNING_STATES, then=Value(Severity.HIGH)), default=Value(Severity.MEDIUM)),
        summary=Concat(
            "name",
            Value("'s owner ("),
            "owner__username",
            Value(") is deactivated; transfer it to an active person."),
        ),
    )


def no_success_metric(now: datetime):
    """Agents in production with no business outcome, or no success metric with a target."""
    return wanted_rows(
        Agent.objects.filter(lifecycle=Lifecycle.PRODUCTION).filter(
            Q(business_outcome="") | Q(metric_name="") | Q(metric_target__isnull=True)
        ),
        severity=Severity.LOW,
        summary=Concat("name", Value(" is in production without a stated outcome and success metric with a target.")),
    )


def low_adoption(now: datetime):
    """Agents 60+ days in production whose active users are under 20% of the eligible users."""
    # The share is printed rounded half up.
    percent = (F("active_users") * 200 + F("eligible_users")) / (F("eligible_users") * 2)
    return wanted_rows(
        Agent.objects.filter(
            lifecycle=Lifecycle.PRODUCTION,
            production_since__lte=now - LOW_ADOPTION_AFTER,
            eligible_users__gt=F("active_users") * LOW_ADOPTION_ONE_IN,
            active_users__isnull=False,
        ),
        severity=Severity.LOW,
        summary=Concat(
            "name",
            Value(": "),
            Cast("active_users", CharField()),
            Value(" of "),
            Cast("eligible_users", CharField()),
            Value(" eligible users are active ("),
            Cast(percent, CharField()),
            Value("%)."),
        ),
        details=JSONObject(active_users="active_users", eligible_users="eligible_users"),
    )


# The agent columns the applicability rules read (``requirements.Facts``).
FACT_FIELDS = (
    "risk_tier",
    "pattern",
    "mode",
    "autonomy_level",
    "external_facing",
    "data_classification",
    "handles_personal_data",
    "handles_regulated_data",
)


def _evidence_requirements(facts, controls) -> list:
    """The required controls proven by evidence: owner and monitoring have their own checks
    (orphaned_owner, lapsed_monitoring)."""
    from governance.requirements import derive_requirements

    return [r for r in derive_requirements(facts, controls) if r.control.validity != Validity.SYSTEM]


def _control_states(now: datetime, agents) -> dict[int, tuple[str, list[tuple[str, str]]]]:
    """agent id -> (name, [(control code, state)]) for every required evidence control, in a constant
    number of queries: the checklist logic of ``governance.compliance``, applied to pre-fetched rows."""
    from governance import compliance
    from governance.requirements import Facts

    # Only the name and the facts the applicability rules read, as plain tuples: agent rows are wide,
    # and there may be tens of thousands (model instances cost more than the rules themselves).
    fact_fields = FACT_FIELDS
    rows = list(agents.order_by().values_list("pk", "name", *fact_fields))
    if not rows:
        return {}
    ids = agents.order_by().values("pk")
    policy = RiskPolicy.objects.current()
    controls = list(Control.objects.filter(policy=policy)) if policy else []
    assessments = {
        a.agent_id: a
        for a in RiskAssessment.objects.filter(agent_id__in=ids, status="confirmed").order_by("agent_id", "-id")
    }
    newest_version = dict(
        AgentVersion.objects.filter(agent_id__in=ids)
        .values("agent_id")
        .annotate(last=Max("id"))
        .values_list("agent_id", "last")
    )
    evidence = defaultdict(list)
    for e in (
        Evidence.objects.filter(agent_id__in=ids)
        .exclude(status=EvidenceStatus.SUPERSEDED)
        .order_by("-submitted_at", "-id")
    ):
        evidence[e.agent_id].append(e)
    waivers = defaultdict(list)
    for w in Waiver.objects.filter(agent_id__in=ids, revoked_at__isnull=True, expires_at__gt=now):
        waivers[w.agent_id].append(w)
    # Thousands of agents share a handful of fact combinations: derive each combination once.
    facts_of: dict = {}  # (agent's fact columns, assessment's tier and category) -> Facts
    required_for: dict = {}  # Facts -> [Requirement]
    all_missing: dict = {}  # Facts -> [(code, MISSING)], shared by every agent with no evidence nor waiver
    result = {}
    for pk, name, *columns in rows:
        assessment = assessments.get(pk)
        key = (*columns, assessment.tier if assessment else None, assessment.eu_ai_act_category if assessment else None)
        facts = facts_of.get(key)
        if facts is None:
            facts = facts_of[key] = Facts.of(
                SimpleNamespace(**dict(zip(fact_fields, columns, strict=True))), assessment
            )
        requirements = required_for.get(facts)
        if requirements is None:
            requirements = required_for[facts] = _evidence_requirements(facts, controls)
        if pk not in evidence and pk not in waivers:
            if facts not in all_missing:
                all_missing[facts] = [(r.control.code, ControlState.MISSING) for r in requirements]
            result[pk] = (name, all_missing[facts])
            continue
        states = []
        for requirement in requirements:
            control = requirement.control
            status = compliance.ControlStatus(control=control, reasons=requirement.reasons, state=ControlState.MISSING)
            compliance._evaluate_evidence(status, control, evidence[pk], waivers[pk], now, newest_version.get(pk))
            states.append((control.code, status.state))
        result[pk] = (name, states)
    return result


GAP_STATES = (ControlState.MISSING, ControlState.REJECTED, ControlState.SUBMITTED)


def control_gaps(now: datetime):
    """Agents in pilot or production lacking accepted evidence (or a waiver in force) for a required control.
    Expired evidence is reported by evidence_expired instead.

    On PostgreSQL only agents with evidence or a waiver go through the checklist one by one. All the
    others lack every control their facts require, and thousands of them share a handful of fact
    combinations: their findings are one join of the agents with the gaps of each combination."""
    agents = Agent.objects.filter(lifecycle__in=RUNNING_STATES)
    if connection.vendor != "postgresql":
        return _gap_findings(now, agents)
    # The few agents with evidence or a waiver, found from those tables' agent index rather than a
    # scan of every agent.
    with_evidence = Evidence.objects.exclude(status=EvidenceStatus.SUPERSEDED).order_by().values_list("agent_id")
    with_waiver = Waiver.objects.filter(revoked_at__isnull=True, expires_at__gt=now).order_by().values_list("agent_id")
    proven = [agent_id for (agent_id,) in with_evidence.union(with_waiver).order_by()]
    checked = _gap_findings(now, agents.filter(pk__in=proven), every_agent=True) if proven else {}
    return [
        {subject: want for subject, want in checked.items() if want is not None},
        _unproven_gaps([agent_id for _, agent_id in checked]),
    ]


def _gap(agent_name: str, gaps: list[str]) -> Wanted:
    return Wanted(
        severity=Severity.HIGH if len(gaps) > 2 else Severity.MEDIUM,
        summary=f"{agent_name} lacks accepted evidence for {', '.join(gaps)}.",
        details={"controls": gaps},
    )


def _gap_findings(now: datetime, agents, *, every_agent: bool = False) -> dict[Subject, Wanted | None]:
    """The control gaps of ``agents`` through the checklist, agent by agent (with ``every_agent``,
    agents without a gap are there too, as None)."""
    wanted = {}
    gaps_of: dict[int, list[str]] = {}  # id(states) -> gaps: agents without evidence share one states list
    for agent_id, (name, states) in _control_states(now, agents).items():
        gaps = gaps_of.get(id(states))
        if gaps is None:
            gaps = sorted(code for code, state in states if state in GAP_STATES)
            gaps_of[id(states)] = gaps
        if gaps or every_agent:
            wanted[_agent(agent_id)] = _gap(name, gaps) if gaps else None
    return wanted


def _unproven_gaps(checked_ids: list[int]) -> WantedSQL:
    """PostgreSQL: the control gaps of the running agents not in ``checked_ids`` (those with no evidence
    and no waiver): every evidence control their facts require. The distinct fact combinations are read
    (one grouped query), their requirements derived here, and the agents joined to them in SQL.

    An agent whose facts change to a combination never seen before between the two statements has no
    row this run (and one the next): the window is one statement long."""
    from governance.requirements import Facts

    policy = RiskPolicy.objects.current()
    controls = list(Control.objects.filter(policy=policy)) if policy else []
    agent, assessment = Agent._meta.db_table, RiskAssessment._meta.db_table
    # The facts as stored, plus the confirmed assessment's tier and category; Facts.of interprets them.
    key = [f"a.{name}" for name in FACT_FIELDS] + [
        "(s.id IS NOT NULL)",
        "COALESCE(s.override_tier, '')",
        "COALESCE(s.computed_tier, '')",
        "COALESCE(s.eu_ai_act_category, '')",
    ]
    names = [*FACT_FIELDS, "assessed", "override_tier", "computed_tier", "eu_ai_act_category"]
    source = f"""FROM {agent} AS a LEFT JOIN {assessment} AS s ON s.agent_id = a.id AND s.status = 'confirmed'
        WHERE a.lifecycle = ANY(%s) AND a.id <> ALL(%s)"""  # noqa: S608 (table names from model metadata)
    params = [list(RUNNING_STATES), checked_ids]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT {', '.join(key)} {source}", params)  # noqa: S608
        combinations = cursor.fetchall()
    groups = []
    for row in combinations:
        values = dict(zip(names, row, strict=True))
        confirmed = None
        if values["assessed"]:
            confirmed = SimpleNamespace(
                tier=values["override_tier"] or values["computed_tier"],
                eu_ai_act_category=values["eu_ai_act_category"],
            )
        facts = Facts.of(SimpleNamespace(**{name: values[name] for name in FACT_FIELDS}), confirmed)
        gaps = sorted(r.control.code for r in _evidence_requirements(facts, controls))
        if gaps:
            gap = _gap("", gaps)  # its summary is what follows the agent's name
            groups.append(
                {
                    **values,
                    "severity": gap.severity,
                    "summary": gap.summary,
                    "details": gap.details,
                    "digest": details_digest(gap.details),
                }
            )
    types = [f"{name} {Agent._meta.get_field(name).db_type(connection)}" for name in FACT_FIELDS]
    types += ["assessed boolean", "override_tier text", "computed_tier text", "eu_ai_act_category text"]
    types += ["severity text", "summary text", "details jsonb", "digest text"]
    on = " AND ".join(f"g.{name} = {column}" for name, column in zip(names, key, strict=True))
    return WantedSQL(
        f"""SELECT a.id, '', g.severity, a.name || g.summary, g.details, g.digest
            FROM {agent} AS a LEFT JOIN {assessment} AS s ON s.agent_id = a.id AND s.status = 'confirmed'
            JOIN jsonb_to_recordset(%s::jsonb) AS g ({", ".join(types)}) ON {on}
            WHERE a.lifecycle = ANY(%s) AND a.id <> ALL(%s)""",  # noqa: S608
        [json.dumps(groups), *params],
    )


def evidence_expired(now: datetime) -> dict[Subject, Wanted]:
    """Agents (not retired) whose accepted evidence for a required control is no longer valid."""
    agents = Agent.objects.exclude(lifecycle=Lifecycle.RETIRED).filter(
        pk__in=Evidence.objects.filter(status=EvidenceStatus.ACCEPTED)
        .filter(Q(valid_until__lte=now) | Q(invalidated_at__lte=now) | Q(version__isnull=False))
        .values("agent_id")
    )
    wanted = {}
    for agent_id, (name, states) in _control_states(now, agents).items():
        expired = sorted(code for code, state in states if state == ControlState.EXPIRED)
        if expired:
            wanted[_agent(agent_id)] = Wanted(
                severity=Severity.MEDIUM,
                summary=f"{name}'s evidence for {', '.join(expired)} is no longer valid.",
                details={"controls": expired},
            )
    return wanted


# Silence after which a running agent is dormant, by tier (the policy's cadences may set "dormant_days").
DORMANT_DAYS = {"critical": 30, "high": 45, "medium": 60, "low": 90}


def _dormant_days() -> dict[str, int]:
    policy = RiskPolicy.objects.current()
    cadences = (policy.cadences if policy else None) or {}
    return {
        tier: int((cadences.get(tier) or {}).get("dormant_days") or default) for tier, default in DORMANT_DAYS.items()
    }


def dormant_window(tier: str) -> timedelta:
    """How long an agent of this tier may be silent before it is dormant (unassessed: medium)."""
    days = _dormant_days()
    return timedelta(days=days.get(tier or "medium", days["medium"]))


def dormant_agents(now: datetime):
    """Agents in pilot or production that reported once and then went silent for longer than their tier's
    dormancy window, unless the owner kept it with a reason. An agent that never reported is
    ``lapsed_monitoring``'s (it is unwatched, not idle), so it is not raised twice."""
    from governance.models import DormancyKeep

    days = _dormant_days()
    last_signal = F("monitoring__last_seen_at")
    silent = Q()
    for tier, count in days.items():
        silent |= Q(risk_tier=tier, _last_signal__lt=now - timedelta(days=count))
    silent |= Q(risk_tier="", _last_signal__lt=now - timedelta(days=days["medium"]))
    kept = DormancyKeep.objects.filter(kept_until__gt=now).values("agent_id")
    return wanted_rows(
        Agent.objects.filter(lifecycle__in=RUNNING_STATES, monitoring__last_seen_at__isnull=False)
        .annotate(_last_signal=last_signal)
        .filter(silent)
        .exclude(pk__in=kept),
        severity=Case(When(lifecycle=Lifecycle.PRODUCTION, then=Value(Severity.MEDIUM)), default=Value(Severity.LOW)),
        summary=Concat(
            "name",
            Value(" has sent no telemetry since "),
            UTCDate(last_signal),
            Value(": retire it, or keep it with a reason."),
        ),
    )


def attestation_overdue(now: datetime):
    """Agents whose owner left an attestation campaign unanswered past its grace period (campaigns whose
    enforcement is a finding or a stop). Answering, or the agent's retirement, clears it."""
    from governance.models import Attestation, AttestationCampaign

    # Few campaigns: their grace is added in Python, the agents stay one query.
    campaigns = [
        c.pk
        for c in AttestationCampaign.objects.filter(deadline__lt=now, enforcement__in=["finding", "stop"])
        if c.enforce_after() <= now
    ]
    if not campaigns:
        return {}
    overdue = Attestation.objects.filter(answer="pending", campaign__in=campaigns).values("agent_id")
    return wanted_rows(
        Agent.objects.filter(pk__in=overdue).exclude(lifecycle=Lifecycle.RETIRED),
        severity=_by_tier("risk_tier"),
        summary=Concat("name", Value(": its owner has not confirmed its facts in an attestation campaign.")),
    )


MCP_SUBJECT_PREFIX = "mcp:"


def mcp_subject(server_key: str) -> str:
    """The finding subject of an MCP server: its key, marked so it never reads as an agent identity."""
    return f"{MCP_SUBJECT_PREFIX}{server_key}"


def mcp_tool_changed(now: datetime) -> dict[Subject, Wanted]:
    """Board-approved MCP servers whose last scan found new tools, removed tools, or tools whose
    description, input schema or hints differ from what was approved. The tools stay usable only as
    approved until the board accepts the change, which clears the finding."""
    pending: dict[int, dict] = {}
    for server_id, key, name, mcp_name, change in (
        Tool.objects.filter(mcp_server__approved_at__isnull=False)
        .exclude(mcp_change="")
        .order_by("mcp_server_id", "mcp_name")
        .values_list("mcp_server_id", "mcp_server__key", "mcp_server__name", "mcp_name", "mcp_change")
    ):
        entry = pending.setdefault(server_id, {"key": key, "name": name, "added": [], "changed": [], "removed": []})
        entry[change].append(mcp_name)
    wanted = {}
    for entry in pending.values():
        counts = ", ".join(f"{len(entry[k])} {k}" for k in ("added", "changed", "removed") if entry[k])
        wanted[("identity", mcp_subject(entry["key"]))] = Wanted(
            # A changed description or schema is how a rug-pull hides: the board looks first.
            severity=Severity.HIGH if entry["changed"] or entry["added"] else Severity.MEDIUM,
            summary=f"MCP server {entry['name']} changed since the board approved it ({counts} tools).",
            details={
                "mcp_server": entry["key"],
                **{k: entry[k] for k in ("added", "changed", "removed") if entry[k]},
            },
        )
    return wanted


# Ungranted tool use: calls this recent keep the finding open; silence this long resolves it.
UNGRANTED_TOOL_WINDOW = timedelta(days=7)
SEVERITY_SCALE = [Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL]
# The tool's reach moves the tier's severity: a read-only tool one step down, execute one step up.
ACCESS_SEVERITY_STEP = {ToolAccess.READ: -1, ToolAccess.WRITE: 0, ToolAccess.EXECUTE: 1}


def _running_versions(agent_ids) -> dict[int, tuple[int, str, bool]]:
    """agent id -> (version id, label) of the version it is taken to run: the newest production release,
    else its newest release to any environment, else (never released) its newest version."""
    chosen: dict[int, tuple[int, str, bool]] = {}
    for agent_id, environment, version_id, label in (
        Release.objects.filter(agent_id__in=agent_ids)
        .order_by("agent_id", "-approved_at", "-id")
        .values_list("agent_id", "environment", "version_id", "version__label")
    ):
        current = chosen.get(agent_id)
        if current is None or (environment == "production" and not current[2]):
            chosen[agent_id] = (version_id, label, environment == "production")
    result = {agent_id: (version_id, label, True) for agent_id, (version_id, label, _prod) in chosen.items()}
    missing = [agent_id for agent_id in agent_ids if agent_id not in result]
    if missing:
        for agent_id, version_id, label in (
            AgentVersion.objects.filter(agent_id__in=missing)
            .order_by("agent_id", "-created_at", "-id")
            .values_list("agent_id", "id", "label")
        ):
            result.setdefault(agent_id, (version_id, label, False))
    return result


# PostgreSQL: the recent calls no grant of the running version covers, under the same rules as
# ungranted_tool_use (which re-checks them and builds the findings): the rules in one statement, so the
# calls that are granted (nearly all) never reach Python.
UNGRANTED_CALLS_SQL = """
SELECT u.agent_id, u.tool_name, u.server_address
FROM {uses} AS u
LEFT JOIN (
    -- The running version: the newest production release, else the newest release, else the newest version.
    SELECT DISTINCT ON (agent_id) agent_id, version_id FROM (
        SELECT agent_id, version_id, 0 AS rank, environment = 'production' AS production, approved_at AS at, id
        FROM {release}
        WHERE agent_id IN (SELECT agent_id FROM {uses} WHERE last_called_at >= %s)
        UNION ALL
        SELECT agent_id, id, 1, false, created_at, id FROM {version}
        WHERE agent_id IN (SELECT agent_id FROM {uses} WHERE last_called_at >= %s)
    ) AS candidates
    ORDER BY agent_id, rank, production DESC, at DESC, id DESC
) AS r ON r.agent_id = u.agent_id
WHERE u.last_called_at >= %s AND NOT EXISTS (
    SELECT FROM {grant} AS g
    JOIN {tool} AS t ON t.id = g.tool_id
    LEFT JOIN {server} AS m ON m.id = t.mcp_server_id
    WHERE g.version_id = r.version_id AND u.tool_name IN (t.key, t.name, t.mcp_name)
      AND (u.server_address = '' OR lower(m.host) = lower(u.server_address))
)
"""


def _tool_calls_to_check(since: datetime) -> dict[int, set[tuple[str, str]]]:
    """agent id -> {(tool name, server address)} called since ``since``: on PostgreSQL only those no grant
    covers (``UNGRANTED_CALLS_SQL``), elsewhere all of them (SQLite catalogs are small)."""
    seen: dict[int, set[tuple[str, str]]] = defaultdict(set)
    if connection.vendor == "postgresql":
        statement = UNGRANTED_CALLS_SQL.format(
            uses=ToolUse._meta.db_table,
            release=Release._meta.db_table,
            version=AgentVersion._meta.db_table,
            grant=AgentVersionTool._meta.db_table,
            tool=Tool._meta.db_table,
            server=McpServer._meta.db_table,
        )
        with connection.cursor() as cursor:
            cursor.execute(statement, [since, since, since])
            rows = cursor.fetchall()
    else:
        rows = ToolUse.objects.called_since(since).order_by().values_list("agent_id", "tool_name", "server_address")
    for agent_id, tool_name, server in rows:
        seen[agent_id].add((tool_name, server.lower()))
    return seen


def _called(entry: dict) -> str:
    """One ungranted call as the summary lists it: the tool, and for MCP the server and its standing."""
    if not entry["server"]:
        return entry["tool"]
    if not entry["server_registered"]:
        return f"{entry['tool']} on {entry['server']} (an unregistered MCP server)"
    if not entry["server_granted"]:
        return f"{entry['tool']} on {entry['server']} (no tool of this server granted)"
    return f"{entry['tool']} on {entry['server']}"


def ungranted_tool_use(now: datetime) -> dict[Subject, Wanted]:
    """Agents whose telemetry showed, in the last seven days, a tool or an MCP server the version they
    run does not grant (``_running_versions``). Reads the tools' last calls (``ToolUse``), the releases and grants
    of those agents and the catalog tools named: small tables, never the event stream.

    A telemetry name matches a catalog tool by key, name or MCP name; a call on an MCP server
    (``server.address``) matches only the tools of the server registered with that host. Severity
    follows the agent's tier, one step down for a read-only tool and one up for an execute tool; an
    unknown tool counts as write. Releasing a version that grants the tools, or seven days without a
    call, resolves the finding."""
    seen = _tool_calls_to_check(now - UNGRANTED_TOOL_WINDOW)
    if not seen:
        return {}
    agents, tiers = {}, {}
    for pk, name, tier in Agent.objects.filter(pk__in=list(seen)).order_by().values_list("pk", "name", "risk_tier"):
        agents[pk], tiers[pk] = name, tier
    running = _running_versions(list(seen))
    granted: dict[int, set[int]] = defaultdict(set)
    for version_id, tool_id in (
        AgentVersionTool.objects.filter(version_id__in=[v for v, _label, _released in running.values()])
        .order_by()
        .values_list("version_id", "tool_id")
    ):
        granted[version_id].add(tool_id)
    names = {name for pairs in seen.values() for name, _server in pairs}
    servers = {server for pairs in seen.values() for _name, server in pairs if server}
    # Only the catalog tools the telemetry could mean (by key, name or MCP name), and the servers named.
    tools = list(
        Tool.objects.filter(Q(key__in=names) | Q(name__in=names) | Q(mcp_name__in=names))
        .annotate(host=Lower("mcp_server__host"))
        .order_by()
        .values_list("pk", "key", "name", "mcp_name", "host", "supports_write", "supports_execute")
    )
    registered_servers = set(
        McpServer.objects.annotate(lower_host=Lower("host"))
        .filter(lower_host__in=servers)
        .values_list("lower_host", flat=True)
    )
    # Every catalog tool of the servers named (whether the version grants anything on the server).
    server_tools: dict[str, set[int]] = defaultdict(set)
    if servers:
        for pk, host in (
            Tool.objects.annotate(host=Lower("mcp_server__host"))
            .filter(host__in=servers)
            .order_by()
            .values_list("pk", "host")
        ):
            server_tools[host].add(pk)
    by_name: dict[str, list[tuple]] = defaultdict(list)  # key, name or MCP name -> catalog tools
    for tool in tools:
        key, name, mcp_name = tool[1:4]
        for spelling in {key, name, mcp_name} - {""}:
            by_name[spelling].append(tool)
    matched: dict[tuple[str, str], list[tuple]] = {}

    def candidates(tool_name: str, server: str) -> list[tuple]:
        key = (tool_name, server)
        if key not in matched:
            matched[key] = [t for t in by_name.get(tool_name, ()) if not server or t[4] == server]
        return matched[key]

    wanted = {}
    for agent_id, pairs in seen.items():
        if agent_id not in agents:
            continue
        version_id, label, released = running.get(agent_id, (None, "", False))
        allowed = granted.get(version_id, set())
        ungranted = []
        for tool_name, server in sorted(pairs):
            matches = candidates(tool_name, server)
            if any(t[0] in allowed for t in matches):
                continue
            access = max(
                (widest_access(t[5], t[6]) for t in matches),
                key=lambda a: ACCESS_SEVERITY_STEP[a],
                default=ToolAccess.WRITE,
            )
            entry = {
                "tool": tool_name,
                "server": server,
                "catalog_tool": matches[0][1] if len(matches) == 1 else None,
                "access": access,
            }
            if server:
                entry["server_registered"] = server in registered_servers
                entry["server_granted"] = bool(server_tools.get(server, set()) & allowed)
            ungranted.append(entry)
        if not ungranted:
            continue
        base = SEVERITY_SCALE.index(TIER_SEVERITY.get(tiers.get(agent_id) or "", Severity.MEDIUM))
        step = max(ACCESS_SEVERITY_STEP[e["access"]] for e in ungranted)
        severity = SEVERITY_SCALE[min(max(base + step, 0), len(SEVERITY_SCALE) - 1)]
        called = ", ".join(_called(e) for e in ungranted)
        if released:
            granted_by = f"its released version {label}"
        else:
            granted_by = f"its version {label} (never released)" if label else "no version of it"
        wanted[_agent(agent_id)] = Wanted(
            severity=severity,
            summary=f"{agents[agent_id]} called tools {granted_by} does not grant: {called}.",
            details={"version": label or None, "released": released, "tools": ungranted},
        )
    return wanted


def telemetry_rejected(now: datetime) -> dict[Subject, Wanted]:
    """Telemetry sources that had more than TELEMETRY_REJECTED_PERCENT of what they sent refused on
    today or yesterday (UTC): their agents' reports are being lost. Reads the per-day intake table
    (a row per source and day), never the raw events. The subject is the source, by name."""
    today = now.date() if timezone.is_naive(now) else timezone.localtime(now, UTC).date()
    percent = settings.TELEMETRY_REJECTED_PERCENT
    worst: dict[int, dict] = {}
    recent = IngestDay.objects.since(today - timedelta(days=1)).filter(day__lte=today).totals("source__name")
    for day in sorted(recent, key=itemgetter("day")):
        # Integers: rejected / received > percent / 100, compared exactly.
        if day["received"] and day["rejected"] * 100 > day["received"] * percent:
            current = worst.get(day["source"])
            if current is None or day["rejected_share"] > current["rejected_share"]:
                worst[day["source"]] = day
    wanted = {}
    for day in worst.values():
        source = TelemetrySource(pk=day["source"], name=day["source__name"])
        share = round(100 * day["rejected_share"], 1)
        wanted[("identity", telemetry_source_subject(source))] = Wanted(
            severity=Severity.HIGH if share >= 25 else Severity.MEDIUM,
            summary=f"Telemetry source {source.name} had {share}% of what it sent refused on {day['day']:%d %b %Y} "
            f"({day['rejected']} of {day['received']}); the agents behind it go unwatched.",
            details={
                "source": source.pk,
                "day": day["day"].isoformat(),
                "received": day["received"],
                "rejected": day["rejected"],
                "threshold_percent": percent,
            },
        )
    return wanted


def incident_report_due(now: datetime) -> dict[Subject, Wanted]:
    """Agents with a serious incident (Art. 73) whose first report to the authority is not sent and
    half its time or more is gone: high at 50%, critical when nearly missed (90%) or missed. One
    finding per agent names every such incident; it clears once each is reported."""
    from governance import eu_ai_act
    from governance.models import Incident

    policy = RiskPolicy.objects.current()
    incidents = (
        Incident.objects.filter(aware_at__isnull=False, authority_reports__isnull=True)
        .select_related("agent")
        .order_by("agent_id", "aware_at", "id")
    )
    per_agent: dict[int, list] = defaultdict(list)
    for incident in incidents:
        clock = eu_ai_act.report_clock(incident, policy, now, reports=[])
        if clock.stage in eu_ai_act.ALERT_STAGES:
            per_agent[incident.agent_id].append((incident, clock))
    wanted = {}
    for agent_id, rows in per_agent.items():
        critical = any(c.stage != "half" for _, c in rows)
        incident, clock = min(rows, key=lambda row: row[1].deadline)
        verb = "was due" if clock.stage == "missed" else "is due"
        wanted[_agent(agent_id)] = Wanted(
            severity=Severity.CRITICAL if critical else Severity.HIGH,
            summary=(
                f"{incident.agent.name}: the report of serious incident “{incident.title}” to the authority "
                f"{verb} by {clock.deadline:%d %b %Y %H:%M} UTC ({clock.get_stage_label()})."
            ),
            details={
                "incidents": [
                    {
                        "id": i.pk,
                        "title": i.title,
                        "category": i.serious_category,
                        "deadline": c.deadline.isoformat(),
                        "stage": c.stage,
                    }
                    for i, c in rows
                ]
            },
        )
    return wanted


def telemetry_source_subject(source) -> str:
    """The identity a telemetry_rejected finding is filed under (a source is not an agent)."""
    return f"telemetry source: {source.name}"


def drift(now: datetime) -> dict[Subject, Wanted]:
    """Agents whose watched metrics left their band (``governance.drift``): ONE finding per agent listing
    every drifting metric (the open-finding constraint is per agent and kind). Constant queries."""
    from governance.drift import drift_findings

    return {_agent(agent_id): Wanted(**fields) for agent_id, fields in drift_findings(now).items()}


def budget_overrun(now: datetime) -> dict[Subject, Wanted]:
    """Budgets whose month-end forecast passes them by the policy's margin (``governance.drift``). An agent's
    budget raises a finding about the agent; a unit's about the identity ``business-unit:<slug>``."""
    from governance.drift import budget_findings

    wanted = {}
    for (subject, key), fields in budget_findings(now).items():
        unit = fields.pop("unit")
        wanted[_agent(key) if subject == "agent" else ("identity", f"business-unit:{unit.slug}")] = Wanted(**fields)
    return wanted


CHECKS: dict[str, Callable[[datetime], dict[Subject, Wanted]]] = {
    FindingKind.SHADOW_AGENT: shadow_agents,
    FindingKind.UNAPPROVED_IN_PRODUCTION: unapproved_in_production,
    FindingKind.LAPSED_MONITORING: lapsed_monitoring,
    FindingKind.REVIEW_OVERDUE: review_overdue,
    FindingKind.ORPHANED_OWNER: orphaned_owners,
    FindingKind.CONTROL_GAP: control_gaps,
    FindingKind.EVIDENCE_EXPIRED: evidence_expired,
    FindingKind.NO_SUCCESS_METRIC: no_success_metric,
    FindingKind.LOW_ADOPTION: low_adoption,
    FindingKind.DORMANT_AGENT: dormant_agents,
    FindingKind.ATTESTATION_OVERDUE: attestation_overdue,
    FindingKind.MCP_TOOL_CHANGED: mcp_tool_changed,
    FindingKind.UNGRANTED_TOOL_USE: ungranted_tool_use,
    FindingKind.TELEMETRY_REJECTED: telemetry_rejected,
    FindingKind.INCIDENT_REPORT_DUE: incident_report_due,
    FindingKind.DRIFT: drift,
    FindingKind.BUDGET_OVERRUN: budget_overrun,
}


def available_checks() -> dict[str, Callable]:
    """The built-in checks plus those upper layers registered (portfolio's maturity_trap)."""
    checks = dict(CHECKS)
    for kind, check in hooks.check_providers:
        checks[kind] = check
    return checks


# --- The engine ----------------------------------------------------------------------------------


def _lock(kind: str) -> None:
    """PostgreSQL: take the kind's lock for this transaction, and give its statements the memory to
    pair tens of thousands of findings in one in-memory hash (the server's default spills to disk)."""
    if connection.vendor == "postgresql":
        key = CHECK_LOCK_BASE + sorted(FindingKind.values).index(kind)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s), set_config('work_mem', %s, true)",
                [key, f"{settings.CHECKS_WORK_MEM_MB}MB"],
            )


def reconcile(kind: str, wanted, now: datetime) -> CheckResult:
    """Make the open findings of ``kind`` match ``wanted``: open the new, resolve the cleared (with the
    time), refresh changed details. Must run inside a transaction holding the kind's lock.
    Acknowledged and waived findings are open findings like the others: only their condition clearing
    resolves them; their acknowledgement and waiver are never touched here."""
    if connection.vendor == "postgresql":
        return _reconcile_in_database(kind, _wanted_sql(wanted), now)
    return _reconcile_in_python(kind, _wanted_dict(wanted), now)


# Reconciliation as one statement (PostgreSQL): the wanted set and the open findings meet in the
# database, so the work in Python no longer grows with the number of findings. One FULL JOIN pairs
# them (PostgreSQL runs a full join only as a hash or merge join, so the plan cannot degrade into a
# nested loop when the wanted rows are mis-estimated, as an unnest() always is); subjects match on
# (agent or 0, identity), one key for both kinds of subject (agent ids start at 1, agent findings
# have no identity). Detections written as queries leave their summaries out of the pairing: a
# summary is needed only where a finding opens or changes, so ``summaries`` runs the detection again
# for those, and not at all in a steady sweep. The sub-statements see one snapshot and touch disjoint
# rows. Placeholders: in the order ``_reconcile_in_database`` lists them.
RECONCILE_SQL = """
WITH diff AS MATERIALIZED (
    -- Only the pairs a later step writes are kept: most are findings that stay as they are.
    SELECT open_id, wanted, changed, restamp AND NOT changed AS restamp,
           CASE WHEN open_id IS NULL OR changed THEN agent_id END AS agent_id,
           CASE WHEN open_id IS NULL OR changed THEN identity END AS identity,
           CASE WHEN open_id IS NULL OR changed THEN severity END AS severity,
           CASE WHEN open_id IS NULL OR changed THEN summary END AS summary,
           CASE WHEN open_id IS NULL OR changed THEN details END AS details,
           CASE WHEN open_id IS NULL OR changed OR restamp THEN digest END AS digest
    FROM (
        -- Equal digests mean equal details; the documents are compared only where they differ (or a
        -- digest is missing), and a finding whose details were equal after all just takes the digest.
        SELECT o.id AS open_id, w.wanted, w.agent_id, w.identity, w.severity, w.summary, w.details, w.digest,
               (o.severity <> w.severity OR (NOT d.same AND o.details <> w.details)) AS changed,
               (w.digest <> '' AND NOT d.same) AS restamp
        FROM (
            SELECT id, agent_id, identity, severity, details, details_digest
            FROM {finding} WHERE kind = %s AND resolved_at IS NULL
        ) AS o
        FULL JOIN (
            SELECT true AS wanted, w.agent_id, COALESCE(w.identity, '') AS identity, w.severity,
                   LEFT(w.summary, 300) AS summary, COALESCE(w.details::jsonb, '{{}}') AS details,
                   COALESCE(w.digest, '') AS digest
            FROM ({wanted}) AS w (agent_id, identity, severity, summary, details, digest)
        ) AS w ON COALESCE(w.agent_id, 0) = COALESCE(o.agent_id, 0) AND w.identity = o.identity
        CROSS JOIN LATERAL (SELECT w.digest <> '' AND w.digest = o.details_digest AS same) AS d
    ) AS pairs
    WHERE open_id IS NULL OR wanted IS NULL OR changed OR restamp
), summaries AS MATERIALIZED (
    SELECT s.agent_id, COALESCE(s.identity, '') AS identity, LEFT(s.summary, 300) AS summary
    FROM ({summaries}) AS s (agent_id, identity, summary)
    WHERE EXISTS (SELECT FROM diff WHERE summary IS NULL AND (open_id IS NULL OR changed))
), opened AS (
    INSERT INTO {finding} (kind, agent_id, identity, severity, summary, details, details_digest, opened_at,
                           waiver_reason)
    SELECT %s, d.agent_id, d.identity, d.severity, COALESCE(d.summary, s.summary, ''), d.details, d.digest, %s, ''
    -- Full joins with the summaries as well: the diff's size is a guess (50,000 rows on a first sweep),
    -- and a full join is never a nested loop. No condition is strict on d, or it would become a left join.
    FROM diff AS d
    FULL JOIN summaries AS s ON COALESCE(s.agent_id, 0) = COALESCE(d.agent_id, 0) AND s.identity = d.identity
    WHERE d.open_id IS NULL AND COALESCE(d.wanted, false)
      AND EXISTS (SELECT FROM diff WHERE open_id IS NULL)  -- gates the whole join: a steady sweep skips it
    ON CONFLICT DO NOTHING
    RETURNING id, summary
), resolved AS (
    UPDATE {finding} AS f SET resolved_at = %s
    FROM diff AS d
    WHERE f.id = d.open_id AND d.wanted IS NULL AND f.resolved_at IS NULL
      AND EXISTS (SELECT FROM diff WHERE wanted IS NULL)
    RETURNING f.id
), updated AS (
    UPDATE {finding} AS f SET severity = d.severity, summary = COALESCE(d.summary, s.summary, f.summary),
                              details = d.details, details_digest = d.digest
    FROM diff AS d
    FULL JOIN summaries AS s ON COALESCE(s.agent_id, 0) = COALESCE(d.agent_id, 0) AND s.identity = d.identity
    WHERE f.id = COALESCE(d.open_id, 0) AND COALESCE(d.changed, false) AND f.resolved_at IS NULL
      AND EXISTS (SELECT FROM diff WHERE changed)
    RETURNING f.id, f.details
), restamped AS (
    UPDATE {finding} AS f SET details_digest = d.digest
    FROM diff AS d
    WHERE f.id = d.open_id AND d.restamp AND f.resolved_at IS NULL AND EXISTS (SELECT FROM diff WHERE restamp)
), history AS (
    INSERT INTO {event} (finding_id, kind, at, note, data)
    SELECT id, %s, %s, summary, '{{}}'::jsonb FROM opened
    UNION ALL SELECT id, %s, %s, %s, '{{}}' FROM resolved
    UNION ALL SELECT id, %s, %s, '', details FROM updated
)
-- Open before this statement (its snapshot), then what it opened and resolved.
SELECT (SELECT count(*) FROM {finding} WHERE kind = %s AND resolved_at IS NULL),
       ARRAY(SELECT id FROM opened), ARRAY(SELECT id FROM resolved)
"""
CLEARED_NOTE = "The condition cleared."
NO_SUMMARIES = "SELECT NULL::bigint, NULL::text, NULL::text WHERE false"
WANTED_COLUMNS = "(agent_id, identity, severity, summary, details, digest)"


@dataclass
class WantedQuery:
    """The wanted findings as SQL: ``sql`` selects (agent_id, identity, severity, summary, details,
    digest) rows, with a NULL summary for the parts that ``summaries_sql`` (agent_id, identity, summary)
    answers on demand."""

    sql: str
    params: list
    summaries_sql: str = NO_SUMMARIES
    summaries_params: list = field(default_factory=list)


def _wanted_sql(wanted) -> WantedQuery:
    """The wanted findings of any shape a check returns, as one ``WantedQuery``."""
    if isinstance(wanted, list):
        parts = [_wanted_sql(part) for part in wanted]
        lazy = [part for part in parts if part.summaries_sql != NO_SUMMARIES]
        return WantedQuery(
            " UNION ALL ".join(f"({part.sql})" for part in parts),
            [p for part in parts for p in part.params],
            " UNION ALL ".join(f"({part.summaries_sql})" for part in lazy) or NO_SUMMARIES,
            [p for part in lazy for p in part.summaries_params],
        )
    if isinstance(wanted, (WantedSQL, QuerySet)):
        # A query: paired without its summaries, which it answers again only where they are needed.
        if isinstance(wanted, QuerySet):
            sql, params = wanted.query.get_compiler(connection=connection).as_sql()
            columns = "q.finding_agent, '', q.finding_severity, q.finding_summary, q.finding_details, q.finding_digest"
            sql = f"SELECT {columns} FROM ({sql}) AS q"  # noqa: S608 (compiled by the ORM)
        else:
            sql, params = wanted.sql, wanted.params
        source = f"FROM ({sql}) AS w {WANTED_COLUMNS}"
        return WantedQuery(
            f"SELECT w.agent_id, w.identity, w.severity, NULL::text, w.details, w.digest {source}",  # noqa: S608
            list(params),
            f"SELECT w.agent_id, w.identity, w.summary {source}",  # noqa: S608
            list(params),
        )
    # Computed in Python: sent as one array per column (a constant number of parameters at any size).
    agents, identities, severities, summaries, details, digests = [], [], [], [], [], []
    # id(details) -> (JSON, digest): checks share one details object between many subjects.
    encoded: dict[int, tuple[str, str]] = {}
    for (subject, key), want in wanted.items():
        agents.append(key if subject == "agent" else None)
        identities.append(key if subject == "identity" else "")
        severities.append(want.severity)
        summaries.append(want.summary)
        if id(want.details) not in encoded:
            encoded[id(want.details)] = (json.dumps(want.details), details_digest(want.details))
        text, digest = encoded[id(want.details)]
        details.append(text)
        digests.append(digest)
    return WantedQuery(
        "SELECT agent, identity, severity, summary, details::jsonb, digest"
        " FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[])"
        " AS u (agent, identity, severity, summary, details, digest)",
        [agents, identities, severities, summaries, details, digests],
    )


def _reconcile_in_database(kind: str, wanted: WantedQuery, now: datetime) -> CheckResult:
    """PostgreSQL: open, resolve and update in one statement that also writes the history rows, then
    queue the webhooks of what opened or resolved (``notifications`` builds their payloads; only
    findings that changed state are read back, never the steady open set)."""
    from governance import notifications

    statement = RECONCILE_SQL.format(
        wanted=wanted.sql,
        summaries=wanted.summaries_sql,
        finding=Finding._meta.db_table,
        event=FindingEvent._meta.db_table,
    )
    params = [
        kind,  # the open findings
        *wanted.params,
        *wanted.summaries_params,
        kind,  # opened
        now,
        now,  # resolved
        FindingEventKind.OPENED,
        now,
        FindingEventKind.RESOLVED,
        now,
        CLEARED_NOTE,
        FindingEventKind.UPDATED,
        now,
        kind,  # the count of open findings
    ]
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        open_before, opened, resolved = cursor.fetchone()
    still_open = open_before + len(opened) - len(resolved)
    for ids, event in ((opened, "finding.opened"), (resolved, "finding.resolved")):
        if ids:
            notifications.queue_webhooks(Finding.objects.filter(pk__in=ids).select_related("agent"), event, now)
    return CheckResult(kind=kind, found=len(opened), resolved=len(resolved), still_open=still_open)


def _wanted_dict(wanted) -> dict[Subject, Wanted]:
    """The wanted findings read into Python (the SQLite fallback)."""
    if isinstance(wanted, list):
        return {subject: want for part in wanted for subject, want in _wanted_dict(part).items()}
    if isinstance(wanted, WantedSQL):
        raise TypeError("WantedSQL is PostgreSQL only; return rows or a queryset on other databases.")
    if isinstance(wanted, QuerySet):
        return {
            _agent(row["finding_agent"]): Wanted(
                row["finding_severity"], row["finding_summary"], row["finding_details"]
            )
            for row in wanted
        }
    return wanted


def _subject_of(finding: Finding) -> Subject:
    return _agent(finding.agent_id) if finding.agent_id else ("identity", finding.identity)


def _reconcile_in_python(kind: str, wanted: dict[Subject, Wanted], now: datetime) -> CheckResult:
    """The same reconciliation row by row in Python: SQLite (the demo), where catalogs are small."""
    from governance import notifications

    result = CheckResult(kind=kind)
    open_rows = {
        _subject_of(f): f
        for f in Finding.objects.open()
        .filter(kind=kind)
        .order_by()
        .only("agent", "identity", "details", "details_digest", "severity")
    }
    new_subjects = [s for s in wanted if s not in open_rows]
    cleared_ids = [f.pk for s, f in open_rows.items() if s not in wanted]
    if new_subjects:
        Finding.objects.bulk_create(
            [
                Finding(
                    kind=kind,
                    agent_id=subject[1] if subject[0] == "agent" else None,
                    identity=subject[1] if subject[0] == "identity" else "",
                    severity=wanted[subject].severity,
                    summary=wanted[subject].summary[:300],
                    details=wanted[subject].details,
                    details_digest=details_digest(wanted[subject].details),
                    opened_at=now,
                )
                for subject in new_subjects
            ],
            ignore_conflicts=True,
            batch_size=1000,
        )
        created = list(Finding.objects.open().filter(kind=kind, opened_at=now).select_related("agent"))
        created = [f for f in created if _subject_of(f) not in open_rows]
        FindingEvent.objects.bulk_create(
            [FindingEvent(finding=f, kind=FindingEventKind.OPENED, at=now, note=f.summary) for f in created],
            batch_size=1000,
        )
        notifications.queue_webhooks(created, "finding.opened", now)
        result.found = len(created)
    if cleared_ids:
        Finding.objects.filter(pk__in=cleared_ids, resolved_at__isnull=True).update(resolved_at=now)
        cleared = list(Finding.objects.filter(pk__in=cleared_ids).select_related("agent"))
        FindingEvent.objects.bulk_create(
            [FindingEvent(finding=f, kind=FindingEventKind.RESOLVED, at=now, note=CLEARED_NOTE) for f in cleared],
            batch_size=1000,
        )
        notifications.queue_webhooks(cleared, "finding.resolved", now)
        result.resolved = len(cleared)
    # The documents are the truth here (SQLite catalogs are small); the digest is kept in step with them.
    changed, restamped = [], []
    for subject, finding in open_rows.items():
        want = wanted.get(subject)
        if want is None:
            continue
        digest = details_digest(want.details)
        if finding.details != want.details or finding.severity != want.severity:
            changed.append(
                Finding(
                    pk=finding.pk,
                    details=want.details,
                    details_digest=digest,
                    severity=want.severity,
                    summary=want.summary[:300],
                )
            )
        elif finding.details_digest != digest:
            restamped.append(Finding(pk=finding.pk, details_digest=digest))
    if changed:
        Finding.objects.bulk_update(changed, ["details", "details_digest", "severity", "summary"], batch_size=500)
        FindingEvent.objects.bulk_create(
            [FindingEvent(finding_id=f.pk, kind=FindingEventKind.UPDATED, at=now, data=f.details) for f in changed]
        )
    if restamped:
        Finding.objects.bulk_update(restamped, ["details_digest"], batch_size=500)
    result.still_open = len(wanted)
    return result


ABANDONED = "Abandoned: the worker running it was lost."


def _start_run(kind: str, now: datetime, triggered_by_id: int | None) -> int:
    """Record a run as running, committed at once, and mark as failed the runs of this check still
    "running" past the hard time limit (their worker was lost). Two statements, each committed on its
    own: neither needs the other, so no transaction (and no BEGIN and COMMIT round trips) holds them."""
    lost_before = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    CheckRun.objects.filter(check_kind=kind, status=CheckRunStatus.RUNNING, started_at__lt=lost_before).update(
        status=CheckRunStatus.FAILED, finished_at=now, error=ABANDONED
    )
    return CheckRun.objects.create(check_kind=kind, started_at=now, triggered_by_id=triggered_by_id).pk


def run_check(kind: str, *, now: datetime | None = None, triggered_by_id: int | None = None) -> CheckResult:
    """Run one check, record the run, and return what it found and resolved. A failing check is
    recorded as failed with its error and re-raised (so Celery logs it); nothing half-written stays."""
    checks = available_checks()
    if kind not in checks:
        raise ValueError(f"Unknown check {kind!r}; known: {', '.join(sorted(checks))}.")
    now = now or timezone.now()
    # Two commits per run, not four (each one waits for the log flush, and a sweep runs ten checks):
    # the run is visible as running from its start, and it is recorded as succeeded in the
    # transaction of the findings it counts, so both commit or neither does.
    run_id = _start_run(kind, now, triggered_by_id)
    try:
        with transaction.atomic():
            _lock(kind)
            result = reconcile(kind, checks[kind](now), now)
            CheckRun.objects.filter(pk=run_id).update(
                status=CheckRunStatus.SUCCEEDED,
                finished_at=timezone.now(),
                found=result.found,
                resolved=result.resolved,
                still_open=result.still_open,
            )
    except Exception:
        error = traceback.format_exc()[-4000:]
        # After a database restart the failed rollback above dropped the connection; this reconnects.
        try:
            CheckRun.objects.filter(pk=run_id).update(
                status=CheckRunStatus.FAILED, finished_at=timezone.now(), error=error
            )
        except DatabaseError:  # still down: the run stays "running" until the next run marks it abandoned
            logger.warning("check %s: could not record the failure of run %s", kind, run_id)
        logger.exception("check %s failed", kind)
        raise
    result.run_id = run_id
    return result


def reconcile_now(kind: str, *, now: datetime | None = None) -> CheckResult:
    """Run one check inside the caller's transaction (no run row of its own, no commit): a service that
    has just made a condition true (an owner deprovisioned) opens the findings before it returns."""
    now = now or timezone.now()
    with transaction.atomic():
        _lock(kind)
        return reconcile(kind, available_checks()[kind](now), now)


class SweepInterrupted(Exception):
    """Some checks of a sweep lost the database (a restart, a failover); the sweep is worth retrying soon."""

    def __init__(self, kinds: list[str]):
        super().__init__(f"The database connection was lost during the checks {', '.join(kinds)}.")
        self.kinds = kinds


def run_all_checks(*, now: datetime | None = None, triggered_by_id: int | None = None) -> list[CheckResult]:
    """Run every check; one failing check does not stop the others (its run records the error).

    Raises SweepInterrupted after the last check when some failed because the database went away,
    so the task can retry the sweep once it is back instead of waiting for the next scheduled one."""
    results = []
    interrupted = []
    for kind in available_checks():
        try:
            results.append(run_check(kind, now=now, triggered_by_id=triggered_by_id))
        except (OperationalError, InterfaceError):
            interrupted.append(kind)
        except Exception:  # recorded on its CheckRun and logged; the sweep goes on
            results.append(CheckResult(kind=kind))
    if interrupted:
        raise SweepInterrupted(interrupted)
    return results
