"""Settings for the test suite: fast hashing, local mail, an in-memory broker, eager tasks.

Only what a test run needs differs from ``config.settings``; the database is
whatever DATABASE_URL names (PostgreSQL in CI), SQLite otherwise.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-0123456789abcdefghijklmnop")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("EMAIL_BACKEND", "locmem")
os.environ.setdefault("ALLOWED_HOSTS", "localhost,127.0.0.1,testserver")
# The MCP tests scan a real MCP server the test starts on loopback; the guard tests turn this off.
os.environ.setdefault("MCP_SCAN_ALLOW_LOOPBACK", "true")

from config.settings import *  # noqa: E402,F403
from config.settings import STORAGES, VAR_DIR  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
CELERY_BROKER_URL = "memory://"
# Each process its own cache, emptied before every test (tests/conftest.py), whatever CACHE_URL says.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "tests"}}
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
MEDIA_ROOT = VAR_DIR / "test-media"
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
# WhiteNoise warns when STATIC_ROOT is missing; tests never collect static files.
(VAR_DIR / "static").mkdir(parents=True, exist_ok=True)
# A second alias the way Django tests a replica: the same test database through a connection of its
# own (TEST MIRROR). Reads stay on the primary (no DATABASE_REPLICA_ALIAS) unless a test turns the
# replica on (tests/config/test_replica.py); with it on, a test case's data, written inside the test's
# own transaction on "default", is not visible through the mirror's connection until committed.
from config.settings import DATABASES  # noqa: E402

DATABASES = {**DATABASES, "replica": {**DATABASES["default"], "TEST": {"MIRROR": "default"}}}
DATABASE_REPLICA_ALIAS = ""
