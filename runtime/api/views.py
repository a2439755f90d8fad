"""Runtime API: gateway credentials (administrators), the decision log, and the Cedar export."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from registry.models import Agent
from runtime import cedar, services, snapshot
from runtime.api.serializers import (
    CedarExportSerializer,
    DenialRecordSerializer,
    GatewayCredentialSerializer,
    MintedCredentialSerializer,
)
from runtime.filtersets import DenialRecordFilterSet, GatewayCredentialFilterSet
from runtime.models import DenialRecord, GatewayCredential


class GatewayCredentialViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Decision credentials of gateways. POST mints one and answers its raw value once; ``revoke`` ends one."""

    serializer_class = GatewayCredentialSerializer
    filterset_class = GatewayCredentialFilterSet

    def get_queryset(self):
        return GatewayCredential.objects.for_user(self.request.user).select_related("source", "created_by")

    @extend_schema(request=GatewayCredentialSerializer, responses={201: MintedCredentialSerializer})
    def create(self, request, *args, **kwargs):
        body = GatewayCredentialSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        credential, raw = services.create_gateway_credential(
            body.validated_data["source"], actor=request.user, name=body.validated_data["name"]
        )
        data = MintedCredentialSerializer(credential).data
        data["credential"] = raw
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=GatewayCredentialSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        credential = self.get_object()
        credential = services.revoke_gateway_credential(credential, actor=request.user)
        return Response(GatewayCredentialSerializer(credential).data)


class DenialRecordViewSet(viewsets.ReadOnlyModelViewSet):
    """Every refused decision, aggregated per minute (the agents the caller may see)."""

    serializer_class = DenialRecordSerializer
    filterset_class = DenialRecordFilterSet

    def get_queryset(self):
        return DenialRecord.objects.for_user(self.request.user).select_related("agent", "credential")


class CedarExportView(APIView):
    """GET: the rules in force as a Cedar policy set with its schema and entities (the agents the caller
    may see). Evaluate it with any Cedar engine to decide offline as the decision API would."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=CedarExportSerializer)
    def get(self, request):
        user = request.user
        if not user.is_active:
            raise PermissionDenied()
        snap = snapshot.current()
        visible = set(Agent.objects.for_user(user, "view").values_list("pk", flat=True))
        return Response(cedar.export(snap, agent_ids=visible))
