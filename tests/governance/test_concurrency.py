"""Two sweeps at once on PostgreSQL: each finding is created once."""

import threading

import pytest
from django.db import connection, connections

from governance import checks
from governance.choices import FindingKind
from governance.models import CheckRun, Finding
from telemetry.identity import identify
from telemetry.ingest import Event, store_events

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL's concurrency")


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_sweeps_create_each_finding_once(admin):
    from django.utils import timezone

    from telemetry import services as telemetry_services

    # given fifty shadow identities
    source, _raw = telemetry_services.create_source(actor=admin, name="Concurrent", kind="collector")
    store_events(
        source.pk,
        [
            Event(
                identity=identify(f"shadow.{i}", None, None),
                environment="production",
                kind="heartbeat",
                occurred_at=timezone.now(),
            )
            for i in range(50)
        ],
    )
    barrier = threading.Barrier(2)
    errors = []

    def sweep():
        try:
            barrier.wait()
            checks.run_check(FindingKind.SHADOW_AGENT)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connections.close_all()

    # when two sweeps start at the same moment, each on its own connection
    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # then both succeeded and each identity has exactly one open finding
    assert errors == []
    assert Finding.objects.filter(kind=FindingKind.SHADOW_AGENT).count() == 50
    assert Finding.objects.open().values("identity").distinct().count() == 50
    runs = sorted(CheckRun.objects.values_list("found", flat=True))
    assert runs == [0, 50]
