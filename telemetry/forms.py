"""Forms of the telemetry pages; the services validate what matters."""

from django import forms
from django.utils.text import slugify

from registry.forms import QuickAgentForm
from registry.models import Agent, Tool, User
from telemetry.choices import SourceKind, TelemetryEnvironment
from telemetry.models import TelemetrySource


class SourceForm(forms.ModelForm):
    class Meta:
        model = TelemetrySource
        fields = ["name", "kind", "description", "owner", "active"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = User.objects.eligible_owners()
        self.fields["kind"].choices = SourceKind.choices

    def _post_clean(self):
        pass


class LinkIdentityForm(forms.Form):
    agent = forms.ModelChoiceField(
        queryset=Agent.objects.none(),
        to_field_name="key",
        help_text="The registered agent this identity really is; it will claim the identity as an alias.",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agent"].queryset = Agent.objects.for_user(user, "view").order_by("name")


class ExternalIdentityForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)
    expires_at = forms.DateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="After this the identity is flagged again unless someone registers it.",
    )


def suggested_key(identity: str, agent_name: str) -> str:
    """A registry key to pre-fill the registration form with."""
    base = identity.split("@", 1)[0] if "@" in identity else identity
    return slugify((agent_name or base).replace(".", "-").replace("_", "-"))[:100] or "new-agent"


class SourceEnvironmentsForm(forms.Form):
    """A source's default environment and its own alias table, one ``label = environment`` per line."""

    default_environment = forms.ChoiceField(
        choices=TelemetryEnvironment.choices,
        help_text="Where reports that name no environment are filed. Unspecified is read as production.",
    )
    aliases = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One per line, e.g. “blue-* = production”. A label ending in * matches every label it starts; "
        "these are read before the default table.",
    )

    def clean_aliases(self) -> dict:
        aliases = {}
        for number, line in enumerate(self.cleaned_data.get("aliases", "").splitlines(), start=1):
            if not line.strip():
                continue
            label, sep, environment = line.partition("=")
            if not sep or not label.strip() or not environment.strip():
                raise forms.ValidationError(f"Line {number}: write “label = environment”.")
            aliases[label.strip().lower()] = environment.strip().lower()
        return aliases

    @staticmethod
    def initial_for(source) -> dict:
        return {
            "default_environment": source.default_environment,
            "aliases": "\n".join(f"{k} = {v}" for k, v in sorted(source.environment_aliases.items())),
        }


class ClaimAgentForm(QuickAgentForm):
    """The short form of a shadow agent's claim, plus the catalog tools telemetry saw it call: each is
    ticked, the person claiming unticks what the agent should not keep, and the ticked ones are asked
    for on its first version (which then names its model)."""

    CLAIM_FIELDS = ("tools", "model_provider", "model_name")

    tools = forms.ModelMultipleChoiceField(
        queryset=Tool.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Tools to ask for",
        help_text="Seen in telemetry and grantable now. Untick any the agent should not have.",
    )
    model_provider = forms.CharField(
        max_length=80, required=False, label="Model provider", help_text="Needed when tools are asked for."
    )
    model_name = forms.CharField(max_length=120, required=False, label="Model", help_text="For example gpt-4.1.")

    def __init__(self, *args, tools_seen=(), **kwargs):
        super().__init__(*args, **kwargs)
        # Only what may be granted now (as the version form): the others are listed beside, with why not.
        ids = [row["catalog_tool"].pk for row in tools_seen if row["catalog_tool"] and not row["grant_refusal"]]
        if ids:
            self.fields["tools"].queryset = Tool.objects.filter(pk__in=ids).order_by("key")
            self.fields["tools"].initial = ids
        else:
            for name in self.CLAIM_FIELDS:
                del self.fields[name]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("tools"):
            for name in ("model_provider", "model_name"):
                if not (cleaned.get(name) or "").strip():
                    self.add_error(name, "The first version, which asks for the tools, names its model.")
        return cleaned

    def agent_fields(self) -> dict:
        return {k: v for k, v in super().agent_fields().items() if k not in self.CLAIM_FIELDS}

    def claim_fields(self) -> dict:
        return {k: self.cleaned_data[k] for k in self.CLAIM_FIELDS if k in self.cleaned_data}
