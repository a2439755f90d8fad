"""EU AI Act in operation: the cost of the serious-incident clock sweep, its board alerts, and the documents.

Usage (writes into the database DATABASE_URL names; use a scratch one):
    DATABASE_URL=postgres://127.0.0.1/scratch .venv/bin/python bench/eu_ai_act_bench.py [AGENTS] [INCIDENTS_EACH]

Fills AGENTS agents with INCIDENTS_EACH serious incidents each (rows written directly: this measures the
readers, not the writers), spread over the clock stages, then times, in the same run:
- the baseline: the ``review_overdue`` sweep (a set-based built-in check) on the same catalog;
- the ``incident_report_due`` sweep, first (opens the findings) and steady (nothing changes);
- ``notify_report_clocks``, first (claims and sends the alerts) and again (sends nothing);
- one regulator report PDF, one technical file PDF and Markdown.
Figures are printed as milliseconds and as ratios to the baseline sweep.
"""

import os
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("LOG_FORMAT", "plain")
os.environ.setdefault("EMAIL_BACKEND", "locmem")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402

from governance import checks, documents, notifications  # noqa: E402
from governance.models import Finding, Incident, ReportClockAlert  # noqa: E402
from registry.models import Agent, User  # noqa: E402
from registry.roles import Role  # noqa: E402
from tests.factories import AgentFactory, AgentVersionFactory, BusinessUnitFactory, UserFactory  # noqa: E402

CATEGORIES = ("death", "health", "critical_infrastructure", "widespread_infringement", "fundamental_rights")


def timed(fn, *args, **kwargs):
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return (time.perf_counter() - started) * 1000, result


def fill(agents: int, each: int):
    from django.contrib.auth.models import Group

    Agent.objects.filter(key__startswith="bench-eu.").delete()
    unit = BusinessUnitFactory(name="Bench EU unit")
    board, _ = User.objects.get_or_create(username="bench-eu-board", defaults={"email": "board@bench.example"})
    board.groups.add(Group.objects.get_or_create(name=Role.BOARD)[0])
    owner = UserFactory(business_unit=unit)
    now = timezone.now()
    rows = []
    for n in range(agents):
        agent = AgentFactory(key=f"bench-eu.agent-{n}", business_unit=unit, owner=owner, lifecycle="production")
        version = AgentVersionFactory(agent=agent)
        for i in range(each):
            aware = now - timedelta(hours=(n * each + i) % 400)
            rows.append(
                Incident(
                    agent=agent,
                    version=version,
                    title=f"Bench incident {n}.{i}",
                    severity="high",
                    what_happened="Bench.",
                    detected_at=aware,
                    reported_at=aware,
                    serious_category=CATEGORIES[(n + i) % len(CATEGORIES)],
                    aware_at=aware,
                    marked_serious_at=aware,
                )
            )
    Incident.objects.bulk_create(rows, batch_size=1000)
    return board, Agent.objects.get(key="bench-eu.agent-0")


def main() -> int:
    agents = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    each = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    call_command("migrate", verbosity=0)
    Finding.objects.filter(kind__in=["incident_report_due", "review_overdue"]).delete()
    ReportClockAlert.objects.all().delete()
    board, agent = fill(agents, each)
    now = timezone.now()
    base_ms, _ = timed(checks.run_check, "review_overdue", now=now)
    base_ms, _ = timed(checks.run_check, "review_overdue", now=now)  # warm
    first_ms, first = timed(checks.run_check, "incident_report_due", now=now)
    steady_ms, _ = timed(checks.run_check, "incident_report_due", now=now)
    alerts_ms, sent = timed(notifications.notify_report_clocks, now=now)
    again_ms, sent_again = timed(notifications.notify_report_clocks, now=now)
    incident = Incident.objects.filter(agent=agent).first()
    report_ms, pdf = timed(lambda: documents.render_pdf(*documents.regulator_report(incident, board, now)))
    file_ms, tech = timed(lambda: documents.render_pdf(*documents.technical_file(agent, board, now)))
    md_ms, md = timed(lambda: documents.render_markdown(*documents.technical_file(agent, board, now)))
    total = agents * each
    print(f"{agents} agents x {each} serious incidents = {total} on the clock")
    rows = [
        ("baseline: review_overdue sweep", base_ms, ""),
        ("incident_report_due sweep, first", first_ms, f"{first.found} findings"),
        ("incident_report_due sweep, steady", steady_ms, ""),
        ("notify_report_clocks, first", alerts_ms, f"{sent} alerts"),
        ("notify_report_clocks, again", again_ms, f"{sent_again} alerts"),
        ("regulator report PDF", report_ms, f"{len(pdf)} bytes"),
        ("technical file PDF", file_ms, f"{len(tech)} bytes"),
        ("technical file Markdown", md_ms, f"{len(md)} chars"),
    ]
    for label, ms, note in rows:
        print(f"{label:<36} {ms:9.1f} ms {ms / base_ms:7.2f}x  {note}")
    return 0 if sent_again == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
