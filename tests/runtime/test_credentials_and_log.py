"""The gateway credential (decisions only, and only it reaches decisions), the decision log buffered and
written in bulk, unknown subjects as sightings, and no database query per decision."""

import copy
import runpy
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings as settings_module
from django.core.exceptions import ValidationError
from django.db import OperationalError
from django.test import Client

from registry import services as registry_services
from runtime import log, services, snapshot
from runtime.models import AllowCount, DenialRecord, GatewayCredential
from telemetry.models import Sighting
from tests.runtime.fixtures import ask

pytestmark = pytest.mark.django_db


# --- The credential ---------------------------------------------------------------------------------


def test_the_raw_credential_is_shown_once_and_only_its_digest_is_kept(gateway):
    credential, raw = gateway
    assert raw.startswith("azn_")
    stored = GatewayCredential.objects.get()
    assert raw not in (stored.digest, stored.prefix)
    assert stored.digest == services.hash_credential(raw)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/agents/"),
        ("get", "/agents/"),
        ("post", "/api/v1/telemetry/events"),
        ("get", "/api/v1/stops/"),
        ("get", "/api/v1/policy/cedar/"),
        ("get", "/admin/"),
    ],
)
def test_a_gateway_credential_is_refused_everywhere_else(gateway, method, path):
    _, raw = gateway
    response = getattr(Client(), method)(path, headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 403
    assert "only ask for decisions" in response.json()["detail"]


def test_no_other_credential_reaches_the_decision_endpoints(decide, owner, admin, released):
    from telemetry import services as telemetry_services

    _, personal = registry_services.create_api_token(admin, actor=admin, name="mine")
    _, ingest = telemetry_services.create_source(actor=admin, name="Collector", kind="collector")
    signed_in = Client()
    signed_in.force_login(admin)

    assert decide(ask(released.key), token=personal).status_code == 401
    assert decide(ask(released.key), token=ingest).status_code == 403  # ingest tokens only ingest
    assert decide(ask(released.key), token=None).status_code == 401
    assert decide(ask(released.key), token="azn_forged").status_code == 401
    assert (
        signed_in.post("/access/v1/evaluation", ask(released.key), content_type="application/json").status_code == 401
    )


def test_a_revoked_credential_is_refused_from_the_next_version_check(decide, gateway, admin, released):
    credential, _ = gateway
    assert decide(ask(released.key)).status_code == 200

    services.revoke_gateway_credential(credential, actor=admin)

    assert decide(ask(released.key)).status_code == 401


def test_only_administrators_mint_and_revoke_credentials(api_for, admin, board, owner, gateway):
    credential, _ = gateway
    source = credential.source
    assert api_for(owner).post("/api/v1/gateway-credentials/", {"name": "x", "source": source.name}).status_code == 403
    assert api_for(board).post(f"/api/v1/gateway-credentials/{credential.pk}/revoke/").status_code == 403
    minted = api_for(admin).post("/api/v1/gateway-credentials/", {"name": "edge-2", "source": source.name})
    assert minted.status_code == 201
    assert minted.json()["credential"].startswith("azn_")
    assert "credential" not in api_for(admin).get(f"/api/v1/gateway-credentials/{minted.json()['id']}/").json()
    bad = api_for(admin).post("/api/v1/gateway-credentials/", {"name": "", "source": "nope"})
    assert bad.status_code == 400
    assert {"name", "source"} <= set(bad.json())


# --- The log ------------------------------------------------------------------------------------------


def test_denials_are_aggregated_per_minute_and_allows_counted_per_day(decide, gateway, released, time_machine):
    credential, _ = gateway
    time_machine.move_to("2026-12-07 10:00:05Z", tick=False)
    for _ in range(50):
        decide(ask(released.key, "write", {"type": "tool", "id": "workday.read-leave"}))
    for _ in range(3):
        decide(ask(released.key))
    time_machine.move_to("2026-12-07 10:01:05Z", tick=False)
    decide(ask(released.key, "write", {"type": "tool", "id": "workday.read-leave"}))

    assert not DenialRecord.objects.exists()  # nothing written while deciding
    log.flush()

    rows = list(DenialRecord.objects.order_by("minute").values_list("reason", "count", "agent", "credential"))
    assert rows == [
        ("access_exceeded", 50, released.pk, credential.pk),
        ("access_exceeded", 1, released.pk, credential.pk),
    ]
    assert AllowCount.objects.get().count == 3
    credential.refresh_from_db()
    assert credential.last_used_at is not None


def test_a_second_flush_adds_to_the_same_rows(decide, released):
    decide(ask("ghost.agent"))
    log.flush()
    decide(ask("ghost.agent"))
    decide(ask(released.key))
    log.flush()
    decide(ask(released.key))
    log.flush()

    assert DenialRecord.objects.get().count == 2
    assert AllowCount.objects.get().count == 2


def test_an_unknown_subject_counts_as_a_sighting_from_that_gateway(decide, gateway, released):
    credential, _ = gateway
    decide(ask("urn:acme:agent:shadow.bot", environment="staging"))
    decide(ask("urn:acme:agent:shadow.bot", environment="staging"))
    log.flush()

    sighting = Sighting.objects.get()
    assert (sighting.identity, sighting.environment, sighting.source_id, sighting.agent_id) == (
        "urn:acme:agent:shadow.bot",
        "staging",
        credential.source_id,
        None,
    )
    assert sighting.event_count == 2


def test_the_agent_page_shows_denials_and_reasons(client_for, decide, owner, released):
    decide(ask(released.key, "write", {"type": "tool", "id": "workday.read-leave"}))
    decide(ask(released.key))
    log.flush()

    page = client_for(owner).get(f"/agents/{released.key}/").content.decode()

    assert "Runtime decisions" in page
    assert "1 allowed" in page
    assert "Access exceeded" in page


# --- Steady state -------------------------------------------------------------------------------------


def test_no_database_query_per_decision_in_the_steady_state(settings, decide, released, django_assert_num_queries):
    from django.db import connection

    settings.RUNTIME_VERSION_CHECK_SECONDS = 60
    settings.RUNTIME_LOG_FLUSH_SECONDS = 60
    decide(ask(released.key))  # builds the snapshot

    with django_assert_num_queries(0, connection=connection):
        for _ in range(100):
            assert decide(ask(released.key)).json()["decision"] is True


def test_a_version_check_is_one_small_query_and_a_change_rebuilds(
    settings, decide, released, owner, django_assert_num_queries
):
    settings.RUNTIME_LOG_FLUSH_SECONDS = 60
    decide(ask(released.key))
    with django_assert_num_queries(1):
        decide(ask(released.key))  # version unchanged: one SELECT of the version

    registry_services.stop_agent(released, actor=owner, reason="now")

    assert decide(ask(released.key)).json()["context"]["reason_code"] == "stopped"


def test_the_portfolio_shows_decisions_and_denials_per_unit(client_for, decide, board, released, make_agent):
    decide(ask(released.key))
    decide(ask(released.key))
    decide(ask(released.key, environment="staging", irreversible=True))
    log.flush()

    page = client_for(board).get("/portfolio/").content.decode()

    assert "Runtime decisions by unit" in page
    row = page.split("Runtime decisions by unit")[1].split("</table>")[0]
    assert "<td>Human Resources</td><td>2</td><td>1</td><td>33%</td>" in row
    assert "Human approval required" in row


def test_repeated_ungranted_or_approval_denials_raise_an_ungranted_tool_use_finding(decide, released, make_agent):
    from django.utils import timezone

    from governance import checks
    from governance.models import Finding

    for _ in range(3):
        decide(ask(released.key, "write", {"type": "tool", "id": "workday.read-leave"}))  # access exceeded
        decide(ask(released.key, "read", {"type": "tool", "id": "slack.post"}))  # not granted
    decide(ask(released.key))  # allowed: not counted
    log.flush()

    checks.run_check("ungranted_tool_use", now=timezone.now())

    finding = Finding.objects.get(kind="ungranted_tool_use")
    assert finding.agent == released
    assert finding.resolved_at is None
    assert "6 times" in finding.summary
    assert finding.details["source"] == "decision_api"


def test_a_stop_rereads_only_the_stops_and_any_other_change_rebuilds(decide, released, owner, board):
    decide(ask(released.key))
    built = snapshot.current()

    stop = registry_services.stop_agent(released, actor=owner, reason="now")

    after_stop = snapshot.current()
    assert after_stop.built_at == built.built_at  # not rebuilt: the stops alone were re-read
    assert after_stop.stops_version > built.stops_version
    assert decide(ask(released.key)).json()["context"]["reason_code"] == "stopped"
    registry_services.lift_stop(stop, actor=board, reason="over")
    registry_services.update_agent(released, actor=owner, name="Renamed")
    assert snapshot.current().version > built.version
    assert decide(ask(released.key)).json()["context"]["reason_code"] == "allowed"


def test_the_credentials_page_mints_once_and_revokes_for_admins_only(client_for, admin, board, gateway):
    credential, _ = gateway
    page = client_for(board).get("/runtime/credentials/")
    assert page.status_code == 200
    assert b"edge-1" in page.content
    assert b"Mint" not in page.content

    minted = client_for(admin).post("/runtime/credentials/", {"name": "edge-2", "source": credential.source_id})
    shown = minted.content.decode().split('id="new-credential" type="text" readonly value="')[1].split('"')[0]
    assert shown.startswith("azn_")
    assert shown not in client_for(admin).get("/runtime/credentials/").content.decode()
    bad = client_for(admin).post("/runtime/credentials/", {"name": "", "source": "x"})
    assert "Choose the gateway" in bad.content.decode()

    client_for(admin).post("/runtime/credentials/", {"revoke": credential.pk})
    credential.refresh_from_db()
    assert credential.revoked_at is not None


def test_a_snapshot_past_its_age_keeps_answering_while_a_thread_rebuilds_it(decide, released, settings, monkeypatch):
    # given a worker whose snapshot is past the safety net's age, with nothing recorded changed since
    decide(ask(released.key))
    old = snapshot.current()
    settings.RUNTIME_SNAPSHOT_MAX_AGE_SECONDS = 60
    building, release = threading.Event(), threading.Event()

    def slow_build(version):  # a build that takes as long as the test says (and reads nothing)
        building.set()
        release.wait(5)
        fresh = copy.copy(old)
        fresh.built_at = time.monotonic()
        return fresh

    monkeypatch.setattr(snapshot, "build", slow_build)
    later = old.built_at + 61
    # when a decision arrives, it is answered from the old snapshot without waiting for the build
    assert snapshot.current(now=later) is old
    assert building.wait(5)
    assert snapshot.current(now=later + 1) is old  # one rebuild at a time, still the old one meanwhile
    # and once the thread's build is done, the fresh snapshot takes over
    release.set()
    for _ in range(100):
        if snapshot._state["snapshot"] is not old:
            break
        time.sleep(0.05)
    assert snapshot._state["snapshot"] is not old
    assert snapshot._state["snapshot"].version == old.version


def test_a_changed_version_is_still_rebuilt_before_answering(decide, released, owner, settings):
    decide(ask(released.key))
    old = snapshot.current()
    registry_services.update_agent(released, actor=owner, name="Renamed at once")
    # a version that moved is never answered from the old snapshot, however young it is
    fresh = snapshot.current(now=old.built_at + 1)
    assert fresh is not old
    assert fresh.version > old.version


def test_a_web_worker_builds_its_snapshot_before_its_first_request(released, caplog):
    # gunicorn calls post_worker_init before the worker accepts connections
    hooks = runpy.run_path(str(Path(settings_module.BASE_DIR) / "config" / "gunicorn.conf.py"))
    snapshot.reset()
    hooks["post_worker_init"](worker=None)
    assert snapshot._state["snapshot"] is not None
    assert released.key in {facts.key for facts in snapshot._state["snapshot"].agents.values()}


def test_a_worker_starts_even_when_its_snapshot_cannot_be_built(monkeypatch, caplog):
    def fail(version):
        raise OperationalError("the database is away")

    monkeypatch.setattr(snapshot, "build", fail)
    snapshot.reset()
    snapshot.warm()  # does not raise
    assert snapshot._state["snapshot"] is None
    assert "could not be built at worker start" in caplog.text


def test_a_credential_name_with_a_nul_is_refused_by_name(admin):
    from telemetry import services as telemetry_services

    source, _ = telemetry_services.create_source(actor=admin, name="Edge gateway", kind="gateway")
    with pytest.raises(ValidationError) as refused:
        services.create_gateway_credential(source, actor=admin, name="edge\x00one")
    assert "name" in refused.value.message_dict
    assert not GatewayCredential.objects.exists()
