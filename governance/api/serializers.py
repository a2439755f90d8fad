"""API representations of governance. Writes go through governance services, never ``serializer.save()``."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from governance.choices import (
    ActionImpact,
    AttestationAnswer,
    AttestationItem,
    Decision,
    EUAIActCategory,
    EvidenceKind,
    PeopleAffected,
    SeriousIncidentCategory,
    Severity,
)
from governance.models import (
    Attestation,
    AttestationCampaign,
    AuthorityReport,
    Control,
    Evidence,
    FundamentalRightsAssessment,
    Incident,
    Release,
    Review,
    ReviewCondition,
    RiskAssessment,
    RiskPolicy,
    Waiver,
)
from registry.api.fields import LookupField
from registry.api.serializers import DisplayMixin
from registry.choices import Environment, Lifecycle, Pattern, RiskTier
from registry.models import Agent, AgentVersion, BusinessUnit


def username(user) -> str | None:
    return user.username if user is not None else None


class AgentKeyField(LookupField):
    """An agent by key, among the agents the requesting user may see."""

    def __init__(self, **kwargs):
        super().__init__(slug_field="key", queryset=Agent.objects.all(), **kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        if request is None or not request.user.is_authenticated:
            return Agent.objects.none()
        return Agent.objects.for_user(request.user, "view")


@extend_schema_field(serializers.CharField(allow_null=True))
class VersionLabelField(serializers.Field):
    """A version by its label; labels are unique per agent only, so the view resolves it against the agent."""

    def to_representation(self, value):
        return value.label if value is not None else None

    def to_internal_value(self, data):
        if not isinstance(data, str) or not data.strip() or len(data) > 40:
            raise serializers.ValidationError("Give the version's label, for example 1.4.0.")
        return data.strip()


def resolve_version(agent, label):
    """The agent's version with this label (400 on the ``version`` field when there is none)."""
    if label is None:
        return None
    version = AgentVersion.objects.filter(agent=agent, label=label).first()
    if version is None:
        raise serializers.ValidationError({"version": [f"{agent.key} has no version {label}."]})
    return version


class RiskPolicySerializer(DisplayMixin, serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:riskpolicy-detail", lookup_field="version")

    class Meta:
        model = RiskPolicy
        fields = [
            "url",
            "display",
            "id",
            "version",
            "notes",
            "weights",
            "thresholds",
            "pattern_floors",
            "autonomy_floors",
            "eu_ai_act",
            "cadences",
            "incident_report_days",
            "eu_ai_act_timeline",
            "created_at",
        ]


class ControlSerializer(DisplayMixin, serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:control-detail")
    policy_version = serializers.IntegerField(source="policy.version", read_only=True)

    class Meta:
        model = Control
        fields = [
            "url",
            "display",
            "id",
            "policy_version",
            "code",
            "name",
            "guidance",
            "evidence_expected",
            "accepting_role",
            "validity",
            "validity_days",
            "applies_when",
            "invalidated_by",
            "nist_function",
            "iso42001_area",
            "eu_ai_act_article",
        ]


class RiskAssessmentSerializer(DisplayMixin, serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:riskassessment-detail")
    agent = AgentKeyField()
    policy_version = serializers.IntegerField(source="policy.version", read_only=True)
    tier = serializers.CharField(read_only=True)
    is_stale = serializers.BooleanField(read_only=True)
    submitted_by = serializers.SerializerMethodField()
    confirmed_by = serializers.SerializerMethodField()
    action_impact = serializers.ChoiceField(choices=ActionImpact.choices)
    people_affected = serializers.ChoiceField(choices=PeopleAffected.choices)
    eu_ai_act_category = serializers.ChoiceField(choices=EUAIActCategory.choices)

    class Meta:
        model = RiskAssessment
        fields = [
            "url",
            "display",
            "id",
            "agent",
            "status",
            "policy_version",
            "pattern",
            "autonomy_level",
            "external_facing",
            "data_classification",
            "personal_or_regulated_data",
            "action_impact",
            "irreversible_actions",
            "people_affected",
            "eu_ai_act_category",
            "eu_ai_act_reason",
            "notes",
            "score",
            "computed_tier",
            "reasons",
            "override_tier",
            "override_justification",
            "tier",
            "return_reason",
            "submitted_by",
            "submitted_at",
            "confirmed_by",
            "confirmed_at",
            "is_stale",
            "stale_at",
            "stale_reason",
        ]
        read_only_fields = [
            "status",
            "pattern",
            "autonomy_level",
            "external_facing",
            "data_classification",
            "personal_or_regulated_data",
            "score",
            "computed_tier",
            "reasons",
            "override_tier",
            "override_justification",
            "return_reason",
            "submitted_at",
            "confirmed_at",
            "stale_at",
            "stale_reason",
        ]

    def get_submitted_by(self, obj) -> str | None:
        return username(obj.submitted_by)

    def get_confirmed_by(self, obj) -> str | None:
        return username(obj.confirmed_by)


class ConfirmAssessmentSerializer(serializers.Serializer):
    override_tier = serializers.ChoiceField(choices=RiskTier.choices, required=False, allow_blank=True)
    override_justification = serializers.CharField(max_length=4000, required=False, allow_blank=True)


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=4000)


class OptionalReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=4000, required=False, allow_blank=True)


class EvidenceSerializer(DisplayMixin, serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:evidence-detail")
    agent = AgentKeyField()
    control = serializers.SlugField(source="control_code", max_length=40)
    version = VersionLabelField(required=False, allow_null=True)
    kind = serializers.ChoiceField(choices=EvidenceKind.choices)
    file = serializers.FileField(write_only=True, required=False)
    file_url = serializers.SerializerMethodField()
    state = serializers.SerializerMethodField()
    submitted_by = serializers.SerializerMethodField()
    reviewed_by = serializers.SerializerMethodField()

    class Meta:
        model = Evidence
        fields = [
            "url",
            "display",
            "id",
            "agent",
            "control",
            "version",
            "kind",
            "url_link",
            "statement",
            "file",
            "file_url",
            "file_name",
            "file_size",
            "content_type",
            "file_sha256",
            "summary",
            "status",
            "state",
            "submitted_by",
            "submitted_at",
            "reviewed_by",
            "reviewed_at",
            "review_reason",
            "valid_until",
            "invalidated_at",
            "invalidated_reason",
        ]
        read_only_fields = [
            "file_name",
            "file_size",
            "content_type",
            "file_sha256",
            "status",
            "submitted_at",
            "reviewed_at",
            "review_reason",
            "valid_until",
            "invalidated_at",
            "invalidated_reason",
        ]
        extra_kwargs = {"statement": {"required": False}, "summary": {"required": False}}
        # Uniqueness (one piece awaiting review per control) is the service's and the database's.
        validators: list = []

    url_link = serializers.URLField(source="url", required=False, allow_blank=True, max_length=1000)

    def get_file_url(self, obj) -> str | None:
        if not obj.file:
            return None
        request = self.context.get("request")
        from django.urls import reverse

        path = reverse("api:evidence-download", args=[obj.pk])
        return request.build_absolute_uri(path) if request else path

    def get_state(self, obj) -> str:
        from django.utils import timezone

        return obj.state(timezone.now())

    def get_submitted_by(self, obj) -> str | None:
        return username(obj.submitted_by)

    def get_reviewed_by(self, obj) -> str | None:
        return username(obj.reviewed_by)


class ReviewConditionSerializer(DisplayMixin, serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:reviewcondition-detail")
    closed_by = serializers.SerializerMethodField()

    class Meta:
        model = ReviewCondition
        fields = ["url", "display", "id", "review", "text", "status", "closed_by", "closed_at", "closing_note"]

    def get_closed_by(self, obj) -> str | None:
        return username(obj.closed_by)


class ReviewSerializer(DisplayMixin, serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:review-detail")
    agent = AgentKeyField()
    version = VersionLabelField()
    environment = serializers.ChoiceField(choices=Environment.choices)
    policy_version = serializers.IntegerField(source="policy.version", read_only=True)
    conditions = ReviewConditionSerializer(many=True, read_only=True)
    requested_by = serializers.SerializerMethodField()
    decided_by = serializers.SerializerMethodField()

    class Meta:
        model = Review
        fields = [
            "url",
            "display",
            "id",
            "agent",
            "kind",
            "version",
            "environment",
            "status",
            "tier",
            "policy_version",
            "due_at",
            "summary",
            "requested_by",
            "requested_at",
            "decision",
            "decision_reason",
            "decided_by",
            "decided_at",
            "conditions",
        ]
        read_only_fields = [
            "kind",
            "status",
            "tier",
            "due_at",
            "requested_at",
            "decision",
            "decision_reason",
            "decided_at",
        ]
        extra_kwargs = {"summary": {"required": False}}
        validators: list = []

    def get_requested_by(self, obj) -> str | None:
        return username(obj.requested_by)

    def get_decided_by(self, obj) -> str | None:
        return username(obj.decided_by)


class DecisionSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=Decision.choices)
    reason = serializers.CharField(max_length=4000)
    conditions = serializers.ListField(child=serializers.CharField(max_length=2000), required=False, default=list)


class CloseConditionSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=2000)


class ReleaseSerializer(DisplayMixin, serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:release-detail")
    agent = serializers.CharField(source="agent.key", read_only=True)
    version = serializers.CharField(source="version.label", read_only=True)
    approved_by = serializers.SerializerMethodField()
    deployed_by = serializers.SerializerMethodField()

    class Meta:
        model = Release
        fields = [
            "url",
            "display",
            "id",
            "agent",
            "version",
            "environment",
            "review",
            "approved_by",
            "approved_at",
            "deployed_by",
            "deployed_at",
        ]

    def get_approved_by(self, obj) -> str | None:
        return username(obj.approved_by)

    def get_deployed_by(self, obj) -> str | None:
        return username(obj.deployed_by)


class ReportClockSerializer(serializers.Serializer):
    """The report clock of a serious incident (Art. 73)."""

    category = serializers.CharField()
    days = serializers.IntegerField()
    aware_at = serializers.DateTimeField()
    deadline = serializers.DateTimeField()
    stage = serializers.CharField()
    time_left_seconds = serializers.SerializerMethodField()
    still_due = serializers.ListField(child=serializers.CharField())

    def get_time_left_seconds(self, obj) -> int:
        return int(obj.time_left.total_seconds())


class AuthorityReportSerializer(serializers.ModelSerializer):
    sent_at = serializers.DateTimeField()
    recorded_by = serializers.SerializerMethodField()

    class Meta:
        model = AuthorityReport
        fields = ["id", "kind", "sent_at", "authority", "reference", "notes", "recorded_by", "recorded_at"]
        read_only_fields = ["recorded_at"]
        extra_kwargs = {"reference": {"required": False}, "notes": {"required": False}}

    def get_recorded_by(self, obj) -> str | None:
        return username(obj.recorded_by)


class MarkSeriousSerializer(serializers.Serializer):
    serious_category = serializers.ChoiceField(choices=SeriousIncidentCategory.choices)
    aware_at = serializers.DateTimeField()


class IncidentSerializer(DisplayMixin, serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:incident-detail")
    agent = AgentKeyField()
    version = VersionLabelField(required=False, allow_null=True)
    severity = serializers.ChoiceField(choices=Severity.choices)
    suspend = serializers.BooleanField(write_only=True, required=False, default=False)
    reported_by = serializers.SerializerMethodField()
    report_clock = serializers.SerializerMethodField()
    authority_reports = serializers.SerializerMethodField()

    class Meta:
        model = Incident
        fields = [
            "url",
            "display",
            "id",
            "agent",
            "version",
            "title",
            "severity",
            "what_happened",
            "follow_up_actions",
            "status",
            "detected_at",
            "resolved_at",
            "resolution",
            "reported_by",
            "reported_at",
            "suspend",
            "serious_category",
            "aware_at",
            "report_clock",
            "authority_reports",
        ]
        read_only_fields = ["status", "resolved_at", "resolution", "reported_at", "serious_category", "aware_at"]
        extra_kwargs = {"detected_at": {"required": False}, "follow_up_actions": {"required": False}}

    def get_reported_by(self, obj) -> str | None:
        return username(obj.reported_by)

    @extend_schema_field(AuthorityReportSerializer(many=True))
    def get_authority_reports(self, obj):
        return AuthorityReportSerializer(obj.authority_reports.all(), many=True).data

    @extend_schema_field(ReportClockSerializer(allow_null=True))
    def get_report_clock(self, obj):
        from django.utils import timezone

        from governance import eu_ai_act

        policy = self.context.get("policy") or RiskPolicy.objects.current()
        clock = eu_ai_act.report_clock(obj, policy, timezone.now(), reports=list(obj.authority_reports.all()))
        return ReportClockSerializer(clock).data if clock is not None else None


class FundamentalRightsAssessmentSerializer(DisplayMixin, serializers.ModelSerializer):
    """A FRIA (Art. 27). POST the six answers; the PDF is filed as evidence for ``fria``."""

    url = serializers.HyperlinkedIdentityField(view_name="api:fundamentalrightsassessment-detail")
    agent = AgentKeyField()
    evidence = serializers.PrimaryKeyRelatedField(read_only=True)
    evidence_status = serializers.CharField(source="evidence.status", read_only=True)
    submitted_by = serializers.SerializerMethodField()

    class Meta:
        model = FundamentalRightsAssessment
        fields = [
            "url",
            "display",
            "id",
            "agent",
            "process_and_purpose",
            "period_and_frequency",
            "people_affected",
            "risks_of_harm",
            "oversight_measures",
            "materialisation_measures",
            "evidence",
            "evidence_status",
            "submitted_by",
            "submitted_at",
        ]
        read_only_fields = ["submitted_at"]

    def get_submitted_by(self, obj) -> str | None:
        return username(obj.submitted_by)


class ResolveIncidentSerializer(serializers.Serializer):
    resolution = serializers.CharField(max_length=4000)
    resolved_at = serializers.DateTimeField(required=False)


class WaiverSerializer(DisplayMixin, serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:waiver-detail")
    agent = AgentKeyField()
    control = serializers.SlugField(source="control_code", max_length=40)
    granted_by = serializers.SerializerMethodField()
    in_force = serializers.SerializerMethodField()

    class Meta:
        model = Waiver
        fields = [
            "url",
            "display",
            "id",
            "agent",
            "control",
            "reason",
            "expires_at",
            "granted_by",
            "granted_at",
            "revoked_at",
            "in_force",
        ]
        read_only_fields = ["granted_at", "revoked_at"]

    def get_granted_by(self, obj) -> str | None:
        return username(obj.granted_by)

    def get_in_force(self, obj) -> bool:
        from django.utils import timezone

        return obj.in_force(timezone.now())


class RequirementSerializer(serializers.Serializer):
    """One required control of one agent with its state now."""

    control = serializers.CharField()
    name = serializers.CharField()
    reasons = serializers.ListField(child=serializers.CharField())
    validity = serializers.CharField()
    system = serializers.BooleanField()
    state = serializers.CharField()
    covered = serializers.BooleanField()
    next_step = serializers.CharField()
    evidence = serializers.IntegerField(allow_null=True)
    waiver = serializers.IntegerField(allow_null=True)


class RequirementsSerializer(serializers.Serializer):
    agent = serializers.CharField()
    tier = serializers.CharField()
    policy_version = serializers.IntegerField()
    assessment = serializers.IntegerField(allow_null=True)
    assessment_stale = serializers.BooleanField()
    eu_ai_act_category = serializers.CharField()
    compliant = serializers.BooleanField()
    gate = serializers.ListField(child=serializers.CharField(), help_text="What the production gate still misses.")
    requirements = RequirementSerializer(many=True)


class AttestationCampaignSerializer(DisplayMixin, serializers.ModelSerializer):
    """An attestation campaign. POST opens one (board): its scope is fixed then, one row per agent."""

    url = serializers.HyperlinkedIdentityField(view_name="api:attestationcampaign-detail")
    units = LookupField(
        source="scope_units", slug_field="slug", many=True, required=False, queryset=BusinessUnit.objects.all()
    )
    tiers = serializers.ListField(
        source="scope_tiers", child=serializers.ChoiceField(choices=RiskTier.choices), required=False
    )
    patterns = serializers.ListField(
        source="scope_patterns", child=serializers.ChoiceField(choices=Pattern.choices), required=False
    )
    lifecycles = serializers.ListField(
        source="scope_lifecycles", child=serializers.ChoiceField(choices=Lifecycle.choices), required=False
    )
    items = serializers.ListField(child=serializers.ChoiceField(choices=AttestationItem.choices), required=False)
    reminder_days = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=90), required=False, default=[7, 1]
    )
    grace_days = serializers.IntegerField(min_value=0, max_value=365, required=False, default=14)
    agents = serializers.SerializerMethodField()
    answered = serializers.SerializerMethodField()

    class Meta:
        model = AttestationCampaign
        fields = [
            "url",
            "display",
            "id",
            "name",
            "units",
            "tiers",
            "patterns",
            "lifecycles",
            "items",
            "opened_at",
            "deadline",
            "reminder_days",
            "grace_days",
            "enforcement",
            "agents",
            "answered",
        ]
        read_only_fields = ["opened_at"]

    def get_agents(self, obj) -> int:
        return obj.attestations.count()

    def get_answered(self, obj) -> int:
        return obj.attestations.exclude(answer="pending").count()


class AttestationSerializer(DisplayMixin, serializers.ModelSerializer):
    """One agent's row in a campaign, with the snapshot of the facts attested."""

    url = serializers.HyperlinkedIdentityField(view_name="api:attestation-detail")
    agent = serializers.SlugRelatedField(slug_field="key", read_only=True)
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)
    unit = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    answered_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Attestation
        fields = [
            "url",
            "display",
            "id",
            "campaign",
            "agent",
            "owner",
            "unit",
            "answer",
            "answered_at",
            "answered_by",
            "snapshot",
            "enforced_at",
        ]
        read_only_fields = fields


class AttestationAnswerSerializer(serializers.Serializer):
    answer = serializers.ChoiceField(choices=[c for c in AttestationAnswer.choices if c[0] != "pending"])


class ObligationSerializer(serializers.Serializer):
    code = serializers.CharField()
    title = serializers.CharField()
    applies_from = serializers.DateField()
    applies_today = serializers.BooleanField()
    agents = serializers.ListField(child=serializers.CharField(), help_text="Keys of the agents it reaches.")


class ObligationDatesSerializer(serializers.Serializer):
    dates = serializers.DictField(
        child=serializers.DateField(), help_text="Obligation code -> the date it applies from."
    )
    notes = serializers.CharField(max_length=4000, help_text="Why the dates change (the legal source).")
