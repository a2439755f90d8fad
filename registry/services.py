"""Every write to the registry goes through these functions.

Each runs in one transaction, validates with ``full_clean()``, checks that the
actor may do it, writes its audit entry in the same transaction and returns the
changed instance. Pages, the API, the admin and commands all call them.
"""

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm

from registry import audit, hooks
from registry.choices import AuditEventType, Lifecycle, Pattern, StopScope, ToolAccess, UserKind, access_covers
from registry.exceptions import Conflict
from registry.models import (
    Agent,
    AgentDelegate,
    AgentVersion,
    AgentVersionTool,
    ApiToken,
    BusinessUnit,
    McpServer,
    Stop,
    Tool,
    User,
)
from registry.roles import Role, is_board, is_platform_admin

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
            allowed = ", ".join(Lifecycle(s).label for s in allowed_transitions(from_state)) or "none"
            raise ValidationError(
                {
                    "to_state": f"An agent cannot move from {Lifecycle(from_state).label} to "
                    f"{Lifecycle(to_state).label}. Allowed from here: {allowed}."
                }
            )
        if actor is not None:
            may_change = can_change_agent(actor, current)
            may_board = is_board(actor)
            allowed_by_role = {
                "change": may_change,
                "board": may_board,
                "change_or_board": may_change or may_board,
            }[rule]
            if not allowed_by_role:
                who = {"change": "the owner, a delegate", "board": "the governance board"}.get(
                    rule, "the owner, a delegate or the governance board"
                )
                raise PermissionDenied(f"Only {who} may move this agent to {Lifecycle(to_state).label}.")
        problems = []
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
    return current


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
    return grants


def create_version(agent: Agent, *, actor: User, tools: Iterable[tuple[Tool, str]] = (), **fields) -> AgentVersion:
    """Record a new version of an agent's components with the tools it may call."""
    _ensure(can_change_agent(actor, agent), "You may not add versions to this agent.")
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
        before = audit.snapshot(current, ("name", "slug", "parent", "description", "path"))
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
            before, audit.snapshot(current, ("name", "slug", "parent", "description", "path"))
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
    _ensure_global(actor, "registry.change_tool", "Only platform administrators manage the tool catalog.")
    with transaction.atomic():
        current = Tool.objects.select_for_update().get(pk=tool.pk)
        before = audit.snapshot(current, TOOL_FIELDS)
        for name, value in changes.items():
            setattr(current, name, value)
        current.full_clean()
        _save_unique(current, "key", "A tool with this key exists already.")
        changed_before, changed_after = audit.diff(before, audit.snapshot(current, TOOL_FIELDS))
        if changed_after:
            audit.record(
                AuditEventType.TOOL_CHANGED, actor=actor, target=current, before=changed_before, after=changed_after
            )
    return current


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
