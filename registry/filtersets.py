"""Catalog filters, shared by the HTML catalog and the agents API so both answer the same question."""

from datetime import UTC

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q
from django_filters.fields import IsoDateTimeField

from registry.choices import (
    Environment,
    HandoverStatus,
    Lifecycle,
    McpApproval,
    McpScanStatus,
    Pattern,
    RiskTier,
    StopScope,
)
from registry.models import Agent, AgentVersion, BusinessUnit, HandoverProposal, McpServer, Stop, Tool
from registry.querysets import ORPHANED


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time, converted to UTC before it reaches the database.

    PostgreSQL refuses offsets beyond +/-15:59 ("+20:39" parses in Python), which
    would be a 500; in UTC any offset is fine, and a value that leaves years
    1-9999 once converted is a 400 like any other malformed input.
    """

    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return value
        try:
            return value.astimezone(UTC)
        except (OverflowError, ValueError) as exc:
            raise ValidationError("Enter a date and time between the years 1 and 9999.", code="invalid") from exc


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """IsoDateTimeFilter that compares in UTC (see UtcIsoDateTimeField); use it for every date-time filter."""

    field_class = UtcIsoDateTimeField


# Multi-choice filters show every option as a checkbox (a multi-select box clips them).
CHECKBOXES = forms.CheckboxSelectMultiple


# "Not assessed yet" is a value of its own, so a figure of unassessed agents opens exactly those.
NOT_ASSESSED = "unassessed"
RISK_TIER_FILTER_CHOICES = [*RiskTier.choices, (NOT_ASSESSED, "Not assessed yet")]


def risk_tier_q(values, field: str = "risk_tier") -> Q:
    """Agents in any of the tiers named, ``unassessed`` standing for an empty tier."""
    tiers = ["" if value == NOT_ASSESSED else value for value in values]
    return Q(**{f"{field}__in": tiers})


def mine_q(user, prefix: str = "") -> Q:
    """Agents the user owns or helps maintain as a delegate."""
    return Q(**{f"{prefix}owner": user}) | Q(**{f"{prefix}delegations__user": user})


class AgentFilterSet(django_filters.FilterSet):
    search = django_filters.CharFilter(method="filter_search", label="Search")
    pattern = django_filters.MultipleChoiceFilter(widget=CHECKBOXES, choices=Pattern.choices)
    risk_tier = django_filters.MultipleChoiceFilter(
        widget=CHECKBOXES, choices=RISK_TIER_FILTER_CHOICES, method="filter_risk_tier", label="Risk tier"
    )
    lifecycle = django_filters.MultipleChoiceFilter(widget=CHECKBOXES, choices=Lifecycle.choices)
    business_unit = django_filters.ModelChoiceFilter(
        queryset=BusinessUnit.objects.all(),
        to_field_name="slug",
        method="filter_business_unit",
        label="Business unit (with its sub-units)",
    )
    owner = django_filters.CharFilter(field_name="owner__username", label="Owner (username)")
    environment = django_filters.ChoiceFilter(
        choices=Environment.choices, method="filter_environment", label="Runs in environment"
    )
    external_facing = django_filters.BooleanFilter(label="External-facing")
    orphaned = django_filters.BooleanFilter(method="filter_orphaned", label="Orphaned (owner inactive, not retired)")
    mine = django_filters.BooleanFilter(
        method="filter_mine", label="Only agents I own or help maintain", widget=forms.CheckboxInput
    )
    orphaned = django_filters.BooleanFilter(method="filter_orphaned", label="Orphaned (owner inactive)")
    stopped = django_filters.BooleanFilter(method="filter_stopped", label="Stopped (a stop in force)")
    ordering = django_filters.OrderingFilter(
        fields=(
            ("name", "name"),
            ("key", "key"),
            ("lifecycle", "lifecycle"),
            ("risk_tier", "risk_tier"),
            ("autonomy_level", "autonomy_level"),
            ("updated_at", "updated"),
            ("business_unit__name", "business_unit"),
        ),
        label="Sort by",
    )

    class Meta:
        model = Agent
        fields = [
            "search",
            "pattern",
            "risk_tier",
            "lifecycle",
            "business_unit",
            "owner",
            "environment",
            "external_facing",
        ]

    def filter_stopped(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.stopped(value)

    def filter_search(self, queryset, name, value):
        return queryset.search(value)

    def filter_business_unit(self, queryset, name, value):
        return queryset.in_business_unit(value) if value else queryset

    def filter_environment(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(**{f"runs_in_{value}": True})

    def filter_risk_tier(self, queryset, name, value):
        return queryset.filter(risk_tier_q(value)) if value else queryset

    def filter_mine(self, queryset, name, value):
        user = getattr(self.request, "user", None)
        if not value or user is None or not user.is_authenticated:
            return queryset
        return queryset.filter(pk__in=Agent.objects.filter(mine_q(user)).values("pk"))

    def filter_orphaned(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.filter(ORPHANED) if value else queryset.exclude(ORPHANED)


class AgentVersionFilterSet(django_filters.FilterSet):
    agent = django_filters.CharFilter(field_name="agent__key", label="Agent key")
    tool = django_filters.CharFilter(field_name="tools__key", label="Tool key", distinct=True)

    class Meta:
        model = AgentVersion
        fields = ["agent", "tool", "model_provider", "model_name"]


class BusinessUnitFilterSet(django_filters.FilterSet):
    parent = django_filters.CharFilter(field_name="parent__slug", label="Parent unit (slug)")
    search = django_filters.CharFilter(method="filter_search", label="Search")

    class Meta:
        model = BusinessUnit
        fields = ["parent", "search"]

    def filter_stopped(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.stopped(value)

    def filter_search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(slug__icontains=value))


class ToolFilterSet(django_filters.FilterSet):
    search = django_filters.CharFilter(method="filter_search", label="Search")

    class Meta:
        model = Tool
        fields = ["supports_write", "system", "search"]

    def filter_stopped(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.stopped(value)

    def filter_search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(key__icontains=value) | Q(description__icontains=value))


class HandoverFilterSet(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=HandoverStatus.choices)
    agent = django_filters.CharFilter(field_name="agent__key", label="Agent key")

    class Meta:
        model = HandoverProposal
        fields = ["status", "agent"]


class McpServerFilterSet(django_filters.FilterSet):
    """The MCP inventory's filters, shared by the page and the API."""

    search = django_filters.CharFilter(method="filter_search", label="Search")
    business_unit = django_filters.ModelChoiceFilter(
        field_name="business_unit", to_field_name="slug", queryset=BusinessUnit.objects.all(), label="Business unit"
    )
    scan_status = django_filters.ChoiceFilter(choices=McpScanStatus.choices, label="Reachability")
    approval = django_filters.ChoiceFilter(choices=McpApproval.choices, method="filter_approval", label="Approval")

    class Meta:
        model = McpServer
        fields = ["search", "business_unit", "scan_status", "approval"]

    def filter_search(self, queryset, name, value):
        return queryset.filter(
            Q(name__icontains=value)
            | Q(key__icontains=value)
            | Q(host__icontains=value)
            | Q(description__icontains=value)
        )

    def filter_approval(self, queryset, name, value):
        if value == McpApproval.AWAITING:
            return queryset.filter(approved_at__isnull=True)
        changed = Tool.objects.filter(mcp_server=OuterRef("pk")).exclude(mcp_change="")
        approved = queryset.filter(approved_at__isnull=False)
        if value == McpApproval.CHANGES_PENDING:
            return approved.filter(Exists(changed))
        return approved.exclude(Exists(changed))


class StopFilterSet(django_filters.FilterSet):
    scope = django_filters.MultipleChoiceFilter(choices=StopScope.choices)
    in_force = django_filters.BooleanFilter(field_name="lifted_at", lookup_expr="isnull", label="In force")
    agent = django_filters.CharFilter(field_name="agent__key", label="Agent (key)")

    class Meta:
        model = Stop
        fields = ["scope", "in_force", "agent"]
