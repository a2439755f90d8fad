"""Budgets and the drift parameters: the costs page (every person reads it), an agent's budget (its
maintainers), a unit's budget and the parameters (platform administrators). Writes go through
``governance.services``; a refused value comes back as a message naming the field."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from governance import services
from governance.drift import PARAMETER_FIELDS, budget_status, current_parameters
from governance.models import Budget
from registry import services as registry_services
from registry.models import Agent, BusinessUnit
from registry.roles import is_platform_admin
from registry.views import get_agent_for_user


def _flash(request, exc: ValidationError) -> None:
    for field, errors in exc.message_dict.items():
        messages.error(request, f"{field.replace('_', ' ')}: {' '.join(errors)}")


@login_required
def costs(request):
    """Every budget with its month to date and forecasts, and the drift and budget parameters in force."""
    if not request.user.is_person:
        raise PermissionDenied("Budgets are for people.")
    visible = set(Agent.objects.for_user(request.user, "view").values_list("pk", flat=True))
    rows = [s for s in budget_status(timezone.now()) if not s["budget"].agent_id or s["budget"].agent_id in visible]
    params = current_parameters()
    return render(
        request,
        "governance/costs.html",
        {
            "nav": "governance",
            "rows": rows,
            "params": [(f.replace("_", " "), f, getattr(params, f)) for f in PARAMETER_FIELDS],
            "version": params.version,
            "is_admin": is_platform_admin(request.user),
            "units": BusinessUnit.objects.order_by("path") if is_platform_admin(request.user) else [],
        },
    )


@login_required
@require_POST
def agent_budget(request, key):
    agent = get_agent_for_user(request.user, key)
    if not registry_services.can_change_agent(request.user, agent):
        raise PermissionDenied("Only the agent's maintainers may set its budget.")
    budget = Budget.objects.filter(agent=agent).first()
    if request.POST.get("remove"):
        if budget is not None:
            services.remove_budget(budget, actor=request.user)
        messages.success(request, f"{agent.name} has no monthly budget now.")
        return redirect("registry:agent-detail", key=agent.key)
    try:
        services.set_agent_budget(agent, request.POST.get("monthly_amount", ""), actor=request.user)
        messages.success(request, f"Monthly budget of {agent.name} set.")
    except ValidationError as exc:
        _flash(request, exc)
    return redirect("registry:agent-detail", key=agent.key)


@login_required
@require_POST
def unit_budget(request, slug):
    if not is_platform_admin(request.user):
        raise PermissionDenied("Only a platform administrator may set a business unit's budget.")
    unit = get_object_or_404(BusinessUnit, slug=slug)
    try:
        services.set_unit_budget(unit, request.POST.get("monthly_amount", ""), actor=request.user)
        messages.success(request, f"Monthly budget of {unit.name} set.")
    except ValidationError as exc:
        _flash(request, exc)
    return redirect("governance:costs")


@login_required
@require_POST
def drift_parameters(request):
    if not is_platform_admin(request.user):
        raise PermissionDenied("Only a platform administrator may change the drift and budget parameters.")
    values = {f: request.POST[f] for f in PARAMETER_FIELDS if request.POST.get(f, "") != ""}
    try:
        policy = services.update_drift_policy(values, actor=request.user, notes=request.POST.get("notes", ""))
        messages.success(request, f"Drift and budget parameters saved as version {policy.version}.")
    except ValidationError as exc:
        _flash(request, exc)
    return redirect("governance:costs")
