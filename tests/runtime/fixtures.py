"""Fixtures of the runtime tests: a gateway credential and a client that asks for decisions with it,
and helpers that put an agent in an environment without walking the whole release gate."""

import json

import pytest
from django.db.models import F
from django.test import Client
from django.utils import timezone

from registry import services as registry_services


@pytest.fixture(autouse=True)
def _fresh_decision_snapshot(settings):
    """Every test starts with no snapshot and an empty decision log buffer: the version number of a
    rolled-back test can repeat in the next one, which must not find the old snapshot. Tests check
    the version on every decision (production: every 0.5 s); the query-count test sets it back."""
    from runtime import log, snapshot

    settings.RUNTIME_VERSION_CHECK_SECONDS = 0
    # Tests flush explicitly: a flushing thread's own connection could not see a test's rows.
    settings.RUNTIME_LOG_BACKGROUND = False
    snapshot.reset()
    log._take()
    yield
    snapshot.reset()
    log._take()


@pytest.fixture
def gateway(admin):
    """(credential, raw value) of a gateway registered as a telemetry source."""
    from runtime import services as runtime_services
    from telemetry import services as telemetry_services

    source, _ = telemetry_services.create_source(actor=admin, name="Edge gateway", kind="gateway")
    return runtime_services.create_gateway_credential(source, actor=admin, name="edge-1")


@pytest.fixture
def decide(gateway):
    """POST one AuthZEN evaluation with the gateway credential; returns the response."""
    client = Client()
    _, raw = gateway

    def send(body, *, path="/access/v1/evaluation", token=raw, raw_body=None, **headers):
        auth = {"Authorization": f"Bearer {token}"} if token is not None else {}
        data = raw_body if raw_body is not None else json.dumps(body)
        return client.post(path, data=data, content_type="application/json", headers={**auth, **headers})

    return send


def ask(subject, action="run", resource=None, **context):
    """An evaluation request body: ``resource`` defaults to the environment in ``context``."""
    environment = context.get("environment", "production")
    return {
        "subject": {"type": "agent", "id": subject},
        "action": {"name": action},
        "resource": resource or {"type": "environment", "id": environment},
        "context": context,
    }


@pytest.fixture
def put_in(board):
    """Put an agent in a lifecycle state, with a release of ``version`` to ``environment`` when given
    (the release row directly: the gate itself is tested in tests/governance)."""
    from governance.models import Release, Review
    from registry.models import Agent

    def run(agent, lifecycle, version=None, environment="production", deployed=True):
        now = timezone.now()
        Agent.objects.filter(pk=agent.pk).update(
            lifecycle=lifecycle,
            production_since=now if lifecycle in ("production", "suspended", "retired") else None,
            row_version=F("row_version") + 1,
        )
        agent.refresh_from_db()
        agent.save()  # through the model, so the decision version moves as a service's save would
        if version is not None:
            review = Review.objects.create(
                agent=agent,
                kind="release",
                version=version,
                environment=environment,
                status="decided",
                decision="approve",
                decision_reason="Checked.",
                decided_by=board,
                decided_at=now,
                requested_by=agent.owner,
                requested_at=now,
                policy_id=_policy_id(),
            )
            Release.objects.create(
                agent=agent,
                version=version,
                environment=environment,
                review=review,
                approved_by=board,
                approved_at=now,
                deployed_at=now if deployed else None,
            )
        return agent

    return run


def _policy_id():
    from governance.models import RiskPolicy

    return RiskPolicy.objects.order_by("-version").values_list("pk", flat=True).first()


@pytest.fixture
def released(agent, owner, tool, write_tool, put_in):
    """The agent in production with version 1.0.0 (tool: read, write_tool: write) released there."""
    version = registry_services.create_version(
        agent,
        actor=owner,
        tools=[(tool, "read"), (write_tool, "write")],
        label="1.0.0",
        model_provider="openai",
        model_name="gpt-5",
    )
    put_in(agent, "production", version)
    return agent
