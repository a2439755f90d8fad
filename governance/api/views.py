"""Governance API. Every viewset reads through ``for_user`` and writes through governance services."""

from django.core.exceptions import PermissionDenied
from django.http import FileResponse, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from governance import compliance, gate, services
from governance.api.serializers import (
    AttestationAnswerSerializer,
    AttestationCampaignSerializer,
    AttestationSerializer,
    AuthorityReportSerializer,
    CloseConditionSerializer,
    ConfirmAssessmentSerializer,
    ControlSerializer,
    DecisionSerializer,
    EvidenceSerializer,
    FundamentalRightsAssessmentSerializer,
    IncidentSerializer,
    MarkSeriousSerializer,
    ObligationDatesSerializer,
    ObligationSerializer,
    OptionalReasonSerializer,
    ReasonSerializer,
    ReleaseSerializer,
    RequirementsSerializer,
    ResolveIncidentSerializer,
    ReviewConditionSerializer,
    ReviewSerializer,
    RiskAssessmentSerializer,
    RiskPolicySerializer,
    WaiverSerializer,
    resolve_version,
)
from governance.filtersets import (
    AttestationCampaignFilterSet,
    AttestationFilterSet,
    ControlFilterSet,
    EvidenceFilterSet,
    FundamentalRightsAssessmentFilterSet,
    IncidentFilterSet,
    ReleaseFilterSet,
    ReviewFilterSet,
    RiskAssessmentFilterSet,
    WaiverFilterSet,
)
from governance.models import (
    Attestation,
    AttestationCampaign,
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
from governance.services import continuity
from registry.choices import Environment
from registry.models import Agent


class RiskPolicyViewSet(viewsets.ReadOnlyModelViewSet):
    """Published policy versions, newest first. They change only by publishing a new version (admin)."""

    serializer_class = RiskPolicySerializer
    lookup_field = "version"

    def get_queryset(self):
        return RiskPolicy.objects.for_user(self.request.user, "view")


class ControlViewSet(viewsets.ReadOnlyModelViewSet):
    """The control catalog of the policy in force (or of ``policy_version``)."""

    serializer_class = ControlSerializer
    filterset_class = ControlFilterSet

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            # Schema generation (also run by `check --deploy`): no request user, no database.
            return Control.objects.none()
        queryset = Control.objects.for_user(self.request.user, "view").select_related("policy")
        if self.action == "list" and "policy_version" not in self.request.query_params:
            queryset = queryset.filter(policy=RiskPolicy.objects.current())
        return queryset


class RiskAssessmentViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Risk assessments. POST submits one (owner or delegate); the board confirms or returns it."""

    serializer_class = RiskAssessmentSerializer
    filterset_class = RiskAssessmentFilterSet

    def get_queryset(self):
        return RiskAssessment.objects.for_user(self.request.user, "view").select_related(
            "agent", "policy", "submitted_by", "confirmed_by"
        )

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        agent = data.pop("agent")
        serializer.instance = services.submit_assessment(agent, actor=self.request.user, **data)

    @extend_schema(request=ConfirmAssessmentSerializer, responses=RiskAssessmentSerializer)
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        """Confirm the assessment (board; never on an agent you maintain), optionally overriding the tier."""
        body = ConfirmAssessmentSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        assessment = services.confirm_assessment(
            self.get_object(),
            actor=request.user,
            override_tier=body.validated_data.get("override_tier", ""),
            override_justification=body.validated_data.get("override_justification", ""),
        )
        return Response(self.get_serializer(assessment).data)

    @extend_schema(request=ReasonSerializer, responses=RiskAssessmentSerializer)
    @action(detail=True, methods=["post"], url_path="return")
    def return_to_owner(self, request, pk=None):
        """Send the assessment back to the owner with a reason (board)."""
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        assessment = services.return_assessment(
            self.get_object(), actor=request.user, reason=body.validated_data["reason"]
        )
        return Response(self.get_serializer(assessment).data)


class EvidenceViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Evidence for controls. POST as JSON (link, statement) or multipart (file upload)."""

    serializer_class = EvidenceSerializer
    filterset_class = EvidenceFilterSet
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def get_queryset(self):
        return Evidence.objects.for_user(self.request.user, "view").select_related(
            "agent", "version", "submitted_by", "reviewed_by"
        )

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        agent = data.pop("agent")
        serializer.instance = services.submit_evidence(
            agent,
            data.pop("control_code"),
            actor=self.request.user,
            kind=data["kind"],
            url=data.get("url", ""),
            statement=data.get("statement", ""),
            file=data.get("file"),
            version=resolve_version(agent, data.get("version")),
            summary=data.get("summary", ""),
        )

    @extend_schema(request=OptionalReasonSerializer, responses=EvidenceSerializer)
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        """Accept the evidence (board; not your own submission, not an agent you maintain)."""
        body = OptionalReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        evidence = services.accept_evidence(
            self.get_object(), actor=request.user, reason=body.validated_data.get("reason", "")
        )
        return Response(self.get_serializer(evidence).data)

    @extend_schema(request=ReasonSerializer, responses=EvidenceSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """Reject the evidence with the reason the owner reads (board)."""
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        evidence = services.reject_evidence(self.get_object(), actor=request.user, reason=body.validated_data["reason"])
        return Response(self.get_serializer(evidence).data)


class EvidenceDownloadView(APIView):
    """The uploaded file of one piece of evidence, for those who may see the evidence (others: 404)."""

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request, pk):
        evidence = get_object_or_404(Evidence.objects.for_user(request.user, "view"), pk=pk)
        if not evidence.file:
            raise PermissionDenied("This evidence has no file.")
        response = FileResponse(
            evidence.file.open("rb"),
            as_attachment=True,
            filename=evidence.file_name or "evidence",
            content_type=evidence.content_type or "application/octet-stream",
        )
        response["X-Content-Type-Options"] = "nosniff"
        return response


class ReviewViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Board reviews. POST requests a release review of a version for an environment (owner side)."""

    serializer_class = ReviewSerializer
    filterset_class = ReviewFilterSet

    def get_queryset(self):
        return (
            Review.objects.for_user(self.request.user, "view")
            .select_related("agent", "version", "policy", "requested_by", "decided_by")
            .prefetch_related("conditions__closed_by")
        )

    def perform_create(self, serializer):
        data = serializer.validated_data
        agent = data["agent"]
        serializer.instance = services.request_release_review(
            agent,
            resolve_version(agent, data["version"]),
            data["environment"],
            actor=self.request.user,
            summary=data.get("summary", ""),
        )

    @extend_schema(
        request=DecisionSerializer,
        responses={200: ReviewSerializer, 409: OpenApiResponse(description="Someone decided it already.")},
    )
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        """Approve, approve with conditions, or reject (board). A second decision gets 409, nothing changes."""
        body = DecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        review = services.decide_review(
            self.get_object(),
            actor=request.user,
            decision=body.validated_data["decision"],
            reason=body.validated_data["reason"],
            conditions=body.validated_data["conditions"],
        )
        return Response(self.get_serializer(self.get_queryset().get(pk=review.pk)).data)

    @extend_schema(request=ReasonSerializer, responses=ReviewSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        review = services.cancel_review(self.get_object(), actor=request.user, reason=body.validated_data["reason"])
        return Response(self.get_serializer(self.get_queryset().get(pk=review.pk)).data)


class ReviewConditionViewSet(viewsets.ReadOnlyModelViewSet):
    """Conditions of approvals, tracked to closure."""

    serializer_class = ReviewConditionSerializer

    def get_queryset(self):
        return ReviewCondition.objects.for_user(self.request.user, "view").select_related("closed_by")

    @extend_schema(request=CloseConditionSerializer, responses=ReviewConditionSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        body = CloseConditionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        condition = services.close_condition(self.get_object(), actor=request.user, note=body.validated_data["note"])
        return Response(self.get_serializer(condition).data)


class ReleaseViewSet(viewsets.ReadOnlyModelViewSet):
    """Versions approved for an environment. ``deploy`` puts one live through the release gate."""

    serializer_class = ReleaseSerializer
    filterset_class = ReleaseFilterSet

    def get_queryset(self):
        return Release.objects.for_user(self.request.user, "view").select_related(
            "agent", "version", "approved_by", "deployed_by"
        )

    @extend_schema(request=OptionalReasonSerializer, responses=ReleaseSerializer)
    @action(detail=True, methods=["post"])
    def deploy(self, request, pk=None):
        """Release this version to its environment; refused (400) with the gate's list of what is missing."""
        body = OptionalReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        release = services.deploy_release(
            self.get_object(), actor=request.user, reason=body.validated_data.get("reason", "")
        )
        return Response(self.get_serializer(self.get_queryset().get(pk=release.pk)).data)


class IncidentViewSet(mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """The incident register. POST with ``suspend: true`` suspends the agent for a high or critical incident."""

    serializer_class = IncidentSerializer
    filterset_class = IncidentFilterSet
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return (
            Incident.objects.for_user(self.request.user, "view")
            .select_related("agent", "version", "reported_by")
            .prefetch_related("authority_reports__recorded_by")
        )

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "policy": RiskPolicy.objects.current()}

    def _fresh(self, pk):
        return self.get_serializer(self.get_queryset().get(pk=pk)).data

    @extend_schema(request=MarkSeriousSerializer, responses=IncidentSerializer)
    @action(detail=True, methods=["post"], url_path="mark-serious")
    def mark_serious(self, request, pk=None):
        """Mark the incident a serious incident (EU AI Act Art. 3(49)); the report clock runs from ``aware_at``."""
        body = MarkSeriousSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        incident = services.mark_incident_serious(
            self.get_object(),
            actor=request.user,
            category=body.validated_data["serious_category"],
            aware_at=body.validated_data["aware_at"],
        )
        return Response(self._fresh(incident.pk))

    @extend_schema(request=AuthorityReportSerializer, responses=IncidentSerializer)
    @action(detail=True, methods=["post"], url_path="authority-reports")
    def authority_reports(self, request, pk=None):
        """Record a report sent to the authority: the initial one (may be incomplete), follow-ups, the final one."""
        body = AuthorityReportSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        incident = self.get_object()
        services.record_authority_report(incident, actor=request.user, **body.validated_data)
        return Response(self._fresh(incident.pk), status=201)

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"], url_path="regulator-report")
    def regulator_report(self, request, pk=None):
        """The serious-incident report for the market surveillance authority, as a PDF."""
        from django.http import Http404, HttpResponse

        from governance import documents

        incident = self.get_object()
        if not incident.serious_category:
            raise Http404("Only a serious incident has a regulator report.")
        now = timezone.now()
        pdf = documents.render_pdf(*documents.regulator_report(incident, request.user, now))
        return HttpResponse(
            pdf,
            content_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="serious-incident-{incident.pk}.pdf"'},
        )

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        agent = data.pop("agent")
        suspend = data.pop("suspend", False)
        data["version"] = resolve_version(agent, data.get("version"))
        serializer.instance = services.report_incident(agent, actor=self.request.user, suspend=suspend, **data)

    def perform_update(self, serializer):
        data = {
            k: v
            for k, v in serializer.validated_data.items()
            if k in ("title", "severity", "what_happened", "follow_up_actions")
        }
        serializer.instance = services.update_incident(serializer.instance, actor=self.request.user, **data)

    @extend_schema(request=ResolveIncidentSerializer, responses=IncidentSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        body = ResolveIncidentSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        incident = services.resolve_incident(self.get_object(), actor=request.user, **body.validated_data)
        return Response(self.get_serializer(incident).data)


class WaiverViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Board waivers of control gaps, each for a limited time."""

    serializer_class = WaiverSerializer
    filterset_class = WaiverFilterSet

    def get_queryset(self):
        return Waiver.objects.for_user(self.request.user, "view").select_related("agent", "granted_by")

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.grant_waiver(
            data["agent"],
            data["control_code"],
            actor=self.request.user,
            reason=data["reason"],
            expires_at=data["expires_at"],
        )

    @extend_schema(request=OptionalReasonSerializer, responses=WaiverSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        body = OptionalReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        waiver = services.revoke_waiver(
            self.get_object(), actor=request.user, reason=body.validated_data.get("reason", "")
        )
        return Response(self.get_serializer(waiver).data)


class AgentRequirementsView(APIView):
    """An agent's required controls with their state now, why each is required, and what the gate misses."""

    @extend_schema(responses=RequirementsSerializer)
    def get(self, request, key):
        agent = get_object_or_404(Agent.objects.for_user(request.user, "view"), key=key)
        now = timezone.now()
        assessment = compliance.current_assessment(agent)
        statuses = compliance.checklist(agent, now, assessment=assessment)
        version = gate.release_version_for(agent)
        data = {
            "agent": agent.key,
            "tier": agent.risk_tier,
            "policy_version": RiskPolicy.objects.current().version,
            "assessment": assessment.pk if assessment else None,
            "assessment_stale": bool(assessment and assessment.is_stale),
            "eu_ai_act_category": assessment.eu_ai_act_category if assessment else "",
            "compliant": compliance.summary(statuses)["compliant"],
            "gate": gate.check_release(agent, version, Environment.PRODUCTION, now=now),
            "requirements": [
                {
                    "control": s.code,
                    "name": s.control.name,
                    "reasons": s.reasons,
                    "validity": s.control.validity_label(),
                    "system": s.control.is_system,
                    "state": s.state,
                    "covered": s.covered,
                    "next_step": s.next_step,
                    "evidence": s.evidence.pk if s.evidence else None,
                    "waiver": s.waiver.pk if s.waiver else None,
                }
                for s in statuses
            ],
        }
        return Response(RequirementsSerializer(data).data)


class AttestationCampaignViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Attestation campaigns: the board, leadership and administrators read them; the board opens them."""

    serializer_class = AttestationCampaignSerializer
    filterset_class = AttestationCampaignFilterSet

    def get_queryset(self):
        return AttestationCampaign.objects.for_user(self.request.user, "view").prefetch_related("scope_units")

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = continuity.open_campaign(
            actor=self.request.user,
            name=data["name"],
            deadline=data["deadline"],
            units=data.get("scope_units", []),
            tiers=data.get("scope_tiers", []),
            patterns=data.get("scope_patterns", []),
            lifecycles=data.get("scope_lifecycles", []),
            items=data.get("items"),
            reminder_days=data.get("reminder_days", [7, 1]),
            grace_days=data.get("grace_days", 14),
            enforcement=data.get("enforcement", "finding"),
        )


class AttestationViewSet(viewsets.ReadOnlyModelViewSet):
    """Rows of campaigns: an owner sees and answers their own; campaign readers see all."""

    serializer_class = AttestationSerializer
    filterset_class = AttestationFilterSet

    def get_queryset(self):
        return Attestation.objects.for_user(self.request.user, "view").select_related(
            "agent", "owner", "unit", "answered_by"
        )

    @extend_schema(request=AttestationAnswerSerializer, responses=AttestationSerializer)
    @action(detail=True, methods=["post"])
    def answer(self, request, pk=None):
        """Answer for this agent: unchanged, changed or retire (its owner, a delegate or an administrator)."""
        body = AttestationAnswerSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        row = self.get_object()
        continuity.answer_attestations([row], body.validated_data["answer"], actor=request.user)
        row.refresh_from_db()
        return Response(self.get_serializer(row).data)


def _pdf(content: bytes, filename: str) -> HttpResponse:
    return HttpResponse(
        content, content_type="application/pdf", headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


class FundamentalRightsAssessmentViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Fundamental-rights impact assessments (EU AI Act Art. 27), read like evidence. POST submits one
    (owner side, high-risk agents only); its PDF is filed as evidence for the ``fria`` control."""

    serializer_class = FundamentalRightsAssessmentSerializer
    filterset_class = FundamentalRightsAssessmentFilterSet

    def get_queryset(self):
        return FundamentalRightsAssessment.objects.for_user(self.request.user, "view").select_related(
            "agent", "evidence", "submitted_by"
        )

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        agent = data.pop("agent")
        serializer.instance = services.submit_fria(agent, actor=self.request.user, **data)

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"])
    def pdf(self, request, pk=None):
        from governance import documents

        fria = self.get_object()
        return _pdf(
            documents.render_pdf(*documents.fria_document(fria, request.user, fria.submitted_at)), f"fria-{fria.pk}.pdf"
        )


class TechnicalFileView(APIView):
    """The agent's technical documentation (Annex IV outline) drawn from the record as the caller may
    read it: ``?format=md`` for Markdown, otherwise PDF."""

    @extend_schema(
        parameters=[OpenApiParameter("as", str, enum=["pdf", "md"], required=False)],
        responses={(200, "application/pdf"): OpenApiTypes.BINARY, (200, "text/markdown"): OpenApiTypes.STR},
    )
    def get(self, request, key):
        from governance import documents

        agent = get_object_or_404(Agent.objects.for_user(request.user, "view"), key=key)
        now = timezone.now()
        parts = documents.technical_file(agent, request.user, now)
        if request.query_params.get("as") == "md":
            return HttpResponse(documents.render_markdown(*parts), content_type="text/markdown; charset=utf-8")
        return _pdf(documents.render_pdf(*parts), f"technical-file-{agent.key}.pdf")


class ObligationsView(APIView):
    """The EU AI Act timeline: each obligation, whether it applies today, and the agents (visible to the
    caller) it reaches. POST moves dates (platform administrators; a new, audited policy version)."""

    def _rows(self, request):
        from governance import eu_ai_act

        rows = eu_ai_act.portfolio_obligations(
            RiskPolicy.objects.current(), Agent.objects.for_user(request.user, "view"), timezone.now().date()
        )
        return [
            {
                "code": r.obligation.code,
                "title": r.obligation.title,
                "applies_from": r.obligation.applies_from,
                "applies_today": r.applies,
                "agents": [a.key for a in r.agents],
            }
            for r in rows
        ]

    @extend_schema(responses=ObligationSerializer(many=True))
    def get(self, request):
        return Response(ObligationSerializer(self._rows(request), many=True).data)

    @extend_schema(request=ObligationDatesSerializer, responses=ObligationSerializer(many=True))
    def post(self, request):
        body = ObligationDatesSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.set_obligation_dates(RiskPolicy.objects.current(), actor=request.user, **body.validated_data)
        return Response(ObligationSerializer(self._rows(request), many=True).data)
