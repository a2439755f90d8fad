"""Every write of the runtime tables outside the decision log: gateway credentials and the policy
switches. Each runs in one transaction with its audit entry; each bumps the decision version
(through the model signals of ``runtime.versioning``, or explicitly for the policy row)."""

import hashlib
import secrets

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from registry import audit
from runtime import versioning
from runtime.models import POLICY_ROW_ID, GatewayCredential, RuntimePolicy

CREDENTIAL_PREFIX = "azn_"
POLICY_FIELDS = ("deny_open_critical_finding", "deny_monitoring_lapsed")


def _ensure_perm(actor, perm: str, message: str) -> None:
    if actor is None or not actor.is_active or not actor.has_perm(perm):
        raise PermissionDenied(message)


def hash_credential(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create_gateway_credential(source, *, actor, name: str) -> tuple[GatewayCredential, str]:
    """Mint a decision credential for a gateway (a telemetry source). Returns the row and the raw
    value, which is shown once and never stored."""
    _ensure_perm(actor, "runtime.add_gatewaycredential", "Only platform administrators manage gateway credentials.")
    if "\x00" in (name or ""):
        raise ValidationError({"name": "Null characters are not allowed."})
    raw = CREDENTIAL_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        credential = GatewayCredential(
            name=(name or "").strip()[:100],
            source=source,
            prefix=raw[:12],
            digest=hash_credential(raw),
            created_by=actor,
        )
        credential.full_clean()
        credential.save()
        audit.record(
            "gateway_credential.created",
            actor=actor,
            target=credential,
            after={"name": credential.name, "source": source.name, "prefix": credential.prefix},
        )
    return credential, raw


def revoke_gateway_credential(credential: GatewayCredential, *, actor) -> GatewayCredential:
    """Refuse this credential on every worker from the next version check on. Revoking twice changes nothing."""
    _ensure_perm(actor, "runtime.change_gatewaycredential", "Only platform administrators manage gateway credentials.")
    with transaction.atomic():
        current = GatewayCredential.objects.select_for_update().get(pk=credential.pk)
        if current.revoked_at is None:
            current.revoked_at = timezone.now()
            current.save(update_fields=["revoked_at"])
            audit.record(
                "gateway_credential.revoked",
                actor=actor,
                target=current,
                after={"revoked_at": current.revoked_at, "name": current.name},
            )
    return current


def get_policy() -> RuntimePolicy:
    policy, _ = RuntimePolicy.objects.get_or_create(pk=POLICY_ROW_ID)
    return policy


def update_runtime_policy(*, actor, **changes) -> RuntimePolicy:
    """Switch the optional rules on or off (administrators)."""
    _ensure_perm(actor, "runtime.change_runtimepolicy", "Only platform administrators change the runtime policy.")
    unknown = set(changes) - set(POLICY_FIELDS)
    if unknown:
        raise ValidationError({name: "This field cannot be changed here." for name in sorted(unknown)})
    for name, value in changes.items():
        if not isinstance(value, bool):
            raise ValidationError({name: "Must be true or false."})
    with transaction.atomic():
        get_policy()
        current = RuntimePolicy.objects.select_for_update().get(pk=POLICY_ROW_ID)
        before = audit.snapshot(current, POLICY_FIELDS)
        for name, value in changes.items():
            setattr(current, name, value)
        current.updated_by = actor
        current.full_clean()
        current.save()
        changed_before, changed_after = audit.diff(before, audit.snapshot(current, POLICY_FIELDS))
        if changed_after:
            audit.record(
                "runtime_policy.changed", actor=actor, target=current, before=changed_before, after=changed_after
            )
            versioning.bump()
    return current
