"""Filters of the governance lists, shared by the API (and usable by pages)."""

import django_filters
from django import forms
from django.db.models import Q
from django.utils import timezone

from governance.choices import (
    AssessmentStatus,
    AttestationAnswer,
    Enforcement,
    EUAIActCategory,
    EvidenceStatus,
    FindingKind,
    FindingState,
    IncidentStatus,
    ReviewKind,
    ReviewStatus,
    Severity,
)
from governance.models import (
    Attestation,
    AttestationCampaign,
    Control,
    Evidence,
    Finding,
    FundamentalRightsAssessment,
    Incident,
    Release,
    Review,
    RiskAssessment,
    Waiver,
)
from registry import filtersets as registry_filtersets
from registry.choices import Environment, Pattern
from registry.models import Agent


class AgentKeyFilterSet(django_filters.FilterSet):
    agent = django_filters.CharFilter(field_name="agent__key", label="Agent key")


class RiskAssessmentFilterSet(AgentKeyFilterSet):
    status = django_filters.MultipleChoiceFilter(choices=AssessmentStatus.choices)
    eu_ai_act_category = django_filters.MultipleChoiceFilter(choices=EUAIActCategory.choices)
    stale = django_filters.BooleanFilter(field_name="stale_at", lookup_expr="isnull", exclude=True, label="Stale")

    class Meta:
        model = RiskAssessment
        fields = ["agent", "status", "eu_ai_act_category", "stale"]


class ControlFilterSet(django_filters.FilterSet):
    policy_version = django_filters.NumberFilter(
        field_name="policy__version", label="Policy version (default: the one in force)"
    )
    validity = django_filters.CharFilter()
    nist_function = django_filters.CharFilter()

    class Meta:
        model = Control
        fields = ["policy_version", "validity", "nist_function"]


class EvidenceFilterSet(AgentKeyFilterSet):
    status = django_filters.MultipleChoiceFilter(choices=EvidenceStatus.choices)
    control = django_filters.CharFilter(field_name="control_code")

    class Meta:
        model = Evidence
        fields = ["agent", "status", "control"]


class ReviewFilterSet(AgentKeyFilterSet):
    kind = django_filters.ChoiceFilter(choices=ReviewKind.choices)
    status = django_filters.MultipleChoiceFilter(choices=ReviewStatus.choices)
    environment = django_filters.ChoiceFilter(choices=Environment.choices)

    class Meta:
        model = Review
        fields = ["agent", "kind", "status", "environment"]


class ReleaseFilterSet(AgentKeyFilterSet):
    environment = django_filters.ChoiceFilter(choices=Environment.choices)

    class Meta:
        model = Release
        fields = ["agent", "environment"]


class IncidentFilterSet(AgentKeyFilterSet):
    serious = django_filters.BooleanFilter(method="filter_serious", label="Only serious incidents (Art. 73)")
    severity = django_filters.MultipleChoiceFilter(choices=Severity.choices)
    status = django_filters.ChoiceFilter(choices=IncidentStatus.choices)

    class Meta:
        model = Incident
        fields = ["agent", "severity", "status", "serious"]

    def filter_serious(self, queryset, name, value):
        return queryset.exclude(serious_category="") if value else queryset.filter(serious_category="")


class FundamentalRightsAssessmentFilterSet(AgentKeyFilterSet):
    class Meta:
        model = FundamentalRightsAssessment
        fields = ["agent"]


class WaiverFilterSet(AgentKeyFilterSet):
    control = django_filters.CharFilter(field_name="control_code")

    class Meta:
        model = Waiver
        fields = ["agent", "control"]


class FindingFilterSet(django_filters.FilterSet):
    kind = django_filters.MultipleChoiceFilter(
        widget=registry_filtersets.CHECKBOXES, choices=FindingKind.choices, label="Kind"
    )
    severity = django_filters.MultipleChoiceFilter(
        widget=registry_filtersets.CHECKBOXES, choices=Severity.choices, label="Severity"
    )
    state = django_filters.ChoiceFilter(
        choices=[("all", "All"), *FindingState.choices], method="filter_state", empty_label=None, label="State"
    )
    agent = django_filters.CharFilter(field_name="agent__key", label="Agent key")
    identity = django_filters.CharFilter(field_name="identity", label="Unregistered identity")
    business_unit = django_filters.CharFilter(method="filter_unit", label="Business unit (slug)")
    pattern = django_filters.MultipleChoiceFilter(
        widget=registry_filtersets.CHECKBOXES,
        choices=Pattern.choices,
        field_name="agent__pattern",
        label="Agent's pattern",
    )
    risk_tier = django_filters.MultipleChoiceFilter(
        widget=registry_filtersets.CHECKBOXES,
        choices=registry_filtersets.RISK_TIER_FILTER_CHOICES,
        method="filter_risk_tier",
        label="Agent's risk tier",
    )
    subject = django_filters.ChoiceFilter(
        choices=[("agent", "Registered agents"), ("identity", "Unregistered identities")],
        method="filter_subject",
        label="About",
    )
    mine = django_filters.BooleanFilter(
        method="filter_mine", label="Only agents I own or help maintain", widget=forms.CheckboxInput
    )
    sort = django_filters.ChoiceFilter(
        choices=[("severity", "Severity, then oldest"), ("newest", "Newest first"), ("oldest", "Oldest first")],
        method="filter_sort",
        empty_label=None,
        label="Sort by",
    )
    opened_after = registry_filtersets.UtcIsoDateTimeFilter(
        field_name="opened_at", lookup_expr="gte", label="Opened on or after"
    )

    class Meta:
        model = Finding
        fields = [
            "kind",
            "severity",
            "state",
            "agent",
            "identity",
            "business_unit",
            "pattern",
            "risk_tier",
            "subject",
            "mine",
            "sort",
            "opened_after",
        ]

    def filter_state(self, queryset, name, value):
        now = timezone.now()
        waived = Q(waived_at__isnull=False, waived_until__gt=now)
        if value == FindingState.RESOLVED:
            return queryset.filter(resolved_at__isnull=False)
        if value == FindingState.WAIVED:
            return queryset.filter(waived, resolved_at__isnull=True)
        if value == FindingState.ACKNOWLEDGED:
            return queryset.filter(resolved_at__isnull=True, acknowledged_at__isnull=False).exclude(waived)
        if value == FindingState.OPEN:
            return queryset.filter(resolved_at__isnull=True)
        return queryset

    def filter_risk_tier(self, queryset, name, value):
        return queryset.filter(registry_filtersets.risk_tier_q(value, "agent__risk_tier")) if value else queryset

    def filter_subject(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(agent__isnull=(value == "identity"))

    def filter_mine(self, queryset, name, value):
        user = getattr(self.request, "user", None)
        if not value or user is None or not user.is_authenticated:
            return queryset
        return queryset.filter(agent__in=Agent.objects.filter(registry_filtersets.mine_q(user)).values("pk"))

    def filter_sort(self, queryset, name, value):
        if value == "severity":
            return queryset.by_severity_then_age()
        if value == "oldest":
            return queryset.order_by("opened_at", "id")
        if value == "newest":
            return queryset.order_by("-opened_at", "-id")
        return queryset

    def filter_unit(self, queryset, name, value):
        return queryset.filter(agent__business_unit__path__contains=f"/{value}/") if value else queryset


class AttestationFilterSet(AgentKeyFilterSet):
    answer = django_filters.MultipleChoiceFilter(choices=AttestationAnswer.choices)
    campaign = django_filters.NumberFilter(field_name="campaign_id")

    class Meta:
        model = Attestation
        fields = ["agent", "answer", "campaign"]


class AttestationCampaignFilterSet(django_filters.FilterSet):
    enforcement = django_filters.MultipleChoiceFilter(choices=Enforcement.choices)

    class Meta:
        model = AttestationCampaign
        fields = ["enforcement"]
