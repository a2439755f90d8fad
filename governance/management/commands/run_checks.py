"""Run the background checks in the foreground and print what each found and resolved."""

from django.core.management.base import BaseCommand, CommandError

from governance import checks


class Command(BaseCommand):
    help = "Run the background checks now (all, or one with --check KIND) and print what they found and resolved."

    def add_arguments(self, parser):
        parser.add_argument("--check", dest="kind", help="Run only this check (a finding kind, e.g. shadow_agent).")

    def handle(self, *args, kind=None, **options):
        available = checks.available_checks()
        if kind is not None and kind not in available:
            raise CommandError(f"Unknown check {kind!r}. Known: {', '.join(sorted(available))}.")
        kinds = [kind] if kind else list(available)
        failed = []
        for name in kinds:
            try:
                result = checks.run_check(name)
            except Exception as exc:  # the run row records the traceback; report and go on
                failed.append(name)
                self.stderr.write(f"{name}: failed ({exc})")
                continue
            self.stdout.write(f"{name}: {result.found} found, {result.resolved} resolved, {result.still_open} open")
        if failed:
            raise CommandError(f"{len(failed)} check(s) failed: {', '.join(failed)}")
