"""Findings API: read findings and check runs; the board acknowledges or waives; administrators start checks."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from governance.choices import FindingKind
from governance.filtersets import FindingFilterSet
from governance.models import CheckRun, Finding, FindingEvent
from governance.services import findings as finding_services


class FindingEventSerializer(serializers.ModelSerializer):
    actor = serializers.StringRelatedField()

    class Meta:
        model = FindingEvent
        fields = ["kind", "at", "actor", "note", "data"]


class FindingSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:finding-detail")
    display = serializers.CharField(source="__str__", read_only=True)
    agent = serializers.SlugRelatedField(slug_field="key", read_only=True)
    state = serializers.SerializerMethodField()
    events = FindingEventSerializer(many=True, read_only=True)

    class Meta:
        model = Finding
        fields = [
            "url",
            "display",
            "id",
            "kind",
            "agent",
            "identity",
            "severity",
            "state",
            "summary",
            "details",
            "opened_at",
            "resolved_at",
            "notified_at",
            "acknowledged_at",
            "waived_at",
            "waiver_reason",
            "waived_until",
            "events",
        ]
        read_only_fields = fields

    def get_state(self, obj) -> str:
        return obj.state(timezone.now())


class AcknowledgeSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class WaiveSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)
    until = serializers.DateTimeField()


class CheckRunSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:checkrun-detail")
    display = serializers.CharField(source="__str__", read_only=True)

    class Meta:
        model = CheckRun
        fields = ["url", "display", "id", "check_kind", "started_at", "finished_at", "status", "found", "resolved"]
        fields += ["still_open", "error"]
        read_only_fields = fields


class RunChecksSerializer(serializers.Serializer):
    check = serializers.ChoiceField(choices=FindingKind.choices, required=False)


class FindingViewSet(viewsets.ReadOnlyModelViewSet):
    """Findings of the background checks. Filters: kind, severity, state, agent, identity, business_unit."""

    serializer_class = FindingSerializer
    filterset_class = FindingFilterSet

    def get_queryset(self):
        return Finding.objects.for_user(self.request.user).select_related("agent").prefetch_related("events__actor")

    @extend_schema(request=AcknowledgeSerializer, responses=FindingSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        finding = self.get_object()
        body = AcknowledgeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        finding_services.acknowledge_finding(finding, actor=request.user, note=body.validated_data.get("note", ""))
        return Response(self.get_serializer(self.get_queryset().get(pk=finding.pk)).data)

    @extend_schema(request=WaiveSerializer, responses=FindingSerializer)
    @action(detail=True, methods=["post"])
    def waive(self, request, pk=None):
        finding = self.get_object()
        body = WaiveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        finding_services.waive_finding(
            finding, actor=request.user, reason=body.validated_data["reason"], until=body.validated_data["until"]
        )
        return Response(self.get_serializer(self.get_queryset().get(pk=finding.pk)).data)


class CheckRunViewSet(viewsets.ReadOnlyModelViewSet):
    """Runs of the background checks, newest first; POST run/ queues them (platform administrators)."""

    serializer_class = CheckRunSerializer
    filterset_fields = ["check_kind", "status"]

    def get_queryset(self):
        return CheckRun.objects.for_user(self.request.user)

    @extend_schema(request=RunChecksSerializer, responses={202: dict})
    @action(detail=False, methods=["post"])
    def run(self, request):
        body = RunChecksSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        finding_services.request_checks(actor=request.user, kind=body.validated_data.get("check"))
        return Response({"detail": "Queued."}, status=status.HTTP_202_ACCEPTED)
