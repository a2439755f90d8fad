"""Forms for the registry pages. Validation that matters lives in the services;
forms shape input and show every error next to its field."""

from django import forms
from django.core.exceptions import ValidationError

from registry.choices import Lifecycle, Pattern, StopScope, ToolAccess
from registry.models import Agent, AgentVersion, BusinessUnit, Tool, User
from registry.services import EDITABLE_AGENT_FIELDS


def add_service_errors(form: forms.Form, error: ValidationError) -> None:
    """Show a service's ValidationError on the form: per field where the form has it, else at the top."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            target = field if field in form.fields else None
            for err in errors:
                for message in err.messages:
                    form.add_error(
                        target, message if target else f"{field}: {message}" if field != "__all__" else message
                    )
    else:
        for message in error.messages:
            form.add_error(None, message)


class AgentForm(forms.ModelForm):
    """Register or edit an agent. The owner is chosen only at registration; later it is transferred."""

    row_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Agent
        fields = ["owner", *EDITABLE_AGENT_FIELDS]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "escalation_procedure": forms.Textarea(attrs={"rows": 3}),
            "objective": forms.Textarea(attrs={"rows": 2}),
            "allowed_actions": forms.Textarea(attrs={"rows": 3}),
            "forbidden_actions": forms.Textarea(attrs={"rows": 3}),
            "inputs": forms.Textarea(attrs={"rows": 2}),
            "actions": forms.Textarea(attrs={"rows": 2}),
            "business_outcome": forms.Textarea(attrs={"rows": 2}),
        }

    fieldsets = (
        ("Identity", ("key", "name", "description", "business_unit", "owner")),
        ("Accountability", ("escalation_contact", "escalation_procedure")),
        (
            "Purpose and boundaries",
            ("objective", "allowed_actions", "forbidden_actions", "inputs", "actions", "approval_threshold"),
        ),
        (
            "Classification",
            (
                "pattern",
                "autonomy_level",
                "topology",
                "runs_in_development",
                "runs_in_staging",
                "runs_in_production",
                "external_facing",
                "data_classification",
                "handles_personal_data",
                "handles_regulated_data",
            ),
        ),
        (
            "Outcomes and adoption",
            (
                "business_outcome",
                "metric_name",
                "metric_unit",
                "metric_baseline",
                "metric_target",
                "metric_current",
                "eligible_users",
                "active_users",
            ),
        ),
    )

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["business_unit"].queryset = BusinessUnit.objects.for_user(user, "view")
        if self.instance.pk:
            del self.fields["owner"]
            self.fields["row_version"].initial = self.instance.row_version
            if self.instance.key_locked_at:
                self.fields["key"].disabled = True
                self.fields["key"].help_text = "Telemetry has reported this key, so it is fixed."
        else:
            self.fields["owner"].queryset = User.objects.eligible_owners()
            self.fields["owner"].initial = user.pk if user.can_own_agents else None
            self.fields["owner"].help_text = "One named, active person who answers for this agent."
            del self.fields["row_version"]

    def _post_clean(self):
        # Model validation runs in the service (with the owner and lifecycle it
        # sets); here only the form's own field checks apply.
        pass

    def grouped_fields(self):
        for legend, names in self.fieldsets:
            yield legend, [self[name] for name in names if name in self.fields]


class TransitionForm(forms.Form):
    to_state = forms.ChoiceField(label="Move to", choices=Lifecycle.choices)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)

    def __init__(self, *args, allowed: list[str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if allowed is not None:
            self.fields["to_state"].choices = [(s, Lifecycle(s).label) for s in allowed]


class TransferForm(forms.Form):
    new_owner = forms.ModelChoiceField(queryset=User.objects.none(), label="New owner")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)

    def __init__(self, *args, agent: Agent, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["new_owner"].queryset = User.objects.eligible_owners().exclude(pk=agent.owner_id)


class DelegateForm(forms.Form):
    user = forms.ModelChoiceField(queryset=User.objects.none(), label="Person")

    def __init__(self, *args, agent: Agent, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = (
            User.objects.eligible_owners().exclude(pk=agent.owner_id).exclude(delegations__agent=agent)
        )


class VersionForm(forms.ModelForm):
    read_tools = forms.ModelMultipleChoiceField(
        queryset=Tool.objects.none(), required=False, widget=forms.CheckboxSelectMultiple, label="Tools (read)"
    )
    write_tools = forms.ModelMultipleChoiceField(
        queryset=Tool.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Tools (write)",
        help_text="Only tools the catalog marks as able to change data.",
    )

    class Meta:
        model = AgentVersion
        fields = [
            "label",
            "model_provider",
            "model_name",
            "model_version",
            "prompt_version",
            "orchestration_version",
            "change_summary",
        ]
        widgets = {"change_summary": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        tools = Tool.objects.for_user(user, "view")
        self.fields["read_tools"].queryset = tools
        self.fields["write_tools"].queryset = tools.filter(supports_write=True)

    def _post_clean(self):
        pass

    def clean(self):
        cleaned = super().clean()
        both = set(cleaned.get("read_tools") or []) & set(cleaned.get("write_tools") or [])
        if both:
            self.add_error(
                "write_tools", "Pick read or write for each tool, not both: " + ", ".join(t.key for t in both)
            )
        return cleaned

    def tool_grants(self):
        grants = [(tool, ToolAccess.READ) for tool in self.cleaned_data.get("read_tools") or []]
        grants += [(tool, ToolAccess.WRITE) for tool in self.cleaned_data.get("write_tools") or []]
        return grants


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What will use it, for example 'CI pipeline'.")
    expires_at = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Leave empty for a token that lasts until revoked.",
    )


class StopForm(forms.Form):
    """Stop one agent now (on its page)."""

    reason = forms.CharField(
        label="Why stop it",
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
        help_text="Shown to everyone the stop affects and kept in the audit trail.",
    )


class WideStopForm(forms.Form):
    """Stop every agent of a unit or pattern, or every use of a tool or MCP server."""

    scope = forms.ChoiceField(label="Stop", choices=[c for c in StopScope.choices if c[0] != StopScope.AGENT])
    target = forms.CharField(
        label="Which one",
        max_length=120,
        help_text="The unit's slug, the pattern's value, or the tool's or MCP server's key.",
    )
    reason = forms.CharField(label="Why", widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)

    def clean(self):
        from registry.models import BusinessUnit, McpServer, Tool

        data = super().clean()
        scope, target = data.get("scope"), (data.get("target") or "").strip()
        if not scope or not target:
            return data
        if scope == StopScope.PATTERN:
            if target not in Pattern.values:
                self.add_error("target", f"Use one of {', '.join(Pattern.values)}.")
            data["target_object"] = target
            return data
        model, field = {
            StopScope.BUSINESS_UNIT: (BusinessUnit, "slug"),
            StopScope.TOOL: (Tool, "key"),
            StopScope.MCP_SERVER: (McpServer, "key"),
        }[scope]
        found = model.objects.filter(**{field: target}).first()
        if found is None:
            self.add_error("target", f"No {StopScope(scope).label.lower()} has the {field} {target!r}.")
        data["target_object"] = found
        return data


class LiftStopForm(forms.Form):
    lift_reason = forms.CharField(label="Why it can end", widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)
