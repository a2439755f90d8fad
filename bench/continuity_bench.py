"""Owner-continuity benchmark on PostgreSQL: deprovisioning an owner of 5 and of 500 agents, and opening
an attestation campaign over 5,000 and over 50,000 agents.

For each it prints the median wall time, the number of queries, and the ratio to a baseline measured in
the same run on the same data: the bare writes written by hand in SQL (deprovisioning: deactivate the
account and insert the proposals with INSERT … SELECT; campaign: insert the rows with INSERT … SELECT).
Queries must not grow with the number of agents; time should grow at most linearly.

Usage (uses DATABASE_URL with "_bench" appended, created if missing, and leaves it behind):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/agentreg_continuity .venv/bin/python bench/continuity_bench.py

``BENCH_CAMPAIGN_SIZES=5000,50000`` and ``BENCH_OWNER_SIZES=5,500`` set the sizes; ``BENCH_RUNS`` the
samples per measure (3).
"""

import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BASE_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/agentreg")
BENCH_URL = BASE_URL.rsplit("/", 1)[0] + "/" + BASE_URL.rsplit("/", 1)[1].split("?")[0] + "_bench"
os.environ["DATABASE_URL"] = BENCH_URL
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.test_settings")

import psycopg  # noqa: E402

admin_url = BASE_URL.rsplit("/", 1)[0] + "/postgres"
with psycopg.connect(admin_url, autocommit=True) as conn:
    name = BENCH_URL.rsplit("/", 1)[1]
    if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
        conn.execute(f'CREATE DATABASE "{name}"')

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from governance.models import Attestation, AttestationCampaign  # noqa: E402
from governance.services import continuity  # noqa: E402
from registry import services as registry_services  # noqa: E402
from registry.models import Agent, BusinessUnit, DirectoryEntry, HandoverProposal, User  # noqa: E402
from registry.roles import Role  # noqa: E402

CAMPAIGN_SIZES = tuple(int(n) for n in os.environ.get("BENCH_CAMPAIGN_SIZES", "5000,50000").split(","))
OWNER_SIZES = tuple(int(n) for n in os.environ.get("BENCH_OWNER_SIZES", "5,500").split(","))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
PATTERNS = ("employee_enablement", "expert_empowerment", "workplace_services", "core_process")
TIERS = ("low", "medium", "high", "critical")
STATES = ("proposed", "approved", "pilot", "production", "production")


class Rollback(Exception):
    pass


def add_agents(owner, unit, count, prefix):
    now = timezone.now()
    Agent.objects.bulk_create(
        [
            Agent(
                key=f"{prefix}.agent-{i}",
                name=f"{prefix} agent {i}",
                business_unit=unit,
                owner=owner,
                pattern=PATTERNS[i % len(PATTERNS)],
                autonomy_level=1 + i % 5,
                mode="assist" if i % 5 < 2 else "execute",
                topology="service",
                data_classification="internal",
                lifecycle=STATES[i % len(STATES)],
                lifecycle_changed_at=now,
                production_since=now if STATES[i % len(STATES)] == "production" else None,
                risk_tier=TIERS[i % len(TIERS)],
            )
            for i in range(count)
        ],
        batch_size=5000,
    )


def fill(total):
    """A catalog of ``total`` agents spread over 50 owners and 10 units, plus a board member; idempotent."""
    call_command("migrate", verbosity=0)
    unit, _ = BusinessUnit.objects.get_or_create(slug="bench", defaults={"name": "Bench", "path": "/bench/"})
    manager = User.objects.filter(username="bench.manager").first() or User.objects.create(
        username="bench.manager", first_name="Manager"
    )
    DirectoryEntry.objects.get_or_create(user=manager)
    board = User.objects.filter(username="bench.board").first() or registry_services.create_user(
        actor=None, username="bench.board", roles=[Role.BOARD]
    )
    have = Agent.objects.filter(key__startswith="fleet").count()
    if have < total:
        owners = [
            User.objects.get_or_create(username=f"bench.owner-{i}", defaults={"business_unit": unit})[0]
            for i in range(50)
        ]
        per_owner = (total - have) // len(owners) + 1
        for i, owner in enumerate(owners):
            add_agents(owner, unit, per_owner, f"fleet{have}-{i}")
    return unit, manager, board


def measure(fn, runs=RUNS):
    times, queries = [], []
    for _ in range(runs):
        with CaptureQueriesContext(connection) as captured:
            start = time.perf_counter()
            try:
                with transaction.atomic():
                    fn()
                    raise Rollback
            except Rollback:
                pass
            times.append(time.perf_counter() - start)
        queries.append(len(captured.captured_queries))
    return statistics.median(times), max(queries)


def deprovision_bench(unit, manager):
    print("\n## Deprovisioning an owner (in-request: deactivate, delegations, proposals, audit, orphaned_owner)")
    print(f"catalog: {Agent.objects.count():,} agents; median of {RUNS} runs, each rolled back")
    print("| agents owned | time (ms) | queries | baseline SQL (ms) | ratio |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    rows = []
    for size in OWNER_SIZES:
        leaver = User.objects.filter(username=f"bench.leaver-{size}").first()
        if leaver is None:
            leaver = User.objects.create(username=f"bench.leaver-{size}", business_unit=unit)
            DirectoryEntry.objects.create(user=leaver, manager_scim_id=str(manager.directory.scim_id))
            add_agents(leaver, unit, size, f"leaver{size}")

        def service(leaver=leaver):
            registry_services.deprovision_user(leaver)

        def baseline(leaver=leaver):
            with connection.cursor() as cursor:
                cursor.execute("UPDATE registry_user SET is_active = false WHERE id = %s", [leaver.pk])
                cursor.execute(
                    f"INSERT INTO {HandoverProposal._meta.db_table} "
                    "(agent_id, from_owner_id, proposed_to_id, basis, status, note, created_at) "
                    "SELECT id, owner_id, %s, 'manager', 'pending', '', now() FROM registry_agent "
                    "WHERE owner_id = %s AND lifecycle <> 'retired'",
                    [manager.pk, leaver.pk],
                )

        t, q = measure(service)
        b, _ = measure(baseline)
        rows.append((size, t, q))
        print(f"| {size:,} | {t * 1000:.1f} | {q} | {b * 1000:.1f} | {t / b:.1f}× |")
    (s1, t1, q1), (s2, t2, q2) = rows[0], rows[-1]
    print(f"\nqueries {q1} → {q2} (constant: {q1 == q2}); time ×{t2 / t1:.1f} for ×{s2 / s1:.0f} agents")


def campaign_bench(board):
    print("\n## Opening an attestation campaign (one INSERT … SELECT)")
    print(f"median of {RUNS} runs, each rolled back")
    print("| agents in scope | time (ms) | queries | baseline SQL (ms) | ratio |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    rows = []
    for size in CAMPAIGN_SIZES:
        # Scope by lifecycle so exactly ``size`` agents are in it: the first ``size`` fleet agents by id.
        ids = list(Agent.objects.filter(key__startswith="fleet").order_by("pk").values_list("pk", flat=True)[:size])
        low, high = ids[0], ids[-1]

        def service(low=low, high=high):
            scope = continuity.campaign_scope().filter(pk__gte=low, pk__lte=high)
            campaign = AttestationCampaign.objects.create(
                name="bench", opened_at=timezone.now(), deadline=timezone.now() + timedelta(days=21), created_by=board
            )
            continuity._insert_attestations(campaign, scope)

        def full(size=size):
            continuity.open_campaign(actor=board, name="bench", deadline=timezone.now() + timedelta(days=21))

        def baseline(low=low, high=high):
            campaign = AttestationCampaign.objects.create(
                name="bench", opened_at=timezone.now(), deadline=timezone.now() + timedelta(days=21)
            )
            with connection.cursor() as cursor:
                cursor.execute(
                    f"INSERT INTO {Attestation._meta.db_table} (campaign_id, agent_id, owner_id, unit_id, answer, "
                    "snapshot) SELECT %s, id, owner_id, business_unit_id, 'pending', '{}' FROM registry_agent "
                    "WHERE id BETWEEN %s AND %s AND lifecycle <> 'retired'",
                    [campaign.pk, low, high],
                )

        t, q = measure(service)
        b, _ = measure(baseline)
        rows.append((size, t, q))
        print(f"| {size:,} | {t * 1000:.1f} | {q} | {b * 1000:.1f} | {t / b:.1f}× |")
    t_all, q_all = measure(full, runs=1)
    print(
        f"\nthe whole service (validation, audit) over the full catalog of {Agent.objects.count():,}: "
        f"{t_all * 1000:.0f} ms, {q_all} queries"
    )
    (s1, t1, q1), (s2, t2, q2) = rows[0], rows[-1]
    print(f"queries {q1} → {q2} (constant: {q1 == q2}); time ×{t2 / t1:.1f} for ×{s2 / s1:.0f} agents")


if __name__ == "__main__":
    start = time.perf_counter()
    unit, manager, board = fill(max(CAMPAIGN_SIZES))
    print(f"filled in {time.perf_counter() - start:.0f} s")
    deprovision_bench(unit, manager)
    campaign_bench(board)
