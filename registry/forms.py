"""Forms for the registry pages. Validation that matters lives in the services;
forms shape input and show every error next to its field."""

from django import forms
from django.core.exceptions import ValidationError

from registry.choices import Lifecycle, Pattern, StopScope, ToolAccess
from registry.models import Agent, AgentVersion, BusinessUnit, McpServer, Tool, User
from registry.services import EDITABLE_AGENT_FIELDS, EDITABLE_MCP_SERVER_FIELDS


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
        # Optional on the model for the short form; the full form asks for it.
        self.fields["topology"].required = True
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
        # Only what may be granted now: MCP tools wait for the board's approval (the service says so too).
        tools = Tool.objects.for_user(user, "view").grantable()
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


class ReassignHandoverForm(forms.Form):
    """The board proposes an orphaned agent to another person."""

    proposed_to = forms.ModelChoiceField(queryset=User.objects.none(), label="Propose to")
    note = forms.CharField(max_length=2000, required=False, label="Note")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["proposed_to"].queryset = User.objects.eligible_owners().order_by("last_name", "first_name")


class McpServerForm(forms.ModelForm):
    """Register an MCP server (key and owner only then) or change its facts."""

    class Meta:
        model = McpServer
        fields = ["key", "name", "url", "transport", "description", "business_unit", "owner"]
        labels = {"url": "Endpoint URL"}
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["business_unit"].queryset = BusinessUnit.objects.for_user(user, "view")
        self.fields["owner"].queryset = User.objects.for_user(user, "view").eligible_owners()
        self.fields["key"].help_text = "Stable name, e.g. hr.workday-tools; tools are listed as <key>.<tool>."
        if self.instance.pk:
            del self.fields["key"]
            if not user.has_perm("registry.change_mcpserver"):
                # Only an administrator hands a server to someone else.
                del self.fields["owner"]
        else:
            self.fields["owner"].initial = user.pk

    def _post_clean(self):
        # The service validates the model (and reports on the fields); the form only shapes input.
        pass

    def service_fields(self) -> dict:
        return {k: v for k, v in self.cleaned_data.items() if k in ("key", "owner", *EDITABLE_MCP_SERVER_FIELDS)}


class McpApproveForm(forms.Form):
    note = forms.CharField(
        label="Note for the record", widget=forms.Textarea(attrs={"rows": 2}), max_length=2000, required=False
    )


class ToolAccessForm(forms.Form):
    access = forms.ChoiceField(label="Access", choices=ToolAccess.choices)


# What the short form asks: what no telemetry or card can know. The rest can wait; the
# agent page lists it until it is there.
QUICK_AGENT_FIELDS = (
    "key",
    "name",
    "owner",
    "business_unit",
    "objective",
    "pattern",
    "autonomy_level",
    "data_classification",
)


class QuickAgentForm(forms.ModelForm):
    """Register now, complete later: identity, owner, unit, purpose and classification only."""

    class Meta:
        model = Agent
        fields = list(QUICK_AGENT_FIELDS)
        labels = {"objective": "Purpose"}
        widgets = {"objective": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["business_unit"].queryset = BusinessUnit.objects.for_user(user, "view")
        self.fields["owner"].queryset = User.objects.eligible_owners()
        self.fields["owner"].help_text = "One named, active person who answers for this agent."
        if "owner" not in self.initial:
            self.fields["owner"].initial = user.pk if user.can_own_agents else None
        self.fields["objective"].required = True
        self.fields["objective"].help_text = "What the agent is for, in a sentence or two."

    def _post_clean(self):
        pass

    def agent_fields(self) -> dict:
        return {k: v for k, v in self.cleaned_data.items() if k != "owner"}


class CardSourceForm(forms.Form):
    """An A2A Agent Card, pasted, uploaded or fetched from its URL (exactly one of them)."""

    card_url = forms.URLField(
        required=False,
        label="Card URL",
        max_length=500,
        help_text="Usually https://…/.well-known/agent-card.json; only hosts the administrators allow.",
        assume_scheme="https",
    )
    card_file = forms.FileField(required=False, label="Card file", help_text="A JSON file, at most 256 KB.")
    card_json = forms.CharField(
        required=False, label="Card JSON", widget=forms.Textarea(attrs={"rows": 6}), max_length=262_144
    )

    def clean(self):
        cleaned = super().clean()
        given = [n for n in ("card_url", "card_file", "card_json") if cleaned.get(n)]
        if len(given) != 1:
            raise ValidationError("Give the card one way: its URL, a file, or its JSON pasted.")
        upload = cleaned.get("card_file")
        if upload is not None and upload.size > 262_144:
            self.add_error("card_file", "The card file is larger than 256 KB.")
        return cleaned

    def card_data(self):
        """(card JSON or None to fetch, source URL)."""
        if self.cleaned_data.get("card_url"):
            return None, self.cleaned_data["card_url"]
        if self.cleaned_data.get("card_file"):
            return self.cleaned_data["card_file"].read().decode("utf-8", errors="replace"), ""
        return self.cleaned_data["card_json"], ""


class CardAgentForm(CardSourceForm, forms.ModelForm):
    """Register from a card: the card gives name, purpose, skills and endpoint; the person the rest."""

    class Meta:
        model = Agent
        fields = ["key", "owner", "business_unit", "pattern", "autonomy_level", "data_classification"]

    def _post_clean(self):
        pass

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["business_unit"].queryset = BusinessUnit.objects.for_user(user, "view")
        self.fields["owner"].queryset = User.objects.eligible_owners()
        self.fields["owner"].help_text = "One named, active person who answers for this agent."
        if "owner" not in self.initial:
            self.fields["owner"].initial = user.pk if user.can_own_agents else None

    def agent_fields(self) -> dict:
        return {k: v for k, v in self.cleaned_data.items() if k not in ("owner", "card_url", "card_file", "card_json")}


class ImportFileForm(forms.Form):
    file = forms.FileField(
        label="CSV or Excel file", help_text="Start from the template: one agent per row, the header in row 1."
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith((".csv", ".xlsx")):
            raise ValidationError("Upload a .csv or .xlsx file.")
        if upload.size > 20 * 1024 * 1024:
            raise ValidationError("The file is larger than 20 MB.")
        return upload


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
