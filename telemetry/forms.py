"""Forms of the telemetry pages; the services validate what matters."""

from django import forms
from django.utils.text import slugify

from registry.models import Agent, User
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
