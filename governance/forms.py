"""Forms of the governance pages. They shape input; the services decide what is allowed."""

from django import forms

from governance.choices import (
    ActionImpact,
    AuthorityReportKind,
    Decision,
    EUAIActCategory,
    EvidenceKind,
    PeopleAffected,
    SeriousIncidentCategory,
    Severity,
)
from registry.choices import Environment, RiskTier
from registry.models import AgentVersion


class AssessmentForm(forms.Form):
    action_impact = forms.ChoiceField(
        choices=ActionImpact.choices, label="What is the worst impact of the agent's actions?"
    )
    irreversible_actions = forms.BooleanField(required=False, label="Can it take actions that cannot be undone?")
    people_affected = forms.ChoiceField(choices=PeopleAffected.choices, label="How many people can it affect?")
    eu_ai_act_category = forms.ChoiceField(choices=EUAIActCategory.choices, label="EU AI Act category")
    eu_ai_act_reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        label="Why this category applies",
        help_text="For example: screens job applicants (Annex III, employment) or chats with customers (Art. 50).",
    )
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=4000, required=False)


class ConfirmAssessmentForm(forms.Form):
    action = forms.ChoiceField(choices=[("confirm", "Confirm"), ("return", "Return to owner")])
    override_tier = forms.ChoiceField(
        choices=[("", "Keep the computed tier"), *RiskTier.choices], required=False, label="Override tier"
    )
    justification = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), max_length=4000, required=False, label="Justification or reason"
    )


class EvidenceForm(forms.Form):
    kind = forms.ChoiceField(choices=EvidenceKind.choices, widget=forms.RadioSelect, initial=EvidenceKind.LINK)
    url = forms.URLField(required=False, max_length=1000, label="Link")
    file = forms.FileField(required=False, help_text="PDF, image, text, CSV, JSON, Word or Excel.")
    statement = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False, max_length=8000)
    summary = forms.CharField(required=False, max_length=300, label="What this shows, in one line")


class EvidenceReviewForm(forms.Form):
    action = forms.ChoiceField(choices=[("accept", "Accept"), ("reject", "Reject")])
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000, required=False)


class ReleaseReviewForm(forms.Form):
    version = forms.ModelChoiceField(queryset=AgentVersion.objects.none())
    environment = forms.ChoiceField(choices=Environment.choices, initial=Environment.PRODUCTION)
    summary = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), max_length=4000, required=False, label="What should the board know?"
    )

    def __init__(self, *args, agent=None, **kwargs):
        super().__init__(*args, **kwargs)
        if agent is not None:
            self.fields["version"].queryset = AgentVersion.objects.filter(agent=agent)
            self.fields["version"].initial = self.fields["version"].queryset.first()
        self.fields["version"].label_from_instance = lambda v: v.label


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=Decision.choices)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=4000, label="Reasons")
    conditions = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        max_length=4000,
        help_text="One condition per line (only with an approval with conditions).",
    )

    def condition_lines(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data.get("conditions", "").splitlines() if line.strip()]


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=4000)


class IncidentForm(forms.Form):
    title = forms.CharField(max_length=200)
    severity = forms.ChoiceField(choices=Severity.choices)
    what_happened = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=8000)
    follow_up_actions = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=8000, required=False)
    detected_at = forms.DateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), help_text="Leave empty for now."
    )
    version = forms.ModelChoiceField(queryset=AgentVersion.objects.none(), required=False)
    suspend = forms.BooleanField(
        required=False, label="Suspend the agent now (high or critical incidents of a running agent)"
    )

    def __init__(self, *args, agent=None, **kwargs):
        super().__init__(*args, **kwargs)
        if agent is not None:
            self.fields["version"].queryset = AgentVersion.objects.filter(agent=agent)
        self.fields["version"].label_from_instance = lambda v: v.label


class ResolveIncidentForm(forms.Form):
    resolution = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=4000)


class SeriousIncidentForm(forms.Form):
    category = forms.ChoiceField(choices=SeriousIncidentCategory.choices, label="Serious-incident category")
    aware_at = forms.DateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        label="Organisation became aware",
        help_text="The report clock runs from this time (UTC).",
    )


class AuthorityReportForm(forms.Form):
    kind = forms.ChoiceField(choices=AuthorityReportKind.choices)
    sent_at = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), label="Sent (UTC)")
    authority = forms.CharField(max_length=200, help_text="The market surveillance authority it went to.")
    reference = forms.CharField(max_length=120, required=False)
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=4000, required=False)


class FriaForm(forms.Form):
    """The six questions of Art. 27(1); the page fills them first from the agent record."""

    process_and_purpose = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), max_length=8000, label="Process and purpose (Art. 27(1)(a))"
    )
    period_and_frequency = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), max_length=4000, label="Period and frequency of use (b)"
    )
    people_affected = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), max_length=4000, label="Categories of people affected (c)"
    )
    risks_of_harm = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), max_length=8000, label="Specific risks of harm (d)"
    )
    oversight_measures = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), max_length=8000, label="Human-oversight measures (e)"
    )
    materialisation_measures = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), max_length=8000, label="What happens when risks materialise (f)"
    )


class ObligationDatesForm(forms.Form):
    """One date per obligation of the timeline, and why it moves."""

    notes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), max_length=4000, label="Why the dates change (the legal source)"
    )

    def __init__(self, *args, timeline=(), **kwargs):
        super().__init__(*args, **kwargs)
        for entry in timeline:
            self.fields[f"date_{entry['code']}"] = forms.DateField(
                label=entry["title"],
                initial=entry["applies_from"],
                widget=forms.DateInput(attrs={"type": "date"}),
            )

    def dates(self) -> dict:
        return {name.removeprefix("date_"): v for name, v in self.cleaned_data.items() if name.startswith("date_")}


class WaiverForm(forms.Form):
    control = forms.ChoiceField(choices=())
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=4000)
    expires_at = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), label="Until")

    def __init__(self, *args, codes=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["control"].choices = [(c, c) for c in codes]


class ConditionCloseForm(forms.Form):
    note = forms.CharField(max_length=2000, label="How it was met")
