from datetime import UTC, date, datetime

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from portfolio import checks, services
from portfolio.models import MaturityAssessment, PatternMinimum
from registry.models import AuditEvent

LEVELS = {"strategy": 3, "process": 2, "governance": 4, "technology": 3, "adoption": 3}
WHY = {d: f"because {d}" for d in LEVELS}


def test_a_board_member_records_an_assessment_with_an_audit_row(board, unit):
    # when
    assessment = services.record_maturity_assessment(
        unit, actor=board, assessed_on=date(2026, 1, 5), scores=LEVELS, rationales=WHY, today=date(2026, 1, 6)
    )
    # then
    assert assessment.overall == 2
    assert assessment.ceiling_dimensions == ["process"]
    assert assessment.assessed_by == board
    event = AuditEvent.objects.get(event_type="maturity_assessment.recorded")
    assert event.actor == board
    assert event.after == {"business_unit": "hr", "assessed_on": "2026-01-05", **LEVELS}


def test_a_new_assessment_keeps_the_earlier_one_as_history(board, unit):
    services.record_maturity_assessment(unit, actor=board, assessed_on=date(2026, 1, 1), scores=LEVELS, rationales=WHY)
    services.record_maturity_assessment(
        unit, actor=board, assessed_on=date(2026, 2, 1), scores={**LEVELS, "process": 4}, rationales=WHY
    )
    history = list(MaturityAssessment.objects.filter(business_unit=unit))
    assert [a.assessed_on for a in history] == [date(2026, 2, 1), date(2026, 1, 1)]


@pytest.mark.parametrize("who", ["leadership", "owner", "employee"])
def test_it_refuses_an_assessment_from_anyone_but_board_or_admin(who, persona, unit):
    with pytest.raises(PermissionDenied):
        services.record_maturity_assessment(
            unit, actor=persona(who), assessed_on=date(2026, 1, 1), scores=LEVELS, rationales=WHY
        )
    assert not MaturityAssessment.objects.exists()


def test_an_admin_may_record_an_assessment(admin, unit):
    services.record_maturity_assessment(unit, actor=admin, assessed_on=date(2026, 1, 1), scores=LEVELS, rationales=WHY)
    assert MaturityAssessment.objects.count() == 1


def test_it_refuses_a_score_outside_one_to_five_and_a_missing_rationale(board, unit):
    with pytest.raises(ValidationError) as exc:
        services.record_maturity_assessment(
            unit, actor=board, assessed_on=date(2026, 1, 1), scores={**LEVELS, "process": 6}, rationales=WHY
        )
    assert "process" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.record_maturity_assessment(
            unit, actor=board, assessed_on=date(2026, 1, 1), scores=LEVELS, rationales={**WHY, "adoption": " "}
        )
    assert "adoption_rationale" in exc.value.message_dict


def test_it_refuses_an_assessment_dated_in_the_future(board, unit):
    with pytest.raises(ValidationError) as exc:
        services.record_maturity_assessment(
            unit, actor=board, assessed_on=date(2026, 3, 1), scores=LEVELS, rationales=WHY, today=date(2026, 2, 1)
        )
    assert "assessed_on" in exc.value.message_dict


def test_the_database_refuses_a_level_outside_one_to_five(unit):
    with pytest.raises(IntegrityError), transaction.atomic():
        MaturityAssessment.objects.create(
            business_unit=unit,
            assessed_on=date(2026, 1, 1),
            **{**LEVELS, "strategy": 0},
            **{f"{d}_rationale": "x" for d in LEVELS},
        )


def test_the_default_pattern_minimums_are_loaded_by_migration(db):
    minimums = {m.pattern: m.levels() for m in PatternMinimum.objects.all()}
    assert minimums["core_process"] == {"strategy": 3, "process": 4, "governance": 4, "technology": 3, "adoption": 3}
    assert minimums["ai_first"] == {d: 4 for d in LEVELS}
    assert len(minimums) == 6


def test_an_admin_changes_a_pattern_minimum_with_a_new_version_and_audit(admin):
    minimum = PatternMinimum.objects.get(pattern="workplace_services")
    # when
    changed = services.update_pattern_minimum(minimum, actor=admin, process=2)
    # then
    assert changed.process == 2
    assert changed.version == 2
    event = AuditEvent.objects.get(event_type="pattern_minimum.changed")
    assert event.before == {"process": 3, "version": 1}
    assert event.after == {"process": 2, "version": 2}


def test_it_refuses_a_policy_change_by_the_board(board):
    with pytest.raises(PermissionDenied):
        services.update_pattern_minimum(PatternMinimum.objects.get(pattern="ai_first"), actor=board, process=1)


def test_find_maturity_traps_names_each_short_dimension_and_its_gap(world):
    # when
    traps = services.find_maturity_traps(datetime(2026, 2, 1, tzinfo=UTC))
    # then (hand-computed in tests/portfolio/fixtures.py)
    assert traps == {
        (world.a2.pk, "process", 1),
        (world.a3.pk, "process", 2),
        (world.a6.pk, "governance", 1),
        (world.a6.pk, "technology", 1),
        (world.a6.pk, "adoption", 1),
        (world.a8.pk, "strategy", 1),
        (world.a8.pk, "process", 1),
        (world.a8.pk, "governance", 1),
        (world.a8.pk, "technology", 1),
        (world.a8.pk, "adoption", 2),
    }


def test_no_trap_is_raised_where_nobody_assessed_the_unit_or_its_ancestors(world):
    # before 2026-01-10 only hr's old (2,2,2,2,2) exists: finance and group agents are not judged,
    # recruiting inherits hr's and its expert agent a4 lacks governance (needs 3)
    traps = services.find_maturity_traps(datetime(2025, 12, 1, tzinfo=UTC))
    assert {t.agent_id for t in traps} == {world.a2.pk, world.a3.pk, world.a4.pk}


def test_the_trap_check_describes_the_scale_breaker(world):
    conditions = checks.maturity_trap_conditions(datetime(2026, 2, 1, tzinfo=UTC))
    assert set(conditions) == {world.a2.pk, world.a3.pk, world.a6.pk, world.a8.pk}
    assert conditions[world.a8.pk]["summary"].endswith("Scale-breaker: adoption.")
    assert conditions[world.a8.pk]["details"] == {
        "scale_breaker": "adoption",
        "gaps": {"adoption": 2, "strategy": 1, "process": 1, "governance": 1, "technology": 1},
    }


@time_machine.travel("2026-02-01 09:00Z")
def test_raising_the_unit_assessment_clears_the_trap(world, board):
    services.record_maturity_assessment(
        world.hr, actor=board, assessed_on=date(2026, 2, 1), scores={d: 4 for d in LEVELS}, rationales=WHY
    )
    traps = services.find_maturity_traps(timezone.now())
    assert {t.agent_id for t in traps} == {world.a6.pk, world.a8.pk}


def test_the_background_checks_raise_and_resolve_maturity_trap_findings(world, board):
    # given
    from governance import checks as governance_checks
    from governance.models import Finding

    # when: the governance engine runs the check portfolio registered
    result = governance_checks.run_check("maturity_trap", now=datetime(2026, 2, 1, tzinfo=UTC))
    # then: one open finding per trapped agent, severity by the largest gap
    assert result.found == 4
    open_traps = {f.agent_id: f for f in Finding.objects.filter(kind="maturity_trap", resolved_at__isnull=True)}
    assert set(open_traps) == {world.a2.pk, world.a3.pk, world.a6.pk, world.a8.pk}
    assert open_traps[world.a2.pk].severity == "medium"
    assert open_traps[world.a3.pk].severity == "high"
    assert open_traps[world.a3.pk].details == {"scale_breaker": "process", "gaps": {"process": 2}}

    # when: hr is reassessed at 4 everywhere and the check runs again
    services.record_maturity_assessment(
        world.hr,
        actor=board,
        assessed_on=date(2026, 2, 1),
        scores=dict.fromkeys(LEVELS, 4),
        rationales=WHY,
        today=date(2026, 2, 2),
    )
    again = governance_checks.run_check("maturity_trap", now=datetime(2026, 2, 2, tzinfo=UTC))
    # then: hr's agents are out of the trap, the others stay
    assert again.resolved == 2
    still_open = set(
        Finding.objects.filter(kind="maturity_trap", resolved_at__isnull=True).values_list("agent_id", flat=True)
    )
    assert still_open == {world.a6.pk, world.a8.pk}
