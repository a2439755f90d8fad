"""Telemetry pages: sources and their tokens (administrators), and the triage of unknown agents."""

from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from registry.forms import add_service_errors
from registry.roles import is_board, is_platform_admin
from telemetry import services
from telemetry.choices import DEFAULT_ENVIRONMENT_ALIASES, LIVE_ENVIRONMENTS, TelemetryEnvironment
from telemetry.forms import (
    ClaimAgentForm,
    ExternalIdentityForm,
    LinkIdentityForm,
    SourceEnvironmentsForm,
    SourceForm,
    suggested_key,
)
from telemetry.ingest import REJECTED_ITEMS_KEPT
from telemetry.models import (
    ExternalIdentity,
    IngestDay,
    IngestToken,
    PendingSpan,
    RejectedItem,
    RejectionCount,
    Sighting,
    TelemetrySource,
)

PAGE_SIZE = 50


def _require_triage(user) -> None:
    if not (is_board(user) or is_platform_admin(user)):
        raise PermissionDenied("Only the governance board and administrators triage unknown agents.")


@login_required
@require_http_methods(["GET", "POST"])
def source_list(request):
    sources = TelemetrySource.objects.for_user(request.user, "view").select_related("owner")
    if not request.user.has_perm("telemetry.view_telemetrysource"):
        raise PermissionDenied("Only administrators and the board see telemetry sources.")
    form = SourceForm(request.POST or None)
    new_token = None
    if request.method == "POST":
        if form.is_valid():
            try:
                source, new_token = services.create_source(actor=request.user, **form.cleaned_data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"Source {source.name} registered. Copy its token now.")
                form = SourceForm()
    return render(
        request,
        "telemetry/source_list.html",
        {
            "nav": "telemetry",
            "sources": sources,
            "form": form,
            "new_token": new_token,
            "can_manage": request.user.has_perm("telemetry.add_telemetrysource"),
        },
    )


# Days of rejection counts a source page shows.
REJECTION_DAYS = 14


def _rejections(source, user, today):
    """The source's intake per day (received, rejected, per reason) over the last REJECTION_DAYS, newest
    first, and its last rejected items in full."""
    since = today - timedelta(days=REJECTION_DAYS - 1)
    days = {d["day"]: d for d in IngestDay.objects.for_user(user).filter(source=source).since(since).totals()}
    reasons: dict = {}
    for row in RejectionCount.objects.for_user(user).filter(source=source).since(since):
        reasons.setdefault(row.day, []).append(row)
    rows = []
    for day in sorted(set(days) | set(reasons), reverse=True):
        intake = days.get(day)
        rows.append(
            {
                "day": day,
                "received": intake["received"] if intake else 0,
                "rejected": intake["rejected"] if intake else 0,
                "share": round(100 * intake["rejected_share"], 1) if intake else 0,
                "reasons": sorted(reasons.get(day, []), key=lambda r: -r.count),
            }
        )
    items = RejectedItem.objects.for_user(user).filter(source=source)[:REJECTED_ITEMS_KEPT]
    return rows, items


@login_required
@require_http_methods(["GET", "POST"])
def source_detail(request, pk):
    source = get_object_or_404(TelemetrySource.objects.for_user(request.user, "view"), pk=pk)
    new_token = None
    environments_form = SourceEnvironmentsForm(initial=SourceEnvironmentsForm.initial_for(source))
    if request.method == "POST":
        if not request.user.has_perm("telemetry.change_telemetrysource"):
            raise PermissionDenied("Only administrators manage telemetry sources.")
        if "environments" in request.POST:
            environments_form = SourceEnvironmentsForm(request.POST)
            if environments_form.is_valid():
                try:
                    source = services.update_source(
                        source,
                        actor=request.user,
                        default_environment=environments_form.cleaned_data["default_environment"],
                        environment_aliases=environments_form.cleaned_data["aliases"],
                    )
                except ValidationError as exc:
                    add_service_errors(environments_form, exc)
                else:
                    messages.success(request, f"Environments of {source.name} saved.")
                    return redirect("telemetry:source-detail", pk=source.pk)
        if "revoke" in request.POST:
            token = get_object_or_404(IngestToken.objects.filter(source=source), pk=request.POST["revoke"])
            services.revoke_ingest_token(token, actor=request.user)
            messages.success(request, f"Token {token.prefix}… revoked; it is refused from now on.")
            return redirect("telemetry:source-detail", pk=source.pk)
        if "toggle" in request.POST:
            source = services.update_source(source, actor=request.user, active=not source.active)
            messages.success(request, f"{source.name} is now {'active' if source.active else 'inactive'}.")
            return redirect("telemetry:source-detail", pk=source.pk)
        _token, new_token = services.create_ingest_token(
            source, actor=request.user, name=request.POST.get("name", "")[:100]
        )
    rejection_days, rejected_items = _rejections(source, request.user, timezone.now().date())
    return render(
        request,
        "telemetry/source_detail.html",
        {
            "nav": "telemetry",
            "source": source,
            "tokens": source.tokens.all(),
            "new_token": new_token,
            "sightings": source.sightings.select_related("agent")[:50],
            "can_manage": request.user.has_perm("telemetry.change_telemetrysource"),
            "environments_form": environments_form,
            "default_aliases": sorted(DEFAULT_ENVIRONMENT_ALIASES.items(), key=lambda kv: (kv[1], kv[0])),
            "rejection_days": rejection_days,
            "rejected_items": rejected_items,
            "held_spans": PendingSpan.objects.for_user(request.user).filter(source=source).count(),
            "trace_window_minutes": settings.TELEMETRY_TRACE_WINDOW_SECONDS // 60,
        },
    )


@login_required
def identity_list(request):
    """Identities telemetry reports that no registered agent claims."""
    _require_triage(request.user)
    now = timezone.now()
    external = dict(ExternalIdentity.objects.current(now).values_list("identity", "expires_at"))
    rows = Sighting.objects.for_user(request.user).unclaimed()
    show = request.GET.get("show", "open")
    if show == "open":
        rows = rows.exclude(identity__in=list(external))
    elif show == "external":
        rows = rows.filter(identity__in=list(external))
    environment = request.GET.get("environment")
    if environment in TelemetryEnvironment.values:
        rows = rows.filter(environment=environment)
    else:
        environment = ""
    label = request.GET.get("label", "").strip()[:64]
    if label:
        rows = rows.filter(environment_label__iexact=label)
    page = Paginator(rows.identities_summary(), PAGE_SIZE).get_page(request.GET.get("page"))
    for row in page:
        row["external_until"] = external.get(row["identity"])
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "telemetry/identity_list.html",
        {
            "nav": "telemetry",
            "page": page,
            "show": show,
            "environment": environment,
            "label": label,
            "query": query.urlencode(),
        },
    )


@login_required
@require_http_methods(["GET"])
def identity_detail(request):
    _require_triage(request.user)
    identity = request.GET.get("identity", "")
    sightings = Sighting.objects.for_user(request.user).filter(identity=identity).select_related("source", "agent")
    if not identity or not sightings.exists():
        raise Http404("Telemetry has not reported this identity.")
    first = sightings.first()
    claim_url = reverse("telemetry:identity-register") + "?" + urlencode({"identity": identity})
    register_url = (
        reverse("registry:agent-create")
        + "?"
        + urlencode(
            {
                "key": suggested_key(identity, first.agent_name),
                "name": first.agent_name or identity,
                "description": f"Seen in telemetry as {identity}"
                + (f" (service {first.service_name})" if first.service_name else ""),
                "runs_in_production": "on" if sightings.filter(environment__in=LIVE_ENVIRONMENTS).exists() else "",
            }
        )
    )
    return render(
        request,
        "telemetry/identity_detail.html",
        {
            "nav": "telemetry",
            "identity": identity,
            "sightings": sightings,
            "claimed_by": first.agent,
            "register_url": register_url,
            "claim_url": claim_url,
            "external": ExternalIdentity.objects.filter(identity=identity).first(),
            "link_form": LinkIdentityForm(user=request.user),
            "external_form": ExternalIdentityForm(),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def identity_register(request):
    """Claim a shadow agent: the short registration form, filled in from what telemetry reported."""
    _require_triage(request.user)
    identity = (request.POST.get("identity") if request.method == "POST" else request.GET.get("identity")) or ""
    facts = services.identity_facts(identity) if identity else None
    if facts is None:
        raise Http404("Telemetry has not reported this identity.")
    if facts["claimed_by"] is not None:
        messages.info(request, f"{identity} already belongs to {facts['claimed_by'].name}.")
        return redirect("registry:agent-detail", key=facts["claimed_by"].key)
    initial = {"key": suggested_key(identity, facts["agent_name"]), "name": facts["agent_name"] or identity}
    form = ClaimAgentForm(request.POST or None, user=request.user, initial=initial, tools_seen=facts["tools_seen"])
    if request.method == "POST" and form.is_valid():
        try:
            agent = services.claim_shadow_agent(
                identity,
                actor=request.user,
                owner=form.cleaned_data["owner"],
                **form.claim_fields(),
                **form.agent_fields(),
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request, f"{agent.name} is registered as {agent.key} and owns {identity}; its owner completes the rest."
            )
            return redirect("registry:agent-detail", key=agent.key)
    return render(
        request,
        "telemetry/identity_register.html",
        {
            "nav": "telemetry",
            "identity": identity,
            "facts": facts,
            "form": form,
            "claim_fields": ClaimAgentForm.CLAIM_FIELDS,
            "claimed_version_label": services.CLAIMED_VERSION_LABEL,
        },
    )


@login_required
@require_POST
def identity_link(request):
    _require_triage(request.user)
    identity = request.POST.get("identity", "")
    form = LinkIdentityForm(request.POST, user=request.user)
    if form.is_valid():
        try:
            services.link_identity(identity, form.cleaned_data["agent"], actor=request.user)
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            messages.success(request, f"{identity} now belongs to {form.cleaned_data['agent'].name}.")
            return redirect("registry:agent-detail", key=form.cleaned_data["agent"].key)
    else:
        messages.error(request, "Pick the registered agent to link.")
    return redirect(reverse("telemetry:identity-detail") + "?" + urlencode({"identity": identity}))


@login_required
@require_POST
def identity_external(request):
    _require_triage(request.user)
    identity = request.POST.get("identity", "")
    form = ExternalIdentityForm(request.POST)
    if form.is_valid():
        try:
            services.mark_identity_external(
                identity,
                actor=request.user,
                reason=form.cleaned_data["reason"],
                expires_at=form.cleaned_data["expires_at"],
            )
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            messages.success(request, f"{identity} is marked as a known external agent.")
    else:
        for field, errors in form.errors.items():
            for error in errors:
                messages.error(request, f"{field.replace('_', ' ')}: {error}")
    return redirect(reverse("telemetry:identity-detail") + "?" + urlencode({"identity": identity}))
