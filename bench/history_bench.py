"""History benchmark: what reading an agent's audit trail costs once entries follow their object's rule.

An agent's history is read through ``AuditEvent.objects.for_user``, which now
also hides the entries about evidence the reader may not see (a subquery on
the evidence they may view). This measures, for an employee (narrowed) and the
a leadership viewer (who sees the evidence, so nothing is narrowed), p50/p95 of
- the agent page's latest 20 entries,
- a history page (50 entries) at the start and deep in the trail, with its count,
against the same reads under the previous rule (agent visibility only) in the
same run, and prints the ratio.

Data (a fresh scratch database each run: the trail is append-only; its hash
chain is not valid, the rows are bulk-written): 1,000 agents, 50,000 audit entries, one agent with
5,000 of them of which 1,000 are about its 1,000 pieces of evidence.

Usage (drop and create the scratch database first):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/agentreg_bench_history .venv/bin/python bench/history_bench.py
"""

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("LOG_FORMAT", "plain")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from governance.models import Evidence  # noqa: E402
from registry import services as registry_services  # noqa: E402
from registry.models import Agent, AuditEvent, BusinessUnit, User  # noqa: E402
from registry.roles import Role  # noqa: E402

AGENTS = 1000
ENTRIES = 50_000
TARGET_ENTRIES = 5000
TARGET_EVIDENCE = 1000
RUNS = int(os.environ.get("BENCH_RUNS", "25"))


def prepare():
    call_command("migrate", verbosity=0)
    if AuditEvent.objects.filter(event_type="bench.history").exists():
        sys.exit("The trail is append-only: drop and create the scratch database before running again.")
    unit, _ = BusinessUnit.objects.get_or_create(slug="bench", defaults={"name": "Bench", "path": "/bench/"})
    owner, _ = User.objects.get_or_create(username="bench-history-owner")
    leader, created = User.objects.get_or_create(username="bench-history-leader")
    if created:
        registry_services.set_user_roles(leader, [Role.LEADERSHIP], actor=None)
    employee, _ = User.objects.get_or_create(username="bench-history-employee")
    now = timezone.now()
    Agent.objects.bulk_create(
        [
            Agent(
                key=f"bench.history-{i}",
                name=f"History agent {i}",
                business_unit=unit,
                owner=owner,
                pattern="employee_enablement",
                lifecycle="production",
                lifecycle_changed_at=now,
                autonomy_level=1,
                mode="assist",
                topology="service",
                data_classification="internal",
            )
            for i in range(AGENTS)
        ],
        batch_size=5000,
    )
    agents = list(Agent.objects.order_by("pk").values_list("pk", flat=True))
    target = agents[0]
    evidence = Evidence.objects.bulk_create(
        [
            Evidence(
                agent_id=target,
                control_code="scope",
                kind="statement",
                statement=f"Statement {i}",
                status="superseded",
                submitted_by=owner,
                submitted_at=now,
            )
            for i in range(TARGET_EVIDENCE)
        ]
    )
    first = (AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0) + 1
    rows = []
    for n in range(ENTRIES):
        on_target = n < TARGET_ENTRIES
        about_evidence = on_target and n % 5 == 0
        rows.append(
            AuditEvent(
                seq=first + n,
                occurred_at=now,
                actor=owner,
                actor_repr=owner.username,
                event_type="evidence.submitted" if about_evidence else "bench.history",
                target_type="governance.evidence" if about_evidence else "registry.agent",
                target_id=str(evidence[(n // 5) % TARGET_EVIDENCE].pk if about_evidence else target),
                target_repr="bench",
                agent_id=target if on_target else agents[1 + n % (AGENTS - 1)],
                after={"n": n},
                prev_hash=f"{first + n - 1:064d}",
                hash=f"{first + n:064d}",
            )
        )
    AuditEvent.objects.bulk_create(rows, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # fresh statistics for the planner
    return Agent.objects.get(pk=target), leader, employee


def previous_rule(user):
    """The rule before entries followed their object: whoever sees the agent sees every entry about it."""
    return AuditEvent.objects.filter(agent__in=Agent.objects.for_user(user, "view").values("pk"))


def timed(fn):
    fn()
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[max(0, round(0.95 * len(samples)) - 1)]


def main():
    agent, leader, employee = prepare()
    print(f"{AGENTS} agents, {ENTRIES} entries; the agent read has {TARGET_ENTRIES}, {TARGET_EVIDENCE} about evidence")
    reads = {
        "latest 20": lambda qs: list(qs.filter(agent=agent).order_by("-seq")[:20]),
        "page 1 (50) + count": lambda qs: (
            list(qs.filter(agent=agent).order_by("-seq")[:50]),
            qs.filter(agent=agent).count(),
        ),
        "page 80 (50)": lambda qs: list(qs.filter(agent=agent).order_by("-seq")[3950:4000]),
    }
    print(f"{'reader':9} {'read':22} {'now p50/p95 ms':>16} {'before p50/p95 ms':>18} {'ratio':>6}")
    for name, user in (("employee", employee), ("leader", leader)):
        shown = AuditEvent.objects.for_user(user).filter(agent=agent).count()
        for label, read in reads.items():
            now = timed(lambda read=read, user=user: read(AuditEvent.objects.for_user(user)))
            before = timed(lambda read=read, user=user: read(previous_rule(user)))
            print(
                f"{name:9} {label:22} {now[0]:7.2f}/{now[1]:7.2f} {before[0]:8.2f}/{before[1]:8.2f} "
                f"{now[0] / before[0]:6.2f}"
            )
        print(f"{name:9} sees {shown} of {TARGET_ENTRIES} entries")


if __name__ == "__main__":
    main()
