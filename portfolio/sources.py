"""What the portfolio reads from the governance and telemetry layers, behind one module.

The lower layers land in stages; until a model exists, each function here
returns ``None`` ("not known yet") and the reports say so instead of showing
a made-up zero. When a lower layer changes a field name, this is the one file
to adjust.
"""

from django.apps import apps
from django.db.models import QuerySet
from django.urls import NoReverseMatch, reverse

from registry.chunked import in_chunks

OPEN_STATES = ("open", "acknowledged")
SEVERITIES = ("critical", "high", "medium", "low")
HIGH_SEVERITIES = ("critical", "high")


def _model(app_label: str, name: str):
    try:
        return apps.get_model(app_label, name)
    except LookupError:
        return None


def finding_model():
    return _model("governance", "Finding")


def _has_field(model, name: str) -> bool:
    return any(f.name == name for f in model._meta.get_fields())


def open_findings() -> QuerySet | None:
    """Every open finding (not resolved, not waived), or None while findings do not exist."""
    Finding = finding_model()
    if Finding is None:
        return None
    qs = Finding.objects.all()
    if hasattr(qs, "open"):
        return qs.open()
    if _has_field(Finding, "status"):
        return qs.filter(status__in=OPEN_STATES)
    return qs.filter(resolved_at__isnull=True)


def open_shadow_findings() -> QuerySet | None:
    qs = open_findings()
    if qs is None:
        return None
    return qs.filter(kind="shadow_agent")


def severity_field() -> str | None:
    Finding = finding_model()
    if Finding is not None and _has_field(Finding, "severity"):
        return "severity"
    return None


# Open findings of these kinds mean an agent is not fully compliant.
NON_COMPLIANT_KINDS = ("control_gap", "evidence_expired", "orphaned_owner")


def non_compliant_agent_ids() -> QuerySet | None:
    """The ids of the agents with an open finding that means they are not fully compliant; None without findings.

    Fully compliant: no open ``control_gap`` (a required control without valid
    accepted evidence or a waiver), ``evidence_expired`` or ``orphaned_owner``
    finding. Reading the findings keeps the compliance figure one indexed
    subquery at any size and makes it agree with the findings list it links
    to; evaluating every agent's checklist live took 14 s at 50,000 agents.
    The figure means something only once the control-gap check has completed
    (:func:`completed_control_gap_runs`); until then it is unknown, not 100 %.
    """
    findings = open_findings()
    if findings is None:
        return None
    return findings.filter(kind__in=NON_COMPLIANT_KINDS, agent__isnull=False).values("agent_id")


def completed_control_gap_runs() -> QuerySet | None:
    """The control-gap check's completed sweeps (compliance is known once there is one); None without check runs."""
    CheckRun = _model("governance", "CheckRun")
    if CheckRun is None:
        return None
    return CheckRun.objects.filter(check_kind="control_gap", status="succeeded").values("id")


def review_overdue_agents(agents: QuerySet) -> QuerySet | None:
    """Agents whose periodic review is past due, read from the open ``review_overdue`` findings."""
    qs = open_findings()
    if qs is None:
        return None
    return agents.filter(pk__in=qs.filter(kind="review_overdue").values("agent_id"))


def usage_rollup_model():
    """Daily usage rollups per agent (telemetry's ``DailyUsage``), or None."""
    return _model("telemetry", "DailyUsage")


def findings_url(**params) -> str | None:
    """The governance findings list filtered by ``params``, or None while that page does not exist."""
    from urllib.parse import urlencode

    for name in ("governance:findings", "governance:finding-list"):
        try:
            base = reverse(name)
        except NoReverseMatch:
            continue
        query = urlencode([(k, v) for k, v in params.items() if v not in (None, "")], doseq=True)
        return f"{base}?{query}" if query else base
    return None


def requirement_rows(agents: QuerySet, now):
    """(agent, control status) pairs for every required control of every agent, or None without governance.

    Governance derives requirements per agent (``governance.compliance.checklist``)
    rather than storing them, so this walks the agents in chunks and asks for each
    one's checklist: a fixed handful of queries per agent, streamed, never the
    whole portfolio in memory.
    """
    try:
        from governance import compliance
    except ImportError:
        return None
    if not hasattr(compliance, "checklist"):
        return None

    def rows():
        for agent in in_chunks(agents.select_related("business_unit"), by="key", size=500):
            for status in compliance.checklist(agent, now):
                yield agent, status

    return rows()
