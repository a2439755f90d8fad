"""Forms of the portfolio pages: the dashboard filter and the maturity assessment."""

from django import forms
from django.core.exceptions import ValidationError
from django.forms.models import ModelChoiceIterator

from portfolio.choices import DIMENSION_HELP, DIMENSIONS, MaturityLevel
from portfolio.reports import DEFAULT_PERIOD, PERIODS, PortfolioFilter
from registry.choices import Pattern, RiskTier
from registry.models import BusinessUnit

PERIOD_CHOICES = [(key, f"Last {weeks} weeks") for key, weeks in PERIODS.items()]


class _ListedChoices(ModelChoiceIterator):
    """The choices read with one plain query: the default ``iterator()`` opens a server-side cursor on
    PostgreSQL (declare, fetch, close) for a list of a few dozen units on every page."""

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for obj in self.queryset.all():
            yield self.choice(obj)


class UnitChoiceField(forms.ModelChoiceField):
    iterator = _ListedChoices


class PortfolioFilterForm(forms.Form):
    """The dashboard's filter; the same parameters drive exports and the board pack."""

    business_unit = UnitChoiceField(
        queryset=BusinessUnit.objects.all(),
        to_field_name="slug",
        required=False,
        empty_label="Whole organisation",
        label="Business unit (with its sub-units)",
    )
    pattern = forms.MultipleChoiceField(choices=Pattern.choices, required=False)
    risk_tier = forms.MultipleChoiceField(choices=RiskTier.choices, required=False, label="Risk tier")
    period = forms.ChoiceField(choices=PERIOD_CHOICES, required=False, initial=DEFAULT_PERIOD)

    def to_filter(self) -> PortfolioFilter:
        """The filter the form describes; an invalid form falls back to the unfiltered portfolio."""
        if not self.is_valid():
            return PortfolioFilter()
        data = self.cleaned_data
        return PortfolioFilter(
            business_unit=data.get("business_unit"),
            patterns=tuple(data.get("pattern") or ()),
            risk_tiers=tuple(data.get("risk_tier") or ()),
            period=data.get("period") or DEFAULT_PERIOD,
        )


def filter_from(params) -> tuple[PortfolioFilterForm, PortfolioFilter]:
    """The form and the filter it describes; a bad parameter falls back to the unfiltered portfolio
    (the dashboard page, which shows the error beside its field)."""
    form = PortfolioFilterForm(params)
    return form, form.to_filter()


def checked_filter(params) -> PortfolioFilter:
    """The filter ``params`` describe, or a ValidationError naming each bad parameter.

    The API and the exports refuse bad parameters (400) rather than fall back:
    an integration or a downloaded file must not quietly hold the whole
    organisation when a unit was asked for.
    """
    form, flt = filter_from(params)
    if form.is_bound and not form.is_valid():
        raise ValidationError(form.errors.as_data())
    return flt


class MaturityAssessmentForm(forms.Form):
    assessed_on = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label="Assessed on")

    def __init__(self, *args, previous=None, **kwargs):
        super().__init__(*args, **kwargs)
        for name in DIMENSIONS:
            self.fields[name] = forms.TypedChoiceField(
                choices=MaturityLevel.choices,
                coerce=int,
                label=name.title(),
                help_text=DIMENSION_HELP[name],
                initial=getattr(previous, name, None),
            )
            self.fields[f"{name}_rationale"] = forms.CharField(
                widget=forms.Textarea(attrs={"rows": 2}),
                max_length=2000,
                label=f"Why {name} is at this level",
            )
        self.fields["notes"] = forms.CharField(
            widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=4000
        )

    def dimension_fields(self):
        return [(self[name], self[f"{name}_rationale"]) for name in DIMENSIONS]
