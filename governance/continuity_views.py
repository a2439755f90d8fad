"""Pages of keeping ownership true: attestation campaigns (board), the owner's answer page, and the
retire-or-keep choice on a dormant agent. Reads through ``for_user``, writes through services."""

import csv

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from governance.choices import AttestationAnswer, AttestationItem, Enforcement, FindingKind
from governance.models import Attestation, AttestationCampaign, DormancyKeep, Finding
from governance.services import continuity
from registry import services as registry_services
from registry.choices import Lifecycle, Pattern, RiskTier
from registry.forms import add_service_errors
from registry.models import Agent, BusinessUnit
from registry.roles import is_board


class CampaignForm(forms.Form):
    name = forms.CharField(max_length=150)
    units = forms.ModelMultipleChoiceField(
        queryset=BusinessUnit.objects.all(), required=False, help_text="Empty: every unit."
    )
    tiers = forms.MultipleChoiceField(choices=RiskTier.choices, required=False, help_text="Empty: every tier.")
    patterns = forms.MultipleChoiceField(choices=Pattern.choices, required=False, help_text="Empty: every pattern.")
    lifecycles = forms.MultipleChoiceField(
        choices=[c for c in Lifecycle.choices if c[0] != Lifecycle.RETIRED],
        required=False,
        help_text="Empty: every state but retired.",
    )
    items = forms.MultipleChoiceField(
        choices=AttestationItem.choices,
        initial=AttestationItem.values,
        widget=forms.CheckboxSelectMultiple,
        label="Owners confirm",
    )
    deadline = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    reminder_days = forms.CharField(initial="7, 1", help_text="Days before the deadline, separated by commas.")
    grace_days = forms.IntegerField(min_value=0, max_value=365, initial=14)
    enforcement = forms.ChoiceField(choices=Enforcement.choices, initial=Enforcement.FINDING)

    def clean_reminder_days(self):
        raw = self.cleaned_data["reminder_days"]
        try:
            return [int(part) for part in raw.replace(" ", "").split(",") if part]
        except ValueError as exc:
            raise ValidationError("Give whole numbers of days, such as 7, 1.") from exc


def _campaigns_for(user):
    return AttestationCampaign.objects.for_user(user, "view")


@login_required
@require_http_methods(["GET", "POST"])
def campaign_list(request):
    """The board's campaigns, and the form to open one."""
    if not request.user.has_perm("governance.view_attestationcampaign"):
        raise PermissionDenied("Only the governance board, leadership and administrators see campaigns.")
    campaigns = _campaigns_for(request.user)
    form = CampaignForm(request.POST or None) if is_board(request.user) else None
    if request.method == "POST":
        if form is None:
            raise PermissionDenied("Only the governance board opens campaigns.")
        if form.is_valid():
            data = form.cleaned_data
            try:
                campaign = continuity.open_campaign(
                    actor=request.user,
                    name=data["name"],
                    deadline=data["deadline"],
                    units=list(data["units"]),
                    tiers=data["tiers"],
                    patterns=data["patterns"],
                    lifecycles=data["lifecycles"],
                    items=data["items"],
                    reminder_days=data["reminder_days"],
                    grace_days=data["grace_days"],
                    enforcement=data["enforcement"],
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"{campaign.name} is open.")
                return redirect("governance:campaign", pk=campaign.pk)
    rows = campaigns.annotate(
        total=Count("attestations"), answered=Count("attestations", filter=~Q(attestations__answer="pending"))
    )
    return render(request, "governance/campaigns.html", {"nav": "campaigns", "campaigns": rows, "form": form})


def _progress(campaign):
    rows = Attestation.objects.filter(campaign=campaign)
    answered = ~Q(answer=AttestationAnswer.PENDING)
    by_unit = (
        rows.values("unit__name")
        .annotate(total=Count("pk"), answered=Count("pk", filter=answered))
        .order_by("unit__name")
    )
    by_owner = (
        rows.values("owner__username", "owner__first_name", "owner__last_name")
        .annotate(total=Count("pk"), answered=Count("pk", filter=answered))
        .order_by("owner__last_name", "owner__username")
    )
    return by_unit, by_owner


@login_required
def campaign_detail(request, pk):
    """Progress per unit and per owner, and who has not answered."""
    campaign = get_object_or_404(_campaigns_for(request.user), pk=pk)
    by_unit, by_owner = _progress(campaign)
    missing = (
        Attestation.objects.filter(campaign=campaign, answer=AttestationAnswer.PENDING)
        .select_related("agent", "owner", "unit")
        .order_by("owner__last_name", "owner__username", "agent__name")
    )
    now = timezone.now()
    return render(
        request,
        "governance/campaign.html",
        {
            "nav": "campaigns",
            "campaign": campaign,
            "by_unit": by_unit,
            "by_owner": by_owner,
            "missing": missing[:200],
            "missing_count": missing.count(),
            "late": now > campaign.deadline,
            "overdue": now >= campaign.enforce_after(),
        },
    )


class _Echo:
    def write(self, value):
        return value


@login_required
def campaign_missing_csv(request, pk):
    """The not-answered list as CSV, streamed."""
    campaign = get_object_or_404(_campaigns_for(request.user), pk=pk)
    rows = (
        Attestation.objects.filter(campaign=campaign, answer=AttestationAnswer.PENDING)
        .order_by("owner__username", "agent__key")
        .values_list("agent__key", "agent__name", "unit__name", "owner__username", "owner__email")
        .iterator(chunk_size=2000)
    )
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(["agent_key", "agent_name", "unit", "owner", "owner_email"])
        for row in rows:
            yield writer.writerow(row)

    response = StreamingHttpResponse(lines(), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.pk}-not-answered.csv"'
    return response


@login_required
@require_http_methods(["GET", "POST"])
def my_attestations(request):
    """The owner's one page: every agent of theirs in an open campaign, answered with one click each or
    all at once."""
    user = request.user
    pending = (
        Attestation.objects.for_user(user, "change")
        .filter(owner=user, answer=AttestationAnswer.PENDING, campaign__opened_at__lte=timezone.now())
        .select_related("agent", "campaign", "agent__business_unit")
        .order_by("campaign__deadline", "agent__name")
    )
    if request.method == "POST":
        answer = request.POST.get("answer")
        if request.POST.get("all"):
            chosen = list(pending.filter(campaign_id=request.POST.get("all")))
        else:
            chosen = [get_object_or_404(pending, pk=_int_or_404(request.POST.get("attestation")))]
        try:
            count = continuity.answer_attestations(chosen, answer, actor=user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("governance:attestations")
        if answer == AttestationAnswer.CHANGED and len(chosen) == 1:
            messages.info(request, f"Edit {chosen[0].agent.name}: every change is kept in its history.")
            return redirect("registry:agent-edit", key=chosen[0].agent.key)
        label = AttestationAnswer(answer).label.lower()
        messages.success(request, f"{count} agent{'s' if count != 1 else ''}: {label}.")
        return redirect("governance:attestations")
    campaigns = {}
    for row in pending:
        campaigns.setdefault(row.campaign, []).append(row)
    answered = (
        Attestation.objects.for_user(user)
        .filter(owner=user)
        .exclude(answer=AttestationAnswer.PENDING)
        .select_related("agent", "campaign")
        .order_by("-answered_at")[:20]
    )
    return render(
        request,
        "governance/attestations.html",
        {"nav": "attestations", "campaigns": campaigns, "answered": answered, "now": timezone.now()},
    )


def _int_or_404(value):
    from django.http import Http404

    try:
        return int(value)
    except (TypeError, ValueError):
        raise Http404("No such row.") from None


@login_required
@require_http_methods(["GET", "POST"])
def dormant_agent(request, key):
    """A dormant agent's owner retires it in one click or keeps it with a reason."""
    agent = get_object_or_404(Agent.objects.for_user(request.user, "view"), key=key)
    if not registry_services.can_change_agent(request.user, agent):
        raise PermissionDenied("Only the owner, a delegate or an administrator decides about this agent.")
    finding = Finding.objects.open().filter(agent=agent, kind=FindingKind.DORMANT_AGENT).first()
    form = forms.Form(request.POST or None)
    form.fields["reason"] = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), max_length=2000, label="Why keep it?", required=False
    )
    if request.method == "POST":
        try:
            if request.POST.get("action") == "retire":
                continuity.retire_dormant_agent(agent, actor=request.user)
                messages.success(request, f"{agent.name} is retired; its history stays.")
                return redirect("registry:agent-detail", key=agent.key)
            continuity.keep_dormant_agent(agent, actor=request.user, reason=request.POST.get("reason", ""))
            messages.success(request, f"{agent.name} is kept.")
            return redirect("registry:agent-detail", key=agent.key)
        except ValidationError as exc:
            add_service_errors(form, exc)
    keeps = DormancyKeep.objects.filter(agent=agent).select_related("kept_by")[:5]
    return render(
        request,
        "governance/dormant.html",
        {"nav": "findings", "agent": agent, "finding": finding, "form": form, "keeps": keeps},
    )


def dormant_action(request, agent):
    """The agent page's "Retire or keep" link while a dormant_agent finding is open and the user may act."""
    if not Finding.objects.open().filter(agent=agent, kind=FindingKind.DORMANT_AGENT).exists():
        return []
    if not registry_services.can_change_agent(request.user, agent):
        return []
    from django.urls import reverse

    return [{"label": "Dormant: retire or keep", "url": reverse("governance:dormant", args=[agent.key])}]
