"""Walk the hash-chained audit trail and report the first entry whose chain breaks."""

from django.core.management.base import BaseCommand, CommandError

from registry.audit import verify_chain


class Command(BaseCommand):
    help = "Check every audit entry's hash and link; exit non-zero at the first broken entry."

    def handle(self, *args, **options):
        report = verify_chain()
        if report.ok:
            self.stdout.write(f"Checked {report.checked} entries: chain intact.")
            return
        self.stdout.write(f"Checked {report.checked} entries before the break.")
        raise CommandError(f"Audit chain broken at entry #{report.first_broken_seq}: {report.reason}.")
