"""The tier function over every threshold and floor, and its monotonicity."""

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from governance.defaults import DEFAULT_POLICY
from governance.policy import compute_tier, monitoring_window, review_interval
from registry.choices import RISK_TIER_ORDER

BASE = {
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


def answers(**changes):
    return {**BASE, **changes}


@pytest.mark.parametrize(
    ("changes", "tier", "score"),
    [
        ({}, "low", 0),
        # 3 is the top of low, 4 the bottom of medium.
        ({"external_facing": True}, "low", 3),
        ({"external_facing": True, "data_classification": "internal"}, "medium", 4),
        # 7 is the top of medium, 8 the bottom of high.
        ({"autonomy_level": 5, "data_classification": "restricted"}, "medium", 7),
        ({"autonomy_level": 5, "data_classification": "restricted", "personal_or_regulated_data": True}, "high", 8),
        # 11 is the top of high, 12 the bottom of critical.
        (
            {
                "autonomy_level": 4,
                "external_facing": True,
                "data_classification": "restricted",
                "people_affected": "more",
            },
            "high",
            11,
        ),
        (
            {
                "autonomy_level": 4,
                "external_facing": True,
                "data_classification": "restricted",
                "people_affected": "more",
                "personal_or_regulated_data": True,
            },
            "critical",
            12,
        ),
        # Every factor's weights.
        ({"autonomy_level": 2}, "low", 1),
        ({"autonomy_level": 3}, "low", 2),
        ({"data_classification": "confidential"}, "low", 2),
        ({"action_impact": "internal_reversible"}, "low", 1),
        ({"action_impact": "production_affecting"}, "low", 2),
        ({"action_impact": "financial_legal"}, "low", 3),
        ({"irreversible_actions": True}, "low", 2),
        ({"people_affected": "under_10000"}, "low", 1),
        ({"people_affected": "more", "irreversible_actions": True}, "medium", 4),
        # Pattern floors.
        ({"pattern": "core_process"}, "high", 0),
        ({"pattern": "external_engagement"}, "high", 0),
        ({"pattern": "ai_first"}, "high", 0),
        ({"pattern": "expert_empowerment"}, "low", 0),
        ({"pattern": "workplace_services"}, "low", 0),
        # Level 5 autonomy with irreversible or financial/legal actions is critical.
        ({"autonomy_level": 5, "irreversible_actions": True}, "critical", 6),
        ({"autonomy_level": 5, "action_impact": "financial_legal"}, "critical", 7),
        ({"autonomy_level": 4, "action_impact": "financial_legal", "irreversible_actions": True}, "high", 8),
        ({"autonomy_level": 5}, "medium", 4),
        # EU AI Act: high-risk is at least high; prohibited is critical; others add nothing.
        ({"eu_ai_act_category": "high_risk"}, "high", 0),
        ({"eu_ai_act_category": "prohibited"}, "critical", 0),
        ({"eu_ai_act_category": "transparency"}, "low", 0),
        ({"eu_ai_act_category": "not_applicable"}, "low", 0),
        # A floor never lowers a higher score.
        (
            {
                "pattern": "core_process",
                "autonomy_level": 4,
                "external_facing": True,
                "data_classification": "restricted",
                "people_affected": "more",
                "personal_or_regulated_data": True,
            },
            "critical",
            12,
        ),
    ],
)
def test_it_scores_answers_into_the_tier_the_policy_defines(changes, tier, score):
    # given
    given_answers = answers(**changes)
    # when
    result = compute_tier(given_answers, DEFAULT_POLICY)
    # then
    assert (result.tier, result.score) == (tier, score)
    assert result.reasons[-1] or result.reasons


def test_it_explains_which_floor_raised_the_tier():
    tier, score, reasons = compute_tier(answers(autonomy_level=5, irreversible_actions=True), DEFAULT_POLICY)
    assert tier == "critical"
    assert "score 6 gives medium" in reasons
    assert any("level 5 autonomy" in r for r in reasons)


FACTOR_VALUES = {
    "autonomy_level": [1, 2, 3, 4, 5],
    "external_facing": [False, True],
    "data_classification": ["public", "internal", "confidential", "restricted"],
    "personal_or_regulated_data": [False, True],
    "action_impact": ["read_only", "internal_reversible", "production_affecting", "financial_legal"],
    "irreversible_actions": [False, True],
    "people_affected": ["under_100", "under_10000", "more"],
    "eu_ai_act_category": ["not_applicable", "minimal", "transparency", "high_risk", "prohibited"],
}
PATTERNS = [
    "employee_enablement",
    "expert_empowerment",
    "workplace_services",
    "core_process",
    "external_engagement",
    "ai_first",
]


@st.composite
def answer_sets(draw):
    picked = {name: draw(st.integers(0, len(values) - 1)) for name, values in FACTOR_VALUES.items()}
    return picked, draw(st.sampled_from(PATTERNS))


@given(answer_sets(), st.sampled_from(sorted(FACTOR_VALUES)))
def test_raising_any_factor_never_lowers_the_tier(picked_and_pattern, factor):
    # given
    picked, pattern = picked_and_pattern
    values = FACTOR_VALUES[factor]
    if picked[factor] == len(values) - 1:
        return
    lower = {name: FACTOR_VALUES[name][i] for name, i in picked.items()} | {"pattern": pattern}
    higher = {**lower, factor: values[picked[factor] + 1]}
    # when
    low_result = compute_tier(lower, DEFAULT_POLICY)
    high_result = compute_tier(higher, DEFAULT_POLICY)
    # then
    assert RISK_TIER_ORDER[high_result.tier] >= RISK_TIER_ORDER[low_result.tier]
    assert high_result.score >= low_result.score


@pytest.mark.parametrize(
    ("tier", "review_days", "production", "pilot"),
    [
        ("low", 365, timedelta(days=7), timedelta(days=14)),
        ("medium", 180, timedelta(hours=72), timedelta(days=6)),
        ("high", 90, timedelta(hours=24), timedelta(hours=48)),
        ("critical", 30, timedelta(hours=1), timedelta(hours=2)),
    ],
)
def test_cadences_follow_the_tier(tier, review_days, production, pilot):
    assert review_interval(tier, DEFAULT_POLICY) == timedelta(days=review_days)
    assert monitoring_window(tier, "production", DEFAULT_POLICY) == production
    assert monitoring_window(tier, "pilot", DEFAULT_POLICY) == pilot
    assert monitoring_window(tier, "approved", DEFAULT_POLICY) is None


def test_the_default_policy_is_loaded_as_version_1(db):
    from governance.models import RiskPolicy

    policy = RiskPolicy.objects.current()
    assert policy.version == 1
    assert policy.thresholds == {"medium": 4, "high": 8, "critical": 12}
    assert policy.controls.count() == 29
    assert monitoring_window("high", "production") == timedelta(hours=24)
