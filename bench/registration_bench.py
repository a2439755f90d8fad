"""Registration benchmark: bulk import of 500 to 5,000 rows, and applying 500 manifests, on PostgreSQL.

For each file size it prints the median of BENCH_RUNS runs of
- a plain ``Agent.objects.bulk_create`` of the same rows (the baseline: no checks, no rights, no audit),
- the file check alone (``import_agents(..., dry_run=True)``: parse, look-ups, every row validated),
- the whole import (check, agents, owner rights, audit chain, telemetry hook) in one transaction,
with the time per row and the import's ratio to the baseline measured in the same run. Every
measure runs in a transaction that is rolled back, so each size starts from the same database.

Then it applies 500 manifests (each an agent with one version and one tool) through the service
the API calls, as a dry run and for real, and prints the time and queries per manifest.

Usage (uses DATABASE_URL with "_bench" appended, created if missing, and leaves it behind):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/agentreg_h15 .venv/bin/python bench/registration_bench.py

``BENCH_SIZES=500,5000`` and ``BENCH_RUNS=3`` change the sizes and samples; ``BENCH_MANIFESTS=500``;
``BENCH_PART=import`` or ``apply`` runs one half.
"""

import csv
import io
import os
import statistics
import sys
import time
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
from django.utils import timezone  # noqa: E402

from registry import bulk, services  # noqa: E402
from registry.choices import mode_for_autonomy  # noqa: E402
from registry.manifests import API_VERSION  # noqa: E402
from registry.models import Agent, BusinessUnit, Tool, User  # noqa: E402
from registry.roles import Role  # noqa: E402

SIZES = tuple(int(n) for n in os.environ.get("BENCH_SIZES", "500,1000,2000,5000").split(","))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
MANIFESTS = int(os.environ.get("BENCH_MANIFESTS", "500"))
PATTERNS = ("employee_enablement", "expert_empowerment", "workplace_services")


class Rollback(Exception):
    pass


def rolled_back(fn):
    """Run fn in a transaction that is rolled back; return its duration in seconds."""
    started = time.perf_counter()
    try:
        with transaction.atomic():
            fn()
            elapsed = time.perf_counter() - started
            raise Rollback
    except Rollback:
        pass
    return elapsed


def setup():
    call_command("migrate", verbosity=0)
    unit = BusinessUnit.objects.filter(slug="bench").first()
    if unit is None:
        unit = BusinessUnit(name="Bench unit", slug="bench")
        unit.path = unit.compute_path()
        unit.save()
    owner = User.objects.filter(username="bench.owner").first() or services.create_user(
        actor=None, username="bench.owner", business_unit=unit
    )
    admin = User.objects.filter(username="bench.admin").first() or services.create_user(
        actor=None, username="bench.admin", roles=[Role.PLATFORM_ADMIN], business_unit=unit
    )
    tool = Tool.objects.filter(key="bench.read").first() or services.create_tool(
        actor=admin, key="bench.read", name="Bench read"
    )
    return unit, owner, admin, tool


def rows_for(size: int, unit, owner, prefix: str) -> list[dict]:
    return [
        {
            "key": f"{prefix}.agent-{i}",
            "name": f"Agent {i}",
            "owner": owner.username,
            "business_unit": unit.slug,
            "objective": "Helps people with their questions.",
            "pattern": PATTERNS[i % len(PATTERNS)],
            "autonomy_level": str(1 + i % 5),
            "data_classification": "internal",
            "topology": "service",
            "runs_in_staging": "yes" if i % 2 else "no",
        }
        for i in range(size)
    ]


def as_csv(rows) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=bulk.COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def plain_bulk_insert(rows, unit, owner, admin):
    now = timezone.now()
    Agent.objects.bulk_create(
        [
            Agent(
                key=r["key"],
                name=r["name"],
                owner=owner,
                business_unit=unit,
                objective=r["objective"],
                pattern=r["pattern"],
                autonomy_level=int(r["autonomy_level"]),
                mode=mode_for_autonomy(int(r["autonomy_level"])),
                data_classification=r["data_classification"],
                topology=r["topology"],
                runs_in_staging=r["runs_in_staging"] == "yes",
                lifecycle="proposed",
                lifecycle_changed_at=now,
                created_by=admin,
            )
            for r in rows
        ],
        batch_size=1000,
    )


def bench_import(unit, owner, admin):
    print(f"bulk import, median of {RUNS} runs (each rolled back)")
    print(" rows | plain bulk_create ms | check ms | import ms | import us/row | x plain")
    results = []
    for size in SIZES:
        rows = rows_for(size, unit, owner, f"b{size}")
        content = as_csv(rows)
        plain, check, full = [], [], []
        for _ in range(RUNS):
            plain.append(rolled_back(lambda rows=rows: plain_bulk_insert(rows, unit, owner, admin)))
            check.append(rolled_back(lambda c=content: services.import_agents("f.csv", c, actor=admin, dry_run=True)))

            def run(c=content, n=size):
                result = services.import_agents("f.csv", c, actor=admin)
                assert not result.errors, result.errors[:3]
                assert len(result.agents) == n

            full.append(rolled_back(run))
        p, c, f = (statistics.median(x) * 1000 for x in (plain, check, full))
        results.append((size, p, c, f))
        print(f"{size:5d} | {p:19.1f} | {c:8.1f} | {f:9.1f} | {f * 1000 / size:13.1f} | {f / p:7.2f}")
    first, last = results[0], results[-1]
    print(
        f"time per row {last[0]} vs {first[0]} rows: {(last[3] / last[0]) / (first[3] / first[0]):.2f}x "
        f"(flat is 1.00); import vs plain insert at {last[0]}: {last[3] / last[1]:.2f}x"
    )


def manifests_for(count, unit, owner, tool, prefix):
    return [
        {
            "apiVersion": API_VERSION,
            "kind": "Agent",
            "key": f"{prefix}.m-{i}",
            "name": f"Manifest agent {i}",
            "owner": owner.username,
            "business_unit": unit.slug,
            "objective": "Declared in its repository.",
            "pattern": PATTERNS[i % len(PATTERNS)],
            "autonomy_level": 2,
            "topology": "service",
            "data_classification": "internal",
            "versions": [
                {
                    "label": "1.0.0",
                    "model_provider": "openai",
                    "model_name": "gpt-5",
                    "tools": [{"tool": tool.key, "access": "read"}],
                }
            ],
        }
        for i in range(count)
    ]


def bench_apply(unit, owner, admin, tool):
    print(f"\napply {MANIFESTS} manifests (one agent, one version, one tool each; rolled back afterwards)")
    print(" run                     |     total s | ms/manifest | queries | queries/manifest")
    docs = manifests_for(MANIFESTS, unit, owner, tool, "apply")

    def measure(label, dry_run):
        count = [0]

        def counter(execute, sql, params, many, context):
            count[0] += 1
            return execute(sql, params, many, context)

        with connection.execute_wrapper(counter):
            started = time.perf_counter()
            plans = services.apply_manifests(docs, actor=admin, dry_run=dry_run)
            elapsed = time.perf_counter() - started
        queries = count[0]
        actions = {a: sum(1 for p in plans if p.action == a) for a in ("create", "update", "unchanged")}
        print(
            f" {label:23s} | {elapsed:11.2f} | {elapsed * 1000 / MANIFESTS:11.1f} | {queries:7d} | "
            f"{queries / MANIFESTS:16.1f}   {actions}"
        )

    try:
        with transaction.atomic():
            measure("dry run (plan)", True)
            measure("apply (create)", False)
            measure("again (idempotent)", False)
            raise Rollback
    except Rollback:
        pass


if __name__ == "__main__":
    unit, owner, admin, tool = setup()
    connection.force_debug_cursor = False
    if os.environ.get("BENCH_PART", "all") in ("all", "import"):
        bench_import(unit, owner, admin)
    if os.environ.get("BENCH_PART", "all") in ("all", "apply"):
        bench_apply(unit, owner, admin, tool)
