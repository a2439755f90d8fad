"""Findings pages: the list with filters and the latest check runs, a finding's page with its history,
the board's acknowledge and waive actions, and the administrators' "run the checks now"."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from governance.filtersets import FindingFilterSet
from governance.models import CheckRun, Finding
from governance.services import findings as finding_services
from registry.roles import is_board, is_platform_admin

PAGE_SIZE = 50


class AcknowledgeForm(forms.Form):
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000, required=False)


class WaiveForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000, label="Justification")
    until = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), label="Waived until")


@login_required
def finding_list(request):
    base = Finding.objects.for_user(request.user).select_related("agent")
    data = request.GET.copy()
    if "state" not in data:
        data["state"] = "open"
    if "sort" not in data:
        # Most serious first, the longest waiting first within a severity.
        data["sort"] = "severity"
    filterset = FindingFilterSet(data, queryset=base, request=request)
    queryset = filterset.qs if filterset.is_valid() else base.none()
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    for finding in page:
        finding.state_now = finding.state(now)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "governance/findings.html",
        {
            "nav": "findings",
            "filterset": filterset,
            "page": page,
            "query": query.urlencode(),
            "now": now,
            "runs": CheckRun.objects.for_user(request.user).latest_per_kind(),
            "can_run": is_platform_admin(request.user),
        },
    )


@login_required
def finding_detail(request, pk):
    finding = get_object_or_404(Finding.objects.for_user(request.user).select_related("agent__owner"), pk=pk)
    return render(
        request,
        "governance/finding.html",
        {
            "nav": "findings",
            "finding": finding,
            "state": finding.state(timezone.now()),
            "events": finding.events.select_related("actor"),
            "can_act": is_board(request.user) and finding.resolved_at is None,
            "acknowledge_form": AcknowledgeForm(),
            "waive_form": WaiveForm(),
        },
    )


def _board_finding(request, pk) -> Finding:
    finding = get_object_or_404(Finding.objects.for_user(request.user), pk=pk)
    if not is_board(request.user):
        raise PermissionDenied("Only governance board members act on findings.")
    return finding


@login_required
@require_POST
def finding_acknowledge(request, pk):
    finding = _board_finding(request, pk)
    form = AcknowledgeForm(request.POST)
    if form.is_valid():
        try:
            finding_services.acknowledge_finding(finding, actor=request.user, note=form.cleaned_data["note"])
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            messages.success(request, "Acknowledged. The finding stays open until its condition clears.")
    return redirect("governance:finding-detail", pk=finding.pk)


@login_required
@require_POST
def finding_waive(request, pk):
    finding = _board_finding(request, pk)
    form = WaiveForm(request.POST)
    if form.is_valid():
        try:
            finding_services.waive_finding(
                finding, actor=request.user, reason=form.cleaned_data["reason"], until=form.cleaned_data["until"]
            )
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            messages.success(request, "Waived until the date you set.")
    else:
        for field, errors in form.errors.items():
            for error in errors:
                messages.error(request, f"{form.fields[field].label}: {error}")
    return redirect("governance:finding-detail", pk=finding.pk)


@login_required
@require_POST
def run_checks_now(request):
    if not is_platform_admin(request.user):
        raise PermissionDenied("Only platform administrators start the checks by hand.")
    kind = request.POST.get("check") or None
    try:
        finding_services.request_checks(actor=request.user, kind=kind)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "The checks are queued; their runs appear below when the worker has done them.")
    return redirect("governance:findings")
