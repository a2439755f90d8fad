"""Drift and budget parameters (administrators) and monthly budgets (owners for agents, administrators for units)."""

import math
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction

from governance.choices import GovernanceEvent
from governance.drift import PARAMETER_FIELDS, DriftParameters
from governance.models import Budget, DriftPolicy
from governance.services._common import ensure_can_maintain, ensure_platform_admin
from registry import audit


def _parameters_of(policy: DriftPolicy | None) -> dict:
    source = policy or DriftParameters()
    return {f: str(getattr(source, f)) if f == "budget_margin" else getattr(source, f) for f in PARAMETER_FIELDS}


def update_drift_policy(values: dict, *, actor, notes: str = "") -> DriftPolicy:
    """Save the next version of the drift and budget parameters (platform administrators only).
    Fields not given keep their value in force."""
    ensure_platform_admin(actor, "Only a platform administrator may change the drift and budget parameters.")
    unknown = set(values) - set(PARAMETER_FIELDS)
    if unknown:
        raise ValidationError({f: "Not a drift or budget parameter." for f in sorted(unknown)})
    with transaction.atomic():
        current = DriftPolicy.objects.select_for_update().order_by("-version").first()
        before = _parameters_of(current)
        fields = {**before, **values}
        if "\x00" in (notes or ""):
            raise ValidationError({"notes": "Null characters are not allowed."})
        # NaN passes every bound (each comparison is false) and would silently switch the drift tests off.
        endless = {name: "Give a finite number." for name in PARAMETER_FIELDS if not _finite(name, fields[name])}
        if endless:
            raise ValidationError(endless)
        policy = DriftPolicy(version=(current.version + 1) if current else 1, notes=notes, created_by=actor, **fields)
        policy.full_clean()
        policy.save()
        audit.record(
            GovernanceEvent.DRIFT_POLICY_UPDATED,
            actor=actor,
            target=policy,
            before=before,
            after=_parameters_of(policy),
        )
    return policy


def _finite(name: str, value) -> bool:
    """False only for a number that is NaN or infinite; what is not a number at all full_clean names."""
    field = DriftPolicy._meta.get_field(name)
    try:
        number = field.to_python(value)
    except ValidationError:
        return True
    return not isinstance(number, (float, Decimal)) or (
        math.isfinite(number) if isinstance(number, float) else number.is_finite()
    )


def _amount(value) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationError({"monthly_amount": "Give an amount, e.g. 1500.00."}) from None
    if not amount.is_finite() or amount <= 0:
        raise ValidationError({"monthly_amount": "A budget must be more than zero."})
    return amount


def _save_budget(budget: Budget, amount, *, actor) -> Budget:
    before = {"monthly_amount": str(budget.monthly_amount)} if budget.pk else None
    budget.monthly_amount = _amount(amount)
    budget.set_by = actor
    budget.full_clean()
    budget.save()
    audit.record(
        GovernanceEvent.BUDGET_SET,
        actor=actor,
        target=budget,
        before=before,
        after={"monthly_amount": str(budget.monthly_amount)},
        agent=budget.agent,
    )
    return budget


def set_agent_budget(agent, amount, *, actor) -> Budget:
    """Set (or change) an agent's monthly budget: its owner, a delegate or a platform administrator."""
    ensure_can_maintain(actor, agent, f"Only the owner of {agent.name} may set its budget.")
    with transaction.atomic():
        budget = Budget.objects.select_for_update().order_by().filter(agent=agent).first() or Budget(agent=agent)
        return _save_budget(budget, amount, actor=actor)


def set_unit_budget(unit, amount, *, actor) -> Budget:
    """Set (or change) a business unit's monthly budget, covering its sub-units: platform administrators."""
    ensure_platform_admin(actor, "Only a platform administrator may set a business unit's budget.")
    with transaction.atomic():
        budget = Budget.objects.select_for_update().order_by().filter(business_unit=unit).first() or Budget(
            business_unit=unit
        )
        return _save_budget(budget, amount, actor=actor)


def remove_budget(budget: Budget, *, actor) -> None:
    if budget.agent_id:
        ensure_can_maintain(actor, budget.agent, f"Only the owner of {budget.agent.name} may remove its budget.")
    else:
        ensure_platform_admin(actor, "Only a platform administrator may remove a business unit's budget.")
    with transaction.atomic():
        audit.record(
            GovernanceEvent.BUDGET_REMOVED,
            actor=actor,
            target=budget,
            before={"monthly_amount": str(budget.monthly_amount)},
            agent=budget.agent,
        )
        budget.delete()
