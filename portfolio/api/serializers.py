"""API representations of the portfolio: maturity rows, the policy, and the report dataclasses as JSON."""

import dataclasses
from datetime import date, datetime
from decimal import Decimal
from functools import cache

from rest_framework import serializers

from portfolio import reports
from portfolio.choices import DIMENSIONS
from portfolio.models import MaturityAssessment, PatternMinimum
from registry.api.fields import LookupField
from registry.models import BusinessUnit


class MaturityAssessmentSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:maturityassessment-detail")
    display = serializers.CharField(source="__str__", read_only=True)
    business_unit = LookupField(slug_field="slug", queryset=BusinessUnit.objects.all())
    overall = serializers.IntegerField(read_only=True)
    ceiling = serializers.ListField(source="ceiling_dimensions", child=serializers.CharField(), read_only=True)

    class Meta:
        model = MaturityAssessment
        fields = [
            "url",
            "display",
            "id",
            "business_unit",
            "assessed_on",
            *[f for d in DIMENSIONS for f in (d, f"{d}_rationale")],
            "notes",
            "overall",
            "ceiling",
            "assessed_by_repr",
            "created_at",
        ]
        read_only_fields = ["assessed_by_repr", "created_at"]


class PatternMinimumSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:patternminimum-detail", lookup_field="pattern")
    display = serializers.CharField(source="__str__", read_only=True)

    class Meta:
        model = PatternMinimum
        fields = ["url", "display", "pattern", *DIMENSIONS, "version", "updated_at"]
        read_only_fields = ["pattern", "version", "updated_at"]


def _unit(unit: BusinessUnit | None):
    if unit is None:
        return None
    return {"slug": unit.slug, "name": unit.name, "path": unit.path}


def _assessment(a: MaturityAssessment | None):
    if a is None:
        return None
    return {
        "id": a.pk,
        "business_unit": a.business_unit.slug if a.business_unit_id else None,
        "assessed_on": a.assessed_on.isoformat(),
        "scores": a.scores(),
        "overall": a.overall,
        "ceiling": a.ceiling_dimensions,
        "assessed_by": a.assessed_by_repr,
    }


# Read-only properties worth publishing beside a dataclass's fields.
_PROPERTIES = {
    reports.Row: ("total",),
    reports.Shortfall: ("gap",),
    reports.Readiness: ("gap", "trapped"),
    reports.UnitMaturity: ("overall", "ceiling", "ready_patterns"),
}


@cache
def _fields(cls) -> tuple[str, ...]:
    """A report dataclass's field names, then the properties published beside them (fixed per class)."""
    return (*(f.name for f in dataclasses.fields(cls)), *_PROPERTIES.get(cls, ()))


def _filter(value: reports.PortfolioFilter) -> dict:
    return {
        "business_unit": value.business_unit.slug if value.business_unit else None,
        "patterns": list(value.patterns),
        "risk_tiers": list(value.risk_tiers),
        "period": value.period,
        "description": value.describe(),
    }


_PLAIN = frozenset({str, int, float, bool, type(None)})
_CONVERTERS = {
    BusinessUnit: _unit,
    MaturityAssessment: _assessment,
    reports.PortfolioFilter: _filter,
    dict: lambda value: {str(k): to_json(v) for k, v in value.items()},
    list: lambda value: [to_json(v) for v in value],
    tuple: lambda value: [to_json(v) for v in value],
    datetime: lambda value: value.isoformat(),
    date: lambda value: value.isoformat(),
    Decimal: float,
}


@cache
def _converter(cls):
    """How to write a value of ``cls``: by its exact type, else a report dataclass's fields, else as it is."""
    if cls in _CONVERTERS:
        return _CONVERTERS[cls]
    if dataclasses.is_dataclass(cls):
        names = _fields(cls)
        return lambda value: {name: to_json(getattr(value, name)) for name in names}
    for base, convert in _CONVERTERS.items():
        if issubclass(cls, base):
            return convert
    return lambda value: value


def to_json(value):
    """A report dataclass (or anything inside one) as plain JSON values."""
    # The dashboard holds a few thousand values, most of them plain numbers and strings: answer those
    # first, and find everything else's writer by its type once per process.
    cls = type(value)
    if cls in _PLAIN:
        return value
    return _converter(cls)(value)
