"""Every write of the portfolio goes through these functions, plus the maturity-trap check.

Each write runs in one transaction, checks the actor's permission, validates
with ``full_clean()`` and records its audit entry in the same transaction.
"""

from datetime import date, datetime
from typing import NamedTuple

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from portfolio.choices import DIMENSIONS
from portfolio.models import MaturityAssessment, PatternMinimum, PortfolioSnapshot, PortfolioSnapshotLine
from registry import audit
from registry.choices import Lifecycle
from registry.models import Agent, BusinessUnit

MATURITY_ASSESSMENT_RECORDED = "maturity_assessment.recorded"
PATTERN_MINIMUM_CHANGED = "pattern_minimum.changed"
PORTFOLIO_SNAPSHOT_TAKEN = "portfolio_snapshot.taken"


def _ensure(allowed: bool, message: str) -> None:
    if not allowed:
        raise PermissionDenied(message)


def can_record_maturity(user) -> bool:
    """Governance board members and platform administrators record maturity assessments."""
    return bool(user and user.is_authenticated and user.is_active and user.has_perm("portfolio.add_maturityassessment"))


def record_maturity_assessment(
    unit: BusinessUnit,
    *,
    actor,
    assessed_on: date,
    scores: dict[str, int],
    rationales: dict[str, str],
    notes: str = "",
    today: date | None = None,
) -> MaturityAssessment:
    """Record a new assessment of a unit. Earlier ones stay as its history; nothing is overwritten."""
    _ensure(can_record_maturity(actor), "Only the governance board and platform administrators assess maturity.")
    today = today or timezone.localdate()
    if assessed_on and assessed_on > today:
        raise ValidationError(
            {"assessed_on": "An assessment describes a day that has happened; pick today or earlier."}
        )
    missing = [d for d in DIMENSIONS if d not in scores]
    if missing:
        raise ValidationError({missing[0]: "Score every dimension from 1 to 5."})
    fields = {d: scores[d] for d in DIMENSIONS}
    fields.update({f"{d}_rationale": (rationales.get(d) or "").strip() for d in DIMENSIONS})
    with transaction.atomic():
        assessment = MaturityAssessment(
            business_unit=unit,
            assessed_on=assessed_on,
            notes=notes or "",
            assessed_by=actor,
            assessed_by_repr=audit.describe_actor(actor)[:200],
            **fields,
        )
        assessment.full_clean()
        assessment.save()
        audit.record(
            MATURITY_ASSESSMENT_RECORDED,
            actor=actor,
            target=assessment,
            after={"business_unit": unit.slug, "assessed_on": assessed_on, **assessment.scores()},
        )
    return assessment


def update_pattern_minimum(minimum: PatternMinimum, *, actor, **levels) -> PatternMinimum:
    """Change the maturity a pattern needs. The policy version goes up and the audit keeps the old values."""
    _ensure(
        actor is not None and actor.is_active and actor.has_perm("portfolio.change_patternminimum"),
        "Only platform administrators change the maturity policy.",
    )
    unknown = set(levels) - set(DIMENSIONS)
    if unknown:
        raise ValidationError({sorted(unknown)[0]: "Not a maturity dimension."})
    with transaction.atomic():
        minimum = PatternMinimum.objects.select_for_update().get(pk=minimum.pk)
        before = minimum.levels()
        for name, value in levels.items():
            setattr(minimum, name, value)
        after = minimum.levels()
        if before == after:
            return minimum
        minimum.version += 1
        minimum.updated_by = actor
        minimum.full_clean()
        minimum.save()
        changed_before, changed_after = audit.diff(before, after)
        audit.record(
            PATTERN_MINIMUM_CHANGED,
            actor=actor,
            target=minimum,
            before={**changed_before, "version": minimum.version - 1},
            after={**changed_after, "version": minimum.version},
        )
    return minimum


# --- The maturity trap ------------------------------------------------------------


class MaturityTrap(NamedTuple):
    """One agent whose pattern needs more of one dimension than its unit has."""

    agent_id: int
    dimension: str
    gap: int


def find_maturity_traps(now: datetime) -> frozenset[MaturityTrap]:
    """Every (agent, dimension, gap) where a live agent's pattern outruns its unit's current maturity.

    The unit's maturity is its latest assessment on or before ``now``, or its
    closest assessed ancestor's. Agents in units with no assessment anywhere
    up the tree are not judged (nobody has said how mature they are).
    Retired agents are left out. A fixed number of queries: units,
    assessments, minimums, then one grouped read of agents per trapped
    (unit, pattern) pair set.
    """
    from portfolio import reports  # local: reports reads services for snapshot lines

    units = list(BusinessUnit.objects.all())
    effective = reports.effective_assessments(units, now.date(), all_units=units)
    minimums = {m.pattern: m for m in PatternMinimum.objects.all()}
    short: dict[tuple[int, str], list] = {}
    for unit in units:
        assessment, _ = effective[unit.pk]
        if assessment is None:
            continue
        for pattern, minimum in minimums.items():
            gaps = assessment.shortfalls(minimum)
            if gaps:
                short[(unit.pk, pattern)] = gaps
    if not short:
        return frozenset()
    unit_ids = {unit_id for unit_id, _ in short}
    rows = (
        Agent.objects.filter(business_unit_id__in=unit_ids)
        .exclude(lifecycle=Lifecycle.RETIRED)
        .values_list("pk", "business_unit_id", "pattern")
    )
    traps = set()
    for agent_id, unit_id, pattern in rows.iterator(chunk_size=2000):
        for dimension, has, needs in short.get((unit_id, pattern), ()):
            traps.add(MaturityTrap(agent_id, dimension, needs - has))
    return frozenset(traps)


def maturity_trap_agents(now: datetime) -> dict[int, list[MaturityTrap]]:
    """The traps grouped per agent, largest gap first: what a finding's detail names."""
    grouped: dict[int, list[MaturityTrap]] = {}
    for trap in find_maturity_traps(now):
        grouped.setdefault(trap.agent_id, []).append(trap)
    for traps in grouped.values():
        traps.sort(key=lambda t: (-t.gap, DIMENSIONS.index(t.dimension)))
    return grouped


# --- Daily snapshot ---------------------------------------------------------------


def take_portfolio_snapshot(now: datetime, *, actor=None) -> PortfolioSnapshot:
    """Store today's portfolio figures; taking it twice on one day replaces that day's snapshot."""
    from portfolio import reports, sources

    day = timezone.localdate(now)
    lines = reports.snapshot_lines(now)
    shadow_qs = sources.open_shadow_findings()
    shadow = shadow_qs.count() if shadow_qs is not None else 0
    with transaction.atomic():
        snapshot, created = PortfolioSnapshot.objects.update_or_create(
            taken_on=day, defaults={"taken_at": now, "open_shadow_agents": shadow}
        )
        snapshot.lines.all().delete()
        PortfolioSnapshotLine.objects.bulk_create(
            [PortfolioSnapshotLine(snapshot=snapshot, **line) for line in lines], batch_size=1000
        )
        audit.record(
            PORTFOLIO_SNAPSHOT_TAKEN,
            actor=actor,
            target=snapshot,
            after={
                "taken_on": day,
                "lines": len(lines),
                "agents": sum(line.get("agents", 0) for line in lines),
                "replaced": not created,
            },
        )
    return snapshot
