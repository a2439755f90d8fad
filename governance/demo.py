"""Governance's part of the demo: assessments, evidence, reviews, releases, waivers and incidents.

Runs after ``registry.demo.build`` and before ``registry.demo.advance_to_targets``
(see ``portfolio/management/commands/load_demo.py``). For every agent the
registry demo sends to production (``registry.demo.release_keys()``) it
prepares the release gate: a confirmed risk assessment, accepted evidence
(or a board waiver) for every required control and a board-approved
release of its newest version. Agents that stop short of production are
left in every other governance state: assessments awaiting confirmation,
evidence awaiting review or rejected, controls missing, release reviews
open. Some get an overdue periodic review, some incidents (an open high one
for the agents the registry demo suspends).

Everything goes through ``governance.services`` (permissions, audit); only
the due dates of the overdue periodic reviews are moved into the past
afterwards, the way the registry demo backdates its business dates.

Idempotent: when any risk assessment exists, it does nothing. Agents whose
owner has left cannot pass the gate (the ``owner`` control fails): they stay
where the gate stops them, which is the governance outcome the demo shows.
"""

import random
import secrets
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from governance import compliance, services
from governance.models import Review, RiskAssessment
from governance.services import findings as finding_services
from registry import audit
from registry.choices import Lifecycle
from registry.models import Agent
from registry.roles import Role

SEED = 7
FINANCIAL_TOOLS = ("payments-refund", "sap-post-invoice", "docusign-send", "sap-create-po")
HIGH_RISK_WORDS = ("recruit", "screen", "candidate", "hiring", "credit", "loan", "grading", "exam")


def _rng(key: str) -> random.Random:
    return random.Random(f"{SEED}:{key}")  # noqa: S311 (deterministic demo data, not security)


def answers_for(agent) -> dict:
    """The questionnaire as the owner would fill it, from what the registry knows about the agent."""
    version = agent.versions.order_by("-created_at", "-id").first()
    grants = list(version.tool_grants.select_related("tool")) if version else []
    writes = [g.tool.key for g in grants if g.access == "write"]
    financial = any(key in FINANCIAL_TOOLS for key in writes)
    users = agent.eligible_users or 0
    text = f"{agent.key} {agent.name}".lower()
    if any(word in text for word in HIGH_RISK_WORDS):
        category, reason = "high_risk", "Influences decisions about people's access to work or services (Annex III)."
    elif agent.external_facing:
        category, reason = "transparency", "Talks directly with people outside the company (Art. 50)."
    else:
        category, reason = "minimal", "Internal assistance; no Annex III use and no direct interaction with the public."
    return {
        "action_impact": "financial_legal"
        if financial
        else "production_affecting"
        if writes
        else "internal_reversible"
        if agent.mode == "execute"
        else "read_only",
        "irreversible_actions": financial,
        "people_affected": "under_100" if users < 100 else "under_10000" if users < 10_000 else "more",
        "eu_ai_act_category": category,
        "eu_ai_act_reason": reason,
    }


def _evidence(agent, code: str, actor, rng: random.Random):
    if rng.random() < 0.3:
        return services.submit_evidence(
            agent,
            code,
            actor=actor,
            kind="statement",
            statement=f"{code.replace('-', ' ').capitalize()} for {agent.name}: documented in the team's runbook "
            "and checked at the last release.",
        )
    return services.submit_evidence(
        agent,
        code,
        actor=actor,
        kind="link",
        url=f"https://wiki.aldermoor.example/agents/{agent.key}/{code}",
        summary=f"{code} record",
    )


class Demo:
    def __init__(self):
        user_model = get_user_model()
        self.admin = user_model.objects.filter(groups__name=Role.PLATFORM_ADMIN, is_active=True).order_by("pk").first()
        self.board = list(user_model.objects.filter(groups__name=Role.BOARD, is_active=True).order_by("username"))
        self.counts = {
            "assessed": 0,
            "pending": 0,
            "evidence": 0,
            "releases": 0,
            "waivers": 0,
            "incidents": 0,
            "overdue": 0,
        }

    def reviewer(self, agent, rng):
        """A board member independent of the agent (not its owner or a delegate)."""
        maintainers = {agent.owner_id, *agent.delegations.values_list("user_id", flat=True)}
        candidates = [b for b in self.board if b.pk not in maintainers]
        return rng.choice(candidates)

    def submitter(self, agent):
        return agent.owner if agent.owner.is_active else self.admin

    def assess(self, agent, rng, *, confirm=True):
        assessment = services.submit_assessment(agent, actor=self.submitter(agent), **answers_for(agent))
        if confirm:
            assessment = services.confirm_assessment(assessment, actor=self.reviewer(agent, rng))
            self.counts["assessed"] += 1
            agent.refresh_from_db()
        else:
            self.counts["pending"] += 1
        return assessment

    def prove(self, agent, rng, *, missing=0.0, waiting=0.0, rejected=0.0, waive=0.0):
        """Evidence for the required controls: accepted, or left missing / awaiting review / rejected / waived."""
        now = timezone.now()
        for status in compliance.checklist(agent, now):
            if status.control.is_system:
                continue
            roll = rng.random()
            if roll < missing:
                continue
            if roll < missing + waive:
                services.grant_waiver(
                    agent,
                    status.code,
                    actor=self.reviewer(agent, rng),
                    reason="Accepted for now: the control is being put in place this quarter.",
                    expires_at=now + timedelta(days=rng.choice((30, 60, 90))),
                )
                self.counts["waivers"] += 1
                continue
            evidence = _evidence(agent, status.code, self.submitter(agent), rng)
            self.counts["evidence"] += 1
            if roll < missing + waive + waiting:
                continue
            if roll < missing + waive + waiting + rejected:
                services.reject_evidence(
                    evidence,
                    actor=self.reviewer(agent, rng),
                    reason="This does not show the control working; add the test record.",
                )
                continue
            services.accept_evidence(evidence, actor=self.reviewer(agent, rng))

    def release(self, agent, rng, *, decide=True):
        version = agent.versions.order_by("-created_at", "-id").first()
        if version is None:
            return
        review = services.request_release_review(
            agent, version, "production", actor=self.submitter(agent), summary="Ready for production."
        )
        if not decide:
            return
        if rng.random() < 0.2:
            services.decide_review(
                review,
                actor=self.reviewer(agent, rng),
                decision="approve_with_conditions",
                reason="Evidence is in order; two follow-ups agreed.",
                conditions=["Run the rollback drill within 30 days", "Share the first month's quality report"],
            )
        else:
            services.decide_review(
                review, actor=self.reviewer(agent, rng), decision="approve", reason="Evidence reviewed and in order."
            )
        self.counts["releases"] += 1

    def incident(self, agent, rng, *, severity, open_=False):
        actor = self.submitter(agent)
        detected = timezone.now() - timedelta(days=rng.randint(2, 120))
        incident = services.report_incident(
            agent,
            actor=actor,
            title=rng.choice(
                [
                    "Answered with an outdated policy",
                    "Guardrail let a personal detail through",
                    "Tool call retried in a loop",
                    "Escalation did not reach the on-call queue",
                ]
            ),
            severity=severity,
            what_happened="Spotted by a user and confirmed from the traces; the affected conversations were reviewed.",
            follow_up_actions="Add a regression scenario to the evaluation set; tighten the guardrail.",
            detected_at=detected,
            version=agent.versions.order_by("-created_at", "-id").first(),
        )
        if not open_:
            services.resolve_incident(
                incident,
                actor=actor,
                resolution="Fixed in the next prompt version and verified.",
                resolved_at=detected + timedelta(hours=rng.randint(1, 48)),
            )
        self.counts["incidents"] += 1


def build(stdout) -> None:
    """Write governance's demo data for the registry demo's agents, unless it is there already."""
    from registry import demo as registry_demo

    if RiskAssessment.objects.exists():
        stdout.write("governance: demo already loaded (risk assessments exist); nothing to do.")
        return
    targets = registry_demo.lifecycle_targets()
    releases = set(registry_demo.release_keys())
    demo = Demo()
    if demo.admin is None or len(demo.board) < 2:
        stdout.write("governance: the registry demo is not loaded; nothing to do.")
        return
    agents = list(Agent.objects.filter(key__in=targets).select_related("owner").order_by("key"))
    overdue = []
    token = audit.correlation_id_var.set(audit.new_correlation_id())
    try:
        for start in range(0, len(agents), 25):
            with transaction.atomic():
                for agent in agents[start : start + 25]:
                    _govern(demo, agent, targets[agent.key], agent.key in releases, overdue)
        with transaction.atomic():
            now = timezone.now()
            for agent_id, days in overdue:
                Review.objects.filter(agent_id=agent_id, kind="periodic", status="open").update(
                    due_at=now - timedelta(days=days)
                )
            demo.counts["overdue"] = len(overdue)
    finally:
        audit.correlation_id_var.reset(token)
    c = demo.counts
    stdout.write(
        f"governance: {c['assessed']} assessments confirmed, {c['pending']} awaiting the board, "
        f"{c['evidence']} pieces of evidence, {c['releases']} releases approved, {c['waivers']} waivers, "
        f"{c['incidents']} incidents, {c['overdue']} periodic reviews overdue"
    )


def _govern(demo: Demo, agent, target: str, releases: bool, overdue: list) -> None:
    rng = _rng(agent.key)
    lifecycle = agent.lifecycle
    if target == Lifecycle.PROPOSED:
        return
    if lifecycle == Lifecycle.IN_REVIEW or target == Lifecycle.IN_REVIEW:
        # Awaiting the board: the assessment waits for confirmation; some evidence is in.
        demo.assess(agent, rng, confirm=False)
        return
    if lifecycle == Lifecycle.RETIRED:
        return
    demo.assess(agent, rng)
    if releases:
        # The gate must open for these: every control proven, a few gaps waived instead.
        demo.prove(agent, rng, waive=0.05)
        demo.release(agent, rng)
        if rng.random() < 0.12:
            overdue.append((agent.pk, rng.randint(3, 40)))
        if target == Lifecycle.SUSPENDED:
            demo.incident(agent, rng, severity="high", open_=True)
        elif rng.random() < 0.15:
            demo.incident(agent, rng, severity=rng.choice(["low", "medium", "high"]), open_=rng.random() < 0.3)
        return
    # Pilot and approved agents that stay short of production: every kind of gap.
    demo.prove(agent, rng, missing=0.2, waiting=0.2, rejected=0.1, waive=0.05)
    if target == Lifecycle.SUSPENDED:
        demo.incident(agent, rng, severity="critical", open_=True)
    elif rng.random() < 0.4:
        demo.release(agent, rng, decide=False)


# Production agents (by key) whose evidence the demo lets lapse after release,
# so leaders see that passing the gate once is not the same as staying compliant.
LAPSE_EVERY_NTH_PRODUCTION_AGENT = 12


def lapse_some_evidence(stdout) -> None:
    """Let time pass for a few production agents: one accepted piece of evidence each runs out.

    Runs after the registry demo has moved agents into production (load_demo
    calls it then). Deterministic (every Nth production agent by key, its
    oldest accepted time-limited evidence) and idempotent: evidence already
    past its validity is left as it is, so a second run changes nothing.
    """
    from governance.choices import EvidenceStatus
    from governance.models import Evidence

    now = timezone.now()
    keys = list(Agent.objects.filter(lifecycle=Lifecycle.PRODUCTION).order_by("key").values_list("key", flat=True))
    chosen = keys[LAPSE_EVERY_NTH_PRODUCTION_AGENT - 1 :: LAPSE_EVERY_NTH_PRODUCTION_AGENT]
    lapsed = 0
    with transaction.atomic():
        for key in chosen:
            evidence = (
                Evidence.objects.filter(agent__key=key, status=EvidenceStatus.ACCEPTED, valid_until__isnull=False)
                .order_by("valid_until", "id")
                .first()
            )
            if evidence is None or evidence.valid_until <= now:
                continue
            days_ago = 3 + len(key) % 20
            Evidence.objects.filter(pk=evidence.pk).update(valid_until=now - timedelta(days=days_ago))
            lapsed += 1
    stdout.write(f"governance: evidence lapsed after release for {lapsed} of {len(keys)} production agents")


# --- Owner continuity ---------------------------------------------------------------------------

CAMPAIGN_NAME = "Annual attestation of running agents"
LEAVER = "lucas.moreau"  # provisioned from the directory with Olivia as manager, then deprovisioned
LEAVER_MANAGER = "olivia.martin"
DORMANT_COUNT = 2


def continuity(stdout) -> None:
    """A campaign in progress (most owners answered, some late), one person deprovisioned by the directory
    with handovers pending, and two dormant agents. Runs after the lifecycle moves; idempotent."""
    from governance.checks import run_check
    from governance.choices import AttestationAnswer, FindingKind
    from governance.models import Attestation, AttestationCampaign
    from governance.services import continuity as continuity_services
    from registry import services as registry_services
    from registry.models import BusinessUnit, DirectoryEntry
    from telemetry import demo as telemetry_demo
    from telemetry.models import MonitoringState

    if AttestationCampaign.objects.filter(name=CAMPAIGN_NAME).exists():
        stdout.write("owner continuity: already loaded; nothing to do.")
        return
    users = get_user_model().objects
    admin = users.get(username="ada.nkemelu")
    board = users.get(username="bea.lindqvist")
    now = timezone.now()

    # Directory: Olivia manages Lucas; Priya heads Talent; a group maps to the board role.
    manager_entry, _ = DirectoryEntry.objects.get_or_create(user=users.get(username=LEAVER_MANAGER))
    leaver = users.get(username=LEAVER)
    DirectoryEntry.objects.get_or_create(user=leaver, defaults={"manager_scim_id": str(manager_entry.scim_id)})
    talent = BusinessUnit.objects.filter(slug="talent").first()
    if talent is not None and talent.head_id is None:
        registry_services.update_business_unit(talent, actor=admin, head=users.get(username="priya.nair"))
    registry_services.map_group_to_role(actor=admin, group_name="AI Governance Board", role=Role.BOARD)

    # The campaign: opened a month ago, deadline two days ago, in its grace period.
    campaign = continuity_services.open_campaign(
        actor=board,
        name=CAMPAIGN_NAME,
        deadline=now + timedelta(days=1),
        lifecycles=[Lifecycle.PILOT, Lifecycle.PRODUCTION],
    )
    AttestationCampaign.objects.filter(pk=campaign.pk).update(
        opened_at=now - timedelta(days=30), deadline=now - timedelta(days=2)
    )
    owners = sorted(set(Attestation.objects.filter(campaign=campaign).values_list("owner__username", flat=True)))
    late = {LEAVER_MANAGER, LEAVER} | set(owners[::3])
    for username in owners:
        if username in late:
            continue
        owner = users.get(username=username)
        if not owner.is_active:
            continue
        rows = list(Attestation.objects.filter(campaign=campaign, owner=owner))
        continuity_services.answer_attestations(rows, AttestationAnswer.UNCHANGED, actor=owner)
    answered = Attestation.objects.filter(campaign=campaign).exclude(answer=AttestationAnswer.PENDING).count()

    # The directory removes Lucas: his agents are proposed to Olivia, his manager.
    proposals = registry_services.deprovision_user(leaver, actor=admin)

    # Two running agents that stopped reporting three months ago.
    silent = sorted(telemetry_demo.silent_keys())[:DORMANT_COUNT]
    for key in silent:
        agent = Agent.objects.get(key=key)
        long_ago = now - timedelta(days=95)
        Agent.objects.filter(pk=agent.pk).update(lifecycle_changed_at=long_ago - timedelta(days=30))
        MonitoringState.objects.update_or_create(agent=agent, defaults={"last_seen_at": long_ago})
    run_check(FindingKind.DORMANT_AGENT)
    stdout.write(
        f"owner continuity: campaign over {Attestation.objects.filter(campaign=campaign).count()} agents "
        f"({answered} answered), {len(proposals)} handovers pending from {leaver}, dormant: {', '.join(silent)}"
    )


DEMO_WEBHOOK = "Incident pager (demo)"


def operations_examples(stdout) -> None:
    """A webhook endpoint whose delivery gave up, so the administrators' overview shows one.

    Runs after the checks have run once (load_demo calls it last). Idempotent:
    the endpoint is looked up by name and the delivery is unique per endpoint,
    finding and event.
    """
    from governance.models import Finding, WebhookDelivery, WebhookEndpoint

    demo = Demo()
    finding = Finding.objects.filter(agent__isnull=False, resolved_at__isnull=True).order_by("opened_at", "id").first()
    if demo.admin is None or finding is None:
        stdout.write("governance: no open finding yet; no failed delivery to show.")
        return
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.filter(name=DEMO_WEBHOOK).first()
        if endpoint is None:
            endpoint = finding_services.create_webhook(
                actor=demo.admin,
                name=DEMO_WEBHOOK,
                url="https://pager.aldermoor.example/hooks/agent-registry",
                secret=secrets.token_hex(16),
                active=False,
            )
        now = timezone.now()
        _, created = WebhookDelivery.objects.get_or_create(
            endpoint=endpoint,
            finding=finding,
            event="opened",
            defaults={
                "payload": {"finding": finding.pk, "kind": finding.kind},
                "status": "failed",
                "attempts": 6,
                "last_status_code": 503,
                "last_error": "Service Unavailable: the pager was down for maintenance",
                "created_at": now - timedelta(hours=7),
            },
        )
    stdout.write(f"governance: {'one' if created else 'no new'} failed webhook delivery for the operations overview")


# --- EU AI Act in operation ---------------------------------------------------------------------------

DEMO_AUTHORITY = "National market surveillance authority"


def eu_ai_act_in_operation(stdout) -> None:
    """A serious incident with its Art. 73 clock running and an initial report sent, a second one past
    half its time with nothing sent (the board's warning), and a FRIA submitted for a high-risk agent;
    every agent's technical file is a link on its governance page. Idempotent: each part is skipped
    when it exists already."""
    from django.urls import reverse

    from governance.models import FundamentalRightsAssessment, Incident

    high_risk = list(
        Agent.objects.filter(
            risk_assessments__status="confirmed",
            risk_assessments__eu_ai_act_category="high_risk",
            owner__is_active=True,
            lifecycle__in=(Lifecycle.PRODUCTION, Lifecycle.PILOT),
        )
        .distinct()
        .order_by("-lifecycle", "key")
    )
    if not high_risk:
        stdout.write("governance: no high-risk agent in the demo; EU AI Act examples skipped.")
        return
    first = next((a for a in high_risk if "screen" in a.key), high_risk[0])
    second = next((a for a in high_risk if a.pk != first.pk), first)
    now = timezone.now()
    token = audit.correlation_id_var.set(audit.new_correlation_id())
    try:
        if not Incident.objects.exclude(serious_category="").exists():
            with transaction.atomic():
                version = first.versions.order_by("-created_at", "-id").first()
                incident = services.report_incident(
                    first,
                    actor=first.owner,
                    title="Shortlist excluded applicants over 50",
                    severity="critical",
                    what_happened=(
                        "A recruiter noticed that no applicant over 50 reached the shortlist for three weeks; "
                        "the traces show the screening summaries penalised long careers."
                    ),
                    follow_up_actions="Re-screen the affected applications by hand; drop career length from rubric.",
                    detected_at=now - timedelta(days=2),
                    version=version,
                )
                services.mark_incident_serious(
                    incident, actor=first.owner, category="fundamental_rights", aware_at=now - timedelta(days=2)
                )
                services.record_authority_report(
                    incident,
                    actor=first.owner,
                    kind="initial",
                    sent_at=now - timedelta(hours=6),
                    authority=DEMO_AUTHORITY,
                    reference="MSA-2026-0412",
                    notes="Initial report; the root-cause analysis follows.",
                )
                other = services.report_incident(
                    second,
                    actor=second.owner,
                    title="Automated rejections sent without review",
                    severity="high",
                    what_happened="A configuration change skipped the human review step for a day.",
                    detected_at=now - timedelta(hours=30),
                    version=second.versions.order_by("-created_at", "-id").first(),
                )
                services.mark_incident_serious(
                    other, actor=second.owner, category="widespread_infringement", aware_at=now - timedelta(hours=30)
                )
            stdout.write(
                f"governance: serious incidents on the Art. 73 clock: {incident.title!r} "
                f"({reverse('governance:incident-detail', args=[incident.pk])}) and {other.title!r}"
            )
        if not FundamentalRightsAssessment.objects.exists():
            from governance import documents

            draft = documents.fria_prefill(first, first.owner)
            draft["period_and_frequency"] += " Screens every application received, every working day."
            draft["people_affected"] += " Job applicants, including people with disabilities and older applicants."
            draft["risks_of_harm"] += "\nIndirect discrimination by age, gender or disability in the shortlist."
            services.submit_fria(first, actor=first.owner, **draft)
            stdout.write(f"governance: FRIA submitted for {first.name}, awaiting the board's review")
    finally:
        audit.correlation_id_var.reset(token)
    stdout.write(
        f"governance: technical file of {first.name}: {reverse('governance:technical-file', args=[first.key, 'pdf'])}"
    )


# Drift and budgets: which production agents (every Nth by key with usage) drift, and how.
DRIFT_PLAN = ("error_step", "latency_step", "cost_slide")
DEMO_DAILY_INVOCATIONS = 150


def _drift_day(row, kind: str, age: int) -> None:
    """Rewrite one day's rollup of a drifting demo agent (steady figures, then the drift)."""
    from telemetry.models import LATENCY_BUCKET_FIELDS

    n = DEMO_DAILY_INVOCATIONS + (age * 7) % 23
    row.invocations, row.latency_samples = n, n
    row.errors = round(n * (0.10 if kind == "error_step" and age < 3 else 0.015 + (age % 4) * 0.002))
    row.tool_calls, row.escalations = round(n * 1.6), round(n * 0.01)
    latency = 3200.0 if kind == "latency_step" and age < 3 else 900.0 + (age % 5) * 30
    row.latency_ms_total = n * latency
    for field in LATENCY_BUCKET_FIELDS:
        setattr(row, field, 0)
    slow = round(n * 0.04)
    row.latency_le_5s = slow if latency < 2500 else n - slow
    row.latency_le_1s = n - slow if latency < 2500 else 0
    row.latency_le_10s = slow if latency >= 2500 else 0
    row.input_tokens, row.output_tokens = n * 1500, n * 250
    per_call = Decimal("0.0060") * (1 + Decimal(max(0, 60 - age)) / 100 if kind == "cost_slide" else 1)
    row.cost = (per_call * n * (1 + Decimal(age % 3) / 50)).quantize(Decimal("0.000001"))


def drift_and_budgets(stdout) -> None:
    """A few production agents drifting in different ways (an error step, a latency step, a slow cost
    slide), a business unit over its budget and an agent within its own; then the drift and budget checks
    run so the findings show. Idempotent: when any budget exists it does nothing."""
    from governance import checks
    from governance.drift import cost_by_agent, forecast
    from governance.models import Budget
    from registry.models import BusinessUnit
    from telemetry.models import DailyUsage

    if Budget.objects.exists():
        stdout.write("governance: drift and budget demo already loaded; nothing to do.")
        return
    demo = Demo()
    with_usage = DailyUsage.objects.filter(environment="production").values("agent_id")
    agents = list(Agent.objects.filter(lifecycle=Lifecycle.PRODUCTION, pk__in=with_usage).order_by("key"))
    if len(agents) < len(DRIFT_PLAN) + 1 or demo.admin is None:
        stdout.write("governance: no production agents with usage; drift demo skipped.")
        return
    today = timezone.now().date()
    drifting = agents[3 :: max(1, len(agents) // 4)][: len(DRIFT_PLAN)]
    with transaction.atomic():
        for agent, kind in zip(drifting, DRIFT_PLAN, strict=False):
            rows = {r.day: r for r in DailyUsage.objects.filter(agent=agent, environment="production")}
            for age in range(70):
                day = today - timedelta(days=age)
                row = rows.get(day) or DailyUsage(agent=agent, day=day, environment="production")
                _drift_day(row, kind, age)
                row.save()
        # The unit with the highest forecast this month gets a budget the forecast passes; one agent its own.
        now = timezone.now()
        costs = cost_by_agent(now)
        paths = dict(Agent.objects.filter(pk__in=list(costs)).values_list("pk", "business_unit__path"))
        forecasts = {}
        for unit in BusinessUnit.objects.filter(agents__in=agents).distinct():
            mine = [c for pk, c in costs.items() if (paths.get(pk) or "").startswith(unit.path)]
            forecasts[unit] = forecast(*(sum((c[i] for c in mine), Decimal(0)) for i in range(3)), now)
        unit = max(forecasts, key=lambda u: (forecasts[u].highest, u.path))
        amount = max(Decimal("10"), (forecasts[unit].highest * Decimal("0.7")).quantize(Decimal("1")))
        services.set_unit_budget(unit, amount, actor=demo.admin)
        services.set_agent_budget(drifting[0], max(Decimal("50"), amount), actor=demo.admin)
    now = timezone.now()
    checks.run_check("drift", now=now)
    checks.run_check("budget_overrun", now=now)
    stdout.write(
        f"governance: {len(drifting)} agents drifting ({', '.join(a.key for a in drifting)}); "
        f"{unit.name} budgeted at {amount} a month against a forecast of {forecasts[unit].highest}"
    )
