"""Filters of the governance lists, shared by the API (and usable by pages)."""

import django_filters

from governance.choices import (
    AssessmentStatus,
    EUAIActCategory,
    EvidenceStatus,
    IncidentSeverity,
    IncidentStatus,
    ReviewKind,
    ReviewStatus,
)
from governance.models import Control, Evidence, Incident, Release, Review, RiskAssessment, Waiver
from registry.choices import Environment


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
    severity = django_filters.MultipleChoiceFilter(choices=IncidentSeverity.choices)
    status = django_filters.ChoiceFilter(choices=IncidentStatus.choices)

    class Meta:
        model = Incident
        fields = ["agent", "severity", "status"]


class WaiverFilterSet(AgentKeyFilterSet):
    control = django_filters.CharFilter(field_name="control_code")

    class Meta:
        model = Waiver
        fields = ["agent", "control"]
