"""Filters of the portfolio's API lists."""

import django_filters

from portfolio.models import MaturityAssessment
from registry.models import BusinessUnit


class MaturityAssessmentFilterSet(django_filters.FilterSet):
    business_unit = django_filters.ModelChoiceFilter(
        queryset=BusinessUnit.objects.all(), to_field_name="slug", label="Business unit (this unit only)"
    )
    assessed_after = django_filters.DateFilter(field_name="assessed_on", lookup_expr="gte")
    assessed_before = django_filters.DateFilter(field_name="assessed_on", lookup_expr="lte")

    class Meta:
        model = MaturityAssessment
        fields = ["business_unit", "assessed_after", "assessed_before"]
