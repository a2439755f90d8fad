"""Two sweeps at once on PostgreSQL: each finding is created once, and resolved once."""

import threading

import pytest
from django.db import connection, connections

from governance import checks
from governance.choices import FindingKind
from governance.models import CheckRun, Finding, FindingEvent
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


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_sweeps_of_a_query_check_open_and_resolve_once(admin, make_agent):
    """no_success_metric hands its detection to the database as a query: the same guarantees."""
    from django.utils import timezone

    from registry.models import Agent

    # given thirty production agents without a success metric
    for i in range(30):
        make_agent(f"unit.concurrent-{i}", actor=admin)
    Agent.objects.update(lifecycle="production", production_since=timezone.now())

    def two_sweeps():
        barrier = threading.Barrier(2)
        errors = []

        def sweep():
            try:
                barrier.wait()
                checks.run_check(FindingKind.NO_SUCCESS_METRIC)
            except Exception as exc:  # collected and asserted below
                errors.append(exc)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=sweep) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        return sorted(CheckRun.objects.order_by("-id").values_list("found", "resolved")[:2])

    # when two sweeps start at the same moment: each finding opens once
    assert two_sweeps() == [(0, 0), (30, 0)]
    assert Finding.objects.open().filter(kind=FindingKind.NO_SUCCESS_METRIC).count() == 30
    # and once the condition clears, two sweeps resolve each finding once, with one history row
    Agent.objects.update(business_outcome="Fewer tickets", metric_name="Tickets", metric_target=10)
    assert two_sweeps() == [(0, 0), (0, 30)]
    assert Finding.objects.open().filter(kind=FindingKind.NO_SUCCESS_METRIC).count() == 0
    assert FindingEvent.objects.filter(kind="resolved").count() == 30
