"""Four writers x 1,000 audit events each, on separate connections, against a real database; then verify.

Usage (writes into the database DATABASE_URL names; use a scratch one):
    DATABASE_URL=postgres://127.0.0.1/scratch .venv/bin/python bench/audit_concurrency.py [WRITERS] [EACH]

Prints the throughput and whether the chain is gapless and verifies; exits 1 if not.
"""

import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("LOG_FORMAT", "plain")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connections, transaction  # noqa: E402

from registry import audit  # noqa: E402
from registry.models import AuditEvent, User  # noqa: E402


def writer(target_pk: int, count: int, errors: list) -> None:
    try:
        target = User.objects.get(pk=target_pk)
        for n in range(count):
            with transaction.atomic():
                audit.record("bench.concurrent", actor=None, target=target, after={"n": n})
    except Exception as exc:  # noqa: BLE001
        errors.append(repr(exc))
    finally:
        connections.close_all()


def main() -> int:
    writers = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    each = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    call_command("migrate", verbosity=0)
    target, _ = User.objects.get_or_create(username="bench-audit-target")
    start_seq = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    errors: list = []
    threads = [threading.Thread(target=writer, args=(target.pk, each, errors)) for _ in range(writers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    seqs = list(AuditEvent.objects.filter(seq__gt=start_seq).order_by("seq").values_list("seq", flat=True))
    gapless = seqs == list(range(start_seq + 1, start_seq + writers * each + 1))
    report = audit.verify_chain()
    print(f"{writers} writers x {each} events in {elapsed:.1f} s ({writers * each / elapsed:.0f} events/s)")
    print(f"errors: {len(errors)} {errors[:3]}")
    print(f"new entries: {len(seqs)}, gapless: {gapless}, chain: {report.reason} ({report.checked} checked)")
    return 0 if (gapless and report.ok and not errors) else 1


if __name__ == "__main__":
    sys.exit(main())
