"""Reads of the telemetry tables, each scoped through ``for_user`` like every other model."""

from django.db.models import Count, Max, Min, Sum

from registry.querysets import AgentChildQuerySet, RestrictedQuerySet


class TelemetrySourceQuerySet(RestrictedQuerySet):
    """Sources and their tokens are platform-administrator business (global permissions)."""

    def active(self):
        return self.filter(active=True)


class IngestTokenQuerySet(RestrictedQuerySet):
    def _restrict(self, user, action: str):
        # Tokens follow their source: whoever may change the source manages its tokens.
        if user.has_perm(f"telemetry.{'view' if action == 'view' else 'change'}_telemetrysource"):
            return self
        return self.none()

    def usable(self):
        """Tokens that may ingest: not revoked, of an active source."""
        return self.filter(revoked_at__isnull=True, source__active=True)


class TelemetryEventQuerySet(RestrictedQuerySet):
    def older_than(self, cutoff):
        return self.filter(occurred_at__lt=cutoff)


class SightingQuerySet(RestrictedQuerySet):
    """Sightings of registered agents are read with the catalog; identities nobody claims
    only by those who triage them (board, administrators: global view permission)."""

    def _restrict(self, user, action: str):
        if action == "view" and user.has_perm("telemetry.view_sighting"):
            return self
        if action == "view" and user.is_person:
            return self.filter(agent__isnull=False)
        return super()._restrict(user, action)

    def unclaimed(self):
        return self.filter(agent__isnull=True)

    def identities_summary(self):
        """One row per identity: sources, environments, first and last seen, volume."""
        return (
            self.values("identity")
            .annotate(
                first_seen_at=Min("first_seen_at"),
                last_seen_at=Max("last_seen_at"),
                event_count=Sum("event_count"),
                source_count=Count("source", distinct=True),
                agent_name=Max("agent_name"),
                service_name=Max("service_name"),
            )
            .order_by("-last_seen_at", "identity")
        )


class IdentityAliasQuerySet(AgentChildQuerySet):
    pass


class ExternalIdentityQuerySet(RestrictedQuerySet):
    def current(self, now):
        return self.filter(expires_at__gt=now)


class MonitoringStateQuerySet(AgentChildQuerySet):
    def overdue(self, now):
        """Watched agents whose next report is past due (partial index monitoring_deadline_idx)."""
        return self.filter(deadline_at__lt=now)


class DailyUsageQuerySet(AgentChildQuerySet):
    def between(self, start, end):
        return self.filter(day__gte=start, day__lte=end)

    def totals(self):
        return self.aggregate(
            invocations=Sum("invocations"),
            errors=Sum("errors"),
            tool_calls=Sum("tool_calls"),
            input_tokens=Sum("input_tokens"),
            output_tokens=Sum("output_tokens"),
            cost=Sum("cost"),
        )


class DailyToolUsageQuerySet(AgentChildQuerySet):
    def since(self, day):
        return self.filter(day__gte=day)

    def per_tool(self):
        """One row per (tool, server): calls, errors, first and last day, last call."""
        return (
            self.values("tool_name", "server_address")
            .annotate(
                calls=Sum("calls"),
                errors=Sum("errors"),
                first_day=Min("day"),
                last_called_at=Max("last_called_at"),
            )
            .order_by("-calls", "tool_name", "server_address")
        )


class ToolUseQuerySet(AgentChildQuerySet):
    def called_since(self, moment):
        """Tools called at or after ``moment`` (index tool_use_last_called_idx)."""
        return self.filter(last_called_at__gte=moment)


class DailyEvaluationQuerySet(AgentChildQuerySet):
    def since(self, day):
        return self.filter(day__gte=day)

    def per_name(self):
        """One row per evaluation name: results, scored results, score sum and minimum (mean = sum / scored)."""
        return (
            self.values("name")
            .annotate(
                results=Sum("results"),
                scored=Sum("scored"),
                score_sum=Sum("score_sum"),
                score_min=Min("score_min"),
                last_at=Max("last_at"),
            )
            .order_by("name")
        )


class IngestDayQuerySet(RestrictedQuerySet):
    """Per source and day; read with the source (administrators, the board)."""

    def _restrict(self, user, action: str):
        if action == "view" and user.has_perm("telemetry.view_telemetrysource"):
            return self
        return super()._restrict(user, action)

    def since(self, day):
        return self.filter(day__gte=day)


class IngestDayTotalsQuerySet(IngestDayQuerySet):
    def totals(self, *fields: str):
        """One dict per source and day, its shards summed: source, day, received, rejected and
        rejected_share (0 when nothing was received), plus any ``fields`` of the source asked for
        (``"source__name"``), newest day first. One query."""
        from django.db.models import Sum

        rows = (
            self.order_by()
            .values("source", "day", *fields)
            .annotate(received_total=Sum("received"), rejected_total=Sum("rejected"))
            .order_by("-day", "source")
        )
        return [
            {
                **{name: row[name] for name in fields},
                "source": row["source"],
                "day": row["day"],
                "received": row["received_total"],
                "rejected": row["rejected_total"],
                "rejected_share": row["rejected_total"] / row["received_total"] if row["received_total"] else 0.0,
            }
            for row in rows
        ]


class RejectionCountQuerySet(IngestDayQuerySet):
    pass


class RejectedItemQuerySet(IngestDayQuerySet):
    def since(self, day):
        return self.filter(received_at__date__gte=day)


class SpanOwnerQuerySet(RestrictedQuerySet):
    def older_than(self, cutoff):
        return self.filter(received_at__lt=cutoff)


class PendingSpanQuerySet(IngestDayQuerySet):
    def older_than(self, cutoff):
        return self.filter(received_at__lt=cutoff)
