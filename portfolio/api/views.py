"""Portfolio API: the figures of the dashboard (the same report functions) and the maturity data."""

from django.core.exceptions import PermissionDenied
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from portfolio import reports, services
from portfolio.api.serializers import MaturityAssessmentSerializer, PatternMinimumSerializer, to_json
from portfolio.choices import DIMENSIONS
from portfolio.filtersets import MaturityAssessmentFilterSet
from portfolio.forms import checked_filter
from portfolio.models import MaturityAssessment, PatternMinimum

FILTER_PARAMETERS = [
    OpenApiParameter("business_unit", str, description="Unit slug; includes its sub-units."),
    OpenApiParameter("pattern", str, many=True),
    OpenApiParameter("risk_tier", str, many=True),
    OpenApiParameter("period", str, enum=list(reports.PERIODS)),
]


def _scope(request) -> reports.Scope:
    user = request.user
    if not (user.is_person or user.has_perm("portfolio.view_portfolio")):
        raise PermissionDenied("The portfolio is for people and the leadership roles.")
    return reports.scope_for(user)


class PortfolioSummaryView(APIView):
    """The headline figures, exactly as the dashboard shows them."""

    @extend_schema(parameters=FILTER_PARAMETERS, responses=OpenApiTypes.OBJECT)
    def get(self, request):
        scope = _scope(request)
        flt = checked_filter(request.query_params or None)
        return Response({"filter": to_json(flt), "scope_full": scope.full, **to_json(reports.headline(scope, flt))})


class PortfolioDashboardView(APIView):
    """Every figure and chart series of the dashboard."""

    @extend_schema(parameters=FILTER_PARAMETERS, responses=OpenApiTypes.OBJECT)
    def get(self, request):
        scope = _scope(request)
        flt = checked_filter(request.query_params or None)
        return Response(to_json(reports.dashboard(scope, flt, timezone.now())))


class PortfolioMaturityView(APIView):
    """Each unit's effective maturity (own or inherited), its ceiling and its readiness per pattern."""

    @extend_schema(parameters=FILTER_PARAMETERS, responses=OpenApiTypes.OBJECT)
    def get(self, request):
        scope = _scope(request)
        flt = checked_filter(request.query_params or None)
        return Response({"units": to_json(reports.maturity(scope, flt, timezone.localdate()))})


class MaturityAssessmentViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """Maturity assessments. They are never edited: a new assessment is a new row."""

    serializer_class = MaturityAssessmentSerializer
    filterset_class = MaturityAssessmentFilterSet

    def get_queryset(self):
        return MaturityAssessment.objects.for_user(self.request.user, "view").select_related("business_unit")

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.record_maturity_assessment(
            data["business_unit"],
            actor=self.request.user,
            assessed_on=data["assessed_on"],
            scores={d: data[d] for d in DIMENSIONS},
            rationales={d: data.get(f"{d}_rationale", "") for d in DIMENSIONS},
            notes=data.get("notes", ""),
        )


class PatternMinimumViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, viewsets.GenericViewSet
):
    """The maturity policy: the minimum level each pattern needs per dimension."""

    serializer_class = PatternMinimumSerializer
    lookup_field = "pattern"

    def get_queryset(self):
        return PatternMinimum.objects.for_user(self.request.user, "view")

    def perform_update(self, serializer):
        levels = {d: v for d, v in serializer.validated_data.items() if d in DIMENSIONS}
        serializer.instance = services.update_pattern_minimum(serializer.instance, actor=self.request.user, **levels)
