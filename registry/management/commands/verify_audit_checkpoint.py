"""Check a saved checkpoint against the live audit trail; exits non-zero and says why when it does not hold."""

import json
import sys
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from registry import audit


class Command(BaseCommand):
    help = "Verify a checkpoint file from export_audit_checkpoint against the live chain."

    def add_arguments(self, parser):
        parser.add_argument("file", help="The checkpoint JSON file ('-' reads standard input).")

    def handle(self, *args, file, **options):
        try:
            raw = sys.stdin.read() if file == "-" else Path(file).read_text()
            checkpoint = json.loads(raw)
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot read a checkpoint from {file}: {exc}") from exc
        try:
            ok, message = audit.verify_checkpoint(checkpoint)
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        if not ok:
            raise CommandError(f"checkpoint does not hold: {message}")
        self.stdout.write(self.style.SUCCESS(message))
