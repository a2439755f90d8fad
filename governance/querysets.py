"""Reads of the governance layer. Every manager is a RestrictedQuerySet; pages and API start from ``for_user``."""

from registry.querysets import AgentChildQuerySet, RestrictedQuerySet


class RiskPolicyQuerySet(RestrictedQuerySet):
    """Policy is public to every signed-in person; only platform admins change it (global permission)."""

    def _restrict(self, user, action: str):
        if action == "view" and user.is_person:
            return self
        return super()._restrict(user, action)

    def current(self):
        """The policy in force: the newest published version."""
        return self.order_by("-version").first()

    def current_cadences(self) -> dict | None:
        """The cadences of the policy in force, read alone: telemetry ingest reads them on every
        request, and a whole policy row (weights, notes, maturity rules) costs it a millisecond."""
        return self.order_by("-version").values_list("cadences", flat=True).first()


class ControlQuerySet(RiskPolicyQuerySet):
    def current(self):
        from governance.models import RiskPolicy

        return self.filter(policy=RiskPolicy.objects.current())


class GovernedQuerySet(AgentChildQuerySet):
    """Rows that belong to one agent. Everyone who sees the agent sees them; the owner and
    delegates may act on them as owners (submit), the board through its global permissions."""

    def _restrict(self, user, action: str):
        if action == "view":
            return super()._restrict(user, "view")
        opts = self.model._meta
        if user.has_perm(f"{opts.app_label}.{action}_{opts.model_name}"):
            return self
        return super()._restrict(user, action)


class RiskAssessmentQuerySet(GovernedQuerySet):
    def awaiting_confirmation(self):
        return self.filter(status="submitted")

    def current(self):
        """Confirmed assessments still in force (one per agent at most; stale ones included)."""
        return self.filter(status="confirmed")


class EvidenceQuerySet(GovernedQuerySet):
    """Evidence can hold sensitive material (security reviews, contracts), so unlike the rest of an
    agent's governance record it is not public to every employee: the agent's owner and delegates
    see it, and the roles holding the global view permission (board, leadership, administrators)."""

    def _restrict(self, user, action: str):
        if action == "view":
            if user.has_perm("governance.view_evidence"):
                return self
            return AgentChildQuerySet._restrict(self, user, "change")
        return super()._restrict(user, action)

    def awaiting_review(self):
        return self.filter(status="submitted")

    def live(self):
        """Evidence not replaced by a newer submission for the same control."""
        return self.exclude(status="superseded")


def evidence_audit_scope(user):
    """The evidence whose audit entries (submitted, accepted, rejected, invalidated) the user may read:
    the evidence they may view, or None when they view all of it (``registry.hooks.audit_target_scopes``).

    Reviews, incidents, waivers, releases and assessments are read by whoever sees their agent, which
    the audit trail already requires, so they need no entry of their own."""
    from governance.models import Evidence

    if user.has_perm("governance.view_evidence"):
        return None
    return Evidence.objects.for_user(user, "view")


class ReviewQuerySet(GovernedQuerySet):
    def open(self):
        return self.filter(status="open")

    def periodic_overdue(self, now):
        """Open periodic reviews past their due date (read by the review_overdue check)."""
        return self.filter(status="open", kind="periodic", due_at__lt=now)


class ReleaseQuerySet(GovernedQuerySet):
    def for_environment(self, environment: str):
        return self.filter(environment=environment)


class IncidentQuerySet(GovernedQuerySet):
    def open(self):
        return self.filter(status="open")


class AuthorityReportQuerySet(RestrictedQuerySet):
    """Reports to the authority are read and written with their incident."""

    def _restrict(self, user, action: str):
        from governance.models import Incident

        return self.filter(incident__in=Incident.objects.for_user(user, action).values("pk"))


class FundamentalRightsAssessmentQuerySet(RestrictedQuerySet):
    """A FRIA is evidence (for the ``fria`` control): readable exactly by those who may read its evidence."""

    def _restrict(self, user, action: str):
        from governance.models import Evidence

        return self.filter(evidence__in=Evidence.objects.for_user(user, action).values("pk"))


class WaiverQuerySet(GovernedQuerySet):
    def in_force(self, now):
        return self.filter(revoked_at__isnull=True, expires_at__gt=now)


class ReviewConditionQuerySet(RestrictedQuerySet):
    def _restrict(self, user, action: str):
        from governance.models import Review

        return self.filter(review__in=Review.objects.for_user(user, action).values("pk"))

    def open(self):
        return self.filter(status="open")


# --- Findings (telemetry helper) -----------------------------------------------------


# Most serious first: the findings list's default order.
SEVERITY_RANK = ("critical", "high", "medium", "low")


class FindingQuerySet(RestrictedQuerySet):
    """Findings about agents are read with the catalog (every person); findings about
    unregistered identities need the global view permission (board, leadership, admins)."""

    def _restrict(self, user, action: str):
        if user.has_perm(f"governance.{action}_finding"):
            return self
        if action == "view" and user.is_person:
            return self.filter(agent__isnull=False)
        return self.none()

    def open(self):
        return self.filter(resolved_at__isnull=True)

    def by_severity_then_age(self):
        """Critical first, then high, medium, low; within a severity the oldest (longest waiting) first."""
        from django.db.models import Case, Value, When

        rank = Case(
            *[When(severity=severity, then=Value(i)) for i, severity in enumerate(SEVERITY_RANK)],
            default=Value(len(SEVERITY_RANK)),
        )
        return self.order_by(rank, "opened_at", "id")

    def of_kind(self, kind: str):
        return self.filter(kind=kind)

    def unnotified(self):
        """Open findings about an agent whose owner has not been told (partial index finding_unnotified_idx)."""
        return self.filter(resolved_at__isnull=True, notified_at__isnull=True, agent__isnull=False)


class FindingEventQuerySet(RestrictedQuerySet):
    def _restrict(self, user, action: str):
        from governance.models import Finding

        return self.filter(finding__in=Finding.objects.for_user(user, "view").values("pk"))


class CheckRunQuerySet(RestrictedQuerySet):
    def _restrict(self, user, action: str):
        if action == "view" and user.is_person:
            return self
        return super()._restrict(user, action)

    def latest_per_kind(self):
        """The newest run of each check (one query; PostgreSQL DISTINCT ON, elsewhere a subquery)."""
        from django.db.models import Max

        newest = self.values("check_kind").annotate(last=Max("id")).values("last")
        return self.filter(id__in=newest).order_by("check_kind")


class WebhookEndpointQuerySet(RestrictedQuerySet):
    def active(self):
        return self.filter(active=True)


class WebhookDeliveryQuerySet(RestrictedQuerySet):
    def due(self, now):
        return self.filter(status="pending", next_attempt_at__lte=now)


class CampaignQuerySet(RestrictedQuerySet):
    """Attestation campaigns: the board, leadership and administrators read them (global view permission);
    the board creates them."""

    def open_at(self, now):
        """Campaigns still collecting answers or still to be enforced."""
        return self.filter(opened_at__lte=now)


class AttestationQuerySet(RestrictedQuerySet):
    """One agent's row in a campaign. Owners see their own rows; whoever reads campaigns sees all."""

    def _restrict(self, user, action: str):
        if user.has_perm("governance.view_attestationcampaign"):
            return self if action == "view" else self.filter(owner=user)
        return self.filter(owner=user)

    def pending(self):
        return self.filter(answer="pending")


class DormancyKeepQuerySet(AgentChildQuerySet):
    def current(self, now):
        return self.filter(kept_until__gt=now)
