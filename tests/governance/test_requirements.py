"""Required controls are derived from tier, pattern, mode, flags and the EU AI Act category."""

import pytest

from governance.models import RiskPolicy
from governance.requirements import Facts, derive_requirements

BASELINE = {"owner", "scope", "audit-trail", "release-gate", "monitoring", "escalation"}
MEDIUM = {"tool-allowlist", "guardrails", "evaluation", "rollback"}
HIGH = {
    "sla-monitoring",
    "security-review",
    "responsible-ai",
    "decision-rights",
    "incident-response",
    "human-checkpoint",
}
CRITICAL = {"kill-switch", "independent-review"}
EXTERNAL = {"disclosure", "consent", "identity-isolation", "realtime-monitoring", "incident-15min"}
EU_HIGH_RISK = {"fria", "human-oversight", "log-retention"}


def facts(**changes):
    base = {
        "tier": "low",
        "pattern": "employee_enablement",
        "mode": "assist",
        "external_facing": False,
        "data_classification": "internal",
    }
    return Facts(**{**base, **changes})


@pytest.fixture
def catalog(db):
    return list(RiskPolicy.objects.current().controls.all())


def codes(requirements):
    return {r.code for r in requirements}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, BASELINE),
        ({"tier": ""}, BASELINE),
        ({"tier": "medium"}, BASELINE | MEDIUM),
        ({"tier": "high"}, BASELINE | MEDIUM | HIGH),
        ({"tier": "critical"}, BASELINE | MEDIUM | HIGH | CRITICAL),
        ({"mode": "execute"}, BASELINE | {"decision-rights"}),
        ({"external_facing": True}, BASELINE | EXTERNAL),
        ({"pattern": "expert_empowerment"}, BASELINE | {"knowledge-quality"}),
        ({"pattern": "workplace_services"}, BASELINE),
        ({"pattern": "core_process"}, BASELINE),
        ({"pattern": "external_engagement"}, BASELINE),
        ({"pattern": "ai_first"}, BASELINE),
        ({"personal_data": True}, BASELINE | {"data-minimisation"}),
        ({"regulated_data": True}, BASELINE | {"data-minimisation"}),
        ({"data_classification": "restricted"}, BASELINE | {"data-residency"}),
        ({"data_classification": "confidential"}, BASELINE),
        ({"eu_ai_act_category": "high_risk"}, BASELINE | EU_HIGH_RISK),
        ({"eu_ai_act_category": "transparency"}, BASELINE | {"disclosure"}),
        ({"eu_ai_act_category": "minimal"}, BASELINE),
        ({"eu_ai_act_category": "prohibited"}, BASELINE),
    ],
)
def test_it_derives_the_controls_the_catalog_requires(catalog, changes, expected):
    # when
    required = derive_requirements(facts(**changes), catalog)
    # then
    assert codes(required) == expected


def test_each_requirement_says_why(catalog):
    # given
    agent_facts = facts(tier="high", external_facing=True, personal_data=True, eu_ai_act_category="transparency")
    # when
    reasons = {r.code: r.reasons for r in derive_requirements(agent_facts, catalog)}
    # then
    assert reasons["owner"] == ["every agent"]
    assert reasons["security-review"] == ["tier high"]
    assert reasons["consent"] == ["external-facing"]
    assert reasons["data-minimisation"] == ["handles personal data"]
    assert reasons["disclosure"] == ["external-facing", "EU AI Act Transparency obligations (Art. 50)"]
