"""Keep the demo alive: post heartbeats for the demo's reporting agents (and its shadow agents)
through the real HTTP ingest endpoint, every --interval seconds, until stopped.

It mints its own ingest token for the demo gateway at start (revoking the one it
minted last time), exactly as an administrator would for a real collector.
"""

import json
import time
import urllib.error
import urllib.request

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from registry.demo_data import ADMIN_USERNAME
from registry.models import User
from telemetry import demo, services
from telemetry.models import IngestToken, TelemetrySource

TOKEN_NAME = "live demo sender"  # noqa: S105 (a label, not a secret)


class Command(BaseCommand):
    help = "Post live demo heartbeats through /api/v1/telemetry/events until stopped (--once for one batch)."

    def add_arguments(self, parser):
        parser.add_argument("--url", default=settings.SITE_URL, help="The site's base URL.")
        parser.add_argument("--interval", type=int, default=60, help="Seconds between batches.")
        parser.add_argument("--once", action="store_true", help="Send one batch and stop.")

    def handle(self, *args, url, interval, once, **options):
        source = TelemetrySource.objects.filter(name=demo.GATEWAY).first()
        if source is None:
            raise CommandError("The demo is not loaded (no demo gateway source); run load_demo first.")
        admin = User.objects.get(username=ADMIN_USERNAME)
        for old in IngestToken.objects.filter(source=source, name=TOKEN_NAME, revoked_at__isnull=True):
            services.revoke_ingest_token(old, actor=admin)
        _token, raw = services.create_ingest_token(source, actor=admin, name=TOKEN_NAME)
        quiet = demo.silent_keys() | demo.never_keys()
        reporting = [(key, demo.environment_for(target)) for key, target in demo.running_plan() if key not in quiet]
        endpoint = url.rstrip("/") + "/api/v1/telemetry/events"
        while True:
            stamp = timezone.now().isoformat()
            events = [
                {"agent": key, "environment": env, "kind": "heartbeat", "timestamp": stamp} for key, env in reporting
            ]
            events += [
                {
                    "agent": "marketing.copy-helper",
                    "environment": "production",
                    "kind": "invocation",
                    "timestamp": stamp,
                }
            ]
            request = urllib.request.Request(  # noqa: S310 (the demo's own site)
                endpoint,
                data=json.dumps({"events": events}).encode(),
                headers={"Content-Type": "application/json", "Authorization": f"Bearer {raw}"},
                method="POST",
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                    answer = json.loads(response.read())
                self.stdout.write(
                    f"{timezone.now():%H:%M:%S} sent {len(events)} heartbeats: {answer['accepted']} accepted"
                )
            except (urllib.error.URLError, OSError, ValueError) as exc:
                self.stderr.write(f"{timezone.now():%H:%M:%S} could not send: {exc}")
                if once:
                    raise CommandError(f"could not send: {exc}") from exc
            if once:
                return
            time.sleep(interval)
