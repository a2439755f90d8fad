"""Who reads what, through a real streaming replica (figures, not a test).

    bash scripts/replica.sh up
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/agentreg_replica_e2e \
    DATABASE_REPLICA_URL=postgres://postgres@127.0.0.1:5433/agentreg_replica_e2e \
        .venv/bin/python bench/replica_read_your_writes.py
    bash scripts/replica.sh down

The database must be migrated on the primary (the replica follows). An owner and a leadership viewer
list the agents through the REST API with their tokens while the owner renames one: each line says
which database the list was read from, the name it showed, and how long it took. Replay on the
replica is paused for the second rename, so the replica shows the old name, as it would under lag.
"""

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SECRET_KEY", "bench-secret-key-not-for-production-0123456789")
os.environ.setdefault("CELERY_BROKER_URL", "memory://")
os.environ.setdefault("EMAIL_BACKEND", "locmem")
os.environ.setdefault("ALLOWED_HOSTS", "testserver")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("LOG_LEVEL", "ERROR")
if not os.environ.get("DATABASE_REPLICA_URL", "").startswith("postgres"):
    sys.exit("Set DATABASE_URL and DATABASE_REPLICA_URL (see the docstring).")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connections  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from config import db_router  # noqa: E402
from registry import services  # noqa: E402
from registry.models import BusinessUnit, User  # noqa: E402
from registry.roles import Role  # noqa: E402


def on_replica(sql: str) -> None:
    with connections["replica"].cursor() as cursor:
        cursor.execute(sql)


unit, _ = BusinessUnit.objects.get_or_create(slug="replica-check", defaults={"name": "Replica check"})
owner, _ = User.objects.get_or_create(username="replica-owner", defaults={"business_unit": unit})
leader, _ = User.objects.get_or_create(username="replica-leader", defaults={"business_unit": unit})
services.set_user_roles(leader, [Role.LEADERSHIP], actor=None)
key = f"replica.check-{int(time.time())}"
services.create_agent(
    actor=owner,
    owner=owner,
    key=key,
    name="Before",
    business_unit=unit,
    pattern="employee_enablement",
    autonomy_level=2,
    topology="embedded",
    data_classification="internal",
)
clients = {}
for user in (owner, leader):
    _, raw = services.create_api_token(user, actor=user, name="replica check")
    clients[user] = APIClient()
    clients[user].credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    clients[user].get("/api/v1/agents/")  # warm up: imports, connections, the token's first use
time.sleep(1)


def rename(name: str) -> None:
    assert clients[owner].patch(f"/api/v1/agents/{key}/", {"name": name}, format="json").status_code == 200


def read(user, when: str) -> None:
    with CaptureQueriesContext(connections["replica"]) as seen:
        started = time.perf_counter()
        rows = clients[user].get("/api/v1/agents/").json()["results"]
        ms = (time.perf_counter() - started) * 1000
    used = "replica" if any("registry_agent" in q["sql"] for q in seen.captured_queries) else "primary"
    name = next((row["name"] for row in rows if row["key"] == key), "(not listed)")
    print(f"| {when} | {user.username} | {used} | {name} | {ms:.0f} |")


print(
    f"max lag {settings.DATABASE_REPLICA_MAX_LAG_SECONDS} s, sticky {settings.DATABASE_REPLICA_STICKY_SECONDS} s, "
    f"lag checked every {settings.DATABASE_REPLICA_LAG_CHECK_SECONDS} s\n"
)
print("| when | who | read from | name shown | ms |\n| --- | --- | --- | --- | --- |")
read(owner, "before any change")
read(leader, "before any change")
rename("First")
read(owner, "the owner renamed it First, at once")
read(leader, "at once")
on_replica("SELECT pg_wal_replay_pause()")
try:
    rename("Second")
    read(owner, "replay paused; the owner renamed it Second, at once")
    read(leader, "at once (the replica is behind, within the lag limit)")
    time.sleep(settings.DATABASE_REPLICA_STICKY_SECONDS + 1)
    db_router.reset_lag_cache()
    read(owner, f"{settings.DATABASE_REPLICA_STICKY_SECONDS + 1} s later, replay still paused")
    read(leader, "same time (lag past the limit)")
finally:
    on_replica("SELECT pg_wal_replay_resume()")
time.sleep(1)
db_router.reset_lag_cache()
read(owner, "replay resumed")
read(leader, "replay resumed")
