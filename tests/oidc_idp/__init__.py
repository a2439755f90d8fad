"""A tiny, real OpenID Connect provider (django-oidc-provider) that SSO tests start in a subprocess.

It is a separate Django project with its own SQLite file: ``python -m tests.oidc_idp.serve PORT DBFILE``
migrates, seeds one client and two people, and serves on 127.0.0.1:PORT.
"""
