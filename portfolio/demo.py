"""The portfolio's part of the demo: maturity assessments for every unit and 12 weeks of snapshots.

Runs last (``manage.py load_demo``), on top of the registry demo's units and
agents and whatever governance and telemetry added. Deterministic and
idempotent: units that already have assessments keep them, days that already
have a snapshot are left alone, and today's snapshot is simply retaken.

Assessments: every unit gets two, about six months apart, so each unit page
shows history. The levels are chosen so that some units trail what their
agents' patterns need (the maturity trap shows on the dashboard): customer
operations runs external agents on a governance of 3, manufacturing pursues
core-process agents with weak technology, and R&D's AI-first ambitions
outrun every dimension.

Snapshots: today's comes from the live data (``take_portfolio_snapshot``).
The 83 days before it are derived from today's lines with a deterministic
curve: fewer agents and fewer in production further back, more open
findings and shadow agents (the programme got its house in order over the
quarter), with a small per-line wobble so the lines do not look ruled.
"""

import random
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from portfolio import reports, services
from portfolio.models import MaturityAssessment, PortfolioSnapshot, PortfolioSnapshotLine
from registry.models import BusinessUnit, User
from registry.roles import Role

DAYS = 84
# slug -> (six months ago, now): (strategy, process, governance, technology, adoption)
LEVELS = {
    "group": ((3, 2, 3, 3, 2), (4, 3, 4, 3, 3)),
    "hr": ((2, 2, 2, 3, 2), (3, 3, 3, 3, 3)),
    "talent": ((2, 2, 2, 2, 2), (3, 2, 3, 3, 3)),
    "payroll": ((2, 3, 3, 3, 2), (3, 3, 4, 3, 3)),
    "finance": ((3, 3, 3, 3, 2), (3, 4, 4, 4, 3)),
    "accounts-payable": ((2, 3, 3, 3, 2), (3, 4, 4, 3, 3)),
    "fpa": ((3, 2, 3, 3, 3), (3, 3, 3, 4, 3)),
    "it": ((3, 3, 3, 4, 3), (4, 3, 4, 4, 3)),
    "service-desk": ((2, 3, 3, 3, 3), (3, 4, 3, 4, 4)),
    "secops": ((3, 2, 4, 4, 2), (3, 3, 4, 4, 3)),
    "customer-ops": ((2, 2, 2, 3, 2), (3, 3, 3, 3, 3)),
    "contact-centre": ((3, 3, 2, 3, 3), (3, 3, 3, 3, 4)),
    "field-service": ((1, 2, 2, 2, 1), (2, 2, 2, 2, 2)),
    "legal": ((2, 2, 4, 2, 2), (2, 3, 4, 3, 2)),
    "sales": ((2, 1, 2, 2, 2), (3, 2, 2, 3, 3)),
    "marketing": ((2, 2, 2, 3, 3), (3, 2, 3, 3, 4)),
    "manufacturing": ((2, 3, 3, 2, 2), (3, 4, 4, 2, 3)),
    "quality": ((2, 3, 3, 2, 2), (2, 4, 4, 3, 2)),
    "supply-chain": ((2, 2, 2, 2, 1), (3, 3, 3, 3, 2)),
    "rnd": ((3, 2, 2, 3, 3), (4, 3, 3, 4, 4)),
}
DEFAULT_LEVELS = ((2, 2, 2, 2, 2), (3, 3, 3, 3, 3))
DIMENSIONS = ("strategy", "process", "governance", "technology", "adoption")

RATIONALE = {
    "strategy": {
        1: "No written AI plan; experiments happen where someone has time.",
        2: "A one-page AI plan exists but carries no budget of its own.",
        3: "A funded AI plan with named priorities, reviewed once a year.",
        4: "AI investment is part of the business plan and tracked quarterly against outcomes.",
        5: "Investment is steered continuously by measured value across the portfolio.",
    },
    "process": {
        1: "Agents sit beside the process; nobody measures their effect.",
        2: "A few steps use agents; outcomes are estimated rather than measured.",
        3: "Key processes were redesigned around agents, with baseline and target metrics.",
        4: "End-to-end flows run with agents and are measured weekly against targets.",
        5: "Processes are re-tuned continuously from the agents' measured results.",
    },
    "governance": {
        1: "No risk review before agents go live.",
        2: "Risk reviews happen on request; controls are not tracked.",
        3: "Every agent has a risk tier and required controls; evidence is reviewed.",
        4: "Controls are monitored continuously and findings are closed within their targets.",
        5: "Governance is automated end to end and audited independently every year.",
    },
    "technology": {
        1: "Each team wires its own models and data; no shared platform.",
        2: "A shared model gateway exists; data quality is unknown.",
        3: "A common platform with tracing; key data sources have owners.",
        4: "Platform, evaluation and telemetry are standard; data quality is measured.",
        5: "Self-service platform with automated evaluation and lineage for every source.",
    },
    "adoption": {
        1: "Few people know the agents exist.",
        2: "Licences were handed out; training is optional and usage is low.",
        3: "Role-based training and champions; usage is tracked per team.",
        4: "Agents are part of how people work; managers coach on their use.",
        5: "People propose and co-design new agents themselves.",
    },
}


def _assessor():
    return (
        User.objects.filter(groups__name=Role.BOARD, is_active=True).order_by("username").first()
        or User.objects.filter(is_superuser=True).order_by("username").first()
    )


def build_assessments(stdout, today) -> int:
    assessor = _assessor()
    created = 0
    for unit in BusinessUnit.objects.order_by("path"):
        if MaturityAssessment.objects.filter(business_unit=unit).exists():
            continue
        earlier, current = LEVELS.get(unit.slug, DEFAULT_LEVELS)
        for levels, on in ((earlier, today - timedelta(days=182)), (current, today - timedelta(days=20))):
            scores = dict(zip(DIMENSIONS, levels, strict=True))
            with transaction.atomic():
                assessment = MaturityAssessment(
                    business_unit=unit,
                    assessed_on=on,
                    assessed_by=assessor,
                    assessed_by_repr=assessor.username if assessor else "demo",
                    notes="Assessed in the quarterly maturity workshop." if levels is current else "",
                    **scores,
                    **{f"{d}_rationale": RATIONALE[d][scores[d]] for d in DIMENSIONS},
                )
                assessment.full_clean()
                assessment.save()
                services.audit.record(
                    services.MATURITY_ASSESSMENT_RECORDED,
                    actor=assessor,
                    target=assessment,
                    after={"business_unit": unit.slug, "assessed_on": on, **scores, "demo": True},
                )
            created += 1
    stdout.write(f"portfolio: {created} maturity assessments recorded")
    return created


def _curve(value: int, days_ago: int, *, growth: float, rng: random.Random) -> int:
    """``value`` as it would have been ``days_ago`` days back: ``growth`` is the change over the whole window."""
    factor = 1 - growth * days_ago / DAYS
    wobble = 1 + rng.uniform(-0.06, 0.06) if value else 1
    return max(0, round(value * factor * wobble))


def build_snapshots(stdout, now) -> int:
    today_snapshot = services.take_portfolio_snapshot(now)
    today = today_snapshot.taken_on
    lines = list(today_snapshot.lines.values())
    existing = set(
        PortfolioSnapshot.objects.filter(taken_on__gte=today - timedelta(days=DAYS)).values_list("taken_on", flat=True)
    )
    created = 0
    for days_ago in range(DAYS - 1, 0, -1):
        day = today - timedelta(days=days_ago)
        if day in existing:
            continue
        rng = random.Random(f"portfolio-demo-{day.isoformat()}")  # noqa: S311 (demo data, not security)
        with transaction.atomic():
            snapshot = PortfolioSnapshot.objects.create(
                taken_on=day,
                taken_at=now - timedelta(days=days_ago),
                # Shadow agents fell as teams registered what telemetry found.
                open_shadow_agents=_curve(today_snapshot.open_shadow_agents, days_ago, growth=-1.6, rng=rng),
            )
            rows = []
            for line in lines:
                agents = _curve(line["agents"], days_ago, growth=0.35, rng=rng)
                if not agents:
                    continue
                rows.append(
                    PortfolioSnapshotLine(
                        snapshot=snapshot,
                        business_unit_id=line["business_unit_id"],
                        pattern=line["pattern"],
                        risk_tier=line["risk_tier"],
                        agents=agents,
                        production_agents=min(agents, _curve(line["production_agents"], days_ago, growth=0.5, rng=rng)),
                        orphaned_agents=min(agents, _curve(line["orphaned_agents"], days_ago, growth=-0.5, rng=rng)),
                        open_findings=_curve(line["open_findings"], days_ago, growth=-0.9, rng=rng),
                        open_findings_high=_curve(line["open_findings_high"], days_ago, growth=-1.2, rng=rng),
                        reviews_overdue=_curve(line["reviews_overdue"], days_ago, growth=-0.8, rng=rng),
                        maturity_traps=min(agents, _curve(line["maturity_traps"], days_ago, growth=-0.3, rng=rng)),
                    )
                )
            PortfolioSnapshotLine.objects.bulk_create(rows, batch_size=1000)
        created += 1
    stdout.write(f"portfolio: {created} daily snapshots back-filled, today's retaken")
    return created


def build(stdout) -> None:
    now = timezone.now()
    build_assessments(stdout, timezone.localdate(now))
    build_snapshots(stdout, now)
    traps = services.maturity_trap_agents(now)
    stdout.write(f"portfolio: {len(traps)} agents in the maturity trap; {len(reports.PERIODS)} report periods")
