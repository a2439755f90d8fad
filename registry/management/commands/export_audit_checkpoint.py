"""Print a signed checkpoint of the audit chain's head as JSON, to keep somewhere the database cannot reach."""

import json

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from registry import audit


class Command(BaseCommand):
    help = "Print the newest audit entry's seq, hash and time, signed with AUDIT_CHECKPOINT_KEY, as JSON."

    def handle(self, *args, **options):
        try:
            checkpoint = audit.export_checkpoint()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps(checkpoint, indent=2))
