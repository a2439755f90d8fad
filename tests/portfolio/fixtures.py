"""Fixtures of this app's tests, registered through pytest_plugins in tests/conftest.py.

``world`` is the hand-computed fixture portfolio every report test asserts
against. Its numbers are worked out in the docstring below; change the data
and the docstring together.

Units: group (root) > hr > recruiting; group > finance.
Assessments: group (3,3,3,3,2); hr an old (2,2,2,2,2) and a current (3,2,4,3,3);
recruiting and finance none (they inherit hr and group).

| agent | unit       | pattern             | tier     | lifecycle  | eligible/active | metric b/t/c   |
|-------|------------|---------------------|----------|------------|-----------------|----------------|
| a1    | hr         | employee_enablement | low      | production | 100/40          | 0/10/12 met    |
| a2    | hr         | workplace_services  | medium   | production | 200/20          | 100/50/80 40%  |
| a3    | hr         | core_process        | high     | pilot      | 50/30           | 0/100/60 60%   |
| a4    | recruiting | expert_empowerment  | high     | proposed   | -               | -              |
| a5    | recruiting | employee_enablement | (none)   | retired    | -               | -              |
| a6    | finance    | external_engagement | critical | production | - (orphaned)    | -              |
| a7    | finance    | employee_enablement | low      | in_review  | -               | -              |
| a8    | group      | ai_first            | critical | approved   | -               | -              |

Effective maturity: group (3,3,3,3,2) overall 2, ceiling adoption; hr (3,2,4,3,3)
overall 2, ceiling process; recruiting inherits hr, finance inherits group.
Traps (agent: dimension gap) against the default minimums: a2 process 1 (workplace);
a3 process 2 (core); a6 governance 1, technology 1, adoption 1 (external vs group);
a8 strategy 1, process 1, governance 1, technology 1, adoption 2 (ai_first vs group).
a1, a4, a7 fit their unit; a5 is retired.

Open findings: a1 control_gap high, a2 review_overdue medium, a6 orphaned_owner critical,
one shadow_agent (identity "mystery-bot") low; a resolved a3 lapsed_monitoring does not count.
The control-gap check has run once; of the production agents a1 (control gap) and a6
(orphaned owner) are not fully compliant, a2 (only an overdue review) is: 1 of 3, 33.3 %.

Tools: "crm.read" granted to a1, a2 and a5 (retired: not counted) -> 2 agents;
"ledger.post" to a3 only -> not shared.
"""

from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone

from portfolio.models import MaturityAssessment
from tests.factories import AgentFactory, AgentVersionFactory, BusinessUnitFactory, ToolFactory, UserFactory

SCORES = ("strategy", "process", "governance", "technology", "adoption")


def assess(unit, levels, on=date(2026, 1, 10), by=None):
    return MaturityAssessment.objects.create(
        business_unit=unit,
        assessed_on=on,
        assessed_by=by,
        assessed_by_repr=by.username if by else "test",
        **dict(zip(SCORES, levels, strict=True)),
        **{f"{d}_rationale": f"{d} evidence" for d in SCORES},
    )


class World:
    pass


@pytest.fixture
def world(unit, other_unit, owner):
    w = World()
    w.group = unit.parent
    w.hr = unit
    w.finance = other_unit
    w.recruiting = BusinessUnitFactory(name="Recruiting", slug="recruiting", parent=unit)
    assess(w.group, (3, 3, 3, 3, 2))
    assess(w.hr, (2, 2, 2, 2, 2), on=date(2025, 6, 1))
    assess(w.hr, (3, 2, 4, 3, 3), on=date(2026, 1, 10))
    gone = UserFactory(username="gone", is_active=False)
    now = timezone.now()

    def agent(key, unit, pattern, tier, lifecycle, **extra):
        return AgentFactory(
            key=key,
            name=key.upper(),
            business_unit=unit,
            owner=extra.pop("agent_owner", owner),
            pattern=pattern,
            risk_tier=tier,
            lifecycle=lifecycle,
            production_since=now if lifecycle in ("production", "pilot", "retired") else None,
            **extra,
        )

    w.a1 = agent(
        "a1",
        w.hr,
        "employee_enablement",
        "low",
        "production",
        eligible_users=100,
        active_users=40,
        metric_name="Tickets deflected",
        metric_baseline=Decimal(0),
        metric_target=Decimal(10),
        metric_current=Decimal(12),
    )
    w.a2 = agent(
        "a2",
        w.hr,
        "workplace_services",
        "medium",
        "production",
        eligible_users=200,
        active_users=20,
        metric_name="Handling minutes",
        metric_baseline=Decimal(100),
        metric_target=Decimal(50),
        metric_current=Decimal(80),
    )
    w.a3 = agent(
        "a3",
        w.hr,
        "core_process",
        "high",
        "pilot",
        autonomy_level=3,
        eligible_users=50,
        active_users=30,
        metric_name="Claims closed",
        metric_baseline=None,
        metric_target=Decimal(100),
        metric_current=Decimal(60),
    )
    w.a4 = agent("a4", w.recruiting, "expert_empowerment", "high", "proposed")
    w.a5 = agent("a5", w.recruiting, "employee_enablement", "", "retired")
    w.a6 = agent("a6", w.finance, "external_engagement", "critical", "production", agent_owner=gone)
    w.a7 = agent("a7", w.finance, "employee_enablement", "low", "in_review")
    w.a8 = agent("a8", w.group, "ai_first", "critical", "approved", autonomy_level=3)
    shared = ToolFactory(key="crm.read", name="CRM read")
    solo = ToolFactory(key="ledger.post", name="Ledger post", supports_write=True)
    for a in (w.a1, w.a2, w.a5):
        AgentVersionFactory(agent=a).tool_grants.create(tool=shared)
    AgentVersionFactory(agent=w.a3).tool_grants.create(tool=solo, access="write")
    from governance.models import CheckRun, Finding

    CheckRun.objects.create(check_kind="control_gap", started_at=now, finished_at=now, status="succeeded")

    def finding(kind, severity, agent=None, identity="", resolved=False):
        return Finding.objects.create(
            kind=kind,
            severity=severity,
            agent=agent,
            identity=identity,
            summary=f"{kind} finding",
            opened_at=now,
            resolved_at=now if resolved else None,
        )

    finding("control_gap", "high", w.a1)
    finding("review_overdue", "medium", w.a2)
    finding("orphaned_owner", "critical", w.a6)
    finding("shadow_agent", "low", identity="mystery-bot")
    finding("lapsed_monitoring", "high", w.a3, resolved=True)
    w.owner = owner
    return w
