"""Mint a personal API token for a user (an administrator's shortcut for integrations)."""

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from registry import services
from registry.models import User


class Command(BaseCommand):
    help = "Create a personal API token for <username> and print it once; only its digest is stored."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="created with manage.py", help="What will use the token.")
        parser.add_argument("--expires-days", type=int, default=None, help="Days until it expires (default: never).")

    def handle(self, *args, username, name, expires_days, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No account is called {username!r}.")
        if expires_days is not None and expires_days <= 0:
            raise CommandError("--expires-days must be a positive number of days.")
        expires_at = timezone.now() + timedelta(days=expires_days) if expires_days else None
        try:
            token, raw = services.create_api_token(user, actor=None, name=name, expires_at=expires_at)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stderr.write(f"Token {token.name!r} for {user.username} (starts {token.prefix}); it is shown only once:")
        self.stdout.write(raw)
