"""Reads: one restricted queryset per model, and the catalog's query helpers.

``for_user(user, action)`` is the single place where what a user may see or
change is decided. Pages and the API both start from it; nothing else filters
by permission.
"""

from django.db import connection, models
from django.db.models import Q
from django.db.models.functions import Cast
from guardian.shortcuts import get_objects_for_user

from registry.choices import Lifecycle


def _can_act(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


# The one definition of an orphaned agent: its owner's account is inactive and the agent is not
# retired (a retired agent needs no owner). The catalog's filter, the dashboard figure, the
# snapshots and the orphaned_owner check all read it; portfolio.aggregates.counts_sql writes the
# same condition in SQL, and tests/portfolio/test_figures_match_lists.py holds them together.
ORPHANED = Q(owner__is_active=False) & ~Q(lifecycle=Lifecycle.RETIRED)


class RestrictedQuerySet(models.QuerySet):
    """A queryset that can narrow itself to what one user may do.

    Superusers see everything, anonymous and inactive users nothing; everyone
    else goes through guardian, with global (model-level, usually from a role
    group) permissions accepted explicitly.
    """

    def for_user(self, user, action: str = "view"):
        if not _can_act(user):
            return self.none()
        if user.is_superuser:
            return self
        return self._restrict(user, action)

    def _restrict(self, user, action: str):
        opts = self.model._meta
        return get_objects_for_user(
            user,
            f"{opts.app_label}.{action}_{opts.model_name}",
            klass=self,
            accept_global_perms=True,
            with_superuser=True,
        )


class CatalogQuerySet(RestrictedQuerySet):
    """Reference data (business units, tools): every signed-in person reads it; changes need a global permission."""

    def _restrict(self, user, action: str):
        if action == "view" and user.is_person:
            return self
        return super()._restrict(user, action)


class ToolQuerySet(CatalogQuerySet):
    def grantable(self):
        """Tools a new version may be granted: every non-MCP tool, and MCP tools the board approved on an
        approved server, unchanged since and still offered (``Tool.grant_refusal`` says why not)."""
        return self.filter(
            Q(mcp_server__isnull=True)
            | Q(
                mcp_server__approved_at__isnull=False,
                mcp_approved_at__isnull=False,
                mcp_change="",
                mcp_removed_at__isnull=True,
            )
        )


class McpServerQuerySet(RestrictedQuerySet):
    """MCP servers. Every signed-in person reads the inventory and may register a server; its owner and
    platform administrators change it (administrators through their global permission)."""

    def _restrict(self, user, action: str):
        if action == "view" and user.is_person:
            return self
        if user.has_perm(f"registry.{action}_mcpserver"):
            return self
        if action == "change":
            return self.filter(owner=user)
        return self.none()

    def with_pending_changes(self):
        """Annotate ``pending_changes``: tools whose last scan differs from what the board approved."""
        return self.annotate(pending_changes=models.Count("tools", filter=~Q(tools__mcp_change="")))

    def awaiting_board(self):
        """Servers the board has to look at: never approved, or approved with changes since."""
        return self.filter(Q(approved_at__isnull=True) | Q(tools__mcp_change__gt="")).distinct()

    def due_for_scan(self, now):
        return self.filter(Q(next_scan_at__isnull=True) | Q(next_scan_at__lte=now))


class UserQuerySet(RestrictedQuerySet):
    def people(self):
        return self.filter(kind="person")

    def eligible_owners(self):
        """Accounts that may own an agent: active people."""
        return self.filter(kind="person", is_active=True)

    def _restrict(self, user, action: str):
        if action == "view" and user.is_person:
            return self
        return super()._restrict(user, action)


class AgentQuerySet(RestrictedQuerySet):
    """Agents. Every signed-in person may read the whole catalog; changing an
    agent needs the object permission its owner and delegates hold, or a
    platform administrator's global permission."""

    def _restrict(self, user, action: str):
        if action == "view" and user.is_person:
            return self
        return super()._restrict(user, action)

    def in_business_unit(self, unit):
        """Agents of this unit and of every unit below it."""
        return self.filter(business_unit__path__startswith=unit.path)

    def running(self):
        return self.filter(lifecycle__in=["pilot", "production"])

    def orphaned(self):
        """Agents whose owner's account is inactive, retired ones left out (see ``ORPHANED``)."""
        return self.filter(ORPHANED)

    def search(self, text: str):
        """Full-text search over name, key and description.

        PostgreSQL uses its text search (stemmed, ranked by name first); other
        databases fall back to a case-insensitive substring match. Keys match by
        substring everywhere because their dots and dashes do not tokenise well.
        """
        text = (text or "").strip()
        if not text:
            return self
        if connection.vendor == "postgresql":
            from django.contrib.postgres.search import SearchQuery, SearchVector

            vector = SearchVector("name", weight="A", config="english") + SearchVector(
                "description", weight="B", config="english"
            )
            query = SearchQuery(text, search_type="websearch", config="english")
            return self.annotate(_search=vector).filter(
                Q(_search=query) | Q(key__icontains=text) | Q(name__icontains=text)
            )
        return self.filter(Q(name__icontains=text) | Q(key__icontains=text) | Q(description__icontains=text))

    def with_list_related(self):
        """What a catalog row shows, fetched in a constant number of queries."""
        return self.select_related("owner", "business_unit").with_stop_state()

    def with_stop_state(self):
        """Annotate ``is_stopped``: a stop in force on the agent, its unit or a unit above, or its pattern."""
        from registry.models import Stop

        in_force = Stop.objects.filter(lifted_at__isnull=True)
        return self.annotate(
            is_stopped=models.Exists(in_force.filter(scope="agent", agent=models.OuterRef("pk")))
            | models.Exists(in_force.filter(scope="pattern", pattern=models.OuterRef("pattern")))
            | models.Exists(
                in_force.filter(scope="business_unit")
                .annotate(
                    agent_path=models.ExpressionWrapper(
                        models.OuterRef("business_unit__path"), output_field=models.CharField()
                    )
                )
                .filter(agent_path__startswith=models.F("business_unit__path"))
            )
        )

    def stopped(self, value: bool = True):
        qs = self if "is_stopped" in self.query.annotations else self.with_stop_state()
        return qs.filter(is_stopped=value)


class AgentChildQuerySet(RestrictedQuerySet):
    """Rows that belong to one agent: visible with the agent, changeable by whoever may change the agent."""

    agent_field = "agent"

    def _restrict(self, user, action: str):
        from registry.models import Agent

        agent_action = "view" if action == "view" else "change"
        agents = Agent.objects.for_user(user, agent_action)
        return self.filter(**{f"{self.agent_field}__in": agents.values("pk")})


class AgentVersionQuerySet(AgentChildQuerySet):
    pass


class ApiTokenQuerySet(RestrictedQuerySet):
    def _restrict(self, user, action: str):
        # A personal token is its user's alone; administrators see all through their global permission.
        if user.has_perm(f"registry.{action}_apitoken"):
            return self
        return self.filter(user=user)

    def active(self, now):
        return self.filter(revoked_at__isnull=True).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))


class AuditEventQuerySet(RestrictedQuerySet):
    """The audit trail is read-only for everyone. People see the entries of agents they can see;
    the whole trail needs the global view permission (board, admins)."""

    def _restrict(self, user, action: str):
        if action != "view":
            return self.none()
        from registry.models import Agent

        events = self
        if not user.has_perm("registry.view_auditevent"):
            events = self.filter(agent__in=Agent.objects.for_user(user, "view").values("pk"))
        return events.narrowed_to_visible_targets(user)

    def narrowed_to_visible_targets(self, user):
        """Entries about an object the user may not see leave the trail they read.

        An entry copies its object's fields (an evidence link, its file name and hash), so it is
        shown under the same rule as the object: the layers owning narrower objects register their
        rule in ``registry.hooks.audit_target_scopes``. Applied to global readers of the trail too
        (an auditor without evidence rights reads the trail without the evidence).
        """
        from registry import hooks

        events = self
        for target_type, scope in hooks.audit_target_scopes.items():
            visible = scope(user)
            if visible is None:
                continue
            visible_ids = visible.annotate(_audit_target_id=Cast("pk", output_field=models.CharField())).values(
                "_audit_target_id"
            )
            events = events.exclude(Q(target_type=target_type) & ~Q(target_id__in=visible_ids))
        return events


class HandoverQuerySet(RestrictedQuerySet):
    """Handover proposals. The proposed person sees and answers the ones addressed to them; the board
    (and administrators) see all and reassign them; everyone else sees none (404)."""

    def _restrict(self, user, action: str):
        from registry.roles import is_board, is_platform_admin

        if is_board(user) or is_platform_admin(user):
            return self
        if action == "reassign":
            return self.none()
        return self.filter(proposed_to=user)

    def pending(self):
        return self.filter(status="pending")


class DirectoryQuerySet(RestrictedQuerySet):
    """Directory rows (groups, their role mappings, SCIM tokens): platform administrators only."""

    def _restrict(self, user, action: str):
        from registry.roles import is_platform_admin

        return self if is_platform_admin(user) else self.none()


class StopQuerySet(models.QuerySet):
    """Stops are public within the company: every signed-in person may see what is stopped and why."""

    def in_force(self):
        return self.filter(lifted_at__isnull=True)

    def for_user(self, user, action: str = "view"):
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        return self.all()

    def affecting_agent(self, agent):
        """Stops in force that cover this agent: its own, its unit or any unit above it, its pattern."""
        return self.in_force().filter(
            models.Q(scope="agent", agent=agent)
            | models.Q(scope="business_unit", business_unit__path__in=_ancestor_paths(agent.business_unit.path))
            | models.Q(scope="pattern", pattern=agent.pattern)
        )


def _ancestor_paths(path: str) -> list[str]:
    """'/a/b/c/' -> ['/a/', '/a/b/', '/a/b/c/']."""
    parts = [p for p in path.strip("/").split("/") if p]
    return ["/" + "/".join(parts[: i + 1]) + "/" for i in range(len(parts))]
