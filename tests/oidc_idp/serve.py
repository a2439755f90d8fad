"""Start the test identity provider: migrate, seed, serve on 127.0.0.1:PORT until killed.

Usage: python -m tests.oidc_idp.serve PORT DBFILE REDIRECT_URI
Seeds client ``registry-test`` (secret ``registry-secret``), people ``alice``
(groups board, itadmins) and ``bob`` (no groups), both with password ``pw-alice``/``pw-bob``.
"""

import os
import sys


def main() -> None:
    port, db_file, redirect_uri = sys.argv[1], sys.argv[2], sys.argv[3]
    os.environ["IDP_DB"] = db_file
    os.environ["IDP_SITE_URL"] = f"http://127.0.0.1:{port}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.oidc_idp.settings"
    import django

    django.setup()
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from oidc_provider.models import Client, ResponseType

    call_command("migrate", verbosity=0)
    call_command("creatersakey")
    client = Client.objects.create(
        name="Agent Registry",
        client_type="confidential",
        client_id="registry-test",
        client_secret="registry-secret",  # noqa: S106
        jwt_alg="RS256",
        require_consent=False,
        reuse_consent=True,
    )
    client.redirect_uris = [redirect_uri]
    client.scope = ["openid", "email", "profile", "groups"]
    client.save()
    client.response_types.add(ResponseType.objects.get(value="code"))
    alice = User.objects.create_user("alice", "alice@example.org", "pw-alice", first_name="Alice", last_name="Adams")
    for name in ("board", "itadmins"):
        alice.groups.add(Group.objects.create(name=name))
    User.objects.create_user("bob", "bob@example.org", "pw-bob", first_name="Bob", last_name="Brown")

    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from django.core.wsgi import get_wsgi_application

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    server = make_server("127.0.0.1", int(port), get_wsgi_application(), handler_class=QuietHandler)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
