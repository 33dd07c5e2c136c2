"""Clarion settings shared by every environment.

Configuration comes only from the environment (a `.env` file is read when present). A missing
or malformed variable stops start-up with an ImproperlyConfigured error that names it.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

from config.celery_queues import CELERY_QUEUES, CELERY_TASK_ROUTES

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def _url(name: str, schemes: set[str], example: str) -> str:
    """The URL in `name`, or a start-up error that says what is wrong and how to fix it."""
    value = env.str(name, default="").strip()
    if not value:
        raise ImproperlyConfigured(
            f"{name} is not set. Set it to a URL such as {example}, or start Clarion with "
            "`make run` / `python manage.py ...`, which start embedded servers when it is unset."
        )
    parts = urlsplit(value)
    if parts.scheme not in schemes:
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a valid URL: the scheme must be one of "
            f"{', '.join(sorted(schemes))} (for example {example})."
        )
    return value


def _bool(name: str, default: bool) -> bool:
    raw = env.str(name, default="").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean: use true or false.")


def _int(name: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
    raw = env.str(name, default="").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or value < minimum or (maximum is not None and value > maximum):
        bounds = f"from {minimum}" + (f" to {maximum}" if maximum is not None else " up")
        raise ImproperlyConfigured(
            f"{name}={raw!r} is not a whole number {bounds}: unset it for {default}."
        )
    return value


def _choice(name: str, default: str, choices: tuple[str, ...], *, upper: bool = False) -> str:
    raw = env.str(name, default="").strip()
    value = (raw.upper() if upper else raw.lower()) if raw else default
    if value not in choices:
        raise ImproperlyConfigured(
            f"{name}={raw!r} is not one of {', '.join(choices)}: unset it for {default}."
        )
    return value


DEBUG = _bool("DEBUG", False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is not set. Generate one with "
        "`python -c 'import secrets; print(secrets.token_urlsafe(50))'` and export it."
    )

CLARION_BASE_DOMAIN = env.str("CLARION_BASE_DOMAIN", default="localhost").strip().lower()
if not CLARION_BASE_DOMAIN or "/" in CLARION_BASE_DOMAIN or ":" in CLARION_BASE_DOMAIN:
    raise ImproperlyConfigured(
        f"CLARION_BASE_DOMAIN={CLARION_BASE_DOMAIN!r} must be a bare host name such as "
        "status.example.com (no scheme, port or path)."
    )
# Hosts are validated by tenant routing (unknown hosts get a 404), and tenants bring their
# own custom domains, so Django's host check stays open unless the operator narrows it.
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["*"])

# --- applications -------------------------------------------------------------------------

SHARED_APPS = [
    "django_tenants",
    "apps.tenants",
    "apps.accounts",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.admin",
    "django.contrib.staticfiles",
    "django_celery_beat",
    "rest_framework",
    "drf_spectacular",
    "anymail",
]
TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.admin",
    "apps.accounts",
    "apps.core",
    "apps.incidents",
    "apps.statuspage",
    "apps.subscribers",
    "apps.integrations",
    # Before communications: its `incident.resolved` handler computes the SLA credits that
    # the resolution message (drafted by communications' handler) shows per recipient.
    "apps.postmortems",
    "apps.communications",
]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_NAME = "public"
PUBLIC_SCHEMA_URLCONF = "config.urls_public"
ROOT_URLCONF = "config.urls_tenants"
# New tenants are cloned from this template schema (kept migrated like any tenant) and their
# migrations faked, which is several times faster than running every migration.
TENANT_BASE_SCHEMA = "clarion_template"
TENANT_CREATION_FAKES_MIGRATIONS = True
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]
# Send `SET search_path` only when the schema changes, not before every query (django-tenants
# resets it on tenant switches and rollbacks).
TENANT_LIMIT_SET_CALLS = True

AUTH_USER_MODEL = "accounts.User"

MIDDLEWARE = [
    "apps.tenants.middleware.TenantHostMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

# --- data stores --------------------------------------------------------------------------

DATABASE_URL = _url(
    "DATABASE_URL",
    {"postgres", "postgresql", "pgsql"},
    "postgres://user:password@127.0.0.1:5432/clarion",
)
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
DATABASES["default"]["ENGINE"] = "django_tenants.postgresql_backend"
DATABASES["default"]["CONN_MAX_AGE"] = _int("DATABASE_CONN_MAX_AGE", 60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Django's own queries bind parameters on the client and are never prepared; the few hot
# statements that ask for it (the monitoring hooks' insert) are, unless this is off (a
# PgBouncer older than 1.21 in transaction mode cannot keep prepared statements).
DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = (
    5 if _bool("DATABASE_PREPARED_STATEMENTS", True) else None
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = _url("REDIS_URL", {"redis", "rediss", "unix"}, "redis://127.0.0.1:6379/0")


def _redis_db(url: str, db: int) -> str:
    """The same Redis server, another logical database (broker and cache stay apart)."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix://{parts.path}?db={db}"
    return parts._replace(path=f"/{db}").geturl()


CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": _redis_db(REDIS_URL, 1),
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="clarion"),
    }
}

# --- Celery -------------------------------------------------------------------------------


def _broker_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme == "unix":  # kombu spells a unix socket differently from redis-py
        return f"redis+socket://{parts.path}"
    return url


CELERY_BROKER_URL = _broker_url(REDIS_URL)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_DEFAULT_EXCHANGE = "default"
CELERY_TASK_DEFAULT_ROUTING_KEY = "default"
CELERY_TASK_QUEUES = CELERY_QUEUES
CELERY_TASK_ROUTES = CELERY_TASK_ROUTES
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "clarion-tick": {"task": "core.tick", "schedule": 60.0, "options": {"queue": "default"}},
}
CELERY_TASK_TENANT_CACHE_SECONDS = 30
# Celery's Django fixup closes the database connection before and after every task unless
# this is set: keep it (CONN_MAX_AGE still applies) instead of reconnecting per task.
CELERY_DB_REUSE_MAX = 1000

# --- API ----------------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["apps.core.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "apps.core.api.permissions.RolePermission",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "apps.core.api.errors.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Clarion management API",
    "DESCRIPTION": (
        "Per-tenant management API. Authenticate with `Authorization: Bearer <api key>` "
        "(create one with `python manage.py apikey_create SLUG --name NAME`). Every 4xx "
        'response has the body `{"error": {"code", "message", "fields"}}`.'
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- e-mail -------------------------------------------------------------------------------

EMAIL_URL = env.str("EMAIL_URL", default="consolemail://")
globals().update(env.email_url_config(EMAIL_URL))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Clarion <notifications@localhost>")

# --- the rest -----------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / ".clarion" / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]

SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {
        "handlers": ["console"],
        "level": _choice(
            "LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"), upper=True
        ),
    },
    # The Twilio client logs every request at INFO.
    "loggers": {"twilio.http_client": {"level": "WARNING"}},
}

# How the public status page names its own URLs (feeds, JSON `url`, shortlinks).
CLARION_PUBLIC_SCHEME = _choice(
    "CLARION_PUBLIC_SCHEME", "http" if DEBUG else "https", ("http", "https")
)
CLARION_PUBLIC_PORT = env.str("CLARION_PUBLIC_PORT", default="").strip()
if CLARION_PUBLIC_PORT and not (
    CLARION_PUBLIC_PORT.isdigit() and 0 < int(CLARION_PUBLIC_PORT) < 65536
):
    raise ImproperlyConfigured(
        f"CLARION_PUBLIC_PORT={CLARION_PUBLIC_PORT!r} is not a port number (1-65535): "
        "unset it when the public URLs use the scheme's own port."
    )
# Behind a reverse proxy: the request header that holds the client's address (rate limits).
CLARION_CLIENT_IP_HEADER = env.str("CLARION_CLIENT_IP_HEADER", default="").strip()
# When set, every change re-exports the tenant's public pages as static files here.
CLARION_STATUS_EXPORT_DIR = env.str("CLARION_STATUS_EXPORT_DIR", default="")

# Dotted paths of per-tenant periodic jobs, run by the per-tenant tick (see apps.core.periodic).
CLARION_TENANT_PERIODIC_JOBS: list[str] = [
    "apps.integrations.periodic.triage_close_quiet",
    "apps.integrations.periodic.events_sweep",
    "apps.integrations.tasks_support.helpdesk_sweep",
    "apps.communications.tasks.sweep",
    "apps.communications.cadence.cadence_tick",
    "apps.subscribers.services.crm.crm_sync_due",
    "apps.postmortems.periodic.reminders",
    "apps.postmortems.periodic.extended_outage_credits",
    "apps.postmortems.periodic.salesforce_credits",
]
# Dotted paths of the monitoring sources accepted at /hooks/<source>/<token>/, one per key
# (see apps.integrations.inbound.base).
CLARION_INBOUND_SOURCES = [
    f"apps.integrations.inbound.{name}.source"
    for name in ("alertmanager", "grafana", "pagerduty", "sentry", "datadog", "newrelic", "generic")
]
# Fernet key(s) for stored credentials, comma-separated, first one encrypts (apps.core.crypto);
# unset: derived from SECRET_KEY.
CLARION_ENCRYPTION_KEY = env.str("CLARION_ENCRYPTION_KEY", default="")
# Channel implementations (apps.communications.channels.base); one per key.
CLARION_CHANNELS = [
    "apps.communications.channels.email.EmailChannel",
    "apps.communications.channels.webhook.WebhookChannel",
    "apps.communications.channels.sms.SmsChannel",
    "apps.communications.channels.slack.SlackChannel",
    "apps.communications.channels.teams.TeamsChannel",
    "apps.communications.channels.in_app.InAppChannel",
    "apps.communications.channels.status_page.StatusPageChannel",
    "apps.communications.channels.social.SocialChannel",
]
# Broadcast channels (apps/communications/channels/README.md). Social: `log`, `x`, `linkedin`.
CLARION_SOCIAL_PROVIDERS = env.list("CLARION_SOCIAL_PROVIDERS", default=["log"])
X_API_URL = env.str("X_API_URL", default="https://api.x.com")
X_ACCESS_TOKEN = env.str("X_ACCESS_TOKEN", default="")
LINKEDIN_API_URL = env.str("LINKEDIN_API_URL", default="https://api.linkedin.com")
LINKEDIN_ACCESS_TOKEN = env.str("LINKEDIN_ACCESS_TOKEN", default="")
LINKEDIN_AUTHOR_URN = env.str("LINKEDIN_AUTHOR_URN", default="")
LINKEDIN_VERSION = env.str("LINKEDIN_VERSION", default="202510")
# Optional push of in-app banners to a Customer.io API-triggered broadcast.
CUSTOMERIO_API_URL = env.str("CUSTOMERIO_API_URL", default="https://api.customer.io")
CUSTOMERIO_APP_API_KEY = env.str("CUSTOMERIO_APP_API_KEY", default="")
CUSTOMERIO_BROADCAST_ID = env.str("CUSTOMERIO_BROADCAST_ID", default="")
# Bounce/complaint webhooks (/anymail/<esp>/tracking/ on a tenant host) need basic auth
# "user:password"; unset, they answer 403.
ANYMAIL = {"WEBHOOK_SECRET": env.str("ANYMAIL_WEBHOOK_SECRET", default="")}
# Approved SLA credits Salesforce does not have yet are queued again at most this often.
CLARION_SLA_CREDIT_PUSH_MINUTES = _int("CLARION_SLA_CREDIT_PUSH_MINUTES", 15, minimum=1)
# A subscriber webhook endpoint is disabled after this many failed deliveries in a row.
CLARION_WEBHOOK_DISABLE_AFTER = _int("CLARION_WEBHOOK_DISABLE_AFTER", 5, minimum=1)
# SMS through Twilio (apps/communications/channels/README.md); unset = SMS deliveries fail
# with a message naming these.
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM_NUMBER = env.str("TWILIO_FROM_NUMBER", default="")

# Dotted paths of demo seeders, run in order by `manage.py demo` (see apps.core.demo).
CLARION_DEMO_SEEDERS = [
    "apps.incidents.demo.seed",
    "apps.subscribers.demo.seed",
    "apps.postmortems.demo.seed",
]
