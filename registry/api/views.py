"""Registry API. Every viewset reads through ``for_user`` and writes through services."""

from contextlib import contextmanager

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, parsers, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ParseError
from rest_framework.response import Response
from rest_framework.views import APIView

from registry import manifests, services
from registry.api.fields import LookupField
from registry.api.permissions import GlobalModelWritePermission
from registry.api.serializers import (
    AgentSerializer,
    AgentVersionSerializer,
    BusinessUnitSerializer,
    DelegateSerializer,
    HandoverNoteSerializer,
    HandoverReassignSerializer,
    HandoverSerializer,
    LiftStopSerializer,
    McpApproveSerializer,
    McpServerSerializer,
    StartStopSerializer,
    StopSerializer,
    ToolSerializer,
    TransferSerializer,
    TransitionSerializer,
)
from registry.choices import AutonomyLevel, DataClassification, Pattern
from registry.filtersets import (
    AgentFilterSet,
    AgentVersionFilterSet,
    BusinessUnitFilterSet,
    HandoverFilterSet,
    McpServerFilterSet,
    StopFilterSet,
    ToolFilterSet,
)
from registry.models import (
    Agent,
    AgentDelegate,
    AgentVersion,
    AgentVersionTool,
    AuditEvent,
    BusinessUnit,
    HandoverProposal,
    McpServer,
    Stop,
    Tool,
    User,
)
from registry.roles import is_board

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


def _truthy(value) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


class YamlManifestParser(parsers.BaseParser):
    """Agent manifests as YAML (one or several documents), as teams keep them in their repositories."""

    media_type = "application/yaml"

    def parse(self, stream, media_type=None, parser_context=None):
        text = stream.read().decode((parser_context or {}).get("encoding") or "utf-8", errors="replace")
        try:
            return {"manifests": manifests.load_documents(text)}
        except ValueError as exc:
            raise ParseError(str(exc)) from exc


class ApplyRequestSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField(default=False, help_text="Return the plan without changing anything.")
    manifests = serializers.ListField(
        child=serializers.DictField(), help_text="Agent manifests (see /api/v1/schemas/agent-manifest.json)."
    )


class PlannedAgentSerializer(serializers.Serializer):
    key = serializers.CharField()
    action = serializers.ChoiceField(choices=["create", "update", "unchanged"])
    changes = serializers.DictField(help_text='Per field: {"old": ..., "new": ...}.')
    versions = serializers.ListField(child=serializers.DictField())


class ApplyResultSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField()
    applied = serializers.BooleanField()
    summary = serializers.DictField(child=serializers.IntegerField())
    agents = PlannedAgentSerializer(many=True)


class ImportRequestSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="CSV (UTF-8) or Excel (.xlsx), one agent per row, header in row 1.")
    dry_run = serializers.BooleanField(default=False, help_text="Check every row without registering anything.")


class ImportErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="As the spreadsheet numbers it: the header is row 1.")
    column = serializers.CharField()
    message = serializers.CharField()


class ImportResultSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField()
    applied = serializers.BooleanField()
    rows = serializers.IntegerField()
    errors = ImportErrorSerializer(many=True)


def _card_source(card, url):
    """The card's JSON as sent, or fetched from its URL (allow-listed, no private addresses, limited)."""
    from registry import cards

    if (card is None) == (not url):
        raise ValidationError({"card": "Send the card's JSON in card, or its address in url (one of them)."})
    if card is None:
        try:
            card = cards.fetch_card(url)
        except ValidationError as exc:
            raise ValidationError({"url": exc.message_dict.get("url", exc.messages)}) from exc
    return card, url or ""


class CardSourceSerializer(serializers.Serializer):
    card = serializers.DictField(required=False, help_text="The Agent Card's JSON (A2A 1.0 or 0.3).")
    url = serializers.URLField(required=False, max_length=500, help_text="Or the card's address to fetch.")


class CardRegisterSerializer(CardSourceSerializer):
    key = serializers.CharField(max_length=100)
    owner = LookupField(slug_field="username", queryset=User.objects.all(), required=False)
    business_unit = LookupField(slug_field="slug", queryset=BusinessUnit.objects.all())
    pattern = serializers.ChoiceField(choices=Pattern.choices)
    autonomy_level = serializers.ChoiceField(choices=AutonomyLevel.choices)
    data_classification = serializers.ChoiceField(choices=DataClassification.choices)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None and request.user.is_authenticated:
            self.fields["business_unit"].queryset = BusinessUnit.objects.for_user(request.user, "view")
            self.fields["owner"].queryset = User.objects.for_user(request.user, "view")


class CardDiffSerializer(serializers.Serializer):
    changes = serializers.DictField(help_text="Per field {old, new}; skills as added, removed, changed.")


class ManifestSchemaView(APIView):
    """The JSON Schema of agent manifests, at a stable URL anyone (and any CI job) can read."""

    permission_classes = [permissions.AllowAny]
    authentication_classes: list = []

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        return Response(manifests.manifest_schema(request.build_absolute_uri("/").rstrip("/")))


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
        "card": "change",
        "confirm_card": "manage",
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

    @extend_schema(
        request={
            "application/json": ApplyRequestSerializer,
            "application/yaml": {"type": "string", "description": "One or more YAML manifest documents."},
        },
        parameters=[
            OpenApiParameter(
                "dry_run", bool, description="Return the plan without changing anything (also a body field)."
            )
        ],
        responses={200: ApplyResultSerializer},
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="apply",
        parser_classes=[parsers.JSONParser, YamlManifestParser],
    )
    def apply(self, request):
        """Registration as code: bring agents in line with their manifests, all of them or none.

        With ``dry_run`` the answer is the plan (per agent create, update or unchanged, with each
        field's old and new value) and nothing changes. The manifest format's JSON Schema is at
        /api/v1/schemas/agent-manifest.json.
        """
        data = request.data
        if isinstance(data, list):
            data = {"manifests": data}
        if not isinstance(data, dict):
            raise ParseError('Send {"manifests": [...], "dry_run": true|false} or YAML manifests.')
        dry_run = _truthy(request.query_params.get("dry_run", data.get("dry_run", False)))
        try:
            plans = services.apply_manifests(data.get("manifests"), actor=request.user, dry_run=dry_run)
        except services.ManifestsRefused as refused:
            return Response(
                {"detail": "Nothing was applied.", "errors": refused.errors},
                status=status.HTTP_403_FORBIDDEN if refused.forbidden else status.HTTP_400_BAD_REQUEST,
            )
        summary = {"create": 0, "update": 0, "unchanged": 0}
        for item in plans:
            summary[item.action] += 1
        return Response(
            {"dry_run": dry_run, "applied": not dry_run, "summary": summary, "agents": [p.as_json() for p in plans]}
        )

    @extend_schema(request={"multipart/form-data": ImportRequestSerializer}, responses={200: ImportResultSerializer})
    @action(detail=False, methods=["post"], url_path="import", parser_classes=[parsers.MultiPartParser])
    def bulk_import(self, request):
        """Bulk registration from a CSV or Excel file (the template is at /agents/import/template.csv).

        ``dry_run`` checks every row and lists each error by row and column; without it the file is
        registered, every row or none (400 with the errors, nothing written).
        """
        body = ImportRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        upload = body.validated_data["file"]
        if not upload.name.lower().endswith((".csv", ".xlsx")):
            raise ValidationError({"file": "Upload a .csv or .xlsx file."})
        dry_run = body.validated_data["dry_run"]
        checked = services.import_agents(upload.name, upload.read(), actor=request.user, dry_run=dry_run)
        result = {
            "dry_run": dry_run,
            "applied": not dry_run and not checked.errors,
            "rows": len(checked.agents),
            "errors": checked.errors,
        }
        return Response(result, status=status.HTTP_400_BAD_REQUEST if checked.errors else status.HTTP_200_OK)

    @extend_schema(request=CardRegisterSerializer, responses={201: AgentSerializer})
    @action(detail=False, methods=["post"], url_path="from-card")
    def from_card(self, request):
        """Register an agent from its A2A Agent Card (the card's JSON, or its URL to fetch)."""
        if not services.can_register_agents(request.user):
            raise PermissionDenied("Only people and administrators may register agents.")
        body = CardRegisterSerializer(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        card, url = _card_source(data.pop("card", None), data.pop("url", ""))
        agent = services.register_agent_from_card(
            card, actor=request.user, owner=data.pop("owner", None) or request.user, source_url=url, **data
        )
        return Response(self.get_serializer(self.get_queryset().get(pk=agent.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=CardSourceSerializer, responses={200: CardDiffSerializer})
    @action(detail=True, methods=["post"])
    def card(self, request, key=None):
        """Read a newer card for the agent: the answer is what it would change; nothing changes until
        the owner confirms (POST …/confirm-card/)."""
        agent = self.get_object()
        body = CardSourceSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        card, url = _card_source(body.validated_data.get("card"), body.validated_data.get("url", ""))
        services.propose_card(agent, card, actor=request.user, source_url=url)
        return Response({"changes": services.card_diff(agent, card)})

    @extend_schema(request=None, responses={200: AgentSerializer})
    @action(detail=True, methods=["post"], url_path="confirm-card")
    def confirm_card(self, request, key=None):
        """The owner accepts the card read last: the agent takes its name, purpose, skills and endpoint."""
        agent = services.confirm_card(self.get_object(), actor=request.user)
        return Response(self.get_serializer(self.get_queryset().get(pk=agent.pk)).data)

    @extend_schema(
        responses={200: dict},
        parameters=[
            OpenApiParameter("kind", str, many=True, description="Only entries of these event types (agent.changed…)")
        ],
    )
    @action(detail=True, methods=["get"], filterset_class=None)
    def history(self, request, key=None):
        """The agent's audit trail, newest first; ``kind`` (repeatable) keeps only those event types."""
        agent = self.get_object()
        events = AuditEvent.objects.for_user(request.user).filter(agent=agent).order_by("-seq")
        kinds = [kind for kind in request.query_params.getlist("kind") if kind]
        if kinds:
            events = events.filter(event_type__in=kinds)
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


class HandoverViewSet(viewsets.ReadOnlyModelViewSet):
    """Handover proposals after an owner was deprovisioned: the proposed person sees theirs and accepts or
    declines; the board and administrators see all and reassign."""

    serializer_class = HandoverSerializer
    filterset_class = HandoverFilterSet

    def get_queryset(self):
        return HandoverProposal.objects.for_user(self.request.user).select_related(
            "agent", "from_owner", "proposed_to", "decided_by"
        )

    @extend_schema(request=None, responses=HandoverSerializer)
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        """Take the agent over (the proposed person only)."""
        proposal = services.accept_handover(self.get_object(), actor=request.user)
        return Response(self.get_serializer(proposal).data)

    @extend_schema(request=HandoverNoteSerializer, responses=HandoverSerializer)
    @action(detail=True, methods=["post"])
    def decline(self, request, pk=None):
        """Decline the agent (the proposed person only); the board then reassigns it."""
        body = HandoverNoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        proposal = services.decline_handover(
            self.get_object(), actor=request.user, note=body.validated_data.get("note", "")
        )
        return Response(self.get_serializer(proposal).data)

    @extend_schema(request=HandoverReassignSerializer, responses={201: HandoverSerializer})
    @action(detail=True, methods=["post"])
    def reassign(self, request, pk=None):
        """Propose the agent to someone else (board); answers with the new proposal."""
        body = HandoverReassignSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        proposal = services.reassign_handover(
            self.get_object(),
            body.validated_data["proposed_to"],
            actor=request.user,
            note=body.validated_data.get("note", ""),
        )
        return Response(self.get_serializer(proposal).data, status=status.HTTP_201_CREATED)


@contextmanager
def _endpoint_errors():
    """The services speak of a server's ``url``; the API calls it ``endpoint`` (``url`` is the
    resource's own link), so a service's complaint about the address is reported on ``endpoint``."""
    try:
        yield
    except ValidationError as exc:
        if hasattr(exc, "error_dict") and "url" in exc.error_dict:
            errors = dict(exc.error_dict)
            errors["endpoint"] = errors.pop("url")
            raise ValidationError(errors) from exc
        raise


class McpServerViewSet(viewsets.ModelViewSet):
    """The MCP server inventory. Every person registers servers; the owner and administrators change
    them; ``scan`` reads the tools again (owner, board, administrators); ``approve`` is the board's."""

    serializer_class = McpServerSerializer
    filterset_class = McpServerFilterSet
    lookup_field = "key"
    lookup_value_regex = KEY_LOOKUP
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def get_queryset(self):
        return (
            McpServer.objects.for_user(self.request.user, "view")
            .select_related("owner", "business_unit", "approved_by")
            .prefetch_related(Prefetch("tools", queryset=Tool.objects.select_related("mcp_server").order_by("key")))
        )

    def get_object(self):
        server = super().get_object()
        if self.action in ("update", "partial_update") and not services.can_change_mcp_server(
            self.request.user, server
        ):
            raise PermissionDenied("Only the server's owner or a platform administrator may change it.")
        if self.action == "scan" and not services.can_scan_mcp_server(self.request.user, server):
            raise PermissionDenied("Only the server's owner, the board or an administrator may scan it.")
        if self.action == "approve" and not is_board(self.request.user):
            raise PermissionDenied("Only the governance board approves MCP servers.")
        return server

    def create(self, request, *args, **kwargs):
        if not (services.can_register_agents(request.user) or request.user.has_perm("registry.add_mcpserver")):
            raise PermissionDenied("Only people and administrators may register MCP servers.")
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer):
        fields = serializer.service_fields()
        owner = fields.pop("owner", None)
        with _endpoint_errors():
            server = services.register_mcp_server(actor=self.request.user, owner=owner, **fields)
        serializer.instance = self.get_queryset().get(pk=server.pk)

    def perform_update(self, serializer):
        fields = serializer.service_fields()
        if "key" in fields and fields.pop("key") != serializer.instance.key:
            raise ValidationError({"key": "A server's key cannot change: telemetry and grants name it."})
        changes = {k: v for k, v in fields.items() if getattr(serializer.instance, k) != v}
        with _endpoint_errors():
            server = services.update_mcp_server(serializer.instance, actor=self.request.user, **changes)
        serializer.instance = self.get_queryset().get(pk=server.pk)

    @extend_schema(request=None, responses=McpServerSerializer)
    @action(detail=True, methods=["post"])
    def scan(self, request, key=None):
        """Read the server's tools now (``tools/list``). An unreachable server says so in ``scan_status``."""
        server = services.scan_mcp_server(self.get_object(), actor=request.user)
        return Response(self.get_serializer(self.get_queryset().get(pk=server.pk)).data)

    @extend_schema(request=McpApproveSerializer, responses=McpServerSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, key=None):
        """The board approves the server's tools as the last scan read them (and any change since)."""
        server = self.get_object()
        body = McpApproveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        server = services.approve_mcp_server(server, actor=request.user, note=body.validated_data.get("note", ""))
        return Response(self.get_serializer(self.get_queryset().get(pk=server.pk)).data)


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
