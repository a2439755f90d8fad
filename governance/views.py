"""Governance pages: the agent's compliance page, the owner's workspace and the board's queue.

Views stay thin: they read through ``for_user`` and write through services;
every decision is a POST form that lands in the same audited service as the API.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Max, Q
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from governance import compliance, gate, services
from governance.choices import ControlState, DeliveryStatus, Validity
from governance.forms import (
    AssessmentForm,
    AuthorityReportForm,
    ConditionCloseForm,
    ConfirmAssessmentForm,
    DecisionForm,
    EvidenceForm,
    EvidenceReviewForm,
    FriaForm,
    IncidentForm,
    ObligationDatesForm,
    ReasonForm,
    ReleaseReviewForm,
    ResolveIncidentForm,
    SeriousIncidentForm,
    WaiverForm,
)
from governance.models import (
    CheckRun,
    Control,
    Evidence,
    FundamentalRightsAssessment,
    Incident,
    Release,
    Review,
    ReviewCondition,
    RiskAssessment,
    RiskPolicy,
    Waiver,
    WebhookDelivery,
)
from governance.queue import board_queue_items
from registry import services as registry_services
from registry.choices import Environment
from registry.exceptions import Conflict
from registry.forms import add_service_errors
from registry.models import Agent
from registry.roles import is_board, is_platform_admin
from registry.views import get_agent_for_user
from telemetry import partitions as telemetry_partitions
from telemetry.models import TelemetrySource


def _flash_errors(request, exc: ValidationError) -> None:
    for message in exc.messages:
        messages.error(request, message)


def _back_to_agent(agent) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("governance:agent", args=[agent.key]))


def _get(model, user, pk, action="view"):
    """The row if the user may see it (else 404) and, for other actions, act on it (else 403)."""
    obj = get_object_or_404(model.objects.for_user(user, "view"), pk=pk)
    if action != "view" and not model.objects.for_user(user, action).filter(pk=obj.pk).exists():
        raise PermissionDenied("You may see this but not act on it.")
    return obj


def _next(request, default: str) -> str:
    """Where a one-click form returns to: its ``next`` if that is a path on this site, else ``default``."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


def _run(request, fn, success: str) -> bool:
    """Call a service for a one-click POST; report its outcome as a message. True when it succeeded."""
    try:
        fn()
    except ValidationError as exc:
        _flash_errors(request, exc)
        return False
    except Conflict as exc:
        messages.error(request, exc.message)
        return False
    messages.success(request, success)
    return True


@login_required
def agent_governance(request, key):
    """Everything governance knows about one agent: checklist, assessment, reviews, releases, incidents."""
    agent = get_agent_for_user(request.user, key)
    user = request.user
    now = timezone.now()
    statuses = compliance.checklist(agent, now)
    can_change = registry_services.can_change_agent(user, agent)
    board_member = is_board(user)
    independent = board_member and not services._common.maintains(user, agent)
    version = gate.release_version_for(agent)
    reviews = Review.objects.for_user(user).filter(agent=agent).select_related("version", "decided_by", "requested_by")
    context = {
        "nav": "catalog",
        "agent": agent,
        "now": now,
        "statuses": statuses,
        "summary": compliance.summary(statuses),
        "assessment": compliance.current_assessment(agent),
        "pending_assessment": compliance.pending_assessment(agent),
        "assessments": RiskAssessment.objects.for_user(user).filter(agent=agent).select_related("policy")[:10],
        "reviews": reviews.prefetch_related("conditions")[:20],
        "releases": Release.objects.for_user(user).filter(agent=agent).select_related("version", "approved_by"),
        "incidents": Incident.objects.for_user(user).filter(agent=agent).select_related("version")[:20],
        "waivers": Waiver.objects.for_user(user).filter(agent=agent).select_related("granted_by")[:20],
        "can_change": can_change,
        "is_board": board_member,
        "independent": independent,
        "can_see_evidence": Evidence.objects.for_user(user).filter(agent=agent).exists() or can_change or board_member,
        "gate_version": version,
        "gate_missing": gate.check_release(agent, version, Environment.PRODUCTION, now=now),
        "review_form": ReleaseReviewForm(agent=agent) if can_change else None,
        "incident_form": IncidentForm(agent=agent) if (can_change or board_member) else None,
        "waiver_form": WaiverForm(codes=[s.code for s in statuses if s.code != "owner"]) if independent else None,
        "decision_form": DecisionForm(),
        "confirm_form": ConfirmAssessmentForm(),
        "evidence_review_form": EvidenceReviewForm(),
        "obligations": _agent_obligations(agent, now),
    }
    return render(request, "governance/agent.html", context)


def _agent_obligations(agent, now):
    from governance import eu_ai_act

    assessment = compliance.current_assessment(agent)
    category = assessment.eu_ai_act_category if assessment else None
    return {
        "known": category is not None,
        **eu_ai_act.obligations_for(RiskPolicy.objects.current(), category, now.date()),
    }


@login_required
@require_http_methods(["GET", "POST"])
def assessment_submit(request, key):
    agent = get_agent_for_user(request.user, key, "change")
    previous = compliance.current_assessment(agent) or compliance.pending_assessment(agent)
    initial = {}
    if previous is not None:
        initial = {f: getattr(previous, f) for f in AssessmentForm.base_fields if hasattr(previous, f)}
    form = AssessmentForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            assessment = services.submit_assessment(agent, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        except Conflict as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(
                request, f"Assessment submitted: computed tier {assessment.computed_tier} (score {assessment.score})."
            )
            return _back_to_agent(agent)
    return render(request, "governance/assessment_form.html", {"nav": "catalog", "agent": agent, "form": form})


@login_required
@require_POST
def assessment_decide(request, pk):
    assessment = _get(RiskAssessment, request.user, pk, "change")
    form = ConfirmAssessmentForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose confirm or return.")
        return _back_to_agent(assessment.agent)
    data = form.cleaned_data
    if data["action"] == "confirm":
        _run(
            request,
            lambda: services.confirm_assessment(
                assessment,
                actor=request.user,
                override_tier=data["override_tier"],
                override_justification=data["justification"],
            ),
            "Assessment confirmed.",
        )
    else:
        _run(
            request,
            lambda: services.return_assessment(assessment, actor=request.user, reason=data["justification"]),
            "Assessment returned to the owner.",
        )
    return redirect(_next(request, reverse("governance:agent", args=[assessment.agent.key])))


@login_required
@require_http_methods(["GET", "POST"])
def evidence_submit(request, key, code):
    agent = get_agent_for_user(request.user, key, "change")
    control = get_object_or_404(Control.objects.for_user(request.user), policy=RiskPolicy.objects.current(), code=code)
    form = EvidenceForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.submit_evidence(
                agent,
                control.code,
                actor=request.user,
                kind=data["kind"],
                url=data["url"],
                statement=data["statement"],
                file=data["file"],
                summary=data["summary"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        except Conflict as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Evidence for {control.name} submitted for review.")
            return _back_to_agent(agent)
    history = Evidence.objects.for_user(request.user).filter(agent=agent, control_code=control.code)[:20]
    return render(
        request,
        "governance/evidence_form.html",
        {
            "nav": "catalog",
            "agent": agent,
            "control": control,
            "form": form,
            "history": history,
            "per_release": control.validity == Validity.PER_RELEASE,
            "version": gate.release_version_for(agent),
        },
    )


@login_required
def evidence_file(request, pk):
    """Serve an uploaded evidence file, only to those who may see the evidence (others get 404)."""
    evidence = _get(Evidence, request.user, pk)
    if not evidence.file:
        raise PermissionDenied("This evidence has no file.")
    response = FileResponse(
        evidence.file.open("rb"),
        as_attachment=True,
        filename=evidence.file_name or "evidence",
        content_type=evidence.content_type or "application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@login_required
@require_POST
def evidence_decide(request, pk):
    evidence = _get(Evidence, request.user, pk, "change")
    form = EvidenceReviewForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        if data["action"] == "accept":
            _run(
                request,
                lambda: services.accept_evidence(evidence, actor=request.user, reason=data["reason"]),
                f"Evidence for {evidence.control_code} accepted.",
            )
        else:
            _run(
                request,
                lambda: services.reject_evidence(evidence, actor=request.user, reason=data["reason"]),
                f"Evidence for {evidence.control_code} rejected.",
            )
    return redirect(_next(request, reverse("governance:agent", args=[evidence.agent.key])))


@login_required
@require_POST
def review_request(request, key):
    agent = get_agent_for_user(request.user, key, "change")
    form = ReleaseReviewForm(request.POST, agent=agent)
    if form.is_valid():
        data = form.cleaned_data
        _run(
            request,
            lambda: services.request_release_review(
                agent, data["version"], data["environment"], actor=request.user, summary=data["summary"]
            ),
            "Release review requested from the governance board.",
        )
    else:
        for field, errors in form.errors.items():
            messages.error(request, f"{field}: {' '.join(errors)}")
    return _back_to_agent(agent)


@login_required
@require_http_methods(["GET", "POST"])
def review_detail(request, pk):
    review = _get(Review, request.user, pk)
    form = DecisionForm(request.POST or None)
    if request.method == "POST":
        if not Review.objects.for_user(request.user, "change").filter(pk=review.pk).exists():
            raise PermissionDenied("Only the governance board decides reviews.")
        if form.is_valid():
            try:
                services.decide_review(
                    review,
                    actor=request.user,
                    decision=form.cleaned_data["decision"],
                    reason=form.cleaned_data["reason"],
                    conditions=form.condition_lines(),
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            except Conflict as exc:
                messages.error(request, exc.message)
                return render(request, "governance/review.html", _review_context(request, review, form), status=409)
            else:
                messages.success(request, "Decision recorded.")
                return redirect(_next(request, reverse("governance:review", args=[review.pk])))
    return render(request, "governance/review.html", _review_context(request, review, form))


def _review_context(request, review, form) -> dict:
    review.refresh_from_db()
    agent = review.agent
    statuses = compliance.checklist(agent, timezone.now(), version=review.version)
    return {
        "nav": "queue",
        "review": review,
        "agent": agent,
        "form": form,
        "statuses": statuses,
        "summary": compliance.summary(statuses),
        "assessment": compliance.current_assessment(agent),
        "conditions": ReviewCondition.objects.filter(review=review),
        "close_form": ConditionCloseForm(),
        "may_decide": is_board(request.user) and not services._common.maintains(request.user, agent),
    }


@login_required
@require_POST
def review_cancel(request, pk):
    review = _get(Review, request.user, pk)
    form = ReasonForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    _run(request, lambda: services.cancel_review(review, actor=request.user, reason=reason), "Review cancelled.")
    return _back_to_agent(review.agent)


@login_required
@require_POST
def condition_close(request, pk):
    condition = _get(ReviewCondition, request.user, pk)
    form = ConditionCloseForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    _run(request, lambda: services.close_condition(condition, actor=request.user, note=note), "Condition closed.")
    return redirect(reverse("governance:review", args=[condition.review_id]))


@login_required
@require_POST
def release_deploy(request, pk):
    release = _get(Release, request.user, pk)
    _run(
        request,
        lambda: services.deploy_release(release, actor=request.user),
        f"Version {release.version.label} is live in {release.environment}.",
    )
    return _back_to_agent(release.agent)


@login_required
@require_http_methods(["GET", "POST"])
def incident_report(request, key):
    agent = get_agent_for_user(request.user, key)
    if not (is_board(request.user) or registry_services.can_change_agent(request.user, agent)):
        raise PermissionDenied("Only the agent's owner, a delegate or the board record incidents.")
    form = IncidentForm(request.POST or None, agent=agent)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        suspend = data.pop("suspend")
        if data["detected_at"] is None:
            data.pop("detected_at")
        try:
            services.report_incident(agent, actor=request.user, suspend=suspend, **data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Incident recorded." + (" The agent is suspended." if suspend else ""))
            return _back_to_agent(agent)
    return render(request, "governance/incident_form.html", {"nav": "catalog", "agent": agent, "form": form})


@login_required
@require_POST
def incident_resolve(request, pk):
    incident = _get(Incident, request.user, pk)
    form = ResolveIncidentForm(request.POST)
    resolution = form.cleaned_data["resolution"] if form.is_valid() else ""
    _run(
        request,
        lambda: services.resolve_incident(incident, actor=request.user, resolution=resolution),
        "Incident resolved.",
    )
    return _back_to_agent(incident.agent)


@login_required
@require_POST
def waiver_grant(request, key):
    agent = get_agent_for_user(request.user, key)
    statuses = compliance.checklist(agent, timezone.now())
    form = WaiverForm(request.POST, codes=[s.code for s in statuses])
    if form.is_valid():
        data = form.cleaned_data
        _run(
            request,
            lambda: services.grant_waiver(
                agent, data["control"], actor=request.user, reason=data["reason"], expires_at=data["expires_at"]
            ),
            f"Gap in {data['control']} waived until {data['expires_at']:%d %b %Y}.",
        )
    else:
        for field, errors in form.errors.items():
            messages.error(request, f"{field}: {' '.join(errors)}")
    return _back_to_agent(agent)


@login_required
@require_POST
def waiver_revoke(request, pk):
    waiver = _get(Waiver, request.user, pk)
    _run(
        request,
        lambda: services.revoke_waiver(waiver, actor=request.user, reason=request.POST.get("reason", "")),
        "Waiver revoked.",
    )
    return _back_to_agent(waiver.agent)


@login_required
def what_i_owe(request):
    """Across the agents I own or help maintain: what each still needs from me."""
    user = request.user
    now = timezone.now()
    # One filter, not a UNION: SQLite (the demo's database) refuses the agents' default ordering in one.
    agents = Agent.objects.for_user(user, "change").filter(Q(owner=user) | Q(delegations__user=user)).distinct()
    rows = []
    for agent in sorted(agents, key=lambda a: a.name.lower()):
        statuses = compliance.checklist(agent, now)
        todo = [s for s in statuses if s.is_gap and s.state != ControlState.SUBMITTED]
        assessment = compliance.current_assessment(agent)
        needs_assessment = assessment is None or assessment.is_stale
        returned = RiskAssessment.objects.filter(agent=agent).order_by("-submitted_at").first()
        rows.append(
            {
                "agent": agent,
                "todo": todo,
                "waiting": [s for s in statuses if s.state == ControlState.SUBMITTED],
                "summary": compliance.summary(statuses),
                "needs_assessment": needs_assessment and compliance.pending_assessment(agent) is None,
                "assessment": assessment,
                "returned": returned if returned and returned.status == "returned" else None,
                "open_incidents": Incident.objects.filter(agent=agent, status="open").count(),
                "overdue_review": Review.objects.periodic_overdue(now).filter(agent=agent).first(),
            }
        )
    return render(request, "governance/owe.html", {"nav": "owe", "rows": rows, "now": now})


@login_required
def board_queue(request):
    """The board's work, highest tier and earliest due first, with one-click decisions."""
    if not is_board(request.user):
        raise PermissionDenied("The review queue is the governance board's.")
    now = timezone.now()
    items = board_queue_items(request.user, now)
    return render(
        request,
        "governance/queue.html",
        {
            "nav": "queue",
            "items": items,
            "counts": queue_counts(items),
            "now": now,
            "confirm_form": ConfirmAssessmentForm(),
            "evidence_review_form": EvidenceReviewForm(),
            "decision_form": DecisionForm(),
        },
    )


QUEUE_KINDS = (
    ("assessment", "Risk assessments"),
    ("evidence", "Evidence"),
    ("release", "Release reviews"),
    ("periodic", "Periodic reviews"),
)


def queue_counts(items) -> dict:
    """The figures at the top of the board's queue: waiting per kind, overdue, and yours to decide."""
    return {
        "total": len(items),
        "overdue": sum(1 for item in items if item.overdue),
        "decidable": sum(1 for item in items if item.can_decide),
        "by_kind": [(kind, label, sum(1 for item in items if item.kind == kind)) for kind, label in QUEUE_KINDS],
    }


def landing_for_admin(user) -> str | None:
    """registry.hooks.landing_pages: platform administrators land on the operations overview."""
    return reverse("governance:overview") if is_platform_admin(user) else None


def landing_for_board(user) -> str | None:
    """registry.hooks.landing_pages: board members land on the review queue."""
    return reverse("governance:queue") if is_board(user) else None


@login_required
def governance_index(request):
    """/governance/ answers with the reader's governance work: the overview, the queue, or what they owe."""
    return redirect(landing_for_admin(request.user) or landing_for_board(request.user) or reverse("governance:owe"))


@login_required
def operations_overview(request):
    """Administrators' overview: telemetry sources and when they last reported, the raw events' day
    partitions (PostgreSQL) and the events outside them, the latest run of every check (failures
    first), and webhook deliveries that gave up."""
    user = request.user
    if not is_platform_admin(user):
        raise PermissionDenied("The operations overview is for platform administrators.")
    sources = (
        TelemetrySource.objects.for_user(user, "view")
        .annotate(last_used_at=Max("tokens__last_used_at"), token_count=Count("tokens"))
        .select_related("owner")
        .order_by("-active", "name")
    )
    runs = sorted(
        CheckRun.objects.for_user(user).latest_per_kind(), key=lambda run: (run.status != "failed", run.check_kind)
    )
    failed = (
        WebhookDelivery.objects.for_user(user)
        .filter(status=DeliveryStatus.FAILED)
        .select_related("endpoint", "finding")
        .order_by("-created_at")
    )
    storage = telemetry_partitions.storage()
    return render(
        request,
        "governance/overview.html",
        {
            "nav": "overview",
            "sources": sources,
            "runs": runs,
            "failed_runs": sum(1 for run in runs if run.status == "failed"),
            "failed_deliveries": failed[:20],
            "failed_delivery_count": failed.count(),
            "storage": storage,
            "days_ahead": (storage.last_day - timezone.now().date()).days if storage and storage.last_day else -1,
        },
    )


@login_required
def control_catalog(request):
    """The control catalog of the policy in force, with the policy's scoring and cadences."""
    policy = RiskPolicy.objects.for_user(request.user).order_by("-version").first()
    controls = Control.objects.for_user(request.user).filter(policy=policy) if policy else Control.objects.none()
    return render(request, "governance/controls.html", {"nav": "controls", "policy": policy, "controls": controls})


# --- Serious incidents (EU AI Act Art. 73) ------------------------------------------------------------


def _may_record(user, agent) -> bool:
    return is_board(user) or registry_services.can_change_agent(user, agent)


@login_required
@require_http_methods(["GET", "POST"])
def incident_detail(request, pk):
    """One incident: its report clock when serious (deadline, time left, reports sent, what is still
    due), the forms to mark it serious and record reports, and the regulator report to download."""
    from governance import eu_ai_act

    incident = _get(Incident, request.user, pk)
    agent = incident.agent
    may_record = _may_record(request.user, agent)
    serious_form = SeriousIncidentForm(
        initial={"category": incident.serious_category, "aware_at": incident.aware_at}, prefix="serious"
    )
    report_form = AuthorityReportForm(prefix="report")
    if request.method == "POST":
        if not may_record:
            raise PermissionDenied("Only the agent's owner, a delegate or the board record serious incidents.")
        if "serious-category" in request.POST:
            serious_form = SeriousIncidentForm(request.POST, prefix="serious")
            if serious_form.is_valid():
                try:
                    services.mark_incident_serious(
                        incident,
                        actor=request.user,
                        category=serious_form.cleaned_data["category"],
                        aware_at=serious_form.cleaned_data["aware_at"],
                    )
                except ValidationError as exc:
                    add_service_errors(serious_form, exc)
                else:
                    messages.success(request, "Marked a serious incident; the report clock is running.")
                    return redirect("governance:incident-detail", pk=incident.pk)
        else:
            report_form = AuthorityReportForm(request.POST, prefix="report")
            if report_form.is_valid():
                try:
                    services.record_authority_report(incident, actor=request.user, **report_form.cleaned_data)
                except ValidationError as exc:
                    add_service_errors(report_form, exc)
                else:
                    messages.success(request, "Report to the authority recorded.")
                    return redirect("governance:incident-detail", pk=incident.pk)
    reports = list(incident.authority_reports.select_related("recorded_by"))
    clock = eu_ai_act.report_clock(incident, RiskPolicy.objects.current(), timezone.now(), reports=reports)
    return render(
        request,
        "governance/incident.html",
        {
            "nav": "catalog",
            "incident": incident,
            "agent": agent,
            "clock": clock,
            "reports": reports,
            "may_record": may_record,
            "serious_form": serious_form if may_record else None,
            "report_form": report_form if (may_record and incident.serious_category) else None,
        },
    )


@login_required
def incident_regulator_report(request, pk):
    """The serious-incident report for the authority, as a PDF."""
    from governance import documents

    incident = _get(Incident, request.user, pk)
    if not incident.serious_category:
        raise Http404("Only a serious incident has a regulator report.")
    now = timezone.now()
    pdf = documents.render_pdf(*documents.regulator_report(incident, request.user, now))
    return HttpResponse(
        pdf,
        content_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="serious-incident-{incident.pk}-{now:%Y-%m-%d}.pdf"'},
    )


# --- Fundamental-rights impact assessment (Art. 27) and the technical file (Annex IV) ----------------------


@login_required
@require_http_methods(["GET", "POST"])
def fria_submit(request, key):
    """The FRIA form, prefilled from the record; submitting it files its PDF as evidence for ``fria``."""
    from governance import documents

    agent = get_agent_for_user(request.user, key, "change")
    applies = services.fria_applies(agent)
    form = FriaForm(request.POST or None, initial=documents.fria_prefill(agent, request.user))
    if request.method == "POST" and form.is_valid():
        try:
            services.submit_fria(agent, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Impact assessment submitted as evidence for the board's review.")
            return _back_to_agent(agent)
    previous = FundamentalRightsAssessment.objects.for_user(request.user).filter(agent=agent)[:5]
    return render(
        request,
        "governance/fria_form.html",
        {"nav": "catalog", "agent": agent, "form": form, "applies": applies, "previous": previous},
    )


@login_required
def fria_pdf(request, pk):
    """A submitted FRIA as PDF (read like its evidence)."""
    from governance import documents

    fria = _get(FundamentalRightsAssessment, request.user, pk)
    pdf = documents.render_pdf(*documents.fria_document(fria, request.user, fria.submitted_at))
    return HttpResponse(
        pdf,
        content_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="fria-{fria.agent.key}-{fria.pk}.pdf"'},
    )


@login_required
def technical_file(request, key, fmt):
    """The agent's technical documentation (Annex IV outline), as PDF or Markdown, drawn from the record
    as the requesting user may read it."""
    from governance import documents

    agent = get_agent_for_user(request.user, key)
    now = timezone.now()
    parts = documents.technical_file(agent, request.user, now)
    name = f"technical-file-{agent.key}-{now:%Y-%m-%d}"
    if fmt == "md":
        return HttpResponse(
            documents.render_markdown(*parts),
            content_type="text/markdown; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.md"'},
        )
    return HttpResponse(
        documents.render_pdf(*parts),
        content_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'},
    )


@login_required
@require_http_methods(["GET", "POST"])
def obligations(request):
    """The EU AI Act timeline for the portfolio: which obligations apply today and which are coming, with
    the agents each reaches; platform administrators move the dates (a new, audited policy version)."""
    from governance import eu_ai_act
    from registry.roles import is_platform_admin

    policy = RiskPolicy.objects.current()
    may_edit = is_platform_admin(request.user)
    form = ObligationDatesForm(request.POST or None, timeline=policy.eu_ai_act_timeline) if may_edit else None
    if request.method == "POST":
        if not may_edit:
            raise PermissionDenied("Only platform administrators change the policy.")
        if form.is_valid():
            try:
                services.set_obligation_dates(
                    policy, actor=request.user, dates=form.dates(), notes=form.cleaned_data["notes"]
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            except Conflict as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, "The obligation dates are changed in a new policy version.")
                return redirect("governance:obligations")
    today = timezone.now().date()
    rows = eu_ai_act.portfolio_obligations(policy, Agent.objects.for_user(request.user), today)
    return render(
        request,
        "governance/obligations.html",
        {"nav": "controls", "policy": policy, "today": today, "rows": rows, "form": form},
    )
