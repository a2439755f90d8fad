"""Publishing policy versions. A published version is never changed: an edit publishes the next one."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from governance import eu_ai_act
from governance.choices import GovernanceEvent, Validity
from governance.models import Control, RiskPolicy
from governance.policy import compute_tier
from governance.requirements import Facts, clause_reason
from governance.services._common import ensure_platform_admin
from registry import audit
from registry.choices import RiskTier
from registry.exceptions import Conflict
from telemetry import services as telemetry_services

POLICY_FIELDS = (
    "weights",
    "thresholds",
    "pattern_floors",
    "autonomy_floors",
    "eu_ai_act",
    "cadences",
    "incident_report_days",
    "eu_ai_act_timeline",
)
CONTROL_FIELDS = (
    "name",
    "guidance",
    "evidence_expected",
    "accepting_role",
    "validity",
    "validity_days",
    "applies_when",
    "invalidated_by",
    "nist_function",
    "iso42001_area",
    "eu_ai_act_article",
    "sort_order",
)
SAMPLE_ANSWERS = {
    "pattern": "employee_enablement",
    "autonomy_level": 1,
    "external_facing": False,
    "data_classification": "public",
    "personal_or_regulated_data": False,
    "action_impact": "read_only",
    "irreversible_actions": False,
    "people_affected": "under_100",
    "eu_ai_act_category": "minimal",
}


def _validate_policy(values: dict) -> None:
    """Refuse a policy the tier function could not apply."""
    thresholds = values["thresholds"]
    if not isinstance(thresholds, dict) or set(thresholds) != {"medium", "high", "critical"}:
        raise ValidationError({"thresholds": "Give the minimum score of medium, high and critical."})
    if not thresholds["medium"] < thresholds["high"] < thresholds["critical"]:
        raise ValidationError({"thresholds": "Thresholds must rise: medium < high < critical."})
    cadences = values["cadences"]
    for tier in RiskTier.values:
        entry = cadences.get(tier) if isinstance(cadences, dict) else None
        keys = {"review_days", "silence_production_hours", "silence_pilot_hours"}
        if (
            not isinstance(entry, dict)
            or set(entry) != keys
            or any(not isinstance(v, int) or v <= 0 for v in entry.values())
        ):
            raise ValidationError(
                {"cadences": f"Give {tier}: review_days, silence_production_hours, silence_pilot_hours."}
            )
    for name, validate in (
        ("incident_report_days", eu_ai_act.validate_report_days),
        ("eu_ai_act_timeline", eu_ai_act.validate_timeline),
    ):
        if name in values:
            message = validate(values[name])
            if message:
                raise ValidationError({name: message})
    try:
        compute_tier(SAMPLE_ANSWERS, values)
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise ValidationError({"weights": f"The policy cannot score an assessment: {exc}"}) from exc


def _validate_control(control: Control) -> None:
    sample = Facts(
        tier="low", pattern="employee_enablement", mode="assist", external_facing=False, data_classification="public"
    )
    if not isinstance(control.applies_when, list) or not control.applies_when:
        raise ValidationError({"applies_when": "Give a list of applicability clauses."})
    for clause in control.applies_when:
        try:
            clause_reason(clause, sample)
        except (ValueError, TypeError, AttributeError) as exc:
            raise ValidationError({"applies_when": str(exc)}) from exc
    if control.validity != Validity.DAYS:
        control.validity_days = None


def publish_policy(
    base: RiskPolicy, *, actor, notes: str, changes: dict | None = None, control_changes: dict | None = None
) -> RiskPolicy:
    """Publish the next policy version: ``base`` with ``changes`` (policy fields) and ``control_changes``
    ({code: {field: value}}, or {code: None} to drop a control, unknown codes add one) applied.

    ``base`` must be the version in force, so two administrators editing at once cannot silently
    discard each other's change (the second gets a conflict).
    """
    ensure_platform_admin(actor, "Only platform administrators change the risk policy.")
    changes = changes or {}
    control_changes = control_changes or {}
    if set(changes) - set(POLICY_FIELDS):
        raise ValidationError({name: "This is not a policy field." for name in set(changes) - set(POLICY_FIELDS)})
    notes = (notes or "").strip()
    if not notes:
        raise ValidationError({"notes": "Say what changes in this version and why."})
    with transaction.atomic():
        current = RiskPolicy.objects.select_for_update().order_by("-version").first()
        if current.pk != base.pk:
            raise Conflict(f"Policy v{current.version} was published meanwhile; start from it.")
        values = {name: changes.get(name, getattr(current, name)) for name in POLICY_FIELDS}
        _validate_policy(values)
        policy = RiskPolicy(version=current.version + 1, notes=notes, created_by=actor, **values)
        policy.full_clean(exclude=POLICY_FIELDS)
        try:
            with transaction.atomic():
                policy.save()
        except IntegrityError as exc:
            raise Conflict("Another policy version was published at the same time.") from exc
        existing = {c.code: c for c in current.controls.all()}
        new_controls = []
        for code in [*existing, *[c for c in control_changes if c not in existing]]:
            edit = control_changes.get(code, {})
            if edit is None:
                continue
            if set(edit) - set(CONTROL_FIELDS):
                raise ValidationError({"controls": f"{code}: unknown fields {sorted(set(edit) - set(CONTROL_FIELDS))}"})
            source = existing.get(code)
            data = {name: getattr(source, name) for name in CONTROL_FIELDS} if source else {}
            data.update(edit)
            control = Control(policy=policy, code=code, **data)
            _validate_control(control)
            control.full_clean()
            new_controls.append(control)
        Control.objects.bulk_create(new_controls)
        if "cadences" in changes:
            # The stored monitoring deadlines follow the new silence windows at once.
            telemetry_services.refresh_monitoring_deadlines()
        audit.record(
            GovernanceEvent.POLICY_PUBLISHED,
            actor=actor,
            target=policy,
            before={"version": current.version},
            after={
                "version": policy.version,
                "notes": notes,
                "changes": changes,
                "control_changes": control_changes,
            },
        )
    return policy


def set_obligation_dates(base: RiskPolicy, *, actor, dates: dict, notes: str) -> RiskPolicy:
    """Move the dates the EU AI Act's obligations apply from (``{code: date}``): the law moves, so the
    timeline is policy data; the change publishes the next policy version, audited with its notes."""
    timeline = [dict(entry) for entry in base.eu_ai_act_timeline]
    known = {entry["code"] for entry in timeline}
    unknown = set(dates) - known
    if unknown:
        raise ValidationError({"dates": f"Unknown obligations: {', '.join(sorted(unknown))}."})
    for entry in timeline:
        if entry["code"] in dates:
            value = dates[entry["code"]]
            if value is None:
                raise ValidationError({entry["code"]: "Give the date this obligation applies from."})
            entry["applies_from"] = value.isoformat() if hasattr(value, "isoformat") else str(value)
    if timeline == base.eu_ai_act_timeline:
        raise ValidationError({"dates": "No date changed."})
    return publish_policy(base, actor=actor, notes=notes, changes={"eu_ai_act_timeline": timeline})
