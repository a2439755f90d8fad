"""Registry API. Every viewset reads through ``for_user`` and writes through services."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from registry import services
from registry.api.permissions import GlobalModelWritePermission
from registry.api.serializers import (
    AgentSerializer,
    AgentVersionSerializer,
    BusinessUnitSerializer,
    DelegateSerializer,
    LiftStopSerializer,
    StartStopSerializer,
    StopSerializer,
    ToolSerializer,
    TransferSerializer,
    TransitionSerializer,
)
from registry.filtersets import (
    AgentFilterSet,
    AgentVersionFilterSet,
    BusinessUnitFilterSet,
    StopFilterSet,
    ToolFilterSet,
)
from registry.models import Agent, AgentDelegate, AgentVersion, AgentVersionTool, AuditEvent, BusinessUnit, Stop, Tool

# Keys contain dots, which the default lookup pattern would refuse.
KEY_LOOKUP = r"[^/]+"


class AuditEventSerializerMixin:
    @staticmethod
    def audit_rows(events):
        return [
            {
                "seq": e.seq,
                "occurred_at": e.occurred_at,
                "actor": e.actor_repr,
                "event_type": e.event_type,
                "target": e.target_repr,
                "target_type": e.target_type,
                "before": e.before,
                "after": e.after,
            }
            for e in events
        ]


class AgentViewSet(AuditEventSerializerMixin, viewsets.ModelViewSet):
    """The agent catalog. Looked up by key; list accepts the catalog's filters and ``search``."""

    serializer_class = AgentSerializer
    filterset_class = AgentFilterSet
    lookup_field = "key"
    lookup_value_regex = KEY_LOOKUP
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return (
            Agent.objects.for_user(self.request.user, "view")
            .select_related("owner", "business_unit")
            .prefetch_related(Prefetch("delegations", queryset=AgentDelegate.objects.select_related("user")))
        )

    # Actions that need more than read access, checked before the body is validated.
    ACTION_RIGHTS = {
        "update": "change",
        "partial_update": "change",
        "destroy": "change",
        "transfer": "manage",
        "delegates": "manage",
    }

    def create(self, request, *args, **kwargs):
        if not services.can_register_agents(request.user):
            raise PermissionDenied("Only people and administrators may register agents.")
        return super().create(request, *args, **kwargs)

    def get_object(self):
        agent = super().get_object()
        action = self.ACTION_RIGHTS.get(self.action)
        if action and not Agent.objects.for_user(self.request.user, action).filter(pk=agent.pk).exists():
            raise PermissionDenied(
                "You may see this agent but not change it."
                if action == "change"
                else "Only the agent's owner or a platform administrator may do this."
            )
        return agent

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("row_version", None)
        owner = data.pop("owner", None)
        serializer.instance = services.create_agent(actor=self.request.user, owner=owner, **data)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        expected = data.pop("row_version", None)
        if "owner" in data and data["owner"].pk != serializer.instance.owner_id:
            raise ValidationError({"owner": "Use the transfer action to change the owner; the reason is recorded."})
        data.pop("owner", None)
        changes = {k: v for k, v in data.items() if getattr(serializer.instance, k) != v}
        serializer.instance = services.update_agent(
            serializer.instance, actor=self.request.user, expected_row_version=expected, **changes
        )

    def destroy(self, request, *args, **kwargs):
        self.get_object()
        return Response(
            {"detail": "Agents are never deleted; move the agent to retired instead (POST …/transition/)."},
            status=status.HTTP_405_METHOD_NOT_ALLOWED,
        )

    @extend_schema(request=TransitionSerializer, responses=AgentSerializer)
    @action(detail=True, methods=["post"])
    def transition(self, request, key=None):
        agent = self.get_object()
        body = TransitionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        agent = services.transition_agent(
            agent, body.validated_data["to_state"], actor=request.user, reason=body.validated_data["reason"]
        )
        return Response(self.get_serializer(self.get_queryset().get(pk=agent.pk)).data)

    @extend_schema(request=TransferSerializer, responses=AgentSerializer)
    @action(detail=True, methods=["post"])
    def transfer(self, request, key=None):
        agent = self.get_object()
        body = TransferSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        agent = services.transfer_ownership(
            agent, body.validated_data["new_owner"], actor=request.user, reason=body.validated_data["reason"]
        )
        return Response(self.get_serializer(self.get_queryset().get(pk=agent.pk)).data)

    @extend_schema(request=DelegateSerializer, responses=AgentSerializer)
    @action(detail=True, methods=["post", "delete"])
    def delegates(self, request, key=None):
        """POST adds a delegate, DELETE removes one (body: ``{"user": "<username>"}``)."""
        agent = self.get_object()
        body = DelegateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        if request.method == "POST":
            services.grant_delegate(agent, body.validated_data["user"], actor=request.user)
        else:
            services.revoke_delegate(agent, body.validated_data["user"], actor=request.user)
        return Response(self.get_serializer(self.get_queryset().get(pk=agent.pk)).data)

    @extend_schema(responses={200: dict})
    @action(detail=True, methods=["get"])
    def history(self, request, key=None):
        """The agent's audit trail, newest first."""
        agent = self.get_object()
        events = AuditEvent.objects.for_user(request.user).filter(agent=agent).order_by("-seq")
        page = self.paginate_queryset(events)
        return self.get_paginated_response(self.audit_rows(page))


class BusinessUnitViewSet(viewsets.ModelViewSet):
    serializer_class = BusinessUnitSerializer
    permission_classes = [GlobalModelWritePermission]
    filterset_class = BusinessUnitFilterSet
    lookup_field = "slug"
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def get_queryset(self):
        return BusinessUnit.objects.for_user(self.request.user, "view").select_related("parent")

    def perform_create(self, serializer):
        serializer.instance = services.create_business_unit(actor=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = services.update_business_unit(
            serializer.instance, actor=self.request.user, **serializer.validated_data
        )


class ToolViewSet(viewsets.ModelViewSet):
    """The shared tool catalog agents draw their allowed tools from."""

    serializer_class = ToolSerializer
    permission_classes = [GlobalModelWritePermission]
    filterset_class = ToolFilterSet
    lookup_field = "key"
    lookup_value_regex = KEY_LOOKUP
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def get_queryset(self):
        return Tool.objects.for_user(self.request.user, "view")

    def perform_create(self, serializer):
        serializer.instance = services.create_tool(actor=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = services.update_tool(
            serializer.instance, actor=self.request.user, **serializer.validated_data
        )


class AgentVersionViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Versions are records of what ran: created, never edited."""

    serializer_class = AgentVersionSerializer
    filterset_class = AgentVersionFilterSet

    def get_queryset(self):
        return (
            AgentVersion.objects.for_user(self.request.user, "view")
            .select_related("agent")
            .prefetch_related(Prefetch("tool_grants", queryset=AgentVersionTool.objects.select_related("tool")))
        )

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        grants = [(g["tool"], g["access"]) for g in data.pop("tool_grants", [])]
        agent = data.pop("agent")
        serializer.instance = services.create_version(agent, actor=self.request.user, tools=grants, **data)


class StopViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Stops: list and read them; POST starts one (an agent: owner, delegates, board, administrators;
    anything wider: board and administrators); ``lift`` ends one (board and administrators)."""

    serializer_class = StopSerializer
    filterset_class = StopFilterSet

    def get_queryset(self):
        return Stop.objects.for_user(self.request.user).select_related(
            "agent", "business_unit", "tool", "mcp_server", "started_by", "lifted_by"
        )

    @extend_schema(request=StartStopSerializer, responses={201: StopSerializer})
    def create(self, request, *args, **kwargs):
        body = StartStopSerializer(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)
        data = body.validated_data
        stop = services.start_stop(data["scope"], data["target_object"], actor=request.user, reason=data["reason"])
        return Response(StopSerializer(self.get_queryset().get(pk=stop.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=LiftStopSerializer, responses=StopSerializer)
    @action(detail=True, methods=["post"])
    def lift(self, request, pk=None):
        stop = self.get_object()
        body = LiftStopSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        stop = services.lift_stop(stop, actor=request.user, reason=body.validated_data["lift_reason"])
        return Response(StopSerializer(self.get_queryset().get(pk=stop.pk)).data)
