"""Registry pages. Views stay thin: they read through ``for_user`` and write through services."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from registry import hooks, services
from registry.exceptions import Conflict
from registry.filtersets import AgentFilterSet
from registry.forms import (
    AgentForm,
    ApiTokenForm,
    DelegateForm,
    LiftStopForm,
    StopForm,
    TransferForm,
    TransitionForm,
    VersionForm,
    WideStopForm,
    add_service_errors,
)
from registry.models import Agent, AgentDelegate, ApiToken, AuditEvent, Stop, User

CATALOG_PAGE_SIZE = 25


def get_agent_for_user(user, key: str, action: str = "view") -> Agent:
    """The agent with this key if the user may see it (else 404) and, for other actions, act on it (else 403)."""
    agent = get_object_or_404(
        Agent.objects.for_user(user, "view").select_related("owner", "business_unit"),
        key=key,
    )
    if action != "view" and not Agent.objects.for_user(user, action).filter(pk=agent.pk).exists():
        raise PermissionDenied("You may see this agent but not change it.")
    return agent


def _pk_or_404(value) -> int:
    """A primary key from a form button; anything that is not one is a missing row, not a server error."""
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Http404("No such row.") from None


@login_required
def home(request):
    """An owner's desk: the agents they own or help maintain."""
    user = request.user
    owned = Agent.objects.for_user(user).filter(owner=user).with_list_related()
    delegated = Agent.objects.for_user(user).filter(delegations__user=user).with_list_related()
    return render(
        request,
        "registry/home.html",
        {"nav": "home", "owned": owned, "delegated": delegated},
    )


@login_required
def catalog(request):
    """Every agent the user may see, with search, filters, sorting and pagination."""
    base = Agent.objects.for_user(request.user).with_list_related()
    filterset = AgentFilterSet(request.GET or None, queryset=base, request=request)
    queryset = filterset.qs if filterset.is_bound else base
    if filterset.is_bound and not filterset.is_valid():
        queryset = base.none()
    paginator = Paginator(queryset, CATALOG_PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "nav": "catalog",
        "filterset": filterset,
        "page": page,
        "query": query.urlencode(),
        "scope_stops": _stops_for_filter(request.user, filterset),
    }
    template = "registry/_catalog_results.html" if request.htmx else "registry/catalog.html"
    return render(request, template, context)


def _stops_for_filter(user, filterset) -> list:
    """Stops in force on the unit (or a unit above it) or the patterns the catalog is filtered to."""
    if not filterset.is_bound or not filterset.is_valid():
        return []
    unit = filterset.form.cleaned_data.get("business_unit")
    patterns = filterset.form.cleaned_data.get("pattern") or []
    condition = Q(scope="pattern", pattern__in=patterns) if patterns else Q(pk__in=[])
    if unit is not None:
        from registry.querysets import _ancestor_paths

        condition |= Q(scope="business_unit", business_unit__path__in=_ancestor_paths(unit.path))
    if unit is None and not patterns:
        return []
    return list(Stop.objects.for_user(user).in_force().filter(condition).select_related("business_unit"))


@login_required
def agent_detail(request, key):
    agent = get_agent_for_user(request.user, key)
    user = request.user
    can_change = services.can_change_agent(user, agent)
    can_manage = services.can_manage_agent(user, agent)
    versions = agent.versions.prefetch_related("tool_grants__tool")[:10]
    delegates = AgentDelegate.objects.filter(agent=agent).select_related("user")
    timeline = AuditEvent.objects.for_user(user).filter(agent=agent).order_by("-seq")[:100]
    transitions = services.allowed_transitions(agent.lifecycle)
    panels = sorted(
        (panel for hook in hooks.agent_detail_panels if (panel := hook(request, agent))),
        key=lambda p: p.get("order", 100),
    )
    extra_actions = [action for hook in hooks.agent_detail_actions for action in hook(request, agent)]
    stops = list(Stop.objects.for_user(user).affecting_agent(agent).select_related("started_by", "business_unit"))
    tool_stops = list(
        Stop.objects.for_user(user)
        .in_force()
        .filter(
            Q(scope="tool", tool__grants__version__agent=agent)
            | Q(scope="mcp_server", mcp_server__tools__grants__version__agent=agent)
        )
        .select_related("tool", "mcp_server", "started_by")
        .distinct()
    )
    return render(
        request,
        "registry/agent_detail.html",
        {
            "nav": "catalog",
            "agent": agent,
            "can_change": can_change,
            "can_manage": can_manage,
            "versions": versions,
            "delegates": delegates,
            "timeline": timeline,
            "transition_form": TransitionForm(allowed=transitions) if transitions else None,
            "panels": panels,
            "extra_actions": extra_actions,
            "stops": stops,
            "tool_stops": tool_stops,
            "can_stop": services.can_stop(user, "agent", agent),
            "can_lift": services.can_lift_stop(user),
            "stop_form": StopForm(),
            "lift_form": LiftStopForm(),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def agent_create(request):
    if not services.can_register_agents(request.user):
        raise PermissionDenied("Only people register agents.")
    form = AgentForm(request.POST or None, user=request.user, initial=_prefill(request))
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k != "owner"}
        try:
            agent = services.create_agent(actor=request.user, owner=form.cleaned_data["owner"], **data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"{agent.name} is registered as {agent.key}.")
            return redirect("registry:agent-detail", key=agent.key)
    return render(request, "registry/agent_form.html", {"nav": "catalog", "form": form, "creating": True})


def _prefill(request) -> dict:
    """Registration can start pre-filled (e.g. from a shadow agent's triage page)."""
    allowed = {"key", "name", "description", "runs_in_production", "runs_in_staging"}
    return {k: v for k, v in request.GET.items() if k in allowed}


@login_required
@require_http_methods(["GET", "POST"])
def agent_edit(request, key):
    agent = get_agent_for_user(request.user, key, "change")
    form = AgentForm(request.POST or None, instance=agent, user=request.user)
    if request.method == "POST" and form.is_valid():
        changes = {k: v for k, v in form.cleaned_data.items() if k != "row_version" and k in form.changed_data}
        try:
            agent = services.update_agent(
                agent,
                actor=request.user,
                expected_row_version=form.cleaned_data.get("row_version"),
                **changes,
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        except Conflict as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, "Changes saved." if changes else "Nothing changed.")
            return redirect("registry:agent-detail", key=agent.key)
    return render(request, "registry/agent_form.html", {"nav": "catalog", "form": form, "agent": agent})


@login_required
@require_POST
def agent_transition(request, key):
    agent = get_agent_for_user(request.user, key)
    form = TransitionForm(request.POST)
    if form.is_valid():
        try:
            services.transition_agent(
                agent, form.cleaned_data["to_state"], actor=request.user, reason=form.cleaned_data["reason"]
            )
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            messages.success(request, f"{agent.name} moved to {form.cleaned_data['to_state'].replace('_', ' ')}.")
    else:
        for field, errors in form.errors.items():
            for error in errors:
                messages.error(request, f"{form[field].label}: {error}" if field in form.fields else error)
    return HttpResponseRedirect(reverse("registry:agent-detail", args=[agent.key]))


@login_required
@require_http_methods(["GET", "POST"])
def agent_transfer(request, key):
    agent = get_agent_for_user(request.user, key, "manage")
    form = TransferForm(request.POST or None, agent=agent)
    if request.method == "POST" and form.is_valid():
        try:
            services.transfer_ownership(
                agent, form.cleaned_data["new_owner"], actor=request.user, reason=form.cleaned_data["reason"]
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"{agent.name} now belongs to {form.cleaned_data['new_owner']}.")
            return redirect("registry:agent-detail", key=agent.key)
    return render(request, "registry/agent_transfer.html", {"nav": "catalog", "agent": agent, "form": form})


@login_required
@require_http_methods(["GET", "POST"])
def agent_delegates(request, key):
    agent = get_agent_for_user(request.user, key, "manage")
    form = DelegateForm(request.POST or None, agent=agent)
    if request.method == "POST":
        if "remove" in request.POST:
            person = get_object_or_404(User, pk=_pk_or_404(request.POST.get("remove")))
            try:
                services.revoke_delegate(agent, person, actor=request.user)
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                messages.success(request, f"{person} can no longer edit {agent.name}.")
            return redirect("registry:agent-delegates", key=agent.key)
        if form.is_valid():
            try:
                services.grant_delegate(agent, form.cleaned_data["user"], actor=request.user)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"{form.cleaned_data['user']} can now help maintain {agent.name}.")
                return redirect("registry:agent-delegates", key=agent.key)
    delegates = AgentDelegate.objects.filter(agent=agent).select_related("user", "granted_by")
    return render(
        request,
        "registry/agent_delegates.html",
        {"nav": "catalog", "agent": agent, "form": form, "delegates": delegates},
    )


@login_required
@require_http_methods(["GET", "POST"])
def version_create(request, key):
    agent = get_agent_for_user(request.user, key, "change")
    form = VersionForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        fields = {k: v for k, v in form.cleaned_data.items() if k not in ("read_tools", "write_tools")}
        try:
            version = services.create_version(agent, actor=request.user, tools=form.tool_grants(), **fields)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Version {version.label} recorded.")
            return redirect("registry:agent-detail", key=agent.key)
    return render(request, "registry/version_form.html", {"nav": "catalog", "agent": agent, "form": form})


@login_required
@require_http_methods(["GET", "POST"])
def profile(request):
    """The user's own page: roles, business unit and personal API tokens."""
    form = ApiTokenForm(request.POST or None)
    new_token = None
    if request.method == "POST":
        if "revoke" in request.POST:
            token = get_object_or_404(
                ApiToken.objects.for_user(request.user, "view"), pk=_pk_or_404(request.POST.get("revoke"))
            )
            services.revoke_api_token(token, actor=request.user)
            messages.success(request, f"Token {token.name} revoked.")
            return redirect("registry:profile")
        if form.is_valid():
            try:
                _, new_token = services.create_api_token(
                    request.user,
                    actor=request.user,
                    name=form.cleaned_data["name"],
                    expires_at=form.cleaned_data["expires_at"],
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                form = ApiTokenForm()
    tokens = ApiToken.objects.filter(user=request.user)
    return render(
        request,
        "registry/profile.html",
        {"form": form, "tokens": tokens, "new_token": new_token, "roles": request.user.groups.all()},
    )


@login_required
def people_search(request):
    """Small helper for pickers: active people matching a name (used by htmx-enhanced forms)."""
    text = request.GET.get("q", "").strip()
    people = User.objects.for_user(request.user).eligible_owners()
    if text:
        people = people.filter(
            Q(username__icontains=text) | Q(first_name__icontains=text) | Q(last_name__icontains=text)
        )
    return render(request, "registry/_people_options.html", {"people": people[:20]})


# --- Stops ------------------------------------------------------------------------------


def _form_errors_to_messages(request, form) -> None:
    for field, errors in form.errors.items():
        for error in errors:
            messages.error(request, f"{form[field].label}: {error}" if field in form.fields else error)


@login_required
@require_POST
def agent_stop(request, key):
    """Stop one agent now: every runtime decision for it is refused within a second."""
    agent = get_agent_for_user(request.user, key)
    if not services.can_stop(request.user, "agent", agent):
        raise PermissionDenied("Only the agent's owner, a delegate, the board or an administrator may stop it.")
    form = StopForm(request.POST)
    if form.is_valid():
        try:
            services.stop_agent(agent, actor=request.user, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            messages.success(request, f"{agent.name} is stopped: every gateway refuses it from now on.")
    else:
        _form_errors_to_messages(request, form)
    return HttpResponseRedirect(reverse("registry:agent-detail", args=[agent.key]))


@login_required
@require_http_methods(["GET", "POST"])
def stop_list(request):
    """Stops in force and recently lifted; the board and administrators start wider stops here."""
    user = request.user
    may_stop_wide = services.can_lift_stop(user)
    form = WideStopForm(request.POST or None)
    if request.method == "POST":
        if not may_stop_wide:
            raise PermissionDenied("Only the governance board or an administrator may stop more than one agent.")
        if form.is_valid():
            try:
                stop = services.start_stop(
                    form.cleaned_data["scope"],
                    form.cleaned_data["target_object"],
                    actor=user,
                    reason=form.cleaned_data["reason"],
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"{stop.target_label.capitalize()} is stopped.")
                return redirect("registry:stop-list")
    stops = Stop.objects.for_user(user).select_related(
        "agent", "business_unit", "tool", "mcp_server", "started_by", "lifted_by"
    )
    return render(
        request,
        "registry/stops.html",
        {
            "nav": "stops",
            "in_force": list(stops.in_force()),
            "lifted": list(stops.filter(lifted_at__isnull=False)[:50]),
            "form": form if may_stop_wide else None,
            "can_lift": may_stop_wide,
            "lift_form": LiftStopForm(),
        },
    )


@login_required
@require_POST
def stop_lift(request, pk):
    """End a stop (board or administrator, with a reason)."""
    stop = get_object_or_404(Stop.objects.for_user(request.user), pk=pk)
    if not services.can_lift_stop(request.user):
        raise PermissionDenied("Only the governance board or an administrator may lift a stop.")
    form = LiftStopForm(request.POST)
    if form.is_valid():
        try:
            services.lift_stop(stop, actor=request.user, reason=form.cleaned_data["lift_reason"])
        except (ValidationError, Conflict) as exc:
            messages.error(request, getattr(exc, "message", None) or " ".join(exc.messages))
        else:
            messages.success(request, f"The stop of {stop.target_label} is lifted.")
    else:
        _form_errors_to_messages(request, form)
    if stop.scope == "agent":
        return HttpResponseRedirect(reverse("registry:agent-detail", args=[stop.agent.key]))
    return redirect("registry:stop-list")
