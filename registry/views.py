"""Registry pages. Views stay thin: they read through ``for_user`` and write through services."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from registry import cards, hooks, services
from registry.choices import AuditEventType
from registry.exceptions import Conflict
from registry.filtersets import AgentFilterSet, McpServerFilterSet
from registry.forms import (
    AgentForm,
    ApiTokenForm,
    CardAgentForm,
    CardSourceForm,
    DelegateForm,
    ImportFileForm,
    LiftStopForm,
    McpApproveForm,
    McpServerForm,
    QuickAgentForm,
    StopForm,
    ToolAccessForm,
    TransferForm,
    TransitionForm,
    VersionForm,
    WideStopForm,
    add_service_errors,
)
from registry.models import Agent, AgentCard, AgentDelegate, ApiToken, AuditEvent, McpServer, Stop, Tool, User
from registry.roles import is_board, is_platform_admin

CATALOG_PAGE_SIZE = 25
# The agent page shows the latest entries of its history; the history page holds the rest.
HISTORY_ON_AGENT_PAGE = 20
HISTORY_PAGE_SIZE = 50


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
def landing(request):
    """Where each person lands after signing in: their role's work (see ``hooks.landing_pages``), else My agents."""
    for _, page in sorted(hooks.landing_pages, key=lambda entry: entry[0]):
        url = page(request.user)
        if url:
            return redirect(url)
    return redirect("registry:home")


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
    timeline = AuditEvent.objects.for_user(user).filter(agent=agent).order_by("-seq")[:HISTORY_ON_AGENT_PAGE]
    transitions = services.allowed_transitions(agent.lifecycle)
    panels = sorted(
        (panel for hook in hooks.agent_detail_panels if (panel := hook(request, agent))),
        key=lambda p: p.get("order", 100),
    )
    extra_actions = [action for hook in hooks.agent_detail_actions for action in hook(request, agent)]
    checklist = agent.checklist(has_version=bool(versions))
    still_missing = [item for item in checklist if not item[2]]
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
            "checklist": checklist if still_missing else None,
            "agent_card": AgentCard.objects.filter(agent=agent).first(),
            "checklist_missing": len(still_missing),
            "stops": stops,
            "tool_stops": tool_stops,
            "can_stop": services.can_stop(user, "agent", agent),
            "can_lift": services.can_lift_stop(user),
            "stop_form": StopForm(),
            "lift_form": LiftStopForm(),
        },
    )


def event_label(event_type: str) -> str:
    """A readable name for an audit event type: the registry's and upper layers' labels, else the code in words."""
    labels = {**dict(AuditEventType.choices), **hooks.audit_event_labels}
    return labels.get(event_type) or event_type.replace(".", " ").replace("_", " ").capitalize()


@login_required
def agent_history(request, key):
    """An agent's whole history, newest first, paginated and filterable by kind of event."""
    agent = get_agent_for_user(request.user, key)
    events = AuditEvent.objects.for_user(request.user).filter(agent=agent)
    kinds = sorted(
        ((t, event_label(t)) for t in events.order_by().values_list("event_type", flat=True).distinct()),
        key=lambda pair: pair[1],
    )
    chosen = [k for k in request.GET.getlist("kind") if k in dict(kinds)]
    if chosen:
        events = events.filter(event_type__in=chosen)
    page = Paginator(events.order_by("-seq"), HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "registry/agent_history.html",
        {
            "nav": "catalog",
            "agent": agent,
            "page": page,
            "kinds": kinds,
            "chosen": chosen,
            "query": query.urlencode(),
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


@login_required
@require_http_methods(["GET", "POST"])
def agent_quick_create(request):
    """Register now, complete later: the short form; the agent page lists what is still missing."""
    if not services.can_register_agents(request.user):
        raise PermissionDenied("Only people register agents.")
    form = QuickAgentForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            agent = services.create_agent(actor=request.user, owner=form.cleaned_data["owner"], **form.agent_fields())
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"{agent.name} is registered as {agent.key}. Complete the rest when you can.")
            return redirect("registry:agent-detail", key=agent.key)
    return render(request, "registry/agent_quick_form.html", {"nav": "catalog", "form": form})


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


# --- Owner continuity: handovers after deprovisioning -----------------------------------------------


def owner_continuity_panel(request, agent):
    """The agent page's notice when its owner left (pending handover) or moved to another unit."""
    from registry.models import DirectoryEntry, HandoverProposal

    owner = agent.owner
    handover = (
        HandoverProposal.objects.filter(agent=agent, status__in=["pending", "declined"])
        .select_related("proposed_to")
        .order_by("-created_at", "-id")
        .first()
    )
    entry = DirectoryEntry.objects.filter(user_id=owner.pk).select_related("previous_unit").first()
    moved = (
        entry is not None
        and entry.unit_changed_at is not None
        and owner.business_unit_id is not None
        and owner.business_unit_id != agent.business_unit_id
    )
    if not moved and (handover is None or owner.is_active):
        return None
    return {
        "title": "Ownership",
        "template": "registry/_continuity_panel.html",
        "context": {"owner": owner, "moved": moved, "entry": entry, "handover": handover},
        "order": 1,
    }


# --- MCP servers ------------------------------------------------------------------------------


def get_mcp_server_for_user(user, key: str, action: str = "view") -> McpServer:
    """The server with this key if the user may see it (else 404) and, to change it, may change it (else 403)."""
    server = get_object_or_404(
        McpServer.objects.for_user(user, "view").select_related("owner", "business_unit", "approved_by"), key=key
    )
    if action == "change" and not services.can_change_mcp_server(user, server):
        raise PermissionDenied("Only the server's owner or a platform administrator may change it.")
    return server


@login_required
def mcp_list(request):
    """The MCP server inventory, with where each stands with the board and whether it answers."""
    base = (
        McpServer.objects.for_user(request.user)
        .with_pending_changes()
        .select_related("owner", "business_unit")
        .order_by("key")
    )
    filterset = McpServerFilterSet(request.GET or None, queryset=base, request=request)
    queryset = filterset.qs if filterset.is_bound else base
    if filterset.is_bound and not filterset.is_valid():
        queryset = base.none()
    page = Paginator(queryset, CATALOG_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "registry/mcp_list.html",
        {
            "nav": "mcp",
            "filterset": filterset,
            "page": page,
            "query": query.urlencode(),
            "can_register": services.can_register_agents(request.user),
        },
    )


def _card_from_form(form):
    """The card the form names: pasted or uploaded JSON, or fetched from its URL (checked and limited)."""
    data, url = form.card_data()
    if data is None:
        data = cards.fetch_card(url)
    return data, url


@login_required
@require_http_methods(["GET", "POST"])
def handovers(request):
    """Agents proposed to me after their owner left; for the board, every open handover to reassign."""
    from registry.forms import ReassignHandoverForm
    from registry.models import HandoverProposal
    from registry.roles import is_board, is_platform_admin

    user = request.user
    visible = HandoverProposal.objects.for_user(user).select_related(
        "agent", "agent__business_unit", "from_owner", "proposed_to"
    )
    if request.method == "POST":
        proposal = get_object_or_404(visible, pk=_pk_or_404(request.POST.get("proposal")))
        action = request.POST.get("action")
        try:
            if action == "accept":
                services.accept_handover(proposal, actor=user)
                messages.success(request, f"You now own {proposal.agent.name}.")
            elif action == "decline":
                services.decline_handover(proposal, actor=user, note=request.POST.get("note", ""))
                messages.success(request, f"You declined {proposal.agent.name}; the board will reassign it.")
            elif action == "reassign":
                form = ReassignHandoverForm(request.POST)
                if not form.is_valid():
                    messages.error(request, "Choose an active person to propose the agent to.")
                else:
                    services.reassign_handover(
                        proposal, form.cleaned_data["proposed_to"], actor=user, note=form.cleaned_data["note"]
                    )
                    messages.success(
                        request, f"{proposal.agent.name} is now proposed to {form.cleaned_data['proposed_to']}."
                    )
            else:
                messages.error(request, "Unknown action.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        return redirect("registry:handovers")
    mine = visible.filter(proposed_to=user, status="pending")
    board_view = is_board(user) or is_platform_admin(user)
    open_ones = visible.filter(status__in=["pending", "declined"]).exclude(proposed_to=user) if board_view else None
    if open_ones is not None:
        # A declined proposal stays open only while nobody has taken the agent over since.
        open_ones = [p for p in open_ones if p.agent.owner_id == p.from_owner_id]
    return render(
        request,
        "registry/handovers.html",
        {
            "nav": "handovers",
            "mine": mine,
            "open_ones": open_ones,
            "board_view": board_view,
            "form": ReassignHandoverForm() if board_view else None,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def mcp_create(request):
    if not services.can_register_agents(request.user):
        raise PermissionDenied("Only people register MCP servers.")
    form = McpServerForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            fields = form.service_fields()
            server = services.register_mcp_server(actor=request.user, owner=fields.pop("owner"), **fields)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"{server.name} is registered. Scan it to read its tools.")
            return redirect("registry:mcp-detail", key=server.key)
    return render(request, "registry/mcp_form.html", {"nav": "mcp", "form": form, "creating": True})


@login_required
def mcp_detail(request, key):
    server = get_mcp_server_for_user(request.user, key)
    user = request.user
    tools = list(Tool.objects.filter(mcp_server=server).order_by("mcp_removed_at", "key"))
    for tool in tools:
        tool.mcp_server = server
    pending = sum(1 for tool in tools if tool.mcp_change)
    timeline = (
        AuditEvent.objects.for_user(user)
        .filter(target_type=McpServer._meta.label_lower, target_id=str(server.pk))
        .order_by("-seq")[:20]
    )
    board = is_board(user)
    return render(
        request,
        "registry/mcp_detail.html",
        {
            "nav": "mcp",
            "server": server,
            "tools": tools,
            "approval": server.approval(pending),
            "pending": pending,
            "can_change": services.can_change_mcp_server(user, server),
            "can_scan": services.can_scan_mcp_server(user, server),
            "can_approve": board and server.last_reached_at is not None and (server.approved_at is None or pending),
            "can_raise": is_platform_admin(user) and user.has_perm("registry.change_tool"),
            "approve_form": McpApproveForm() if board else None,
            "timeline": timeline,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def mcp_edit(request, key):
    server = get_mcp_server_for_user(request.user, key, "change")
    form = McpServerForm(request.POST or None, instance=server, user=request.user)
    if request.method == "POST" and form.is_valid():
        changes = {k: v for k, v in form.service_fields().items() if k in form.changed_data}
        try:
            server = services.update_mcp_server(server, actor=request.user, **changes)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Changes saved." if changes else "Nothing changed.")
            return redirect("registry:mcp-detail", key=server.key)
    return render(request, "registry/mcp_form.html", {"nav": "mcp", "form": form, "server": server})


@login_required
@require_POST
def mcp_scan(request, key):
    """ "Scan now": read the tools at once; the page then says what was found, or why it could not be read."""
    server = get_mcp_server_for_user(request.user, key)
    if not services.can_scan_mcp_server(request.user, server):
        raise PermissionDenied("Only the server's owner, the board or an administrator may scan it.")
    server = services.scan_mcp_server(server, actor=request.user)
    if server.scan_error:
        messages.error(request, f"{server.name} could not be reached: {server.scan_error}")
    else:
        summary = {k: len(v) for k, v in server.scan_summary.items() if v}
        found = ", ".join(f"{n} {k}" for k, n in summary.items()) or "no change"
        messages.success(request, f"{server.name} scanned: {found}.")
    return HttpResponseRedirect(reverse("registry:mcp-detail", args=[server.key]))


@login_required
@require_POST
def mcp_approve(request, key):
    server = get_mcp_server_for_user(request.user, key)
    if not is_board(request.user):
        raise PermissionDenied("Only the governance board approves MCP servers.")
    form = McpApproveForm(request.POST)
    if form.is_valid():
        try:
            services.approve_mcp_server(server, actor=request.user, note=form.cleaned_data["note"])
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            messages.success(request, f"{server.name}'s tools are approved as the last scan read them.")
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    return HttpResponseRedirect(reverse("registry:mcp-detail", args=[server.key]))


@login_required
@require_POST
def mcp_tool_access(request, key, tool_key):
    """An administrator raises an MCP tool's access above what its annotations imply (never below)."""
    server = get_mcp_server_for_user(request.user, key)
    tool = get_object_or_404(Tool.objects.for_user(request.user).filter(mcp_server=server), key=tool_key)
    if not request.user.has_perm("registry.change_tool"):
        raise PermissionDenied("Only platform administrators change a tool's access.")
    form = ToolAccessForm(request.POST)
    if form.is_valid():
        level = form.cleaned_data["access"]
        try:
            services.update_tool(
                tool, actor=request.user, supports_write=level != "read", supports_execute=level == "execute"
            )
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            messages.success(request, f"{tool.key} may now be granted up to {level} access.")
    else:
        messages.error(request, "Choose read, write or execute.")
    return HttpResponseRedirect(reverse("registry:mcp-detail", args=[server.key]))


@login_required
@require_http_methods(["GET", "POST"])
def agent_card_register(request):
    """Register an agent from its A2A Agent Card."""
    if not services.can_register_agents(request.user):
        raise PermissionDenied("Only people register agents.")
    form = CardAgentForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            data, url = _card_from_form(form)
            agent = services.register_agent_from_card(
                data, actor=request.user, owner=form.cleaned_data["owner"], source_url=url, **form.agent_fields()
            )
        except ValidationError as exc:
            add_service_errors(form, _card_errors(exc, form))
        else:
            messages.success(request, f"{agent.name} is registered from its agent card as {agent.key}.")
            return redirect("registry:agent-detail", key=agent.key)
    return render(request, "registry/agent_card_register.html", {"nav": "catalog", "form": form})


def _card_errors(exc: ValidationError, form) -> ValidationError:
    """Card problems belong beside the field the card came from (its URL, file or pasted JSON)."""
    if not hasattr(exc, "error_dict"):
        return exc
    source = next((n for n in ("card_url", "card_file", "card_json") if form.cleaned_data.get(n)), "card_json")
    return ValidationError(
        {(source if name in ("url", "card") else name): errors for name, errors in exc.error_dict.items()}
    )


@login_required
@require_http_methods(["GET", "POST"])
def agent_card(request, key):
    """An agent's card: its signature status and skills; re-import one, see the diff, confirm or discard it."""
    agent = get_agent_for_user(request.user, key, "change")
    form = CardSourceForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        if "confirm" in request.POST or "discard" in request.POST:
            try:
                if "confirm" in request.POST:
                    services.confirm_card(agent, actor=request.user)
                    messages.success(request, "The agent now follows its new card.")
                else:
                    services.discard_card(agent, actor=request.user)
                    messages.success(request, "The imported card was discarded; nothing changed.")
            except ValidationError as exc:
                for message in exc.messages:
                    messages.error(request, message)
            return redirect("registry:agent-card", key=agent.key)
        if form.is_valid():
            try:
                data, url = _card_from_form(form)
                services.propose_card(agent, data, actor=request.user, source_url=url)
            except ValidationError as exc:
                add_service_errors(form, _card_errors(exc, form))
            else:
                messages.success(
                    request, "Card read. Check the changes below; nothing changes until the owner confirms."
                )
                return redirect("registry:agent-card", key=agent.key)
    row = AgentCard.objects.filter(agent=agent).first()
    diff = services.card_diff(agent, row.pending_card) if row and row.pending_card else None
    return render(
        request,
        "registry/agent_card.html",
        {
            "nav": "catalog",
            "agent": agent,
            "form": form,
            "card": row,
            "diff": diff,
            "can_confirm": services.can_manage_agent(request.user, agent),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def agent_import(request):
    """Bulk registration from CSV or Excel: check first (each error by row and column), then all or nothing."""
    if not services.can_register_agents(request.user):
        raise PermissionDenied("Only people register agents.")
    form = ImportFileForm(request.POST or None, request.FILES or None)
    checked = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        dry_run = "import" not in request.POST
        try:
            checked = services.import_agents(upload.name, upload.read(), actor=request.user, dry_run=dry_run)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            if not dry_run and not checked.errors:
                messages.success(request, f"{len(checked.agents)} agents registered from {upload.name}.")
                return redirect("registry:catalog")
    return render(
        request,
        "registry/agent_import.html",
        {"nav": "catalog", "form": form, "checked": checked, "errors": (checked.errors[:500] if checked else [])},
    )


@login_required
def agent_import_template(request, fmt):
    """The import template, as CSV or Excel, with the columns and one example row."""
    from registry import bulk

    if fmt == "xlsx":
        response = HttpResponse(
            bulk.template_xlsx(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
    else:
        response = HttpResponse(bulk.template_csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="agents-template.{fmt}"'
    return response


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
