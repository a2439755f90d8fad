"""Settings for every environment, driven by environment variables.

The README has the table of variables. Test settings (``config.test_settings``)
change only what a test run needs; nothing else switches behaviour silently.
"""

from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from kombu import Exchange, Queue

from config.env import env, envbool, envint, envlist, envmap, envsecret

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env("VAR_DIR", str(BASE_DIR / "var")))

DEBUG = envbool("DEBUG", False)
SECRET_KEY = envsecret("SECRET_KEY")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY (or SECRET_KEY_FILE) must be set; `make demo` sets one for you.")

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")
SITE_URL = env("SITE_URL", "http://localhost:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "django_htmx",
    "registry",
    "telemetry",
    "governance",
    "runtime",
    "portfolio",
]

MIDDLEWARE = [
    "registry.middleware.RequestIdMiddleware",
    # NUL in the path or a query parameter: 404 / 400 before any view looks anything up.
    "registry.middleware.RefuseNullCharactersMiddleware",
    "config.metrics.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Refuses telemetry ingest tokens anywhere but the ingest endpoints (403), before sessions load.
    "telemetry.middleware.IngestTokenScopeMiddleware",
    # Refuses gateway decision credentials anywhere but the AuthZEN decision endpoints (403).
    "runtime.middleware.GatewayCredentialScopeMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "registry.middleware.RefusedAuditMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last: it may answer a request a second time (from the primary) when the replica fails mid-way.
    "config.db_router.ReplicaReadsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "registry.context_processors.roles",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
# PostgreSQL in production and in the test suite. Without DATABASE_URL the demo
# runs on an embedded SQLite file; a Celery worker writes beside the web
# process, so SQLite gets WAL (readers never block the writer) and IMMEDIATE
# transactions (a writer takes the lock up front instead of failing with
# "database is locked" when it upgrades a read transaction).
DATABASE_URL = env("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=envint("DB_CONN_MAX_AGE", 60))}
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "demo.sqlite3",
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Connection pooler ----------------------------------------------------------
# DATABASE_POOLER=pgbouncer declares that DATABASE_URL names a PgBouncer in transaction pooling mode:
# each transaction may run on a different server connection, so nothing may outlive a transaction on
# the server. Django's server-side cursors are WITH HOLD cursors outside a transaction (they would be
# left on a connection another client gets next) and psycopg's prepared statements live in a server
# session: both are off. Server-side binding stays off for Django's own queries (its default); telemetry
# ingest binds its own statements server-side, unnamed: with prepare_threshold off nothing is prepared.
# The rest of the code keeps no session state (docs/deployment.md has the audit): advisory locks are
# transaction-level, settings are SET LOCAL / set_config(..., true).
DATABASE_POOLERS = ("pgbouncer",)
DATABASE_POOLER = env("DATABASE_POOLER", "")
if DATABASE_POOLER and DATABASE_POOLER not in DATABASE_POOLERS:
    raise ImproperlyConfigured(f"DATABASE_POOLER must be pgbouncer or empty, not {DATABASE_POOLER!r}")
if DATABASE_POOLER and not DATABASE_URL:
    raise ImproperlyConfigured("DATABASE_POOLER is set: DATABASE_URL must name the pooler (PostgreSQL).")


def behind_pooler(database: dict) -> dict:
    """A DATABASES entry made safe for a transaction-pooling PgBouncer (every alias it fronts)."""
    database["DISABLE_SERVER_SIDE_CURSORS"] = True
    options = database.setdefault("OPTIONS", {})
    options["prepare_threshold"] = None
    if options.get("server_side_binding"):
        raise ImproperlyConfigured("DATABASE_POOLER is set: server-side binding would prepare statements.")
    if options.get("pool"):
        raise ImproperlyConfigured("DATABASE_POOLER is set: do not add Django's own pool in front of PgBouncer.")
    return database


if DATABASE_POOLER:
    behind_pooler(DATABASES["default"])

# --- Read replica ---------------------------------------------------------------
# Optional: a streaming replica of the primary. The portfolio, the exports and the
# API's lists read it (config/db_router.py); everything else, every write and any
# read that follows the person's own write, stays on the primary. Without it every
# read goes to the primary. Past DATABASE_REPLICA_MAX_LAG_SECONDS of lag, or while
# the replica is unreachable, reads fall back to the primary. After a write the
# person reads the primary for DATABASE_REPLICA_STICKY_SECONDS (stamped in the
# cache: set CACHE_URL with more than one web worker).
DATABASE_REPLICA_URL = env("DATABASE_REPLICA_URL")
DATABASE_REPLICA_ALIAS = ""
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = dj_database_url.parse(DATABASE_REPLICA_URL, conn_max_age=envint("DB_CONN_MAX_AGE", 60))
    DATABASES["replica"]["CONN_HEALTH_CHECKS"] = True
    # An unreachable replica must cost a routed request seconds, not the operating system's connect timeout.
    DATABASES["replica"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", envint("DATABASE_REPLICA_CONNECT_TIMEOUT_SECONDS", 2)
    )
    if DATABASE_POOLER:
        # The replica is read through a PgBouncer of its own in the same mode (docs/deployment.md).
        behind_pooler(DATABASES["replica"])
    DATABASE_REPLICA_ALIAS = "replica"
DATABASE_REPLICA_MAX_LAG_SECONDS = envint("DATABASE_REPLICA_MAX_LAG_SECONDS", 10)
DATABASE_REPLICA_LAG_CHECK_SECONDS = envint("DATABASE_REPLICA_LAG_CHECK_SECONDS", 5)
DATABASE_REPLICA_STICKY_SECONDS = envint(
    "DATABASE_REPLICA_STICKY_SECONDS", DATABASE_REPLICA_MAX_LAG_SECONDS + DATABASE_REPLICA_LAG_CHECK_SECONDS
)
if DATABASE_REPLICA_STICKY_SECONDS < DATABASE_REPLICA_MAX_LAG_SECONDS + DATABASE_REPLICA_LAG_CHECK_SECONDS:
    # The lag may reach the limit, and is only measured every check interval: a shorter window could
    # send a person to a replica that has not yet replayed their change.
    raise ImproperlyConfigured(
        "DATABASE_REPLICA_STICKY_SECONDS must be at least DATABASE_REPLICA_MAX_LAG_SECONDS + "
        f"DATABASE_REPLICA_LAG_CHECK_SECONDS ({DATABASE_REPLICA_MAX_LAG_SECONDS + DATABASE_REPLICA_LAG_CHECK_SECONDS})"
    )
DATABASE_ROUTERS = ["config.db_router.ReplicaRouter"]

# --- Accounts and permissions -------------------------------------------------
AUTH_USER_MODEL = "registry.User"
AUTHENTICATION_BACKENDS = [
    # First, so a locked-out name is refused before any password is checked.
    "registry.lockout.LockoutBackend",
    "registry.backends.RoleModelBackend",
    "registry.sso.SsoBackend",
    "guardian.backends.ObjectPermissionBackend",
]
# Anonymous visitors never hold object permissions; guardian's anonymous user is off.
ANONYMOUS_USER_NAME = None
GUARDIAN_RAISE_403 = False
LOGIN_URL = "login"
# Each role lands on its work (registry.views.landing).
LOGIN_REDIRECT_URL = "registry:landing"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Repeated failed sign-ins lock the name (and at a higher count the client
# address) for LOGIN_LOCKOUT_SECONDS. Counts live in the cache below.
LOGIN_FAILURE_LIMIT = envint("LOGIN_FAILURE_LIMIT", 5)
LOGIN_IP_FAILURE_LIMIT = envint("LOGIN_IP_FAILURE_LIMIT", 50)
LOGIN_LOCKOUT_SECONDS = envint("LOGIN_LOCKOUT_SECONDS", 900)

# --- Cache --------------------------------------------------------------------
# Sign-in failure counts must be shared by every web worker: set CACHE_URL to a
# redis:// URL in production. Without it each process keeps its own (fine for
# the single-process demo).
CACHE_URL = env("CACHE_URL", "")
if CACHE_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "agent-registry"}}

# --- Single sign-on (OpenID Connect) -----------------------------------------
# Off unless OIDC_RP_CLIENT_ID is set. OIDC_ISSUER alone finds the endpoints
# through discovery; the OIDC_OP_* variables override it. Local accounts keep
# working beside SSO. With OIDC_GROUPS_CLAIM set the provider decides roles:
# OIDC_ROLE_MAP maps its group names to role groups ("board=governance_board,...").
OIDC_ISSUER = env("OIDC_ISSUER", "")
OIDC_RP_CLIENT_ID = env("OIDC_RP_CLIENT_ID", "")
OIDC_RP_CLIENT_SECRET = envsecret("OIDC_RP_CLIENT_SECRET", "")
OIDC_OP_AUTHORIZATION_ENDPOINT = env("OIDC_OP_AUTHORIZATION_ENDPOINT", "")
OIDC_OP_TOKEN_ENDPOINT = env("OIDC_OP_TOKEN_ENDPOINT", "")
OIDC_OP_USER_ENDPOINT = env("OIDC_OP_USER_ENDPOINT", "")
OIDC_OP_JWKS_ENDPOINT = env("OIDC_OP_JWKS_ENDPOINT", "")
OIDC_RP_SIGN_ALGO = env("OIDC_RP_SIGN_ALGO", "RS256")
OIDC_RP_SCOPES = env("OIDC_RP_SCOPES", "openid email profile")
OIDC_GROUPS_CLAIM = env("OIDC_GROUPS_CLAIM", "")
OIDC_ROLE_MAP = envmap("OIDC_ROLE_MAP")
OIDC_USE_PKCE = True
OIDC_TIMEOUT = envint("OIDC_TIMEOUT_SECONDS", 10)
OIDC_AUTHENTICATE_CLASS = "registry.sso.SsoSignInView"
OIDC_CALLBACK_CLASS = "registry.sso.SsoCallbackView"
LOGIN_REDIRECT_URL_FAILURE = "/accounts/login/?sso=failed"
if OIDC_RP_CLIENT_ID and not OIDC_ISSUER and not (OIDC_OP_AUTHORIZATION_ENDPOINT and OIDC_OP_TOKEN_ENDPOINT):
    raise ImproperlyConfigured("OIDC_RP_CLIENT_ID is set: set OIDC_ISSUER, or the OIDC_OP_*_ENDPOINT variables.")


# --- Internationalisation -----------------------------------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = env("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static and uploaded files ------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "media/"
# Requests larger than this are refused before they reach a view (413 on ingest).
DATA_UPLOAD_MAX_MEMORY_SIZE = envint("DATA_UPLOAD_MAX_MEMORY_SIZE", 10 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# --- Security -----------------------------------------------------------------
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", not DEBUG)
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if envbool("TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# No inline scripts or styles anywhere: every script and stylesheet is a static file.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# --- E-mail -------------------------------------------------------------------
# EMAIL_BACKEND picks the transport: smtp (default), console or file (the demo).
_email_backend = env("EMAIL_BACKEND", "smtp")
_EMAIL_BACKENDS = {
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "console": "django.core.mail.backends.console.EmailBackend",
    "file": "django.core.mail.backends.filebased.EmailBackend",
    "locmem": "django.core.mail.backends.locmem.EmailBackend",
}
if _email_backend not in _EMAIL_BACKENDS:
    raise ImproperlyConfigured(f"EMAIL_BACKEND must be one of {', '.join(_EMAIL_BACKENDS)}, not {_email_backend!r}")
_email_options: dict = {}
if _email_backend == "smtp":
    _email_options = {
        "host": env("EMAIL_HOST", "localhost"),
        "port": envint("EMAIL_PORT", 25),
        "username": env("EMAIL_HOST_USER", ""),
        "password": envsecret("EMAIL_HOST_PASSWORD", ""),
        "use_tls": envbool("EMAIL_USE_TLS", False),
        "timeout": 20,
    }
elif _email_backend == "file":
    _email_options = {"file_path": str(VAR_DIR / "mail")}
MAILERS = {"default": {"BACKEND": _EMAIL_BACKENDS[_email_backend], "OPTIONS": _email_options}}
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "agent-registry@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- REST API -----------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "registry.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_RENDERER_CLASSES": ["registry.api.renderers.FastJSONRenderer"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "registry.api.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "registry.api.exceptions.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Agent Registry API",
    "DESCRIPTION": "Catalog, governance and portfolio data for the organisation's AI agents.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Error answers are part of the contract too (checked by schemathesis in tests/config/test_api_fuzz.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "registry.api.schema.add_error_responses",
    ],
    # One name per vocabulary, however many serializers use it.
    "ENUM_NAME_OVERRIDES": {
        "LifecycleEnum": "registry.choices.Lifecycle",
        "RiskTierEnum": "registry.choices.RiskTier",
        "PatternEnum": "registry.choices.Pattern",
        "UserKindEnum": "registry.choices.UserKind",
        "FindingKindEnum": "governance.choices.FindingKind",
        # Several vocabularies share field names ("kind", "severity"); name these after their own class.
        "TelemetrySourceKindEnum": "telemetry.choices.SourceKind",
        "DecisionReasonEnum": "runtime.choices.ReasonCode",
        "RejectionReasonEnum": "telemetry.choices.RejectionReason",
    },
}

# --- Celery -------------------------------------------------------------------
# The database, not the broker, is the source of truth: tasks take ids, are
# idempotent, are acknowledged only after they finish (a task whose worker dies
# is redelivered), and each worker holds one message at a time.
CELERY_BROKER_URL = env("CELERY_BROKER_URL")
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if CELERY_BROKER_URL and CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = Path(env("CELERY_FILESYSTEM_DIR", str(VAR_DIR / "broker")))
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Without it kombu keeps its exchange table in ./control, wherever the process started.
        "control_folder": str(_broker_dir / "control"),
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# When the broker connection drops, a running task carries on to the end (its work is committed in the
# database); its unacknowledged message comes back after the visibility timeout and runs once more,
# which is harmless because every task is idempotent. Cancelling it instead would delay the work by
# that timeout (an hour on Redis).
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_TASK_SOFT_TIME_LIMIT = envint("CELERY_TASK_SOFT_TIME_LIMIT", 240)
CELERY_TASK_TIME_LIMIT = envint("CELERY_TASK_TIME_LIMIT", 300)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# Queues, so that work of one kind cannot hold up another: a webhook receiver that answers slowly
# keeps a `notifications` worker busy, never the sweep in `checks`. Each queue can have workers of
# its own (docs/operations.md); a worker started without -Q consumes all five (CELERY_TASK_QUEUES),
# which is what a small install runs.
#   telemetry      ingest follow-ups: trace joins, monitoring deadlines, retention purge
#   checks         the governance sweep, each check, attestation enforcement
#   notifications  owner e-mail, the board digest, webhooks, attestation reminders, report clocks
#   exports        reporting work: the portfolio snapshot behind the trend charts
#   celery         the default: everything else (the MCP rescan)
TASK_QUEUES = ("celery", "telemetry", "checks", "notifications", "exports")
CELERY_TASK_DEFAULT_QUEUE = "celery"
# One direct exchange per queue, as Celery creates for a queue it was not told about; "celery" keeps
# Celery's default exchange and routing key, so messages queued before routing existed still run.
CELERY_TASK_QUEUES = tuple(Queue(name, Exchange(name, type="direct"), routing_key=name) for name in TASK_QUEUES)
# Every task is routed here by name, the default queue included: tests/config/test_queues.py fails
# when a task has no entry, so a new task cannot land in a queue by accident.
CELERY_TASK_ROUTES = {
    "telemetry.close_trace_window": {"queue": "telemetry"},
    "telemetry.refresh_monitoring_deadlines": {"queue": "telemetry"},
    "telemetry.purge_old_events": {"queue": "telemetry"},
    "telemetry.prepare_event_partitions": {"queue": "telemetry"},
    "governance.run_all_checks": {"queue": "checks"},
    "governance.run_check": {"queue": "checks"},
    # Enforcement is a check: it suspends what is overdue. Its reminders are notifications.
    "governance.enforce_attestations": {"queue": "checks"},
    "governance.notify_owners": {"queue": "notifications"},
    "governance.send_board_digest": {"queue": "notifications"},
    "governance.deliver_due_webhooks": {"queue": "notifications"},
    "governance.send_attestation_reminders": {"queue": "notifications"},
    "governance.notify_report_clocks": {"queue": "notifications"},
    # A read of the whole portfolio that can take minutes on a large one: with the reporting work,
    # not in front of a sweep.
    "portfolio.take_snapshot": {"queue": "exports"},
    # Outbound reads of MCP servers (each up to MCP_SCAN_TIMEOUT_SECONDS): not a check, not telemetry.
    "registry.scan_mcp_servers": {"queue": "celery"},
}
# Exactly one beat: it holds a lease row in the database (registry.ProcessLease), renewed every
# BEAT_LEASE_RENEW_SECONDS and valid for BEAT_LEASE_TTL_SECONDS, so a second beat, on this machine
# or another, refuses to start. No session-level lock: it works through a transaction-pooling PgBouncer.
CELERY_BEAT_SCHEDULER = "config.beat:LeasedScheduler"
BEAT_LEASE_TTL_SECONDS = envint("BEAT_LEASE_TTL_SECONDS", 60)
BEAT_LEASE_RENEW_SECONDS = envint("BEAT_LEASE_RENEW_SECONDS", 15)
if BEAT_LEASE_RENEW_SECONDS < 1 or BEAT_LEASE_TTL_SECONDS < 2 * BEAT_LEASE_RENEW_SECONDS:
    raise ImproperlyConfigured(
        "BEAT_LEASE_RENEW_SECONDS must be at least 1 and BEAT_LEASE_TTL_SECONDS at least twice it, not "
        f"{BEAT_LEASE_RENEW_SECONDS} and {BEAT_LEASE_TTL_SECONDS}"
    )
# Memory each sorting or hashing step of a check may use, in MB (PostgreSQL work_mem, for the check's
# own transaction only): pairing 50,000 findings in one hash takes ~15 MB.
CHECKS_WORK_MEM_MB = envint("CHECKS_WORK_MEM_MB", 64)
if CHECKS_WORK_MEM_MB < 1:
    raise ImproperlyConfigured(f"CHECKS_WORK_MEM_MB must be at least 1, not {CHECKS_WORK_MEM_MB}")


def _every(task: str, interval_setting: str, default: int, slack: int) -> dict:
    """A beat entry running ``task`` every ``interval_setting`` seconds (environment, else ``default``).

    Each run expires ``slack`` seconds before the next is due (and never sooner than ``slack``
    seconds), so a backlog of missed runs cannot pile up behind a stopped worker: a late run is
    dropped, the next one comes.
    """
    every = envint(interval_setting, default)
    if every < 1:
        raise ImproperlyConfigured(f"{interval_setting} must be at least 1 second, not {every}")
    return {"task": task, "schedule": every, "options": {"expires": max(every - slack, slack)}}


CELERY_BEAT_SCHEDULE: dict = {
    "governance-run-all-checks": _every("governance.run_all_checks", "CHECKS_INTERVAL_SECONDS", 300, 10),
    "governance-notify-owners": _every("governance.notify_owners", "NOTIFY_INTERVAL_SECONDS", 120, 10),
    "governance-deliver-webhooks": _every("governance.deliver_due_webhooks", "WEBHOOK_INTERVAL_SECONDS", 60, 5),
    # Runs hourly; the DigestLog row makes it send once per day.
    "governance-board-digest": _every("governance.send_board_digest", "DIGEST_INTERVAL_SECONDS", 3600, 60),
    # lapsed_monitoring reads the stored deadlines, which ingest and the lifecycle, tier and policy
    # hooks move; this catches anything that went around them (a direct database edit, say).
    "telemetry-refresh-deadlines": _every(
        "telemetry.refresh_monitoring_deadlines", "DEADLINE_REFRESH_INTERVAL_SECONDS", 3600, 60
    ),
    # Attestation campaigns: reminders once each per owner and offset, and enforcement after the grace period.
    "governance-attestation-reminders": _every(
        "governance.send_attestation_reminders", "ATTESTATION_INTERVAL_SECONDS", 3600, 60
    ),
    "governance-attestation-enforcement": _every(
        "governance.enforce_attestations", "ATTESTATION_INTERVAL_SECONDS", 3600, 60
    ),
    # PostgreSQL drops whole expired day partitions (and the few expired rows of the default partition);
    # SQLite deletes in batches.
    "telemetry-purge-old-events": _every("telemetry.purge_old_events", "TELEMETRY_PURGE_INTERVAL_SECONDS", 3600, 60),
    # The raw events' day partitions, TELEMETRY_PARTITIONS_AHEAD_DAYS ahead (PostgreSQL; a no-op on SQLite).
    "telemetry-prepare-event-partitions": _every(
        "telemetry.prepare_event_partitions", "TELEMETRY_PARTITION_INTERVAL_SECONDS", 3600, 60
    ),
    # Each MCP server is rescanned MCP_SCAN_INTERVAL_SECONDS after its last scan; the task picks the due ones.
    "registry-scan-mcp-servers": _every("registry.scan_mcp_servers", "MCP_SCAN_POLL_SECONDS", 300, 10),
    # Child spans whose agent span never came within the trace window are counted as rejected.
    "telemetry-close-trace-window": _every(
        "telemetry.close_trace_window", "TELEMETRY_TRACE_SWEEP_INTERVAL_SECONDS", 60, 5
    ),
}
# MCP inventory: how often each server's tools are read again, and how long one read may take.
MCP_SCAN_INTERVAL_SECONDS = envint("MCP_SCAN_INTERVAL_SECONDS", 3600)
MCP_SCAN_TIMEOUT_SECONDS = envint("MCP_SCAN_TIMEOUT_SECONDS", 10)
# A scan is a server-side request to an address any employee may register (registry/address_guard.py).
# Internal MCP servers live on private networks, so RFC 1918 and ULA addresses are allowed unless turned
# off; loopback only when MCP_SCAN_ALLOW_LOOPBACK says so (development, the test suite); link-local
# (169.254.169.254, the cloud metadata service), unspecified, multicast and reserved addresses never.
# An empty MCP_SCAN_ALLOWED_HOSTS allows any host name; else exact names or ".example.com" domains.
MCP_SCAN_ALLOWED_HOSTS = envlist("MCP_SCAN_ALLOWED_HOSTS", "")
MCP_SCAN_ALLOW_PRIVATE_ADDRESSES = envbool("MCP_SCAN_ALLOW_PRIVATE_ADDRESSES", True)
MCP_SCAN_ALLOW_LOOPBACK = envbool("MCP_SCAN_ALLOW_LOOPBACK", False)
# Grants and MCP tools both speak of read < write < execute: one name for the vocabulary in the schema.
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]["ToolAccessEnum"] = "registry.choices.ToolAccess"

# --- Portfolio ----------------------------------------------------------------
# The daily snapshot behind the leadership trend charts. Taking it twice on one
# day replaces that day's figures, so a shorter interval only refreshes today.
PORTFOLIO_SNAPSHOT_INTERVAL_SECONDS = envint("PORTFOLIO_SNAPSHOT_INTERVAL_SECONDS", 6 * 3600)
CELERY_BEAT_SCHEDULE["portfolio-snapshot"] = {
    "task": "portfolio.take_snapshot",
    "schedule": PORTFOLIO_SNAPSHOT_INTERVAL_SECONDS,
    "options": {"expires": PORTFOLIO_SNAPSHOT_INTERVAL_SECONDS * 0.9},
}
# The five maturity dimensions share one 1-5 scale; one schema enum names it.
SPECTACULAR_SETTINGS.setdefault("ENUM_NAME_OVERRIDES", {})["MaturityLevelEnum"] = "portfolio.choices.MaturityLevel"
# Rows per database round-trip when streaming CSV exports.
PORTFOLIO_EXPORT_CHUNK_SIZE = envint("PORTFOLIO_EXPORT_CHUNK_SIZE", 2000)
# The currency telemetry reports cost in (ISO 4217), shown on the cost chart, board pack and workbook.
PORTFOLIO_CURRENCY = env("PORTFOLIO_CURRENCY", "EUR")
# The classification printed in the footer of every board pack page.
BOARD_PACK_CLASSIFICATION = env("BOARD_PACK_CLASSIFICATION", "Confidential: board and leadership only")

# --- Product policy knobs -----------------------------------------------------
API_TOKEN_PREFIX = "agr_"  # noqa: S105 (a public prefix, not a secret)
AUDIT_RETENTION_DAYS = envint("AUDIT_RETENTION_DAYS", 400)
TELEMETRY_RETENTION_DAYS = envint("TELEMETRY_RETENTION_DAYS", 30)
# Days of raw-event partitions prepared after today (PostgreSQL): events past them land in the default
# partition, counted in /metrics, until the beat task prepares their day.
TELEMETRY_PARTITIONS_AHEAD_DAYS = envint("TELEMETRY_PARTITIONS_AHEAD_DAYS", 7)
if TELEMETRY_PARTITIONS_AHEAD_DAYS < 1:
    raise ImproperlyConfigured(
        f"TELEMETRY_PARTITIONS_AHEAD_DAYS must be at least 1 (ingest accepts events a day ahead), "
        f"not {TELEMETRY_PARTITIONS_AHEAD_DAYS}"
    )

# --- Agent cards (A2A) -------------------------------------------------------------
# Fetching a card by URL is a server-side request: only these hosts (exact names, or ".example.com"
# for a domain and its subdomains), never private, loopback or link-local addresses unless allowed.
AGENT_CARD_ALLOWED_HOSTS = envlist("AGENT_CARD_ALLOWED_HOSTS", "")
AGENT_CARD_ALLOW_PRIVATE_ADDRESSES = envbool("AGENT_CARD_ALLOW_PRIVATE_ADDRESSES", False)
AGENT_CARD_FETCH_TIMEOUT_SECONDS = envint("AGENT_CARD_FETCH_TIMEOUT_SECONDS", 5)
AGENT_CARD_MAX_BYTES = envint("AGENT_CARD_MAX_BYTES", 262_144)
# --- Runtime decisions (AuthZEN) -------------------------------------------------
# How often (ms) a worker compares its decision snapshot's version with the database's: a stop is
# in force everywhere within this interval plus one rebuild.
RUNTIME_VERSION_CHECK_SECONDS = envint("RUNTIME_VERSION_CHECK_MS", 500) / 1000
# Rebuild a snapshot at least this often whatever the version says (findings, monitoring deadlines).
RUNTIME_SNAPSHOT_MAX_AGE_SECONDS = envint("RUNTIME_SNAPSHOT_MAX_AGE_SECONDS", 60)
# How often (ms) a worker writes its buffered decision log (denials, allows, sightings) in bulk.
RUNTIME_LOG_FLUSH_SECONDS = envint("RUNTIME_LOG_FLUSH_MS", 1000) / 1000
# Flush from a background thread of each worker (false: from the request that finds the buffer due).
RUNTIME_LOG_BACKGROUND = envbool("RUNTIME_LOG_BACKGROUND", True)
# Refusals for ungranted tools or approvals that raise an ungranted_tool_use finding: this many within the window.
RUNTIME_FINDING_MIN_DENIALS = envint("RUNTIME_FINDING_MIN_DENIALS", 5)
RUNTIME_FINDING_WINDOW_HOURS = envint("RUNTIME_FINDING_WINDOW_HOURS", 24)

# --- Findings and notifications ---------------------------------------------------
# Webhook deliveries: at most this many attempts, waiting base * 2^n seconds (capped, with jitter).
WEBHOOK_MAX_ATTEMPTS = envint("WEBHOOK_MAX_ATTEMPTS", 8)
WEBHOOK_BACKOFF_BASE_SECONDS = envint("WEBHOOK_BACKOFF_BASE_SECONDS", 30)
WEBHOOK_BACKOFF_CAP_SECONDS = envint("WEBHOOK_BACKOFF_CAP_SECONDS", 3600)

# --- Telemetry ----------------------------------------------------------------
# Requests a minute one telemetry source may send to the ingest endpoints; more -> 429 + Retry-After (0: no limit).
TELEMETRY_INGEST_RATE_PER_MINUTE = envint("TELEMETRY_INGEST_RATE_PER_MINUTE", 600)
# Largest ingest body accepted (JSON batch or OTLP export, after gunzip); larger -> 413.
TELEMETRY_MAX_BODY_BYTES = envint("TELEMETRY_MAX_BODY_BYTES", 5 * 1024 * 1024)
# How long a worker keeps an ingest token it found usable (0: read it on every request). A token revoked,
# or a source deactivated, in another process is refused by every worker within this many seconds.
TELEMETRY_TOKEN_CACHE_SECONDS = envint("TELEMETRY_TOKEN_CACHE_SECONDS", 5)
# How long a child span (chat, execute_tool) waits for its invoke_agent span to arrive in another export;
# children still unattributed when it closes are counted as rejected for their source.
TELEMETRY_TRACE_WINDOW_SECONDS = envint("TELEMETRY_TRACE_WINDOW_SECONDS", 900)
# telemetry_rejected opens when a source has more than this share (percent) of a day's items refused.
TELEMETRY_REJECTED_PERCENT = envint("TELEMETRY_REJECTED_PERCENT", 5)
# Telemetry files reports under four environments (the registry's three and "unspecified"): name both sets.
SPECTACULAR_SETTINGS.setdefault("ENUM_NAME_OVERRIDES", {}).update(
    {
        "EnvironmentEnum": "registry.choices.Environment",
        "TelemetryEnvironmentEnum": "telemetry.choices.TelemetryEnvironment",
    }
)
SESSION_COOKIE_AGE = int(timedelta(hours=envint("SESSION_HOURS", 12)).total_seconds())

# --- Governance -----------------------------------------------------------------
# Evidence uploads larger than this are refused (the type allow-list is in
# governance/services/evidence.py); a waiver lasts at most this many days.
GOVERNANCE_EVIDENCE_MAX_BYTES = envint("GOVERNANCE_EVIDENCE_MAX_BYTES", 10 * 1024 * 1024)
GOVERNANCE_WAIVER_MAX_DAYS = envint("GOVERNANCE_WAIVER_MAX_DAYS", 180)

# --- Logging ------------------------------------------------------------------
# JSON lines by default (one object per line with the request id); LOG_FORMAT=plain for reading by eye.
LOG_FORMAT = env("LOG_FORMAT", "json")
if LOG_FORMAT not in ("json", "plain"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or plain, not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "config.logging.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
# Celery workers keep this logging set-up instead of installing their own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Hardening: audit checkpoints, metrics ---------------------------------------
# The key that signs exported audit checkpoints (manage.py export_audit_checkpoint).
# Keep it apart from SECRET_KEY and from the database, so someone who can write
# the database cannot forge a checkpoint.
AUDIT_CHECKPOINT_KEY = envsecret("AUDIT_CHECKPOINT_KEY", "")
# /metrics answers requests bearing this token, or (without one) only requests from this machine.
METRICS_TOKEN = envsecret("METRICS_TOKEN", "")
METRICS_ALLOW_LOCALHOST = envbool("METRICS_ALLOW_LOCALHOST", True)
