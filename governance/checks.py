"""The background checks: one function per finding kind, and the engine that turns their answers into findings.

Every check is *set-based*: it answers "which subjects have this problem now?"
with a constant number of queries, whatever the size of the catalog, and the
engine reconciles that answer with the open findings:

1. take a transaction-level advisory lock for the kind (PostgreSQL), so two
   sweeps of the same check run one after the other; the conditional unique
   constraint "one open finding per subject and kind" backs it up, and the
   inserts skip conflicts, so even without the lock nothing is raised twice;
2. read the open findings of the kind (one query) and compute the wanted set;
3. open the missing ones (one bulk insert), resolve the cleared ones with the
   time (one update), refresh details that changed;
4. write the history rows and the webhook deliveries in bulk, and record the run.

Re-running changes nothing. Notification is a separate task (``notifications``).
"""

import json
import logging
import traceback
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.db.models import Max, Q, TextField
from django.db.models.functions import Cast
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
from registry.choices import RUNNING_STATES, Lifecycle
from registry.models import Agent, AgentVersion
from telemetry import services as telemetry_services
from telemetry.models import ExternalIdentity, MonitoringState, Sighting

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
LOW_ADOPTION_SHARE = 0.2
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


# --- The checks: each returns {subject: Wanted} --------------------------------------------------


def shadow_agents(now: datetime) -> dict[Subject, Wanted]:
    """Identities telemetry reported within the retention period that no registered agent claims,
    except those the board marked as known external agents (until the marking expires)."""
    since = now - timedelta(days=settings.TELEMETRY_RETENTION_DAYS)
    external = ExternalIdentity.objects.current(now).values("identity")
    rows = (
        Sighting.objects.unclaimed()
        .filter(last_seen_at__gte=since)
        .exclude(identity__in=external)
        .values("identity")
        .annotate(last_seen_at=Max("last_seen_at"))
    )
    environments: dict[str, set] = defaultdict(set)
    for identity, environment in (
        Sighting.objects.unclaimed().filter(last_seen_at__gte=since).values_list("identity", "environment")
    ):
        environments[identity].add(environment)
    wanted = {}
    for row in rows:
        envs = sorted(environments[row["identity"]])
        wanted[("identity", row["identity"])] = Wanted(
            severity=Severity.HIGH if "production" in envs else Severity.MEDIUM,
            summary=f"{row['identity']} runs ({', '.join(envs)}) but no registered agent claims it.",
            details={"environments": envs},
        )
    return wanted


def unapproved_in_production(now: datetime) -> dict[Subject, Wanted]:
    """Registered agents reporting from production recently without an approved production release."""
    approved = Release.objects.filter(environment="production").values("agent_id")
    rows = (
        Sighting.objects.filter(
            environment="production", agent__isnull=False, last_seen_at__gte=now - PRODUCTION_RECENCY
        )
        .exclude(agent_id__in=approved)
        .values_list("agent_id", "agent__name", "agent__risk_tier")
        .distinct()
        .order_by()
    )
    return {
        _agent(agent_id): Wanted(
            severity=Severity.CRITICAL if tier in ("high", "critical") else Severity.HIGH,
            summary=f"{name} reports from production without an approved production release.",
        )
        for agent_id, name, tier in rows
    }


def lapsed_monitoring(now: datetime) -> dict[Subject, Wanted]:
    """Agents in pilot or production silent past their tier's window, or that never reported in it.
    Deadlines are refreshed first (a constant number of statements), then read through their index."""
    telemetry_services.refresh_monitoring_deadlines()
    rows = (
        MonitoringState.objects.overdue(now)
        .filter(agent__lifecycle__in=RUNNING_STATES)
        .values("agent_id", "agent__name", "agent__risk_tier", "last_seen_at", "deadline_at")
    )
    wanted = {}
    for r in rows:
        if r["last_seen_at"] is None:
            summary = f"{r['agent__name']} has never reported telemetry since it started running."
        else:
            summary = f"{r['agent__name']} has been silent since {r['last_seen_at']:%d %b %Y %H:%M} UTC."
        wanted[_agent(r["agent_id"])] = Wanted(
            severity=TIER_SEVERITY.get(r["agent__risk_tier"], Severity.MEDIUM),
            summary=summary,
            details={"never_reported": r["last_seen_at"] is None},
        )
    return wanted


def review_overdue(now: datetime) -> dict[Subject, Wanted]:
    """Agents with an open review past its due date (periodic reviews are due by the tier's cadence)."""
    rows = (
        Review.objects.filter(status="open", due_at__lt=now)
        .exclude(agent__lifecycle=Lifecycle.RETIRED)
        .values("agent_id", "agent__name", "agent__risk_tier")
        .annotate(due_at=Max("due_at"))
    )
    return {
        _agent(r["agent_id"]): Wanted(
            severity=TIER_SEVERITY.get(r["agent__risk_tier"], Severity.MEDIUM),
            summary=f"{r['agent__name']}'s review was due on {r['due_at']:%d %b %Y}.",
        )
        for r in rows
    }


def orphaned_owners(now: datetime) -> dict[Subject, Wanted]:
    """Agents (not retired) whose owner's account is deactivated."""
    rows = (
        Agent.objects.filter(owner__is_active=False)
        .exclude(lifecycle=Lifecycle.RETIRED)
        .values("pk", "name", "lifecycle", "owner__username")
    )
    return {
        _agent(r["pk"]): Wanted(
            severity=Severity.HIGH if r["lifecycle"] in RUNNING_STATES else Severity.MEDIUM,
            summary=f"{r['name']}'s owner ({r['owner__username']}) is deactivated; transfer it to an active person.",
        )
        for r in rows
    }


def no_success_metric(now: datetime) -> dict[Subject, Wanted]:
    """Agents in production with no business outcome, or no success metric with a target."""
    rows = Agent.objects.filter(lifecycle=Lifecycle.PRODUCTION).filter(
        Q(business_outcome="") | Q(metric_name="") | Q(metric_target__isnull=True)
    )
    return {
        _agent(pk): Wanted(
            severity=Severity.LOW,
            summary=f"{name} is in production without a stated outcome and success metric with a target.",
        )
        for pk, name in rows.values_list("pk", "name")
    }


def low_adoption(now: datetime) -> dict[Subject, Wanted]:
    """Agents 60+ days in production whose active users are under 20% of the eligible users."""
    rows = Agent.objects.filter(
        lifecycle=Lifecycle.PRODUCTION,
        production_since__lte=now - LOW_ADOPTION_AFTER,
        eligible_users__gt=0,
        active_users__isnull=False,
    ).values_list("pk", "name", "active_users", "eligible_users")
    wanted = {}
    for pk, name, active, eligible in rows:
        share = active / eligible
        if share < LOW_ADOPTION_SHARE:
            wanted[_agent(pk)] = Wanted(
                severity=Severity.LOW,
                summary=f"{name}: {active} of {eligible} eligible users are active ({share:.0%}).",
                details={"active_users": active, "eligible_users": eligible},
            )
    return wanted


def _control_states(now: datetime, agents) -> dict[int, list[tuple[str, str]]]:
    """agent id -> [(control code, state)] for every required evidence control, in a constant number
    of queries: the checklist logic of ``governance.compliance``, applied to pre-fetched rows."""
    from governance import compliance
    from governance.requirements import Facts, derive_requirements

    # Only the facts the applicability rules read, as plain tuples: agent rows are wide, and there may
    # be tens of thousands (model instances cost more than the rules themselves).
    fact_fields = (
        "risk_tier",
        "pattern",
        "mode",
        "autonomy_level",
        "external_facing",
        "data_classification",
        "handles_personal_data",
        "handles_regulated_data",
    )
    rows = list(agents.order_by().values_list("pk", *fact_fields))
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
    for pk, *columns in rows:
        assessment = assessments.get(pk)
        key = (*columns, assessment.tier if assessment else None, assessment.eu_ai_act_category if assessment else None)
        facts = facts_of.get(key)
        if facts is None:
            facts = facts_of[key] = Facts.of(
                SimpleNamespace(**dict(zip(fact_fields, columns, strict=True))), assessment
            )
        requirements = required_for.get(facts)
        if requirements is None:
            requirements = required_for[facts] = [
                r for r in derive_requirements(facts, controls) if r.control.validity != Validity.SYSTEM
            ]  # owner and monitoring have their own checks (orphaned_owner, lapsed_monitoring)
        if pk not in evidence and pk not in waivers:
            if facts not in all_missing:
                all_missing[facts] = [(r.control.code, ControlState.MISSING) for r in requirements]
            result[pk] = all_missing[facts]
            continue
        states = []
        for requirement in requirements:
            control = requirement.control
            status = compliance.ControlStatus(control=control, reasons=requirement.reasons, state=ControlState.MISSING)
            compliance._evaluate_evidence(status, control, evidence[pk], waivers[pk], now, newest_version.get(pk))
            states.append((control.code, status.state))
        result[pk] = states
    return result


GAP_STATES = (ControlState.MISSING, ControlState.REJECTED, ControlState.SUBMITTED)


def control_gaps(now: datetime) -> dict[Subject, Wanted]:
    """Agents in pilot or production lacking accepted evidence (or a waiver in force) for a required control.
    Expired evidence is reported by evidence_expired instead."""
    agents = Agent.objects.filter(lifecycle__in=RUNNING_STATES)
    names = dict(agents.order_by().values_list("pk", "name"))
    wanted = {}
    gaps_of: dict[int, list[str]] = {}  # id(states) -> gaps: agents without evidence share one states list
    for agent_id, states in _control_states(now, agents).items():
        gaps = gaps_of.get(id(states))
        if gaps is None:
            gaps = sorted(code for code, state in states if state in GAP_STATES)
            gaps_of[id(states)] = gaps
        if gaps:
            wanted[_agent(agent_id)] = Wanted(
                severity=Severity.HIGH if len(gaps) > 2 else Severity.MEDIUM,
                summary=f"{names[agent_id]} lacks accepted evidence for {', '.join(gaps)}.",
                details={"controls": gaps},
            )
    return wanted


def evidence_expired(now: datetime) -> dict[Subject, Wanted]:
    """Agents (not retired) whose accepted evidence for a required control is no longer valid."""
    agents = Agent.objects.exclude(lifecycle=Lifecycle.RETIRED).filter(
        pk__in=Evidence.objects.filter(status=EvidenceStatus.ACCEPTED)
        .filter(Q(valid_until__lte=now) | Q(invalidated_at__lte=now) | Q(version__isnull=False))
        .values("agent_id")
    )
    names = dict(agents.order_by().values_list("pk", "name"))
    wanted = {}
    for agent_id, states in _control_states(now, agents).items():
        expired = sorted(code for code, state in states if state == ControlState.EXPIRED)
        if expired:
            wanted[_agent(agent_id)] = Wanted(
                severity=Severity.MEDIUM,
                summary=f"{names[agent_id]}'s evidence for {', '.join(expired)} is no longer valid.",
                details={"controls": expired},
            )
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
}


def available_checks() -> dict[str, Callable]:
    """The built-in checks plus those upper layers registered (portfolio's maturity_trap)."""
    checks = dict(CHECKS)
    for kind, check in hooks.check_providers:
        checks[kind] = check
    return checks


# --- The engine ----------------------------------------------------------------------------------


def _lock(kind: str) -> None:
    if connection.vendor == "postgresql":
        key = CHECK_LOCK_BASE + sorted(FindingKind.values).index(kind)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def _subject_of(finding: Finding) -> Subject:
    return _agent(finding.agent_id) if finding.agent_id else ("identity", finding.identity)


def reconcile(kind: str, wanted: dict[Subject, Wanted], now: datetime) -> CheckResult:
    """Make the open findings of ``kind`` match ``wanted``: open the new, resolve the cleared (with the
    time), refresh changed details. Must run inside a transaction holding the kind's lock."""
    from governance import notifications

    result = CheckResult(kind=kind)
    # Plain rows, not model instances: at enterprise size most findings stay as they are.
    # Details as text, decoded once per distinct value: tens of thousands of findings share a few.
    decoded: dict[str, object] = {}
    open_rows = {}
    for pk, agent_id, identity, details, severity in (
        Finding.objects.open()
        .filter(kind=kind)
        .order_by()
        .values_list("id", "agent_id", "identity", Cast("details", TextField()), "severity")
    ):
        if details not in decoded:
            decoded[details] = json.loads(details) if details is not None else None
        subject = ("agent", agent_id) if agent_id else ("identity", identity)
        open_rows[subject] = {"id": pk, "details": decoded[details], "severity": severity}
    new_subjects = [s for s in wanted if s not in open_rows]
    cleared_ids = [r["id"] for s, r in open_rows.items() if s not in wanted]
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
            [
                FindingEvent(finding=f, kind=FindingEventKind.RESOLVED, at=now, note="The condition cleared.")
                for f in cleared
            ],
            batch_size=1000,
        )
        notifications.queue_webhooks(cleared, "finding.resolved", now)
        result.resolved = len(cleared)
    changed = []
    for subject, row in open_rows.items():
        want = wanted.get(subject)
        if want is not None and (row["details"] != want.details or row["severity"] != want.severity):
            changed.append(
                Finding(pk=row["id"], details=want.details, severity=want.severity, summary=want.summary[:300])
            )
    if changed:
        Finding.objects.bulk_update(changed, ["details", "severity", "summary"], batch_size=500)
        FindingEvent.objects.bulk_create(
            [FindingEvent(finding_id=f.pk, kind=FindingEventKind.UPDATED, at=now, data=f.details) for f in changed]
        )
    result.still_open = len(wanted)
    return result


def run_check(kind: str, *, now: datetime | None = None, triggered_by_id: int | None = None) -> CheckResult:
    """Run one check, record the run, and return what it found and resolved. A failing check is
    recorded as failed with its error and re-raised (so Celery logs it); nothing half-written stays."""
    checks = available_checks()
    if kind not in checks:
        raise ValueError(f"Unknown check {kind!r}; known: {', '.join(sorted(checks))}.")
    now = now or timezone.now()
    # A run still "running" past the hard time limit lost its worker; say so instead of leaving it hanging.
    CheckRun.objects.filter(
        check_kind=kind,
        status=CheckRunStatus.RUNNING,
        started_at__lt=now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT),
    ).update(status=CheckRunStatus.FAILED, finished_at=now, error="Abandoned: the worker running it was lost.")
    run = CheckRun.objects.create(check_kind=kind, started_at=now, triggered_by_id=triggered_by_id)
    try:
        with transaction.atomic():
            _lock(kind)
            result = reconcile(kind, checks[kind](now), now)
    except Exception:
        error = traceback.format_exc()[-4000:]
        # After a database restart the failed rollback above dropped the connection; this reconnects.
        try:
            CheckRun.objects.filter(pk=run.pk).update(
                status=CheckRunStatus.FAILED, finished_at=timezone.now(), error=error
            )
        except DatabaseError:  # still down: the run stays "running" until the next run marks it abandoned
            logger.warning("check %s: could not record the failure of run %s", kind, run.pk)
        logger.exception("check %s failed", kind)
        raise
    CheckRun.objects.filter(pk=run.pk).update(
        status=CheckRunStatus.SUCCEEDED,
        finished_at=timezone.now(),
        found=result.found,
        resolved=result.resolved,
        still_open=result.still_open,
    )
    result.run_id = run.pk
    return result


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
