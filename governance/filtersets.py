"""Filters shared by the governance pages and API."""

import django_filters
from django.db.models import Q
from django.utils import timezone

from governance.choices import FindingKind, FindingSeverity, FindingState
from governance.models import Finding


class FindingFilterSet(django_filters.FilterSet):
    kind = django_filters.MultipleChoiceFilter(choices=FindingKind.choices)
    severity = django_filters.MultipleChoiceFilter(choices=FindingSeverity.choices)
    state = django_filters.ChoiceFilter(
        choices=[("all", "All"), *FindingState.choices], method="filter_state", empty_label=None
    )
    agent = django_filters.CharFilter(field_name="agent__key", label="Agent key")
    identity = django_filters.CharFilter(field_name="identity", label="Unregistered identity")
    business_unit = django_filters.CharFilter(method="filter_unit", label="Business unit (slug)")
    opened_after = django_filters.IsoDateTimeFilter(field_name="opened_at", lookup_expr="gte")

    class Meta:
        model = Finding
        fields = ["kind", "severity", "state", "agent", "identity", "business_unit", "opened_after"]

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

    def filter_unit(self, queryset, name, value):
        return queryset.filter(agent__business_unit__path__contains=f"/{value}/") if value else queryset
