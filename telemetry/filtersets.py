"""Filters shared by the telemetry API and pages."""

import django_filters

from registry import filtersets as registry_filtersets
from telemetry.choices import TelemetryEnvironment
from telemetry.models import DailyEvaluation, DailyToolUsage, DailyUsage, IdentityAlias, Sighting, TelemetrySource


class TelemetrySourceFilterSet(django_filters.FilterSet):
    class Meta:
        model = TelemetrySource
        fields = ["kind", "active"]


class SightingFilterSet(django_filters.FilterSet):
    agent = django_filters.CharFilter(field_name="agent__key", label="Agent key")
    unclaimed = django_filters.BooleanFilter(field_name="agent", lookup_expr="isnull", label="No registered agent")
    environment = django_filters.ChoiceFilter(choices=TelemetryEnvironment.choices)
    environment_label = django_filters.CharFilter(lookup_expr="iexact", label="Environment label as sent")
    source = django_filters.NumberFilter(field_name="source_id")
    seen_after = registry_filtersets.UtcIsoDateTimeFilter(field_name="last_seen_at", lookup_expr="gte")

    class Meta:
        model = Sighting
        fields = ["identity", "agent", "unclaimed", "environment", "environment_label", "source", "seen_after"]


class DailyUsageFilterSet(django_filters.FilterSet):
    agent = django_filters.CharFilter(field_name="agent__key", label="Agent key")
    environment = django_filters.ChoiceFilter(choices=TelemetryEnvironment.choices)
    since = django_filters.DateFilter(field_name="day", lookup_expr="gte")
    until = django_filters.DateFilter(field_name="day", lookup_expr="lte")

    class Meta:
        model = DailyUsage
        fields = ["agent", "environment", "since", "until"]


class IdentityAliasFilterSet(django_filters.FilterSet):
    agent = django_filters.CharFilter(field_name="agent__key", label="Agent key")

    class Meta:
        model = IdentityAlias
        fields = ["agent", "identity"]


class DailyToolUsageFilterSet(django_filters.FilterSet):
    agent = django_filters.CharFilter(field_name="agent__key", label="Agent key")
    tool = django_filters.CharFilter(field_name="tool_name", label="Tool name as telemetry gives it")
    server = django_filters.CharFilter(field_name="server_address", lookup_expr="iexact", label="MCP server address")
    since = django_filters.DateFilter(field_name="day", lookup_expr="gte")
    until = django_filters.DateFilter(field_name="day", lookup_expr="lte")

    class Meta:
        model = DailyToolUsage
        fields = ["agent", "tool", "server", "since", "until"]


class DailyEvaluationFilterSet(django_filters.FilterSet):
    agent = django_filters.CharFilter(field_name="agent__key", label="Agent key")
    name = django_filters.CharFilter(field_name="name", label="Evaluation name")
    since = django_filters.DateFilter(field_name="day", lookup_expr="gte")
    until = django_filters.DateFilter(field_name="day", lookup_expr="lte")

    class Meta:
        model = DailyEvaluation
        fields = ["agent", "name", "since", "until"]
