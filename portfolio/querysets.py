"""Reads of the portfolio's own tables, each scoped through ``for_user``."""

from django.db import connections
from django.db.models import F, Window
from django.db.models.functions import RowNumber

from registry.querysets import RestrictedQuerySet


class MaturityAssessmentQuerySet(RestrictedQuerySet):
    """Maturity is reference data about units: every signed-in person reads it; recording
    one needs the global ``add`` permission (governance board, platform administrators)."""

    def _restrict(self, user, action: str):
        if action == "view" and user.is_person:
            return self
        return super()._restrict(user, action)

    def as_of(self, day):
        return self.filter(assessed_on__lte=day)

    def latest_per_unit(self, day=None):
        """Each unit's most recent assessment (on or before ``day``), in one query on any database.

        PostgreSQL's DISTINCT ON says it directly (and costs the ORM a fraction
        of the window function's compiling); elsewhere a row number per unit.
        """
        qs = self.as_of(day) if day is not None else self
        if connections[self.db].features.can_distinct_on_fields:
            return qs.order_by("business_unit_id", "-assessed_on", "-id").distinct("business_unit_id")
        return qs.annotate(
            _rank=Window(
                RowNumber(),
                partition_by=[F("business_unit_id")],
                order_by=[F("assessed_on").desc(), F("id").desc()],
            )
        ).filter(_rank=1)


class PatternMinimumQuerySet(RestrictedQuerySet):
    """Policy data: every signed-in person reads it; only platform administrators change it."""

    def _restrict(self, user, action: str):
        if action == "view" and user.is_person:
            return self
        return super()._restrict(user, action)

    def by_pattern(self) -> dict:
        return {row.pattern: row for row in self}


class PortfolioSnapshotQuerySet(RestrictedQuerySet):
    """Organisation-wide history: readable with the portfolio permission only (board, leadership, admins)."""

    def _restrict(self, user, action: str):
        if action == "view" and user.has_perm("portfolio.view_portfolio"):
            return self
        return self.none()

    def between(self, start, end):
        return self.filter(taken_on__gte=start, taken_on__lte=end)
