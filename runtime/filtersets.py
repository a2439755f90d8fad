"""Filters of the decision log, shared by the API (and any page that lists it)."""

import django_filters

from registry.choices import Environment
from registry.filtersets import UtcIsoDateTimeFilter
from runtime.choices import ReasonCode
from runtime.models import DenialRecord, GatewayCredential


class DenialRecordFilterSet(django_filters.FilterSet):
    agent = django_filters.CharFilter(field_name="agent__key", label="Agent (key)")
    reason = django_filters.MultipleChoiceFilter(choices=ReasonCode.choices)
    environment = django_filters.ChoiceFilter(choices=Environment.choices)
    since = UtcIsoDateTimeFilter(field_name="minute", lookup_expr="gte", label="From (minute)")
    unregistered = django_filters.BooleanFilter(field_name="agent", lookup_expr="isnull", label="Unknown subject")

    class Meta:
        model = DenialRecord
        fields = ["agent", "reason", "environment", "since", "unregistered"]


class GatewayCredentialFilterSet(django_filters.FilterSet):
    active = django_filters.BooleanFilter(field_name="revoked_at", lookup_expr="isnull", label="Active")

    class Meta:
        model = GatewayCredential
        fields = ["active"]
