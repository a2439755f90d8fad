"""Every write to the registry goes through these functions.

Each runs in one transaction, validates with ``full_clean()``, checks that the
actor may do it, writes its audit entry in the same transaction and returns the
changed instance. Pages, the API, the admin and commands all call them.
"""

import hashlib
import json
import logging
import re
import secrets
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError
from django.db.models.functions import Lower
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm

from registry import address_guard, audit, hooks
from registry.choices import (
    TOOL_ACCESS_RANK,
    AuditEventType,
    DirectoryEventType,
    HandoverBasis,
    HandoverStatus,
    Lifecycle,
    McpScanStatus,
    McpToolChange,
    Pattern,
    StopScope,
    ToolAccess,
    UserKind,
    access_covers,
    access_from_annotations,
)
from registry.exceptions import Conflict
from registry.models import (
    Agent,
    AgentCard,
    AgentDelegate,
    AgentUserObjectPermission,
    AgentVersion,
    AgentVersionTool,
    ApiToken,
    BusinessUnit,
    DirectoryEntry,
    DirectoryGroup,
    GroupRoleMapping,
    HandoverProposal,
    McpServer,
    ScimToken,
    Stop,
    Tool,
    TrustedCardKey,
    User,
)
from registry.roles import Role, is_board, is_platform_admin

logger = logging.getLogger(__name__)

OWNER_PERMISSIONS = ("change_agent", "manage_agent")
DELEGATE_PERMISSIONS = ("change_agent",)

# Facts an owner or delegate edits on the agent form. Owner, lifecycle and risk
# tier each change through their own service; the key only until it is locked.
EDITABLE_AGENT_FIELDS = (
    "key",
    "name",
    "description",
    "business_unit",
    "escalation_contact",
    "escalation_procedure",
    "objective",
    "allowed_actions",
    "forbidden_actions",
    "inputs",
    "actions",
    "pattern",
    "autonomy_level",
    "topology",
    "runs_in_development",
    "runs_in_staging",
    "runs_in_production",
    "external_facing",
    "data_classification",
    "handles_personal_data",
    "handles_regulated_data",
    "approval_threshold",
    "business_outcome",
    "metric_name",
    "metric_unit",
    "metric_baseline",
    "metric_target",
    "metric_current",
    "eligible_users",
    "active_users",
)
AUDITED_AGENT_FIELDS = (*EDITABLE_AGENT_FIELDS, "mode", "owner", "lifecycle", "risk_tier")
METRIC_FIELDS = ("metric_name", "metric_unit", "metric_baseline", "metric_target", "metric_current")

# (from, to) -> who may make the move: "change" (owner, delegates, admins),
# "board" (governance board), or "change_or_board".
TRANSITIONS: dict[tuple[str, str], str] = {
    (Lifecycle.PROPOSED, Lifecycle.IN_REVIEW): "change",
    (Lifecycle.PROPOSED, Lifecycle.RETIRED): "change",
    (Lifecycle.IN_REVIEW, Lifecycle.APPROVED): "board",
    (Lifecycle.IN_REVIEW, Lifecycle.PROPOSED): "change_or_board",
    (Lifecycle.IN_REVIEW, Lifecycle.RETIRED): "change",
    (Lifecycle.APPROVED, Lifecycle.PILOT): "change",
    (Lifecycle.APPROVED, Lifecycle.PRODUCTION): "change",
    (Lifecycle.APPROVED, Lifecycle.IN_REVIEW): "change_or_board",
    (Lifecycle.APPROVED, Lifecycle.RETIRED): "change",
    (Lifecycle.PILOT, Lifecycle.PRODUCTION): "change",
    (Lifecycle.PILOT, Lifecycle.SUSPENDED): "change_or_board",
    (Lifecycle.PILOT, Lifecycle.IN_REVIEW): "change_or_board",
    (Lifecycle.PILOT, Lifecycle.RETIRED): "change",
    (Lifecycle.PRODUCTION, Lifecycle.SUSPENDED): "change_or_board",
    (Lifecycle.PRODUCTION, Lifecycle.IN_REVIEW): "change_or_board",
    (Lifecycle.PRODUCTION, Lifecycle.RETIRED): "change",
    (Lifecycle.SUSPENDED, Lifecycle.PILOT): "change",
    (Lifecycle.SUSPENDED, Lifecycle.PRODUCTION): "change",
    (Lifecycle.SUSPENDED, Lifecycle.IN_REVIEW): "change_or_board",
    (Lifecycle.SUSPENDED, Lifecycle.RETIRED): "change",
}


def allowed_transitions(from_state: str) -> list[str]:
    return [to for (frm, to) in TRANSITIONS if frm == from_state]


# --- Permission checks ----------------------------------------------------------


def can_register_agents(user) -> bool:
    """Every active person registers agents; machines only with an administrator's global permission."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and (user.is_person or user.has_perm("registry.add_agent"))
    )


def can_change_agent(user, agent: Agent) -> bool:
    return Agent.objects.for_user(user, "change").filter(pk=agent.pk).exists()


def can_manage_agent(user, agent: Agent) -> bool:
    return Agent.objects.for_user(user, "manage").filter(pk=agent.pk).exists()


def _ensure(allowed: bool, message: str) -> None:
    if not allowed:
        raise PermissionDenied(message)


def _recheck_scope(actor, agent: Agent, action: str = "change") -> None:
    """After a write, the row must still be within the actor's scope, or the whole write rolls back."""
    if actor is not None and not Agent.objects.for_user(actor, action).filter(pk=agent.pk).exists():
        raise PermissionDenied("After this change you would no longer be allowed to edit the agent.")


def validate_owner(user: User | None, field: str = "owner") -> None:
    """An owner is one named, active person: never empty, a service account or a deactivated account."""
    if user is None:
        raise ValidationError({field: "Every agent needs a named owner."})
    if user.kind != UserKind.PERSON:
        raise ValidationError({field: f"{user.username} is a service account; an owner must be a person."})
    if not user.is_active:
        raise ValidationError({field: f"{user.username} is deactivated; choose an active person."})


# The fields transition_agent changes (row_version aside).
TRANSITION_FIELDS = ("lifecycle", "lifecycle_changed_at", "production_since", "runs_in_production")


def _clean_only(instance, fields) -> None:
    """``full_clean()`` limited to the fields a service changed.

    Django checks each CheckConstraint with its own query (SAVEPOINT, SELECT,
    RELEASE): nine on an agent. A transition touches two of them, and the
    others cannot have changed, so they are skipped.
    """
    instance.full_clean(exclude=[f.name for f in instance._meta.concrete_fields if f.name not in fields])


def _save_unique(instance, unique_field: str, message: str) -> None:
    """Save, turning a lost race on a unique column into a field error instead of a 500."""
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError as exc:
        raise ValidationError({unique_field: message}) from exc


# --- Agents ---------------------------------------------------------------------


def create_agent(*, actor: User, owner: User | None = None, **fields) -> Agent:
    """Register a new agent in the proposed state; the owner gets the agent's edit and manage rights."""
    _ensure(can_register_agents(actor), "Only people and administrators may register agents.")
    unknown = set(fields) - set(EDITABLE_AGENT_FIELDS)
    if unknown:
        raise ValidationError({name: "This field cannot be set here." for name in sorted(unknown)})
    owner = owner if owner is not None else actor
    now = timezone.now()
    with transaction.atomic():
        validate_owner(owner)
        agent = Agent(owner=owner, created_by=actor, lifecycle=Lifecycle.PROPOSED, lifecycle_changed_at=now, **fields)
        if agent.metric_current is not None:
            agent.metric_updated_at = now
        agent.full_clean()
        _save_unique(agent, "key", "An agent with this key is already registered.")
        for perm in OWNER_PERMISSIONS:
            assign_perm(perm, owner, agent)
        audit.record(
            AuditEventType.AGENT_CREATED,
            actor=actor,
            target=agent,
            after=audit.snapshot(agent, AUDITED_AGENT_FIELDS),
        )
        for listener in hooks.agent_created_listeners:
            listener(agent, actor)
    return agent


def update_agent(agent: Agent, *, actor: User | None, expected_row_version: int | None = None, **changes) -> Agent:
    """Change an agent's own facts. Refused for fields that have their own service, and for a stale copy."""
    if actor is not None:
        _ensure(can_change_agent(actor, agent), "You may not edit this agent.")
    unknown = set(changes) - set(EDITABLE_AGENT_FIELDS)
    if unknown:
        raise ValidationError({name: "This field cannot be changed here." for name in sorted(unknown)})
    with transaction.atomic():
        current = Agent.objects.select_for_update().get(pk=agent.pk)
        if expected_row_version is not None and current.row_version != expected_row_version:
            raise Conflict()
        if "key" in changes and changes["key"] != current.key and current.key_locked_at is not None:
            raise ValidationError(
                {"key": "Telemetry has already reported this key, so it can no longer change. Add an alias instead."}
            )
        before = audit.snapshot(current, AUDITED_AGENT_FIELDS)
        for name, value in changes.items():
            setattr(current, name, value)
        current.full_clean()
        after = audit.snapshot(current, AUDITED_AGENT_FIELDS)
        changed_before, changed_after = audit.diff(before, after)
        if not changed_after:
            return current
        if any(name in changed_after for name in METRIC_FIELDS if name != "metric_name"):
            current.metric_updated_at = timezone.now()
        current.row_version += 1
        _save_unique(current, "key", "An agent with this key is already registered.")
        audit.record(
            AuditEventType.AGENT_CHANGED, actor=actor, target=current, before=changed_before, after=changed_after
        )
        for listener in hooks.agent_change_listeners:
            listener(current, changed_before, changed_after, actor)
        _recheck_scope(actor, current)
    return current


def lifecycle_path(from_state: str, to_state: str) -> list[str]:
    """The shortest chain of allowed moves from one state to another (both included), [] if there is none."""
    paths = {from_state: [from_state]}
    frontier = [from_state]
    while frontier:
        step = []
        for state in frontier:
            for nxt in allowed_transitions(state):
                if nxt not in paths:
                    paths[nxt] = [*paths[state], nxt]
                    step.append(nxt)
        if to_state in paths:
            return paths[to_state]
        frontier = step
    return []


def _refused_move(agent: Agent, from_state: str, to_state: str, actor) -> list[str]:
    """Why a move that skips steps is refused, and the way there in one answer: the allowed next
    states, the path through the lifecycle, and what the target state's gate will ask for."""
    label = Lifecycle(to_state).label
    allowed = _and_list([Lifecycle(s).label for s in allowed_transitions(from_state)]) or "nowhere"
    messages = [
        f"An agent cannot move from {Lifecycle(from_state).label} straight to {label}; "
        f"from {Lifecycle(from_state).label} it can move to {allowed}."
    ]
    path = lifecycle_path(from_state, to_state)
    if len(path) > 2:
        messages.append(f"The way to {label}: {' → '.join(Lifecycle(s).label for s in path)}.")
    needed = [problem for guard in hooks.transition_guards for problem in guard(agent, to_state, actor)]
    if needed:
        messages.append(f"{label} will also need:")
        messages.extend(needed)
    return messages


def _and_list(items: list[str]) -> str:
    """ "a", "a or b", "a, b or c"."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} or {items[-1]}"


def transition_agent(agent: Agent, to_state: str, *, actor: User | None, reason: str) -> Agent:
    """Move an agent along its lifecycle, checked against the allowed moves and the registered guards.

    ``actor=None`` is the system itself (a background check sending an agent back to review).
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the agent changes state; the reason is kept in its history."})
    if to_state not in Lifecycle.values:
        raise ValidationError({"to_state": f"{to_state!r} is not a lifecycle state."})
    with transaction.atomic():
        current = Agent.objects.select_for_update().get(pk=agent.pk)
        from_state = current.lifecycle
        rule = TRANSITIONS.get((from_state, to_state))
        if rule is None:
            raise ValidationError({"to_state": _refused_move(current, from_state, to_state, actor)})
        if actor is not None:
            may_change = can_change_agent(actor, current)
            may_board = is_board(actor)
            allowed_by_role = {
                "change": may_change,
                "board": may_board,
                "change_or_board": may_change or may_board,
            }[rule]
            if not allowed_by_role:
                who = {"change": "the agent's owner or a delegate", "board": "the governance board"}.get(
                    rule, "the agent's owner, a delegate or the governance board"
                )
                raise PermissionDenied(f"Only {who} may move this agent to {Lifecycle(to_state).label}.")
        problems = []
        if to_state == Lifecycle.IN_REVIEW and not current.topology:
            problems.append("Say how the agent is deployed (its topology) before the board reviews it.")
        for guard in hooks.transition_guards:
            problems.extend(guard(current, to_state, actor))
        if problems:
            raise ValidationError({"to_state": problems})
        now = timezone.now()
        current.lifecycle = to_state
        current.lifecycle_changed_at = now
        if to_state == Lifecycle.PRODUCTION and current.production_since is None:
            current.production_since = now
        if to_state in (Lifecycle.PROPOSED, Lifecycle.IN_REVIEW):
            current.production_since = None
        if to_state == Lifecycle.PRODUCTION:
            current.runs_in_production = True
        current.row_version += 1
        _clean_only(current, TRANSITION_FIELDS)
        current.save()
        audit.record(
            AuditEventType.AGENT_TRANSITIONED,
            actor=actor,
            target=current,
            before={"lifecycle": from_state},
            after={"lifecycle": to_state, "reason": reason},
        )
        for listener in hooks.transition_listeners:
            listener(current, from_state, to_state, actor)
    return current


def set_agent_risk_tier(agent: Agent, tier: str, *, actor: User | None, reason: str = "") -> Agent:
    """Copy the governance layer's current tier onto the agent (called by governance services)."""
    with transaction.atomic():
        current = Agent.objects.select_for_update().get(pk=agent.pk)
        if current.risk_tier == tier:
            return current
        before = current.risk_tier
        current.risk_tier = tier
        current.row_version += 1
        current.save(update_fields=["risk_tier", "row_version", "updated_at"])
        audit.record(
            AuditEventType.AGENT_CHANGED,
            actor=actor,
            target=current,
            before={"risk_tier": before},
            after={"risk_tier": tier, **({"reason": reason} if reason else {})},
        )
        for listener in hooks.risk_tier_listeners:
            listener(current, before, tier)
    return current


def lock_agent_key(agent: Agent, *, seen_at: datetime) -> bool:
    """Fix the key once telemetry has reported it. Returns whether this call locked it."""
    with transaction.atomic():
        updated = Agent.objects.filter(pk=agent.pk, key_locked_at__isnull=True).update(key_locked_at=seen_at)
        if updated:
            audit.record(
                AuditEventType.AGENT_CHANGED,
                actor=None,
                target=agent,
                before={"key_locked_at": None},
                after={"key_locked_at": seen_at},
            )
    return bool(updated)


def transfer_ownership(agent: Agent, new_owner: User, *, actor: User, reason: str) -> Agent:
    """Hand an agent to another active person. The owner or an administrator may do it; the reason is kept."""
    _ensure(can_manage_agent(actor, agent), "Only the agent's owner or a platform administrator may transfer it.")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Give a reason for the transfer; it is kept in the agent's history."})
    with transaction.atomic():
        current = Agent.objects.select_for_update().get(pk=agent.pk)
        _move_ownership(current, new_owner, actor=actor, reason=reason)
    return current


def _move_ownership(current: Agent, new_owner: User, *, actor: User | None, reason: str) -> None:
    """Give a locked agent to ``new_owner``: rights move, the new owner stops being a delegate, audited.
    Callers check who may do it (the owner, an administrator, the person a handover was proposed to)."""
    with transaction.atomic():
        validate_owner(new_owner, field="new_owner")
        if new_owner.pk == current.owner_id:
            raise ValidationError({"new_owner": f"{new_owner} already owns this agent."})
        previous = current.owner
        for perm in OWNER_PERMISSIONS:
            remove_perm(perm, previous, current)
        # The new owner stops being a delegate: their rights now come from ownership.
        AgentDelegate.objects.filter(agent=current, user=new_owner).delete()
        for perm in OWNER_PERMISSIONS:
            assign_perm(perm, new_owner, current)
        current.owner = new_owner
        current.row_version += 1
        current.save(update_fields=["owner", "row_version", "updated_at"])
        audit.record(
            AuditEventType.AGENT_OWNER_TRANSFERRED,
            actor=actor,
            target=current,
            before={"owner": previous.pk, "owner_name": str(previous)},
            after={"owner": new_owner.pk, "owner_name": str(new_owner), "reason": reason},
        )


def grant_delegate(agent: Agent, user: User, *, actor: User) -> AgentDelegate:
    """Let another active person co-maintain one agent."""
    _ensure(can_manage_agent(actor, agent), "Only the agent's owner or a platform administrator may add delegates.")
    if not user.is_active or user.kind != UserKind.PERSON:
        raise ValidationError({"user": "A delegate must be an active person."})
    if user.pk == agent.owner_id:
        raise ValidationError({"user": f"{user} owns this agent already."})
    with transaction.atomic():
        delegation, created = AgentDelegate.objects.get_or_create(
            agent=agent, user=user, defaults={"granted_by": actor}
        )
        if not created:
            raise ValidationError({"user": f"{user} is already a delegate of this agent."})
        for perm in DELEGATE_PERMISSIONS:
            assign_perm(perm, user, agent)
        audit.record(
            AuditEventType.AGENT_DELEGATE_GRANTED,
            actor=actor,
            target=agent,
            after={"delegate": user.pk, "delegate_name": str(user)},
        )
    return delegation


def revoke_delegate(agent: Agent, user: User, *, actor: User) -> None:
    """Withdraw a delegate's edit right; it takes effect on their next request."""
    _ensure(can_manage_agent(actor, agent), "Only the agent's owner or a platform administrator may remove delegates.")
    with transaction.atomic():
        deleted, _ = AgentDelegate.objects.filter(agent=agent, user=user).delete()
        if not deleted:
            raise ValidationError({"user": f"{user} is not a delegate of this agent."})
        for perm in DELEGATE_PERMISSIONS:
            remove_perm(perm, user, agent)
        audit.record(
            AuditEventType.AGENT_DELEGATE_REVOKED,
            actor=actor,
            target=agent,
            before={"delegate": user.pk, "delegate_name": str(user)},
        )


# --- Versions -------------------------------------------------------------------

VERSION_FIELDS = (
    "label",
    "model_provider",
    "model_name",
    "model_version",
    "prompt_version",
    "orchestration_version",
    "change_summary",
)


def _validate_tool_grants(tools: Iterable[tuple[Tool, str]]) -> list[tuple[Tool, str]]:
    grants = list(tools)
    seen = set()
    for tool, access in grants:
        if tool.pk in seen:
            raise ValidationError({"tools": f"{tool.key} is listed twice."})
        seen.add(tool.pk)
        if access not in ToolAccess.values:
            raise ValidationError({"tools": f"Access to {tool.key} must be read, write or execute."})
        if not access_covers(tool.max_access, access):
            allowed = (
                "is read-only in the tool catalog"
                if tool.max_access == ToolAccess.READ
                else f"allows at most {tool.max_access} access in the tool catalog"
            )
            raise ValidationError({"tools": f"{tool.key} {allowed}; it cannot be granted {access}."})
    # The MCP approval gate: only tools of a board-approved server, and only as approved. Read afresh,
    # in one query, so a caller's stale copy cannot carry an approval the board's state no longer has.
    mcp_ids = [tool.pk for tool, _ in grants if tool.mcp_server_id is not None]
    if mcp_ids:
        for fresh in Tool.objects.select_related("mcp_server").filter(pk__in=mcp_ids).order_by("key"):
            refusal = fresh.grant_refusal()
            if refusal:
                raise ValidationError({"tools": refusal})
    return grants


def create_version(agent: Agent, *, actor: User, tools: Iterable[tuple[Tool, str]] = (), **fields) -> AgentVersion:
    """Record a new version of an agent's components with the tools it may call."""
    _ensure(can_change_agent(actor, agent), "You may not add versions to this agent.")
    return _record_version(agent, actor=actor, tools=tools, **fields)


def create_first_version_at_registration(
    agent: Agent, *, actor: User, tools: Iterable[tuple[Tool, str]] = (), **fields
) -> AgentVersion:
    """The first version of an agent, recorded by whoever registers it in the same transaction (claiming
    a shadow agent from the triage asks there for the tools telemetry saw it call). The registering
    service has checked the actor; the tools go to the board with the version's release review, as any
    version's do. Refused once the agent has a version: later versions are its owner's."""
    if AgentVersion.objects.filter(agent=agent).exists():
        raise PermissionDenied("The agent has a version already; its owner adds the next one.")
    return _record_version(agent, actor=actor, tools=tools, **fields)


def _record_version(agent: Agent, *, actor: User, tools: Iterable[tuple[Tool, str]] = (), **fields) -> AgentVersion:
    grants = _validate_tool_grants(tools)
    with transaction.atomic():
        version = AgentVersion(agent=agent, created_by=actor, **fields)
        if AgentVersion.objects.filter(agent=agent, label=version.label).exists():
            # Said on the field (full_clean would report the pair constraint as a form-wide error).
            raise ValidationError({"label": "This agent already has a version with this label."})
        version.full_clean()
        _save_unique(version, "label", "This agent already has a version with this label.")
        AgentVersionTool.objects.bulk_create(
            [AgentVersionTool(version=version, tool=tool, access=access) for tool, access in grants]
        )
        audit.record(
            AuditEventType.VERSION_CREATED,
            actor=actor,
            target=version,
            agent=agent,
            after={
                **audit.snapshot(version, VERSION_FIELDS),
                "tools": sorted(f"{tool.key}:{access}" for tool, access in grants),
            },
        )
    return version


# --- Reference data ---------------------------------------------------------------


def _ensure_global(actor: User, perm: str, message: str) -> None:
    _ensure(actor is not None and actor.is_active and actor.has_perm(perm), message)


def create_business_unit(*, actor: User, name: str, slug: str, parent: BusinessUnit | None = None, description=""):
    _ensure_global(actor, "registry.add_businessunit", "Only platform administrators manage business units.")
    with transaction.atomic():
        unit = BusinessUnit(name=name, slug=slug, parent=parent, description=description)
        unit.path = unit.compute_path()
        unit.full_clean()
        _save_unique(unit, "slug", "A business unit with this short name exists already.")
        audit.record(
            AuditEventType.BUSINESS_UNIT_CREATED,
            actor=actor,
            target=unit,
            after=audit.snapshot(unit, ("name", "slug", "parent", "path")),
        )
    return unit


def update_business_unit(unit: BusinessUnit, *, actor: User, **changes) -> BusinessUnit:
    """Rename or move a unit; moving it rewrites the paths of the whole subtree in the same transaction."""
    _ensure_global(actor, "registry.change_businessunit", "Only platform administrators manage business units.")
    with transaction.atomic():
        current = BusinessUnit.objects.select_for_update().get(pk=unit.pk)
        before = audit.snapshot(current, ("name", "slug", "parent", "description", "path", "head"))
        for name, value in changes.items():
            setattr(current, name, value)
        parent = current.parent
        while parent is not None:
            if parent.pk == current.pk:
                raise ValidationError({"parent": "A unit cannot sit below itself."})
            parent = parent.parent
        old_path = before["path"]
        current.path = current.compute_path()
        current.full_clean()
        _save_unique(current, "slug", "A business unit with this short name exists already.")
        if current.path != old_path:
            for child in BusinessUnit.objects.filter(path__startswith=old_path).exclude(pk=current.pk):
                child.path = current.path + child.path[len(old_path) :]
                child.save(update_fields=["path"])
        changed_before, changed_after = audit.diff(
            before, audit.snapshot(current, ("name", "slug", "parent", "description", "path", "head"))
        )
        if changed_after:
            audit.record(
                AuditEventType.BUSINESS_UNIT_CHANGED,
                actor=actor,
                target=current,
                before=changed_before,
                after=changed_after,
            )
    return current


TOOL_FIELDS = ("key", "name", "description", "system", "supports_write", "supports_execute")


def create_tool(*, actor: User, **fields) -> Tool:
    _ensure_global(actor, "registry.add_tool", "Only platform administrators manage the tool catalog.")
    with transaction.atomic():
        tool = Tool(**fields)
        tool.full_clean()
        _save_unique(tool, "key", "A tool with this key exists already.")
        audit.record(AuditEventType.TOOL_CREATED, actor=actor, target=tool, after=audit.snapshot(tool, TOOL_FIELDS))
    return tool


def update_tool(tool: Tool, *, actor: User, **changes) -> Tool:
    """Change a catalog tool. For an MCP tool the description comes from its server (as the board
    approved it), and its access may be raised above what its annotations imply, never below."""
    _ensure_global(actor, "registry.change_tool", "Only platform administrators manage the tool catalog.")
    with transaction.atomic():
        current = Tool.objects.select_for_update().get(pk=tool.pk)
        before = audit.snapshot(current, TOOL_FIELDS)
        if current.is_mcp and "description" in changes and changes["description"] != current.description:
            raise ValidationError(
                {"description": "An MCP tool's description comes from its server, as the board approved it."}
            )
        for name, value in changes.items():
            setattr(current, name, value)
        if current.is_mcp:
            _keep_mcp_access(current)
        current.full_clean()
        _save_unique(current, "key", "A tool with this key exists already.")
        changed_before, changed_after = audit.diff(before, audit.snapshot(current, TOOL_FIELDS))
        if changed_after:
            audit.record(
                AuditEventType.TOOL_CHANGED, actor=actor, target=current, before=changed_before, after=changed_after
            )
    return current


def _keep_mcp_access(tool: Tool) -> None:
    """An administrator's change of an MCP tool's access: never below the inferred level; above it, the
    raise is remembered so a rescan or an approval keeps it."""
    level = tool.max_access
    if TOOL_ACCESS_RANK[level] < TOOL_ACCESS_RANK[tool.inferred_access]:
        raise ValidationError(
            {
                "supports_write" if tool.inferred_access == ToolAccess.WRITE else "supports_execute": (
                    f"{tool.key}'s annotations imply {tool.inferred_access} access; it can be raised, never lowered."
                )
            }
        )
    tool.raised_access = level if level != tool.inferred_access else ""


# --- MCP servers ------------------------------------------------------------------------

MCP_SERVER_FIELDS = ("key", "name", "url", "host", "transport", "description", "owner", "business_unit")
EDITABLE_MCP_SERVER_FIELDS = ("name", "url", "transport", "description", "business_unit")


def can_change_mcp_server(user, server: McpServer) -> bool:
    return McpServer.objects.for_user(user, "change").filter(pk=server.pk).exists()


def can_scan_mcp_server(user, server: McpServer) -> bool:
    """The owner and administrators scan a server; so does the board, which approves what a scan read."""
    return can_change_mcp_server(user, server) or is_board(user)


def _host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def register_mcp_server(*, actor: User, owner: User | None = None, **fields) -> McpServer:
    """Register an MCP server in the inventory. Every person may; the owner is a named, active person
    (the registering person unless they name someone else). Its tools arrive with the first scan and
    no agent version may be granted them before the board approves the server."""
    _ensure(
        can_register_agents(actor) or actor.has_perm("registry.add_mcpserver"),
        "Only people and administrators may register MCP servers.",
    )
    unknown = set(fields) - {"key", *EDITABLE_MCP_SERVER_FIELDS}
    if unknown:
        raise ValidationError({name: "This field cannot be set here." for name in sorted(unknown)})
    owner = owner if owner is not None else actor
    validate_owner(owner)
    with transaction.atomic():
        server = McpServer(owner=owner, **fields)
        server.host = _host_of(server.url)
        if McpServer.objects.filter(key=server.key).exists():
            raise ValidationError({"key": "An MCP server with this key is already registered."})
        server.full_clean()
        _check_mcp_address(server.url)
        _save_unique(server, "key", "An MCP server with this key is already registered.")
        audit.record(
            AuditEventType.MCP_SERVER_REGISTERED,
            actor=actor,
            target=server,
            after=audit.snapshot(server, MCP_SERVER_FIELDS),
        )
    return server


def update_mcp_server(server: McpServer, *, actor: User, **changes) -> McpServer:
    """Change a server's facts. A new address is a new server as far as approval goes: the board
    approves again before its tools may be granted. Only a platform administrator hands a server to
    a new owner (an active person)."""
    _ensure(can_change_mcp_server(actor, server), "Only the server's owner or a platform administrator may change it.")
    unknown = set(changes) - {*EDITABLE_MCP_SERVER_FIELDS, "owner"}
    if unknown:
        raise ValidationError({name: "This field cannot be changed here." for name in sorted(unknown)})
    if "owner" in changes and changes["owner"] != server.owner:
        _ensure(
            actor.has_perm("registry.change_mcpserver"), "Only a platform administrator hands a server to a new owner."
        )
        validate_owner(changes["owner"])
    with transaction.atomic():
        current = McpServer.objects.select_for_update().get(pk=server.pk)
        before = audit.snapshot(current, (*MCP_SERVER_FIELDS, "approved_at"))
        for name, value in changes.items():
            setattr(current, name, value)
        current.host = _host_of(current.url)
        if current.url != before["url"] or current.transport != before["transport"]:
            current.approved_at = None
            current.approved_by = None
            current.next_scan_at = None
        current.full_clean()
        if current.url != before["url"]:
            _check_mcp_address(current.url)
        current.save()
        changed_before, changed_after = audit.diff(before, audit.snapshot(current, (*MCP_SERVER_FIELDS, "approved_at")))
        if changed_after:
            audit.record(
                AuditEventType.MCP_SERVER_CHANGED,
                actor=actor,
                target=current,
                before=changed_before,
                after=changed_after,
            )
        # Re-check scope inside the transaction: the saved row must still be the actor's to change.
        _ensure(can_change_mcp_server(actor, current), "After this change you could no longer edit the server.")
    return current


_NOT_KEY_CHARS = re.compile(r"[^a-z0-9]+")


def _mcp_tool_key(server: McpServer, mcp_name: str, taken: set[str]) -> str:
    """A catalog key for an MCP tool: ``<server key>.<tool name>`` in the key alphabet, unique."""
    slug = _NOT_KEY_CHARS.sub("-", mcp_name.lower()).strip("-") or "tool"
    base = f"{server.key}.{slug}"[:76].rstrip("-._")
    key, n = base, 2
    while key in taken:
        key = f"{base}-{n}"
        n += 1
    taken.add(key)
    return key


def _observed(listed) -> dict:
    return {
        "description": listed.description[:2000],
        "input_schema": listed.input_schema,
        "annotations": listed.annotations,
    }


def _recorded(tool: Tool) -> dict:
    return {"description": tool.description, "input_schema": tool.input_schema, "annotations": tool.annotations}


def _apply_recorded(tool: Tool, observed: dict) -> None:
    """Make ``observed`` the tool's recorded description, schema and hints, and its access follow them
    (never below an administrator's raise)."""
    tool.description = observed["description"]
    tool.input_schema = observed["input_schema"]
    tool.annotations = observed["annotations"]
    tool.inferred_access = access_from_annotations(tool.annotations)
    level = tool.inferred_access
    if tool.raised_access and TOOL_ACCESS_RANK[tool.raised_access] > TOOL_ACCESS_RANK[level]:
        level = tool.raised_access
    else:
        tool.raised_access = ""
    tool.set_access(level)


def _check_mcp_address(url: str) -> None:
    """Refuse an endpoint the registry may not scan (the address guard with the MCP scan settings).
    A name that does not resolve yet passes: each scan checks the address again before it connects."""
    address_guard.mcp_scan_policy().check_url(url, unresolvable_ok=True)


def scan_mcp_server(server: McpServer, *, actor: User | None, now: datetime | None = None) -> McpServer:
    """Read the server's tools with the MCP client (``tools/list``) and record what was read.

    ``actor=None`` for the scheduled rescan. The network call happens before the transaction; the
    record then follows :func:`record_mcp_scan`.
    """
    from registry import mcp_client

    if actor is not None:
        _ensure(
            can_scan_mcp_server(actor, server), "Only the server's owner, the board or an administrator may scan it."
        )
    try:
        # Checked again before every scan: the settings or the name's DNS may have changed since the
        # server was registered. The MCP client checks each connection's address once more.
        address_guard.mcp_scan_policy().check_url(server.url)
        listed = mcp_client.list_tools(
            server.url, transport=server.transport, timeout=settings.MCP_SCAN_TIMEOUT_SECONDS
        )
        error = ""
    except ValidationError as exc:
        listed, error = None, " ".join(exc.messages)
    except mcp_client.McpUnreachable as exc:
        listed, error = None, str(exc) or "The server did not answer."
    return record_mcp_scan(server, listed, error=error, actor=actor, now=now)


def record_mcp_scan(
    server: McpServer, listed, *, error: str = "", actor: User | None = None, now: datetime | None = None
) -> McpServer:
    """Record one scan. ``listed`` is the tool list read (None: unreachable, with ``error``).

    Before the board's first approval the record simply follows the server. After it, every difference
    is parked on the tool (new, changed with what was read, removed) and the approved description,
    schema and hints stay in force until the board accepts the change. An unreachable server keeps its
    tools as they were: it is unreachable, not empty.
    """
    now = now or timezone.now()
    with transaction.atomic():
        current = McpServer.objects.select_for_update().get(pk=server.pk)
        was_status = current.scan_status
        current.last_scanned_at = now
        current.next_scan_at = now + timedelta(seconds=settings.MCP_SCAN_INTERVAL_SECONDS)
        # "skipped": tools the server listed that cannot be kept (no name, a repeated or over-long one):
        # not in the inventory, so said in the scan's message and its audit entry rather than dropped.
        summary: dict = {"added": [], "changed": [], "removed": [], "restored": [], "skipped": []}
        if listed is None:
            current.scan_status = McpScanStatus.UNREACHABLE
            current.scan_error = (error or "The server did not answer.")[:500]
        else:
            current.scan_status = McpScanStatus.REACHABLE
            current.scan_error = ""
            current.last_reached_at = now
            _record_tools(current, listed, now, summary)
        current.full_clean()
        current.save()
        changed = any(summary[k] for k in ("added", "changed", "removed", "restored"))
        if changed or summary["skipped"] or current.scan_status != was_status:
            audit.record(
                AuditEventType.MCP_SERVER_SCANNED,
                actor=actor,
                target=current,
                before={"scan_status": was_status},
                after={
                    "scan_status": current.scan_status,
                    **({"scan_error": current.scan_error} if current.scan_error else {}),
                    **{k: v for k, v in summary.items() if v},
                },
            )
        if changed:
            # Only a difference in the tools concerns the upper layers (a check run per quiet rescan
            # would only add noise to the check history).
            for listener in hooks.mcp_server_listeners:
                listener(current, "scanned")
    current.scan_summary = summary
    return current


def _record_tools(server: McpServer, listed, now: datetime, summary: dict) -> None:
    approved_server = server.approved_at is not None
    existing = {tool.mcp_name: tool for tool in Tool.objects.select_for_update().filter(mcp_server=server)}
    taken: set[str] | None = None
    seen: set[str] = set()
    for item in listed:
        # A nameless, repeated or absurdly named tool cannot be matched from one scan to the next: left
        # out of the inventory, and named in the scan's summary.
        limit = Tool._meta.get_field("mcp_name").max_length
        if not item.name or item.name in seen or len(item.name) > limit:
            reason = "no name" if not item.name else "listed twice" if item.name in seen else f"over {limit} characters"
            summary["skipped"].append(f"{(item.name or '')[:80]} ({reason})".strip())
            continue
        seen.add(item.name)
        observed = _observed(item)
        tool = existing.get(item.name)
        if tool is None:
            if taken is None:
                prefix = f"{server.key}."
                taken = set(Tool.objects.filter(key__startswith=prefix).values_list("key", flat=True))
            tool = Tool(
                key=_mcp_tool_key(server, item.name, taken),
                name=(item.title or item.name)[:120],
                system=server.name[:120],
                mcp_server=server,
                mcp_name=item.name,
                mcp_change=McpToolChange.ADDED,
            )
            _apply_recorded(tool, observed)
            tool.full_clean()
            tool.save()
            summary["added"].append(item.name)
            continue
        if tool.mcp_removed_at is not None:
            # Back on the server. If the board had not yet accepted its removal and nothing else changed,
            # it is simply as approved again; otherwise the board looks at it anew.
            tool.mcp_removed_at = None
            if tool.mcp_change == McpToolChange.REMOVED and _recorded(tool) == observed:
                tool.mcp_change = McpToolChange.NONE
            else:
                tool.mcp_change = McpToolChange.ADDED
                _apply_recorded(tool, observed)
            summary["restored"].append(item.name)
        elif tool.mcp_approved_at is None or not approved_server:
            # Nothing approved to protect (a new tool, or a server the board must approve again as a
            # whole): the record follows the server, and the board sees it as it now is.
            if _recorded(tool) != observed:
                _apply_recorded(tool, observed)
                summary["changed"].append(item.name)
            tool.mcp_observed = None
            tool.mcp_change = McpToolChange.ADDED if tool.mcp_approved_at is None else McpToolChange.NONE
        elif _recorded(tool) == observed:
            if tool.mcp_change == McpToolChange.CHANGED:
                summary["restored"].append(item.name)
            tool.mcp_change, tool.mcp_observed = McpToolChange.NONE, None
        else:
            if tool.mcp_observed != observed:
                summary["changed"].append(item.name)
            tool.mcp_change, tool.mcp_observed = McpToolChange.CHANGED, observed
        tool.full_clean()
        tool.save()
    for name, tool in existing.items():
        if name in seen or tool.mcp_removed_at is not None:
            continue
        summary["removed"].append(name)
        if tool.mcp_approved_at is None and _forget_unapproved(tool):
            continue
        tool.mcp_removed_at = now
        tool.mcp_change, tool.mcp_observed = McpToolChange.REMOVED, None
        tool.full_clean()
        tool.save()


def _forget_unapproved(tool: Tool) -> bool:
    """A tool the board never approved that has left its server again leaves the catalog too, unless
    something already points at it (then it stays, marked removed)."""
    try:
        with transaction.atomic():
            tool.delete()
    except ProtectedError:
        return False
    return True


def approve_mcp_server(server: McpServer, *, actor: User, note: str = "") -> McpServer:
    """The governance board approves the server's tools as the last scan read them: new tools become
    grantable, changed tools take their new description, schema and hints (and the access those imply),
    removed tools stay out. Closes the ``mcp_tool_changed`` finding."""
    _ensure(is_board(actor), "Only the governance board approves MCP servers and their changes.")
    now = timezone.now()
    with transaction.atomic():
        current = McpServer.objects.select_for_update().get(pk=server.pk)
        if current.last_reached_at is None:
            raise ValidationError({"__all__": "Scan the server first: the board approves the tools a scan has read."})
        accepted: dict = {"added": [], "changed": [], "removed": []}
        first = current.approved_at is None
        for tool in Tool.objects.select_for_update().filter(mcp_server=current).exclude(mcp_change=""):
            if tool.mcp_change == McpToolChange.CHANGED:
                _apply_recorded(tool, tool.mcp_observed)
                accepted["changed"].append(tool.mcp_name)
            elif tool.mcp_change == McpToolChange.ADDED:
                accepted["added"].append(tool.mcp_name)
            else:
                accepted["removed"].append(tool.mcp_name)
            if tool.mcp_change != McpToolChange.REMOVED:
                tool.mcp_approved_at = now
            tool.mcp_change, tool.mcp_observed = McpToolChange.NONE, None
            tool.full_clean()
            tool.save()
        if not first and not any(accepted.values()):
            raise ValidationError({"__all__": "Nothing is waiting for the board on this server."})
        current.approved_at = now
        current.approved_by = actor
        current.full_clean()
        current.save(update_fields=["approved_at", "approved_by"])
        audit.record(
            AuditEventType.MCP_SERVER_APPROVED,
            actor=actor,
            target=current,
            after={"first_approval": first, **{k: v for k, v in accepted.items() if v}, "note": note.strip()},
        )
        for listener in hooks.mcp_server_listeners:
            listener(current, "approved")
    return current


def scan_due_mcp_servers(*, now: datetime | None = None, limit: int = 50) -> dict:
    """The scheduled rescan: claim each due server by moving its ``next_scan_at`` (a conditional update,
    so two workers never scan the same server), then scan it. One server's failure is its own record."""
    now = now or timezone.now()
    scanned = unreachable = 0
    due = list(
        McpServer.objects.due_for_scan(now).order_by("next_scan_at", "pk").values_list("pk", "next_scan_at")[:limit]
    )
    for pk, next_scan_at in due:
        claimed = (
            McpServer.objects.filter(pk=pk, next_scan_at=next_scan_at)
            if next_scan_at
            else McpServer.objects.filter(pk=pk, next_scan_at__isnull=True)
        )
        if not claimed.update(next_scan_at=now + timedelta(seconds=settings.MCP_SCAN_INTERVAL_SECONDS)):
            continue
        try:
            server = scan_mcp_server(McpServer.objects.get(pk=pk), actor=None, now=now)
        except Exception:  # one server's failure must not stop the others; it is due again next interval
            logger.exception("MCP server %s: the scheduled scan failed", pk)
            continue
        scanned += 1
        unreachable += server.scan_status == McpScanStatus.UNREACHABLE
    return {"scanned": scanned, "unreachable": unreachable}


# --- People, roles and tokens -------------------------------------------------------

USER_FIELDS = ("username", "first_name", "last_name", "email", "kind", "business_unit", "job_title", "is_active")


def create_user(
    *,
    actor: User | None,
    username: str,
    password: str | None = None,
    roles: Iterable[str] = (),
    **fields,
) -> User:
    """Create an account. ``actor=None`` only for set-up commands (demo, first administrator)."""
    if actor is not None:
        _ensure_global(actor, "registry.add_user", "Only platform administrators create accounts.")
    with transaction.atomic():
        user = User(username=username, **fields)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.full_clean(exclude=["password"])
        _save_unique(user, "username", "This username is taken.")
        audit.record(AuditEventType.USER_CREATED, actor=actor, target=user, after=audit.snapshot(user, USER_FIELDS))
        roles = list(roles)
        if roles:
            set_user_roles(user, roles, actor=actor)
    return user


EDITABLE_USER_FIELDS = ("first_name", "last_name", "email", "kind", "business_unit", "job_title")


def update_user(user: User, *, actor: User | None, **changes) -> User:
    """Change an account's profile facts. Roles and deactivation have their own services."""
    if actor is not None:
        _ensure_global(actor, "registry.change_user", "Only platform administrators change accounts.")
    unknown = set(changes) - set(EDITABLE_USER_FIELDS)
    if unknown:
        raise ValidationError({name: "This field cannot be changed here." for name in sorted(unknown)})
    with transaction.atomic():
        current = User.objects.select_for_update().get(pk=user.pk)
        before = audit.snapshot(current, EDITABLE_USER_FIELDS)
        for name, value in changes.items():
            setattr(current, name, value)
        if current.kind != UserKind.PERSON and current.owned_agents.exists():
            raise ValidationError(
                {"kind": f"{current.username} owns agents; transfer them before making this a service account."}
            )
        current.full_clean(exclude=["password"])
        changed_before, changed_after = audit.diff(before, audit.snapshot(current, EDITABLE_USER_FIELDS))
        if changed_after:
            current.save(update_fields=list(changed_after))
            audit.record(
                AuditEventType.USER_CHANGED, actor=actor, target=current, before=changed_before, after=changed_after
            )
    return current


def set_user_roles(user: User, roles: Iterable[str], *, actor: User | None) -> User:
    """Replace a user's role groups. Platform administrators also get access to the Django admin."""
    if actor is not None:
        _ensure_global(actor, "registry.change_user", "Only platform administrators change roles.")
    wanted = set(roles)
    unknown = wanted - set(Role.values)
    if unknown:
        raise ValidationError({"roles": f"Unknown role: {', '.join(sorted(unknown))}."})
    with transaction.atomic():
        before = sorted(user.groups.filter(name__in=Role.values).values_list("name", flat=True))
        groups = {group.name: group for group in Group.objects.filter(name__in=Role.values)}
        missing = wanted - set(groups)
        if missing:
            raise ValidationError({"roles": "Roles are not set up; run `manage.py migrate` first."})
        user.groups.remove(*[g for name, g in groups.items() if name not in wanted])
        user.groups.add(*[groups[name] for name in wanted])
        user.is_staff = Role.PLATFORM_ADMIN in wanted or user.is_superuser
        user.save(update_fields=["is_staff"])
        user.__dict__.pop("_role_names", None)
        after = sorted(wanted)
        if before != after:
            audit.record(
                AuditEventType.USER_ROLES_CHANGED,
                actor=actor,
                target=user,
                before={"roles": before},
                after={"roles": after},
            )
    return user


def deactivate_user(user: User, *, actor: User) -> User:
    """Switch an account off. Its agents become orphaned until ownership is transferred."""
    _ensure_global(actor, "registry.change_user", "Only platform administrators deactivate accounts.")
    with transaction.atomic():
        if not user.is_active:
            return user
        user.is_active = False
        user.save(update_fields=["is_active"])
        ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
        audit.record(
            AuditEventType.USER_DEACTIVATED,
            actor=actor,
            target=user,
            before={"is_active": True},
            after={"is_active": False, "orphaned_agents": list(user.owned_agents.values_list("key", flat=True))},
        )
    return user


PROFILE_FIELDS = ("first_name", "last_name", "email")


def update_user_profile(user: User, *, actor: User | None, **changes) -> User:
    """Change a person's name or e-mail address. ``actor=None``: copied from the identity provider at sign-in."""
    if actor is not None and actor.pk != user.pk:
        _ensure_global(actor, "registry.change_user", "Only platform administrators change other people's profiles.")
    unknown = set(changes) - set(PROFILE_FIELDS)
    if unknown:
        raise ValidationError({next(iter(sorted(unknown))): "This field cannot be changed here."})
    with transaction.atomic():
        before = audit.snapshot(user, PROFILE_FIELDS)
        for name, value in changes.items():
            setattr(user, name, value)
        user.full_clean(exclude=["password"], validate_unique=False)
        before, after = audit.diff(before, audit.snapshot(user, PROFILE_FIELDS))
        if after:
            user.save(update_fields=list(after))
            audit.record(AuditEventType.USER_CHANGED, actor=actor, target=user, before=before, after=after)
    return user


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create_api_token(
    user: User, *, actor: User | None, name: str, expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """Mint a personal API token. Returns the row and the raw token, which is never stored or shown again."""
    if actor is not None and actor.pk != user.pk:
        _ensure_global(actor, "registry.change_apitoken", "You may only create tokens for yourself.")
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Name the token after what will use it."})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "The expiry must be in the future."})
    if not user.is_active:
        raise ValidationError({"user": "Tokens cannot be created for a deactivated account."})
    raw = settings.API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken(user=user, name=name, prefix=raw[:12], digest=hash_token(raw), expires_at=expires_at)
        token.full_clean()
        token.save()
        audit.record(
            AuditEventType.API_TOKEN_CREATED,
            actor=actor,
            target=token,
            after={"user": user.pk, "name": name, "prefix": token.prefix, "expires_at": expires_at},
        )
    return token, raw


def revoke_api_token(token: ApiToken, *, actor: User) -> ApiToken:
    if actor.pk != token.user_id:
        _ensure_global(actor, "registry.change_apitoken", "You may only revoke your own tokens.")
    with transaction.atomic():
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            audit.record(
                AuditEventType.API_TOKEN_REVOKED, actor=actor, target=token, after={"revoked_at": token.revoked_at}
            )
    return token


# --- Directory sync (SCIM), roles from groups, deprovisioning and handovers ---------------------

SCIM_TOKEN_PREFIX = "scim_"  # noqa: S105 (a public prefix that tells SCIM tokens apart, not a secret)
DIRECTORY_FIELDS = ("external_id", "manager_scim_id", "department", "employee_number")
DIRECTORY_USER_FIELDS = ("username", "first_name", "last_name", "email", "job_title")


def _ensure_admin(actor, message: str) -> None:
    """``actor=None`` is the identity provider itself (a SCIM request with a valid token)."""
    if actor is not None:
        _ensure(actor.is_active and is_platform_admin(actor), message)


def create_scim_token(*, actor: User, name: str) -> tuple[ScimToken, str]:
    """Mint a bearer token for the identity provider. Returns the row and the raw token, shown once."""
    _ensure_admin(actor, "Only platform administrators create SCIM tokens.")
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Name the token after the identity provider that will use it."})
    raw = SCIM_TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ScimToken(name=name, prefix=raw[:12], digest=hash_token(raw), created_by=actor)
        token.full_clean()
        token.save()
        audit.record(
            DirectoryEventType.SCIM_TOKEN_CREATED,
            actor=actor,
            target=token,
            after={"name": name, "prefix": token.prefix},
        )
    return token, raw


def revoke_scim_token(token: ScimToken, *, actor: User) -> ScimToken:
    _ensure_admin(actor, "Only platform administrators revoke SCIM tokens.")
    with transaction.atomic():
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            audit.record(
                DirectoryEventType.SCIM_TOKEN_REVOKED, actor=actor, target=token, after={"revoked_at": token.revoked_at}
            )
    return token


def authenticate_scim_token(raw: str) -> ScimToken | None:
    """The live SCIM token ``raw`` names, stamped as used; None for anything else (personal API tokens too)."""
    if not raw or not raw.startswith(SCIM_TOKEN_PREFIX):
        return None
    token = ScimToken.objects.filter(digest=hash_token(raw), revoked_at__isnull=True).first()
    if token is not None:
        now = timezone.now()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            ScimToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def unit_for_department(department: str) -> BusinessUnit | None:
    """The business unit the directory's department names (by name or short name, any case)."""
    department = (department or "").strip()
    if not department:
        return None
    return (
        BusinessUnit.objects.filter(name__iexact=department).first()
        or BusinessUnit.objects.filter(slug__iexact=department).first()
    )


def provision_user(*, actor: User | None = None, active: bool = True, **facts) -> User:
    """Create a person from the directory (SCIM POST). ``facts``: username, first_name, last_name, email,
    job_title and the directory fields (external_id, manager_scim_id, department, employee_number)."""
    _ensure_admin(actor, "Only platform administrators provision people.")
    user_facts = {k: v for k, v in facts.items() if k in DIRECTORY_USER_FIELDS}
    directory_facts = {k: v or "" for k, v in facts.items() if k in DIRECTORY_FIELDS}
    with transaction.atomic():
        user = User(kind=UserKind.PERSON, is_active=active, **user_facts)
        user.business_unit = unit_for_department(directory_facts.get("department", ""))
        user.set_unusable_password()
        user.full_clean(exclude=["password"])
        _save_unique(user, "username", "This userName is taken.")
        entry = DirectoryEntry(user=user, **directory_facts)
        entry.full_clean(exclude=["user"])
        _save_unique(entry, "external_id", "Another person has this externalId.")
        audit.record(
            DirectoryEventType.USER_PROVISIONED,
            actor=actor,
            target=user,
            after={
                **audit.snapshot(user, USER_FIELDS),
                **audit.snapshot(entry, DIRECTORY_FIELDS),
                "scim_id": str(entry.scim_id),
            },
        )
    return user


def sync_directory_user(user: User, *, actor: User | None = None, active: bool | None = None, **facts) -> User:
    """Bring a provisioned person in step with the directory (SCIM PUT or PATCH): profile, directory fields,
    unit (from the department), and deprovisioning when ``active`` turns false. A person who moves unit
    keeps their agents; the move is recorded so those agents show "owner moved to another unit"."""
    _ensure_admin(actor, "Only platform administrators change people from the directory.")
    unknown = set(facts) - set(DIRECTORY_USER_FIELDS) - set(DIRECTORY_FIELDS)
    if unknown:
        raise ValidationError({name: "This field cannot be changed here." for name in sorted(unknown)})
    with transaction.atomic():
        current = User.objects.select_for_update().get(pk=user.pk)
        entry, _ = DirectoryEntry.objects.get_or_create(user=current)
        before = {
            **audit.snapshot(current, (*DIRECTORY_USER_FIELDS, "business_unit")),
            **audit.snapshot(entry, DIRECTORY_FIELDS),
        }
        for name, value in facts.items():
            if name in DIRECTORY_FIELDS:
                setattr(entry, name, value or "")
            else:
                setattr(current, name, value)
        if "department" in facts:
            unit = unit_for_department(entry.department)
            if unit is not None and unit.pk != current.business_unit_id:
                entry.previous_unit_id = current.business_unit_id
                entry.unit_changed_at = timezone.now()
                current.business_unit = unit
        current.full_clean(exclude=["password"])
        entry.full_clean(exclude=["user"])
        after = {
            **audit.snapshot(current, (*DIRECTORY_USER_FIELDS, "business_unit")),
            **audit.snapshot(entry, DIRECTORY_FIELDS),
        }
        changed_before, changed_after = audit.diff(before, after)
        if changed_after:
            _save_unique(current, "username", "This userName is taken.")
            _save_unique(entry, "external_id", "Another person has this externalId.")
            event = (
                DirectoryEventType.USER_MOVED_UNIT
                if "business_unit" in changed_after
                else DirectoryEventType.USER_SYNCED
            )
            audit.record(event, actor=actor, target=current, before=changed_before, after=changed_after)
        if active is False and current.is_active:
            deprovision_user(current, actor=actor)
            current.refresh_from_db()
        elif active is True and not current.is_active:
            reactivate_user(current, actor=actor)
            current.refresh_from_db()
    return current


def reactivate_user(user: User, *, actor: User | None = None) -> User:
    """The directory switches a person back on. Their former agents stay with whoever took them over."""
    _ensure_admin(actor, "Only platform administrators reactivate accounts.")
    with transaction.atomic():
        updated = User.objects.filter(pk=user.pk, is_active=False).update(is_active=True)
        if updated:
            audit.record(
                AuditEventType.USER_CHANGED,
                actor=actor,
                target=user,
                before={"is_active": False},
                after={"is_active": True},
            )
    return user


def _handover_target(user: User, agent: Agent, manager: User | None) -> tuple[User | None, str]:
    if manager is not None:
        return manager, HandoverBasis.MANAGER
    head = agent.business_unit.head
    if head is not None and head.pk != user.pk and head.is_active and head.kind == UserKind.PERSON:
        return head, HandoverBasis.UNIT_HEAD
    return None, HandoverBasis.NONE


def directory_manager(user: User) -> User | None:
    """The person the directory names as ``user``'s manager, if they are an active person here."""
    entry = DirectoryEntry.objects.filter(user=user).only("manager_scim_id").first()
    if entry is None or not entry.manager_scim_id:
        return None
    try:
        scim_id = uuid.UUID(entry.manager_scim_id)
    except ValueError:
        return None
    manager = User.objects.filter(directory__scim_id=scim_id, is_active=True, kind=UserKind.PERSON).first()
    return manager if manager is not None and manager.pk != user.pk else None


def deprovision_user(user: User, *, actor: User | None = None) -> list[HandoverProposal]:
    """The directory removed a person (``active: false`` or DELETE). In one transaction and a constant number
    of queries, whatever the number of agents: the account is deactivated and its tokens revoked; every
    delegation it held is removed; each agent it owns gets a handover proposal to its manager, else the
    agent's unit head; the ``orphaned_owner`` findings open (through ``hooks.owner_deprovisioned_listeners``).
    Nothing is deleted: the account, its agents and the audit trail keep the name."""
    _ensure_admin(actor, "Only platform administrators deprovision people.")
    with transaction.atomic():
        current = User.objects.select_for_update().get(pk=user.pk)
        if not current.is_active:
            return []
        now = timezone.now()
        current.is_active = False
        current.save(update_fields=["is_active"])
        ApiToken.objects.filter(user=current, revoked_at__isnull=True).update(revoked_at=now)
        # Delegations: rows and their object permissions, in two statements.
        delegated = list(
            AgentDelegate.objects.filter(user=current).select_related("agent").values_list("agent_id", "agent__key")
        )
        if delegated:
            AgentDelegate.objects.filter(user=current).delete()
            AgentUserObjectPermission.objects.filter(
                user=current,
                content_object_id__in=[agent_id for agent_id, _ in delegated],
                permission__codename__in=DELEGATE_PERMISSIONS,
            ).delete()
        # Proposals addressed to this person can no longer be answered: the board reassigns them.
        HandoverProposal.objects.filter(proposed_to=current, status=HandoverStatus.PENDING).update(
            status=HandoverStatus.DECLINED, decided_at=now, note="The proposed person was deprovisioned."
        )
        manager = directory_manager(current)
        agents = list(
            current.owned_agents.exclude(lifecycle=Lifecycle.RETIRED)
            .select_related("business_unit__head")
            .order_by("pk")
        )
        proposals = []
        for agent in agents:
            target, basis = _handover_target(current, agent, manager)
            proposals.append(
                HandoverProposal(agent=agent, from_owner=current, proposed_to=target, basis=basis, created_at=now)
            )
        # A pending proposal left from an earlier owner is superseded by this one.
        HandoverProposal.objects.filter(agent__in=[a.pk for a in agents], status=HandoverStatus.PENDING).update(
            status=HandoverStatus.CLOSED, decided_at=now, note="Superseded: the owner was deprovisioned."
        )
        HandoverProposal.objects.bulk_create(proposals)
        entries = [
            audit.Entry(
                DirectoryEventType.USER_DEPROVISIONED,
                target=current,
                before={"is_active": True},
                after={
                    "is_active": False,
                    "orphaned_agents": [agent.key for agent in agents],
                    "delegations_removed": [key for _, key in delegated],
                },
            )
        ]
        entries += [
            audit.Entry(
                DirectoryEventType.HANDOVER_PROPOSED,
                target=agent,
                after={
                    "from_owner": current.pk,
                    "from_owner_name": str(current),
                    "proposed_to": proposal.proposed_to_id,
                    "proposed_to_name": str(proposal.proposed_to) if proposal.proposed_to else "",
                    "basis": proposal.basis,
                },
            )
            for agent, proposal in zip(agents, proposals, strict=True)
        ]
        entries += [
            audit.Entry(
                AuditEventType.AGENT_DELEGATE_REVOKED,
                target=Agent(pk=agent_id, key=key, name=key),
                before={"delegate": current.pk, "delegate_name": str(current)},
                after={"reason": "deprovisioned by the directory"},
            )
            for agent_id, key in delegated
        ]
        audit.record_many(entries, actor=actor)
        agent_ids = [agent.pk for agent in agents]
        for listener in hooks.owner_deprovisioned_listeners:
            listener(current, agent_ids, actor)
        recipients = {p.proposed_to.email: p.proposed_to for p in proposals if p.proposed_to and p.proposed_to.email}
        if recipients:
            transaction.on_commit(lambda: _mail_handover_proposals(current, list(recipients.values())))
    return proposals


def _mail_handover_proposals(former_owner: User, people: list[User]) -> None:
    from registry.mail import send_after_commit

    for person in people:
        send_after_commit(
            f"Agents of {former_owner} are proposed to you",
            f"{former_owner} has left. Some of the agents they owned are proposed to you; accept or decline them at "
            f"{settings.SITE_URL}/handovers/.",
            person.email,
        )


def _lock_pending_proposal(proposal: HandoverProposal) -> HandoverProposal:
    current = HandoverProposal.objects.select_for_update(of=("self",)).select_related("agent").get(pk=proposal.pk)
    if current.status != HandoverStatus.PENDING:
        raise ValidationError({"status": f"This proposal is already {current.get_status_display().lower()}."})
    return current


def accept_handover(proposal: HandoverProposal, *, actor: User) -> HandoverProposal:
    """The proposed person takes the agent over: ownership moves to them, audited."""
    with transaction.atomic():
        current = _lock_pending_proposal(proposal)
        _ensure(current.proposed_to_id == actor.pk, "Only the person the agent is proposed to may accept it.")
        agent = Agent.objects.select_for_update().get(pk=current.agent_id)
        if agent.owner_id == current.from_owner_id:
            _move_ownership(agent, actor, actor=actor, reason="Handover accepted after the owner left.")
        current.status = HandoverStatus.ACCEPTED
        current.decided_at = timezone.now()
        current.decided_by = actor
        current.full_clean()
        current.save()
        audit.record(DirectoryEventType.HANDOVER_ACCEPTED, actor=actor, target=agent, after={"proposal": current.pk})
    return current


def decline_handover(proposal: HandoverProposal, *, actor: User, note: str = "") -> HandoverProposal:
    """The proposed person declines; the board then reassigns the agent."""
    with transaction.atomic():
        current = _lock_pending_proposal(proposal)
        _ensure(current.proposed_to_id == actor.pk, "Only the person the agent is proposed to may decline it.")
        current.status = HandoverStatus.DECLINED
        current.decided_at = timezone.now()
        current.decided_by = actor
        current.note = (note or "").strip()
        current.full_clean()
        current.save()
        audit.record(
            DirectoryEventType.HANDOVER_DECLINED,
            actor=actor,
            target=current.agent,
            after={"proposal": current.pk, "note": current.note},
        )
    return current


def reassign_handover(proposal: HandoverProposal, new_person: User, *, actor: User, note: str = "") -> HandoverProposal:
    """The board proposes the agent to someone else: the old proposal is closed as reassigned and a new one
    opens for ``new_person``, who then accepts or declines."""
    _ensure(is_board(actor) or is_platform_admin(actor), "Only the governance board reassigns handovers.")
    validate_owner(new_person, field="proposed_to")
    with transaction.atomic():
        current = HandoverProposal.objects.select_for_update().select_related("agent").get(pk=proposal.pk)
        if current.status not in (HandoverStatus.PENDING, HandoverStatus.DECLINED):
            raise ValidationError({"status": f"This proposal is already {current.get_status_display().lower()}."})
        if current.agent.owner_id != current.from_owner_id:
            raise ValidationError({"proposed_to": "The agent has a new owner already."})
        if new_person.pk == current.from_owner_id:
            raise ValidationError({"proposed_to": "Choose someone other than the former owner."})
        now = timezone.now()
        if current.status == HandoverStatus.PENDING:
            current.status = HandoverStatus.REASSIGNED
            current.decided_at = now
            current.decided_by = actor
            current.save(update_fields=["status", "decided_at", "decided_by"])
        elif HandoverProposal.objects.filter(agent=current.agent, status=HandoverStatus.PENDING).exists():
            raise ValidationError({"proposed_to": "The agent has a pending proposal already."})
        fresh = HandoverProposal(
            agent=current.agent,
            from_owner_id=current.from_owner_id,
            proposed_to=new_person,
            basis=HandoverBasis.BOARD,
            note=(note or "").strip(),
            created_at=now,
        )
        fresh.full_clean()
        fresh.save()
        audit.record(
            DirectoryEventType.HANDOVER_REASSIGNED,
            actor=actor,
            target=current.agent,
            before={"proposed_to": current.proposed_to_id},
            after={"proposed_to": new_person.pk, "proposed_to_name": str(new_person), "proposal": fresh.pk},
        )
    return fresh


def roles_from_groups(user: User) -> set[str]:
    """The roles the mapping table gives a person through their directory groups."""
    names = [name.lower() for name in user.directory_groups.values_list("display_name", flat=True)]
    if not names:
        return set()
    return set(
        GroupRoleMapping.objects.annotate(lname=Lower("group_name"))
        .filter(lname__in=names)
        .values_list("role", flat=True)
    )


def sync_roles_from_groups(users: Iterable[User], *, actor: User | None = None) -> None:
    """Roles follow groups: each provisioned person's roles become exactly those their groups map to."""
    for user in users:
        if hasattr(user, "directory") or DirectoryEntry.objects.filter(user=user).exists():
            set_user_roles(user, roles_from_groups(user), actor=actor)


def save_directory_group(
    group: DirectoryGroup | None,
    *,
    actor: User | None = None,
    display_name: str,
    external_id: str = "",
    members: Iterable[User] | None = None,
) -> DirectoryGroup:
    """Create or replace a directory group (SCIM POST/PUT/PATCH); roles of members who joined or left follow."""
    _ensure_admin(actor, "Only platform administrators change directory groups.")
    with transaction.atomic():
        current = DirectoryGroup() if group is None else DirectoryGroup.objects.select_for_update().get(pk=group.pk)
        before_members = set() if group is None else set(current.members.values_list("pk", flat=True))
        before = {"display_name": current.display_name, "external_id": current.external_id}
        current.display_name = (display_name or "").strip()
        current.external_id = external_id or ""
        current.full_clean()
        _save_unique(current, "display_name", "A group with this displayName exists already.")
        after_members = before_members
        if members is not None:
            wanted = list(members)
            current.members.set(wanted)
            after_members = {u.pk for u in wanted}
        after = {"display_name": current.display_name, "external_id": current.external_id}
        changed_before, changed_after = audit.diff(before, after)
        joined, left = sorted(after_members - before_members), sorted(before_members - after_members)
        if changed_after or joined or left or group is None:
            audit.record(
                DirectoryEventType.GROUP_CHANGED,
                actor=actor,
                target=current,
                before=changed_before,
                after={**changed_after, "joined": joined, "left": left},
            )
        touched = User.objects.filter(pk__in=[*joined, *left])
        if group is not None and "display_name" in changed_after:
            touched = User.objects.filter(pk__in=after_members | before_members)
        sync_roles_from_groups(touched, actor=None)
    return current


def delete_directory_group(group: DirectoryGroup, *, actor: User | None = None) -> None:
    """The directory removed a group: its members lose the roles it gave them."""
    _ensure_admin(actor, "Only platform administrators change directory groups.")
    with transaction.atomic():
        member_ids = list(group.members.values_list("pk", flat=True))
        audit.record(
            DirectoryEventType.GROUP_DELETED,
            actor=actor,
            target=group,
            before={"display_name": group.display_name, "members": member_ids},
        )
        group.delete()
        sync_roles_from_groups(User.objects.filter(pk__in=member_ids))


def map_group_to_role(*, actor: User, group_name: str, role: str) -> GroupRoleMapping:
    """An administrator maps a directory group to a role; its members get the role at once."""
    _ensure(actor is not None and is_platform_admin(actor), "Only platform administrators map groups to roles.")
    group_name = (group_name or "").strip()
    if role not in Role.values:
        raise ValidationError({"role": f"Choose one of: {', '.join(Role.values)}."})
    with transaction.atomic():
        mapping = GroupRoleMapping(group_name=group_name, role=role)
        mapping.full_clean()
        _save_unique(mapping, "group_name", "This group is mapped to this role already.")
        audit.record(
            DirectoryEventType.GROUP_ROLE_MAPPED,
            actor=actor,
            target=mapping,
            after={"group_name": group_name, "role": role},
        )
        sync_roles_from_groups(User.objects.filter(directory_groups__display_name__iexact=group_name))
    return mapping


def unmap_group_role(mapping: GroupRoleMapping, *, actor: User) -> None:
    _ensure(actor is not None and is_platform_admin(actor), "Only platform administrators map groups to roles.")
    with transaction.atomic():
        audit.record(
            DirectoryEventType.GROUP_ROLE_UNMAPPED,
            actor=actor,
            target=mapping,
            before={"group_name": mapping.group_name, "role": mapping.role},
        )
        name = mapping.group_name
        mapping.delete()
        sync_roles_from_groups(User.objects.filter(directory_groups__display_name__iexact=name))


def retire_agent(agent: Agent, *, actor: User | None, reason: str) -> Agent:
    """Retire an agent and revoke its delegations; its history stays. Used by dormant-agent findings and
    attestation answers. Upper layers end what still runs for it through ``hooks.agent_retired_listeners``."""
    with transaction.atomic():
        current = transition_agent(agent, Lifecycle.RETIRED, actor=actor, reason=reason)
        delegates = list(AgentDelegate.objects.filter(agent=current).select_related("user"))
        for delegation in delegates:
            for perm in DELEGATE_PERMISSIONS:
                remove_perm(perm, delegation.user, current)
        AgentDelegate.objects.filter(agent=current).delete()
        if delegates:
            audit.record(
                AuditEventType.AGENT_DELEGATE_REVOKED,
                actor=actor,
                target=current,
                before={
                    "delegates": [d.user_id for d in delegates],
                    "delegate_names": [str(d.user) for d in delegates],
                },
                after={"reason": "The agent was retired."},
            )
        HandoverProposal.objects.filter(agent=current, status=HandoverStatus.PENDING).update(
            status=HandoverStatus.CLOSED, decided_at=timezone.now(), note="The agent was retired."
        )
        for listener in hooks.agent_retired_listeners:
            listener(current, actor)
    return current


# --- Registration as code -----------------------------------------------------------

MANIFEST_REASON = "Applied from the agent's manifest."


class ManifestsRefused(Exception):
    """Applying manifests was refused: nothing was written. ``errors`` lists each manifest's field messages."""

    def __init__(self, errors: list[dict], *, forbidden: bool = False):
        super().__init__("The manifests were refused.")
        self.errors = errors
        self.forbidden = forbidden


def _error_messages(exc: ValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {
            ("non_field_errors" if name == "__all__" else name): [str(m) for e in errs for m in e.messages]
            for name, errs in exc.error_dict.items()
        }
    return {"non_field_errors": [str(m) for m in exc.messages]}


def apply_manifests(documents: list, *, actor: User, dry_run: bool = False) -> list:
    """Bring the registry in line with agent manifests, all of them or none, and return the plan.

    Each change goes through the ordinary service (create, update, transfer, transition, new
    version), audited as ``actor``, so the owner rule, the lifecycle moves and the release gate
    all hold. A dry run does exactly the same inside the transaction and then rolls it back, so
    the plan it returns is one that applying would carry out. Applying the same manifests twice
    changes nothing the second time.
    """
    from registry import manifests

    if not isinstance(documents, list) or not documents:
        raise ValidationError({"manifests": "Send at least one manifest."})
    if len(documents) > manifests.MAX_MANIFESTS:
        raise ValidationError({"manifests": f"Send at most {manifests.MAX_MANIFESTS} manifests at a time."})
    plans = manifests.plan(documents, user=actor)
    forbidden = False
    with transaction.atomic():
        tools = {t.key: t for t in Tool.objects.for_user(actor, "view").filter(
            key__in={key for item in plans for v in item.versions for key, _ in v.grants})}  # fmt: skip
        for item in plans:
            if item.errors or item.action == "unchanged":
                continue
            try:
                with transaction.atomic():
                    _apply_manifest(item, actor, tools)
            except ValidationError as exc:
                for name, messages in _error_messages(exc).items():
                    item.errors.setdefault(name, []).extend(messages)
            except PermissionDenied as exc:
                forbidden = True
                item.errors.setdefault("non_field_errors", []).append(str(exc))
        errors = [{"manifest": item.index, "key": item.key, "errors": item.errors} for item in plans if item.errors]
        if errors:
            transaction.set_rollback(True)
            raise ManifestsRefused(errors, forbidden=forbidden)
        if dry_run:
            transaction.set_rollback(True)
    return plans


def _apply_manifest(item, actor: User, tools: dict[str, Tool]) -> None:
    values = dict(item.values)
    owner = values.pop("owner")
    lifecycle = values.pop("lifecycle", None)
    agent = item.agent
    if agent is None:
        agent = create_agent(actor=actor, owner=owner, key=item.key, **values)
    else:
        changed = {name: values[name] for name in item.changes if name in values}
        if changed:
            agent = update_agent(agent, actor=actor, **changed)
    for version in item.versions:
        if version.action == "create":
            create_version(
                agent,
                actor=actor,
                tools=[(tools[key], access) for key, access in version.grants],
                label=version.label,
                **version.fields,
            )
    if lifecycle and lifecycle != agent.lifecycle:
        agent = transition_agent(agent, lifecycle, actor=actor, reason=MANIFEST_REASON)
    if owner is not None and owner.pk != agent.owner_id:
        transfer_ownership(agent, owner, actor=actor, reason=MANIFEST_REASON)


# --- A2A Agent Cards ------------------------------------------------------------------

CARD_FIELDS = ("name", "description", "objective", "endpoint_url", "capabilities")


def trust_card_key(*, actor: User, provider: str, kid: str, public_jwk: dict) -> TrustedCardKey:
    """Trust a provider's public key for signed agent cards (administrators only)."""
    from jwcrypto import jwk as jwcrypto_jwk

    _ensure_global(actor, "registry.add_trustedcardkey", "Only platform administrators trust signing keys.")
    provider, kid = (provider or "").strip(), (kid or "").strip()
    errors = {}
    if not provider:
        errors["provider"] = "Name the provider exactly as its cards do (provider.organization)."
    if not kid:
        errors["kid"] = "Give the key id its signatures name."
    try:
        key = jwcrypto_jwk.JWK(**(public_jwk or {}))
        if key.has_private:
            errors["public_jwk"] = "This is a private key; give only the public part."
    except Exception:  # noqa: BLE001 (jwcrypto raises several unrelated types for a malformed key)
        errors["public_jwk"] = "This is not a JSON Web Key."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        row = TrustedCardKey(provider=provider, kid=kid, public_jwk=public_jwk, added_by=actor)
        row.full_clean(validate_constraints=False)
        _save_unique(row, "kid", "This provider already has a trusted key with this id.")
        audit.record("card_key.trusted", actor=actor, target=row, after={"provider": provider, "kid": kid})
    return row


def read_card(data, *, source_url: str = ""):
    """Parse a card and check its signatures against the keys trusted for its provider.

    Returns (parsed card, signature status, key id). A card whose signature does not match a
    trusted key was changed after signing: refused."""
    from registry import cards

    parsed = cards.parse_card(data)
    keys = {
        k.kid: k.public_jwk
        for k in TrustedCardKey.objects.filter(provider=parsed.provider, revoked_at__isnull=True)
        if parsed.provider
    }
    status, kid = cards.verify_signatures(parsed.raw, keys)
    if status == cards.SignatureStatus.INVALID:
        raise ValidationError(
            {
                "card": "The card's signature does not match its contents under the provider's trusted key: "
                "it was changed after signing. Refused."
            }  # fmt: skip
        )
    return parsed, status, kid


def _card_values(parsed) -> dict:
    return {
        "name": parsed.name,
        "description": parsed.description,
        "objective": parsed.description[:4000],
        "endpoint_url": parsed.endpoint_url,
        "capabilities": parsed.skills,
    }


def register_agent_from_card(card_data, *, actor: User, owner: User | None, source_url: str = "", **fields) -> Agent:
    """Register an agent from its A2A Agent Card: the card gives its name, purpose, skills (as the
    agent's capabilities) and endpoint; the person registering gives key, owner, unit and classification."""
    parsed, status, kid = read_card(card_data, source_url=source_url)
    values = _card_values(parsed)
    with transaction.atomic():
        agent = create_agent(
            actor=actor,
            owner=owner,
            name=values["name"],
            description=values["description"],
            objective=fields.pop("objective", "") or values["objective"],
            **fields,
        )
        agent.capabilities, agent.endpoint_url = values["capabilities"], values["endpoint_url"]
        _clean_only(agent, ("endpoint_url",))
        agent.save(update_fields=["capabilities", "endpoint_url"])
        card = AgentCard(
            agent=agent,
            spec_version=parsed.spec_version,
            source_url=source_url,
            card=parsed.raw,
            provider=parsed.provider,
            signature=status,
            signed_with=kid,
            imported_at=timezone.now(),
            imported_by=actor,
        )
        card.full_clean(validate_constraints=False)
        card.save()
        audit.record(
            "agent.card_imported",
            actor=actor,
            target=agent,
            after={
                "spec_version": parsed.spec_version,
                "source_url": source_url,
                "signature": status,
                "endpoint_url": parsed.endpoint_url,
                "skills": [s["id"] for s in parsed.skills],
            },
        )
    return agent


def card_diff(agent: Agent, card_data) -> dict:
    """What a card would change on the agent: per field old and new; skills as added, removed, changed."""
    parsed, _status, _kid = read_card(card_data)
    values = _card_values(parsed)
    diff = {}
    for name in ("name", "description", "endpoint_url"):
        if getattr(agent, name) != values[name]:
            diff[name] = {"old": getattr(agent, name), "new": values[name]}
    old = {s["id"]: s for s in agent.capabilities or []}
    new = {s["id"]: s for s in values["capabilities"]}
    skills = {
        "added": sorted(set(new) - set(old)),
        "removed": sorted(set(old) - set(new)),
        "changed": sorted(k for k in set(old) & set(new) if old[k] != new[k]),
    }
    if any(skills.values()):
        diff["skills"] = skills
    return diff


def propose_card(agent: Agent, card_data, *, actor: User, source_url: str = "") -> AgentCard:
    """Keep a re-imported card beside the agent until its owner confirms it; nothing changes yet."""
    _ensure(can_change_agent(actor, agent), "You may not import a card for this agent.")
    parsed, status, kid = read_card(card_data, source_url=source_url)
    now = timezone.now()
    with transaction.atomic():
        card = AgentCard.objects.select_for_update().filter(agent=agent).first()
        if card is None:
            card = AgentCard(agent=agent, spec_version=parsed.spec_version, card={}, imported_at=now, imported_by=actor)
        card.pending_card = parsed.raw
        card.pending_source_url = source_url
        card.pending_signature = status
        card.pending_signed_with = kid
        card.pending_at = now
        card.pending_by = actor
        card.full_clean(validate_constraints=False)
        card.save()
        audit.record(
            "agent.card_proposed",
            actor=actor,
            target=agent,
            after={"source_url": source_url, "signature": status, "changes": card_diff(agent, parsed.raw)},
        )
    return card


def confirm_card(agent: Agent, *, actor: User) -> Agent:
    """The owner accepts the re-imported card: the agent takes its name, purpose, skills and endpoint."""
    _ensure(can_manage_agent(actor, agent), "Only the agent's owner or an administrator confirms its card.")
    with transaction.atomic():
        card = AgentCard.objects.select_for_update().filter(agent=agent, pending_card__isnull=False).first()
        if card is None:
            raise ValidationError({"card": "No imported card is waiting for confirmation."})
        parsed, status, kid = read_card(card.pending_card, source_url=card.pending_source_url)
        current = Agent.objects.select_for_update().get(pk=agent.pk)
        values = _card_values(parsed)
        before = audit.snapshot(current, CARD_FIELDS)
        for name in ("name", "description", "endpoint_url", "capabilities"):
            setattr(current, name, values[name])
        _clean_only(current, ("name", "description", "endpoint_url"))
        current.row_version += 1
        current.save()
        card.spec_version, card.card, card.provider = parsed.spec_version, parsed.raw, parsed.provider
        card.source_url, card.signature, card.signed_with = card.pending_source_url, status, kid
        card.imported_at, card.imported_by = timezone.now(), actor
        card.pending_card, card.pending_source_url, card.pending_signature = None, "", ""
        card.pending_signed_with, card.pending_at, card.pending_by = "", None, None
        card.save()
        changed_before, changed_after = audit.diff(before, audit.snapshot(current, CARD_FIELDS))
        audit.record(
            "agent.card_changed",
            actor=actor,
            target=current,
            before=changed_before,
            after={**changed_after, "signature": status, "source_url": card.source_url},
        )
    return current


def discard_card(agent: Agent, *, actor: User) -> None:
    """Drop a re-imported card the owner does not accept."""
    _ensure(can_change_agent(actor, agent), "You may not change this agent's card.")
    with transaction.atomic():
        updated = AgentCard.objects.filter(agent=agent, pending_card__isnull=False).update(
            pending_card=None, pending_source_url="", pending_signature="", pending_signed_with="",
            pending_at=None, pending_by=None,
        )  # fmt: skip
        if updated:
            audit.record("agent.card_discarded", actor=actor, target=agent)


# --- Bulk import ------------------------------------------------------------------------


def import_agents(name: str, content: bytes, *, actor: User, dry_run: bool = False):
    """Register every agent of a CSV or Excel file, all of them or none.

    The dry run checks every row and names each error by row and column; importing checks again
    and, only when no row has an error, inserts all agents, their owners' rights and their audit
    entries in bulk within one transaction (the database constraints still hold on every row).
    """
    from registry import bulk

    _ensure(can_register_agents(actor), "Only people and administrators may register agents.")
    rows = bulk.read_rows(name, content)
    if not rows:
        raise ValidationError({"file": "The file has no rows below its header."})
    checked = bulk.check_rows(rows, actor=actor)
    if checked.errors or dry_run:
        return checked
    agents = checked.agents
    with transaction.atomic():
        try:
            with transaction.atomic():
                Agent.objects.bulk_create(agents, batch_size=1000)
        except IntegrityError as exc:
            raise ValidationError(
                {
                    "file": "The database refused a row (another agent with one of these keys was just registered, "
                    "or a rule between columns); check the file again."
                }  # fmt: skip
            ) from exc
        permission_ids = list(
            Permission.objects.filter(content_type__app_label="registry", codename__in=OWNER_PERMISSIONS).values_list(
                "pk", flat=True
            )
        )
        # The owners' object rights in one statement, straight from the rows just inserted.
        table = AgentUserObjectPermission._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (permission_id, user_id, content_object_id) "  # noqa: S608 (names, not input)
                f"SELECT p.id, a.owner_id, a.id FROM {Agent._meta.db_table} a, auth_permission p "
                "WHERE a.id IN (SELECT value FROM json_each(%s)) AND p.id IN (SELECT value FROM json_each(%s))"
                if connection.vendor == "sqlite"
                else f"INSERT INTO {table} (permission_id, user_id, content_object_id) "  # noqa: S608
                f"SELECT p.id, a.owner_id, a.id FROM {Agent._meta.db_table} a, auth_permission p "
                "WHERE a.id = ANY(%s) AND p.id = ANY(%s)",
                [json.dumps([a.pk for a in agents]), json.dumps(permission_ids)]
                if connection.vendor == "sqlite"
                else [[a.pk for a in agents], permission_ids],
            )
        audit.record_many(
            [
                audit.Entry(
                    AuditEventType.AGENT_CREATED, agent, after={**bulk.audit_facts(agent), "imported_from": name}
                )
                for agent in agents
            ],
            actor=actor,
        )
        for listener in hooks.agent_created_listeners:
            if hasattr(listener, "bulk"):
                listener.bulk(agents, actor)
            else:
                for agent in agents:
                    listener(agent, actor)
    return checked


# --- Stops ----------------------------------------------------------------------------

STOP_TARGET_MODELS = {
    StopScope.AGENT: Agent,
    StopScope.BUSINESS_UNIT: BusinessUnit,
    StopScope.TOOL: Tool,
    StopScope.MCP_SERVER: McpServer,
}


def can_stop(user, scope: str, target) -> bool:
    """An agent: its owner, delegates, the board and administrators. Anything wider: board and administrators."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if is_board(user) or is_platform_admin(user):
        return True
    return scope == StopScope.AGENT and isinstance(target, Agent) and can_change_agent(user, target)


def can_lift_stop(user) -> bool:
    return user is not None and user.is_authenticated and user.is_active and (is_board(user) or is_platform_admin(user))


def _stop_snapshot(stop: Stop) -> dict:
    return {
        "scope": stop.scope,
        "target": stop.target_key,
        "reason": stop.reason,
        "started_at": stop.started_at,
        "lifted_at": stop.lifted_at,
        "lift_reason": stop.lift_reason,
    }


def start_stop(scope: str, target, *, actor: User, reason: str) -> Stop:
    """Put a stop in force: every runtime decision it covers is refused from now on (reason ``stopped``).

    ``target`` is an Agent, BusinessUnit, Tool or McpServer, or a pattern value for a pattern stop.
    Nothing about the agents changes: no lifecycle move, no history rewritten. Listeners in
    ``hooks.stop_listeners`` (the runtime snapshot, the ``agent.stopped`` webhook) run in the same
    transaction; what they send goes after commit.
    """
    if scope not in StopScope.values:
        raise ValidationError({"scope": f"{scope!r} is not a stop scope; use one of {', '.join(StopScope.values)}."})
    if scope == StopScope.PATTERN:
        if target not in Pattern.values:
            raise ValidationError({"target": f"{target!r} is not a pattern."})
    elif not isinstance(target, STOP_TARGET_MODELS[scope]):
        raise ValidationError({"target": f"A {StopScope(scope).label.lower()} stop needs a {scope.replace('_', ' ')}."})
    _ensure(
        can_stop(actor, scope, target),
        "Only the agent's owner, a delegate, the governance board or an administrator may stop an agent; "
        "wider stops are for the board and administrators.",
    )
    return _start_stop(scope, target, actor=actor, reason=reason)


def stop_agent_by_policy(agent: Agent, *, reason: str) -> Stop | None:
    """Stop one agent on the system's authority, where a policy the board set says so (an attestation
    campaign's enforcement). Audited as the system; None when a stop of the agent is in force already."""
    if Stop.objects.in_force().filter(scope=StopScope.AGENT, agent=agent).exists():
        return None
    return _start_stop(StopScope.AGENT, agent, actor=None, reason=reason)


def _start_stop(scope: str, target, *, actor: User | None, reason: str) -> Stop:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why you stop it; the reason is shown to everyone it affects."})
    with transaction.atomic():
        stop = Stop(scope=scope, reason=reason, started_by=actor, started_at=timezone.now())
        if scope == StopScope.PATTERN:
            stop.pattern = target
        else:
            setattr(stop, scope, target)
        stop.full_clean(validate_constraints=False)
        try:
            with transaction.atomic():
                stop.save()
        except IntegrityError as exc:
            raise ValidationError({"target": f"The {stop.target_label} is already stopped."}) from exc
        audit.record(
            AuditEventType.STOP_STARTED,
            actor=actor,
            target=stop,
            agent=target if scope == StopScope.AGENT else None,
            after=_stop_snapshot(stop),
        )
        for listener in hooks.stop_listeners:
            listener(stop, "started", actor)
    return stop


def stop_agent(agent: Agent, *, actor: User, reason: str) -> Stop:
    """Stop one agent everywhere at once (see :func:`start_stop`)."""
    return start_stop(StopScope.AGENT, agent, actor=actor, reason=reason)


def lift_stop(stop: Stop, *, actor: User, reason: str) -> Stop:
    """End a stop (board or administrator, with a reason). The agents it covered are exactly as before."""
    _ensure(can_lift_stop(actor), "Only the governance board or an administrator may lift a stop.")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"lift_reason": "Say why the stop can end; the reason is kept with it."})
    with transaction.atomic():
        current = Stop.objects.select_for_update().get(pk=stop.pk)
        if current.lifted_at is not None:
            raise Conflict("This stop was already lifted.")
        current.lifted_at = timezone.now()
        current.lifted_by = actor
        current.lift_reason = reason
        current.full_clean(validate_constraints=False)
        current.save(update_fields=["lifted_at", "lifted_by", "lift_reason"])
        audit.record(
            AuditEventType.STOP_LIFTED,
            actor=actor,
            target=current,
            agent=current.agent if current.scope == StopScope.AGENT else None,
            before={"lifted_at": None},
            after=_stop_snapshot(current),
        )
        for listener in hooks.stop_listeners:
            listener(current, "lifted", actor)
    return current
