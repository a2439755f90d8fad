"""The fault lab's side of a test, run as ``python -m tests.faults.scenario <command>`` with the lab's
DATABASE_URL and broker in the environment (see ``tests.faults.lab``):

- ``migrate``: create the schema;
- ``seed <webhook url>``: a small portfolio that every check has something to say about: registered
  agents reporting from production without an approved release (so they are unapproved, and lack
  their controls' evidence), identities nobody registered, and a webhook endpoint;
- ``send <task> <json args>``: send a task by name through the broker, as beat does.
"""

import json
import os
import sys
from datetime import timedelta

SEEDED_AGENTS = 6
SEEDED_SHADOWS = 5


def _django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def migrate() -> None:
    _django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def seed(webhook_url: str) -> None:
    _django()
    from django.utils import timezone

    from governance.services.findings import create_webhook
    from registry import services as registry_services
    from registry.choices import Lifecycle
    from registry.roles import Role
    from telemetry import services as telemetry_services
    from telemetry.identity import identify
    from telemetry.ingest import Event, store_events
    from tests.factories import AgentFactory, BusinessUnitFactory, UserFactory

    now = timezone.now()
    unit = BusinessUnitFactory(name="Claims", slug="claims")
    admin = UserFactory(username="lab-admin", business_unit=unit)
    registry_services.set_user_roles(admin, [Role.PLATFORM_ADMIN], actor=None)
    owners = [UserFactory(username=f"lab-owner-{i}", business_unit=unit) for i in range(3)]
    agents = [
        AgentFactory(
            key=f"claims.agent-{i}",
            name=f"Claims agent {i}",
            business_unit=unit,
            owner=owners[i % len(owners)],
            lifecycle=Lifecycle.PRODUCTION,
            production_since=now - timedelta(days=90),
            business_outcome="Faster claims",
            metric_name="Claims closed per day",
            metric_target=100,
        )
        for i in range(SEEDED_AGENTS)
    ]
    source, _token = telemetry_services.create_source(actor=admin, name="Lab collector", kind="collector")
    identities = [identify(a.key, None, None) for a in agents] + [
        identify(f"unknown.bot-{i}", None, None) for i in range(SEEDED_SHADOWS)
    ]
    store_events(
        source.pk,
        [Event(identity=i, environment="production", kind="heartbeat", occurred_at=now) for i in identities],
    )
    create_webhook(actor=admin, name="Lab receiver", url=webhook_url, secret="lab-webhook-secret-0123456789")


def send(task: str, args: str) -> None:
    _django()
    from config.celery import app

    app.send_task(task, args=json.loads(args))


def main(argv: list[str]) -> None:
    command, *rest = argv
    {"migrate": migrate, "seed": seed, "send": send}[command](*rest)


if __name__ == "__main__":
    main(sys.argv[1:])
