"""Telemetry API: sources (administrators), sightings, daily usage and identity aliases.

Ingest itself is not here: see ``telemetry.endpoints`` (source tokens, OTLP).
"""

from datetime import timedelta

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from telemetry import services
from telemetry.api.serializers import (
    CreatedTokenSerializer,
    DailyEvaluationSerializer,
    DailyToolUsageSerializer,
    DailyUsageSerializer,
    IdentityAliasSerializer,
    IngestTokenSerializer,
    NewTokenSerializer,
    RevokeTokenSerializer,
    SightingSerializer,
    SourceRejectionsSerializer,
    TelemetrySourceSerializer,
)
from telemetry.filtersets import (
    DailyEvaluationFilterSet,
    DailyToolUsageFilterSet,
    DailyUsageFilterSet,
    IdentityAliasFilterSet,
    SightingFilterSet,
    TelemetrySourceFilterSet,
)
from telemetry.ingest import REJECTED_ITEMS_KEPT
from telemetry.models import (
    DailyEvaluation,
    DailyToolUsage,
    DailyUsage,
    IdentityAlias,
    IngestDay,
    IngestToken,
    PendingSpan,
    RejectedItem,
    RejectionCount,
    Sighting,
    TelemetrySource,
)


class TelemetrySourceViewSet(viewsets.ModelViewSet):
    """Telemetry sources. Creating one answers with its first token, once."""

    serializer_class = TelemetrySourceSerializer
    filterset_class = TelemetrySourceFilterSet
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return (
            TelemetrySource.objects.for_user(self.request.user, "view")
            .select_related("owner")
            .prefetch_related("tokens")
        )

    @extend_schema(responses={201: TelemetrySourceSerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        source, raw = services.create_source(actor=request.user, **serializer.validated_data)
        data = self.get_serializer(self.get_queryset().get(pk=source.pk)).data
        return Response({**data, "token": raw}, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        serializer.instance = services.update_source(
            serializer.instance, actor=self.request.user, **serializer.validated_data
        )

    @extend_schema(request=NewTokenSerializer, responses={201: CreatedTokenSerializer})
    @action(detail=True, methods=["post"], url_path="tokens")
    def mint_token(self, request, pk=None):
        source = self.get_object()
        body = NewTokenSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        token, raw = services.create_ingest_token(source, actor=request.user, name=body.validated_data.get("name", ""))
        return Response({"token": raw, "detail": IngestTokenSerializer(token).data}, status=status.HTTP_201_CREATED)

    @extend_schema(responses=SourceRejectionsSerializer)
    @action(detail=True, methods=["get"], url_path="rejections")
    def rejections(self, request, pk=None):
        """What this source had refused over the last 14 days (per day and reason) and its last 50
        refused items in full."""
        source = self.get_object()
        since = timezone.now().date() - timedelta(days=13)
        user = request.user
        data = {
            "days": IngestDay.objects.for_user(user).filter(source=source).since(since).totals(),
            "reasons": RejectionCount.objects.for_user(user).filter(source=source).since(since),
            "items": RejectedItem.objects.for_user(user).filter(source=source)[:REJECTED_ITEMS_KEPT],
            "held_spans": PendingSpan.objects.for_user(user).filter(source=source).count(),
        }
        return Response(SourceRejectionsSerializer(data).data)

    @extend_schema(request=RevokeTokenSerializer, responses=IngestTokenSerializer)
    @action(detail=True, methods=["post"], url_path="revoke-token")
    def revoke_token(self, request, pk=None):
        source = self.get_object()
        body = RevokeTokenSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        token = get_object_or_404(IngestToken.objects.filter(source=source), pk=body.validated_data["token_id"])
        token = services.revoke_ingest_token(token, actor=request.user)
        return Response(IngestTokenSerializer(token).data)


class SightingViewSet(viewsets.ReadOnlyModelViewSet):
    """Where and when each agent identity was seen. Unregistered identities need the board or admin role."""

    serializer_class = SightingSerializer
    filterset_class = SightingFilterSet

    def get_queryset(self):
        return Sighting.objects.for_user(self.request.user, "view").select_related("agent", "source")


class DailyUsageViewSet(viewsets.ReadOnlyModelViewSet):
    """Daily usage rollups per agent and environment."""

    serializer_class = DailyUsageSerializer
    filterset_class = DailyUsageFilterSet

    def get_queryset(self):
        return DailyUsage.objects.for_user(self.request.user, "view").select_related("agent")


class DailyToolUsageViewSet(viewsets.ReadOnlyModelViewSet):
    """Tool calls per agent, day, tool and MCP server, as telemetry reported them."""

    serializer_class = DailyToolUsageSerializer
    filterset_class = DailyToolUsageFilterSet

    def get_queryset(self):
        return DailyToolUsage.objects.for_user(self.request.user, "view").select_related("agent")


class DailyEvaluationViewSet(viewsets.ReadOnlyModelViewSet):
    """Evaluation results per agent, day and evaluation name (mean = score_sum / scored)."""

    serializer_class = DailyEvaluationSerializer
    filterset_class = DailyEvaluationFilterSet

    def get_queryset(self):
        return DailyEvaluation.objects.for_user(self.request.user, "view").select_related("agent")


class IdentityAliasViewSet(mixins.CreateModelMixin, mixins.DestroyModelMixin, viewsets.ReadOnlyModelViewSet):
    """Extra identities registered agents claim."""

    serializer_class = IdentityAliasSerializer
    filterset_class = IdentityAliasFilterSet

    def get_queryset(self):
        return IdentityAlias.objects.for_user(self.request.user, "view").select_related("agent")

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.link_identity(data["identity"], data["agent"], actor=self.request.user)

    def perform_destroy(self, instance):
        if not IdentityAlias.objects.for_user(self.request.user, "change").filter(pk=instance.pk).exists():
            raise PermissionDenied("You may not change this agent's aliases.")
        services.remove_identity_alias(instance, actor=self.request.user)
