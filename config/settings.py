"""Settings for every environment; production differs from local only by environment values.

The embedded default (no ``DATABASE_URL`` / ``REDIS_URL``) is SQLite plus an in-process Dramatiq
broker, which is what ``make run`` uses. See ``.env.production.example`` for every variable.
The app's variables are read here, gunicorn's in ``config/gunicorn.py``, both through
:data:`config.env.env`; code reads only settings declared here (or Django's own defaults).
"""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from config.env import env

BASE_DIR = Path(__file__).resolve().parent.parent

# --- Core ---------------------------------------------------------------------------------------
DEBUG = env.bool("DEBUG", False)
SECRET_KEY = env.str("SECRET_KEY", None)
if SECRET_KEY is None:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is required when DEBUG is 0 (set a long random string)"
        )
    SECRET_KEY = "insecure-local-development-key-do-not-use-in-production"
elif not DEBUG and len(SECRET_KEY) < 32:
    raise ImproperlyConfigured("SECRET_KEY must be at least 32 characters when DEBUG is 0")
#: Earlier keys (comma-separated) that still verify sessions and signed values, and decrypt
#: endpoint secrets (outbox.crypto), while a SECRET_KEY rotation overlaps (docs/operations.md).
SECRET_KEY_FALLBACKS: list[str] = env.list("SECRET_KEY_FALLBACKS", [])

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
PORT = env.int("PORT", 8080, minimum=1)
LOG_LEVEL = env.choice("LOG_LEVEL", ("debug", "info", "warning", "error"), "info").upper()
SENTRY_DSN = env.str("SENTRY_DSN", None)
API_BASE_URL = env.url("API_BASE_URL", f"http://127.0.0.1:{PORT}", schemes=("http", "https"))
METRICS_TOKEN = env.str("METRICS_TOKEN", None)
#: While the token is rotated METRICS_TOKEN lists the new and the old one, comma-separated (any
#: one is accepted, platform_ops.metrics.token_ok; docs/operations.md "Rotating METRICS_TOKEN").
METRICS_TOKENS: list[str] = [t.strip() for t in (METRICS_TOKEN or "").split(",") if t.strip()]
if METRICS_TOKEN and not METRICS_TOKENS:
    raise ImproperlyConfigured("METRICS_TOKEN holds no token (only commas or spaces)")
#: Prometheus multiprocess mode (platform_ops.metrics) when set: by config/gunicorn.py's
#: on_starting before the workers import these settings, or by compose for the Dramatiq
#: workers. Unset, each process serves its own registry (runserver, tests).
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", None)
# --- oncall (issue 13): shared metrics directory, bot modes, trusted proxies, Sentry -------------
#: With METRICS_SHARED_DIR set (a volume shared by api, relay and workers on one host), each
#: top-level process writes its samples into its own subdirectory ``<host>-<pid>`` (children
#: inherit it) and the api's /metrics merges every subdirectory: worker and relay figures are
#: read where the runbooks read them (platform_ops/metrics.py, docs/operations.md Monitoring).
METRICS_SHARED_DIR = env.str("METRICS_SHARED_DIR", None)
if METRICS_SHARED_DIR and not PROMETHEUS_MULTIPROC_DIR:
    import os as _os

    from config.metrics_dirs import metrics_dir_claim

    PROMETHEUS_MULTIPROC_DIR = metrics_dir_claim(METRICS_SHARED_DIR)
    _os.environ["PROMETHEUS_MULTIPROC_DIR"] = PROMETHEUS_MULTIPROC_DIR
    # Dramatiq's Prometheus middleware points its processes at dramatiq_prom_db: the same place.
    _os.environ.setdefault("dramatiq_prom_db", PROMETHEUS_MULTIPROC_DIR)
#: The bot asks the current site modes through this (notifications/bot.py, "Modes"): the
#: channel layer cannot import platform_ops, the composition root wires it.
NOTIFICATIONS_SITE_MODES = "platform_ops.selectors.site_modes_current"
#: Reverse proxies whose X-Forwarded-For the access log believes (IPs or CIDRs, comma-separated;
#: core/request_context.py client_address). Empty: the client is REMOTE_ADDR.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", [])
try:
    import ipaddress as _ipaddress

    TRUSTED_PROXY_NETWORKS = tuple(
        _ipaddress.ip_network(item.strip(), strict=False) for item in TRUSTED_PROXIES
    )
except ValueError as _exc:
    raise ImproperlyConfigured(
        f"TRUSTED_PROXIES must list IP addresses or networks (e.g. 127.0.0.1,10.0.0.0/8): {_exc}"
    ) from None
if SENTRY_DSN:
    from config.sentry import sentry_init

    sentry_init(
        dsn=SENTRY_DSN,
        secrets=[
            str(value)
            for value in (
                SECRET_KEY,
                *SECRET_KEY_FALLBACKS,
                *METRICS_TOKENS,
                env.str("TELEGRAM_NOTIFY_BOT_TOKEN", None),
                env.str("TELEGRAM_NOTIFY_WEBHOOK_SECRET", None),
                env.str("ALERT_TELEGRAM_BOT_TOKEN", None),
                env.database("DATABASE_URL", "sqlite:///db.sqlite3").get("PASSWORD"),
            )
            if value
        ],
    )
# --- end oncall ---------------------------------------------------------------------------------

# --- Processes and modes ------------------------------------------------------------------------
WORKERS_ENABLED = env.bool("WORKERS_ENABLED", False)
MAINTENANCE_MODE = env.bool("MAINTENANCE_MODE", False)
READ_ONLY_MODE = env.bool("READ_ONLY_MODE", False)
RATE_LIMIT_MODE = env.choice("RATE_LIMIT_MODE", ("normal", "slow"), "normal")
DB_SLOW_QUERY_MS = env.int("DB_SLOW_QUERY_MS", 500, minimum=0)

# --- Telegram customer bot ----------------------------------------------------------------------
TELEGRAM_NOTIFY_BOT_TOKEN = env.str("TELEGRAM_NOTIFY_BOT_TOKEN", None)
TELEGRAM_NOTIFY_WEBHOOK_SECRET = env.str("TELEGRAM_NOTIFY_WEBHOOK_SECRET", None)
if TELEGRAM_NOTIFY_WEBHOOK_SECRET is not None and not (
    len(TELEGRAM_NOTIFY_WEBHOOK_SECRET) <= 256
    and TELEGRAM_NOTIFY_WEBHOOK_SECRET.isascii()
    and (TELEGRAM_NOTIFY_WEBHOOK_SECRET.replace("_", "").replace("-", "") or "x").isalnum()
):
    raise ImproperlyConfigured(
        "TELEGRAM_NOTIFY_WEBHOOK_SECRET must be 1-256 characters of A-Z, a-z, 0-9, _ and - "
        "(what Telegram accepts as a webhook secret_token)"
    )
TELEGRAM_API_BASE_URL = env.url(
    "TELEGRAM_API_BASE_URL", "https://api.telegram.org", schemes=("http", "https")
).rstrip("/")
#: Longest a Telegram send waits for its rate-limiter slot before the delivery is handed back
#: (retried shortly, without counting as a failure).
TELEGRAM_SEND_MAX_WAIT_SECONDS = env.float("TELEGRAM_SEND_MAX_WAIT_SECONDS", 5.0, lo=0.1, hi=60.0)

# --- Alerts (sent by the relay) -----------------------------------------------------------------
ALERT_TELEGRAM_BOT_TOKEN = env.str("ALERT_TELEGRAM_BOT_TOKEN", None)
ALERT_TELEGRAM_CHAT_ID = env.str("ALERT_TELEGRAM_CHAT_ID", None)
ALERT_HTTP_5XX_PER_MIN = env.int("ALERT_HTTP_5XX_PER_MIN", 10, minimum=1)
ALERT_HTTP_SLOW_PER_MIN = env.int("ALERT_HTTP_SLOW_PER_MIN", 30, minimum=1)
ALERT_HTTP_SLOW_THRESHOLD_MS = env.int("ALERT_HTTP_SLOW_THRESHOLD_MS", 1000, minimum=1)
ALERT_OUTBOX_DEAD_DELTA = env.int("ALERT_OUTBOX_DEAD_DELTA", 10, minimum=1)
ALERTS_5XX_SAMPLE_RATE = env.float("ALERTS_5XX_SAMPLE_RATE", 0.1, lo=0.0, hi=1.0)
#: After an alert was delivered, the same alert (fingerprint) is not sent again for this long.
ALERT_COOLDOWN_SECONDS = env.int("ALERT_COOLDOWN_SECONDS", 900, minimum=0)
#: Where scripts/backup.sh keeps dumps and the last-success timestamp that /metrics reads.
BACKUP_DIR = env.str("BACKUP_DIR", str(BASE_DIR / "backups"))

# --- Integration API ----------------------------------------------------------------------------
#: How long an api process trusts its copy of an API key row without reading it again when no
#: change was announced (integrations/services.py: a revocation through the services or the
#: admin is announced and takes effect within about a second; only a plain SQL UPDATE waits
#: for this bound). A setting, not an environment variable: nothing in operations tunes it.
#: Set below with the caches: without Redis (the embedded run) there is no shared version key
#: to announce a change to the other processes, so the cache is off there.

# --- Outbox -------------------------------------------------------------------------------------
OUTBOX_ALLOW_PRIVATE_TARGETS = env.bool("OUTBOX_ALLOW_PRIVATE_TARGETS", False)
#: Outbox tunables (not in CONTRACT's list; optional, documented in the README).
OUTBOX_RELAY_BATCH = env.int("OUTBOX_RELAY_BATCH", 200, minimum=1)
OUTBOX_LEASE_SECONDS = env.int("OUTBOX_LEASE_SECONDS", 60, minimum=5)
OUTBOX_RETENTION_DAYS = env.int("OUTBOX_RETENTION_DAYS", 14, minimum=1)
OUTBOX_HTTP_TIMEOUT_SECONDS = env.float("OUTBOX_HTTP_TIMEOUT_SECONDS", 10.0, lo=0.1, hi=120.0)
OUTBOX_RETRY_SCHEDULE = env.int_list(
    "OUTBOX_RETRY_SCHEDULE", [0, 5, 300, 1800, 7200, 18000, 36000, 36000]
)

# --- Integration API and loyalty ----------------------------------------------------------------
#: Requests per API key: "<n>/<s|m|h>" (sliding window in the shared cache, Redis when set).
API_THROTTLE_RATE = env.str("API_THROTTLE_RATE", "50/s")
_rate_count, _, _rate_unit = API_THROTTLE_RATE.partition("/")
if not (_rate_count.isdigit() and int(_rate_count) > 0 and _rate_unit in ("s", "m", "h")):
    raise ImproperlyConfigured(
        f"API_THROTTLE_RATE must look like 50/s, 600/m or 10000/h (got {API_THROTTLE_RATE!r})"
    )
#: Region assumed for a phone number given without its +country code (loyalty.phones).
PHONE_DEFAULT_REGION = "RU"

# --- Django -------------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "platform_ops",
    "loyalty",
    "outbox",
    "integrations",
    "notifications",
    "portal",
    # Last, so that our rundramatiq (gated by WORKERS_ENABLED) takes precedence.
    "django_dramatiq",
]

MIDDLEWARE = [
    # First, so that it times the whole stack and sees every response (also the ones middleware
    # makes).
    "platform_ops.http_metrics.HttpMetricsMiddleware",
    # Then the request id, so that refusals carry one and get their access log line; then the
    # mode refusals (maintenance, read-only, schema behind), before sessions and views run; then
    # the alert counters, which therefore never count planned refusals as incidents.
    "core.request_context.RequestContextMiddleware",
    # Bodies over REQUEST_BODY_MAX_BYTES get 413 before anything reads them (docs/security.md).
    "core.request_limits.BodyLimitMiddleware",
    "platform_ops.modes.SiteModeMiddleware",
    "platform_ops.alert_counters.AlertCountersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Serves the admin's and the portal's static files from the app itself (no extra server).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Django's session, auth and message middleware, skipping the machine APIs (API keys, the
    # Telegram secret: no cookies, no user, no messages); see core/page_middleware.py.
    "core.page_middleware.PageSessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "core.page_middleware.PageAuthenticationMiddleware",
    "core.page_middleware.PageMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.database("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.postgresql":
    _db.setdefault("OPTIONS", {})
    # Short connect timeout so health checks answer quickly when PostgreSQL is away.
    _db["OPTIONS"].setdefault("connect_timeout", 3)
    _db["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", 60, minimum=0)
    _db["CONN_HEALTH_CHECKS"] = True
    # Server-side binding: parameters travel apart from the SQL text (no quoting in Python), and
    # a statement run DB_PREPARE_THRESHOLD times on a connection is prepared once (parsed and
    # planned once per connection). Prepared statements need a direct connection or PgBouncer
    # >= 1.21 with max_prepared_statements: behind an older PgBouncer in transaction mode set
    # DB_PREPARE_THRESHOLD=0 (never prepare). bench/bench_commit.py measured it (README).
    _db["OPTIONS"].setdefault("server_side_binding", env.bool("DB_SERVER_SIDE_BINDING", True))
    _prepare = env.int("DB_PREPARE_THRESHOLD", 5, minimum=0)
    _db["OPTIONS"].setdefault("prepare_threshold", _prepare or None)
else:
    # Writers wait for SQLite's lock instead of failing at once; IMMEDIATE avoids upgrade deadlocks.
    _db.setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})

REDIS_URL = env.url("REDIS_URL", None, schemes=("redis", "rediss", "unix"))

_dramatiq_middleware = [
    "dramatiq.middleware.AgeLimit",
    "dramatiq.middleware.TimeLimit",
    "dramatiq.middleware.Callbacks",
    "dramatiq.middleware.Retries",
    "django_dramatiq.middleware.DbConnectionsMiddleware",
    # Each worker process's RSS as bot_memory_usage_bytes{process="worker"} (runbook 004).
    "platform_ops.worker_metrics.ProcessMemoryMiddleware",
]
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 1,
                "SOCKET_TIMEOUT": 1,
            },
        }
    }
    # Dramatiq's Prometheus exporter in workers (port dramatiq_prom_port, default 9191); see
    # platform_ops/metrics.py for how worker metrics are exported.
    if env.bool("DRAMATIQ_PROMETHEUS", False):
        _dramatiq_middleware.append("dramatiq.middleware.prometheus.Prometheus")
    DRAMATIQ_BROKER = {
        "BROKER": "dramatiq.brokers.redis.RedisBroker",
        "OPTIONS": {"url": REDIS_URL},
        "MIDDLEWARE": _dramatiq_middleware,
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    DRAMATIQ_BROKER = {
        "BROKER": "dramatiq.brokers.stub.StubBroker",
        "OPTIONS": {},
        "MIDDLEWARE": _dramatiq_middleware,
    }
EMBEDDED_BROKER = REDIS_URL is None
#: See the Integration API section above: 5 s with a shared cache, 0 (off) without one, where
#: a key revoked by one process (``demo_setup --rotate-key``) must stop working in the server
#: at once.
API_KEY_CACHE_SECONDS = 0.0 if EMBEDDED_BROKER else 5.0
#: The same bound for the outlets, devices and managers a purchase names
#: (loyalty.services.purchases.place_cache): a deactivation through the services or the admin
#: shows in every api process within about a second, a plain UPDATE within this.
PLACE_CACHE_SECONDS = API_KEY_CACHE_SECONDS
DRAMATIQ_AUTODISCOVER_MODULES = ["actors"]
#: Every app's periodic jobs (``core.jobs``): the relay, or the embedded run's relay thread, runs
#: what these functions return. An app with jobs of its own adds its ``jobs`` function here.
PERIODIC_JOBS = [
    "outbox.jobs.jobs",
    "platform_ops.jobs.jobs",
    "loyalty.jobs.jobs",
    "integrations.jobs.jobs",
    "notifications.jobs.jobs",
    "portal.jobs.jobs",  # portal: forget refund Idempotency-Keys after 24 h
]
#: The outbox's transport per delivery channel (``outbox.transports.transport_for``): the import
#: path of a class with ``send(delivery) -> Sent`` and ``target_gone(delivery, reason=...)``.
#: The composition root wires the channels in, so the outbox core imports none of them.
OUTBOX_TRANSPORTS = {
    "webhook": "outbox.transports.webhook.WebhookTransport",
    "telegram": "notifications.transport.TelegramTransport",
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON only, with depth and text checks (core/parsers.py, docs/security.md).
    "DEFAULT_PARSER_CLASSES": ["core.parsers.StrictJSONParser"],
    # DRF's negotiation with a fast path for no Accept, */* and application/json.
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "core.negotiation.FastContentNegotiation",
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.problems.problem_exception_handler",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Loyalty platform integration API",
    "DESCRIPTION": "Register flow for merchants: code -> calculate -> purchase -> refund.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/integrations/v1",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "integrations.openapi.schema_postprocess",
    ],
}

# --- API docs (issue 14): Swagger UI from drf-spectacular-sidecar (static files served by
# WhiteNoise, no CDN: /api/docs/ works air-gapped); OpenAPI 3.1, whose top-level `webhooks`
# section describes every event we send (integrations.openapi.webhooks_postprocess).
INSTALLED_APPS.append("drf_spectacular_sidecar")
SPECTACULAR_SETTINGS.update(
    {
        "OAS_VERSION": "3.1.0",
        "SWAGGER_UI_DIST": "SIDECAR",
        "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
        "REDOC_DIST": "SIDECAR",
        "WEBHOOKS": [
            f"integrations.openapi.webhook_{name}"
            for name in (
                "customer_created",
                "customer_telegram_linked",
                "purchase_committed",
                "purchase_refunded",
                "points_adjusted",
                "points_expired",
                "webhook_test",
            )
        ],
    }
)
SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"] = [
    "drf_spectacular.hooks.postprocess_schema_enums",
    "integrations.openapi.schema_postprocess",
    "integrations.openapi.webhooks_postprocess",
]
# --- end API docs ---------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "core.logging.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}

if not DEBUG:
    SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Growing past one machine: Redis Sentinel, brokers, PgBouncer, key rotation ------------------
# One block, read through the same strict helpers; README "Growing past one machine" says why.

#: Sentinels (host, port) that name the Redis master; REDIS_URL then gives only the username,
#: password, database number and TLS (its host and port are not used).
REDIS_SENTINELS = env.host_ports("REDIS_SENTINELS")
REDIS_SENTINEL_MASTER = env.str("REDIS_SENTINEL_MASTER", None)
if bool(REDIS_SENTINELS) != bool(REDIS_SENTINEL_MASTER):
    raise ImproperlyConfigured("REDIS_SENTINELS and REDIS_SENTINEL_MASTER must be set together")
if REDIS_SENTINELS and (not REDIS_URL or REDIS_URL.startswith("unix:")):
    raise ImproperlyConfigured(
        "REDIS_SENTINELS needs REDIS_URL as redis://[:password@]any-host/db or rediss://... "
        "(its password, database and TLS are used; the master's address comes from Sentinel)"
    )
if REDIS_URL:
    # Every Redis user gets its client from core/redis_connection.py: REDIS_URL as it is, or the
    # master that the Sentinels name.
    CACHES["default"]["OPTIONS"]["CONNECTION_FACTORY"] = (
        "core.redis_connection.CacheConnectionFactory"
    )
    DRAMATIQ_BROKER["BROKER"] = "core.redis_connection.RedisBroker"
    DRAMATIQ_BROKER["OPTIONS"] = {}

#: ``amqp://`` / ``amqps://``: Dramatiq's RabbitMQ broker; ``redis://`` / ``rediss://``: the Redis
#: broker on that URL, as given. Unset: the Redis broker on REDIS_URL (through Sentinel when
#: REDIS_SENTINELS is set), or the in-process broker without REDIS_URL.
DRAMATIQ_BROKER_URL = env.url(
    "DRAMATIQ_BROKER_URL", None, schemes=("amqp", "amqps", "redis", "rediss")
)
if DRAMATIQ_BROKER_URL and not REDIS_URL:
    raise ImproperlyConfigured(
        "DRAMATIQ_BROKER_URL needs REDIS_URL as well (the cache, rate limits and Telegram "
        "limiter are shared between processes through Redis)"
    )
if DRAMATIQ_BROKER_URL and DRAMATIQ_BROKER_URL.split(":", 1)[0].lower() in ("amqp", "amqps"):
    DRAMATIQ_BROKER["BROKER"] = "dramatiq.brokers.rabbitmq.RabbitmqBroker"
    # Publisher confirms: the relay learns at once when RabbitMQ did not take a message and gives
    # the claim back instead of waiting for its lease to run out.
    DRAMATIQ_BROKER["OPTIONS"] = {"url": DRAMATIQ_BROKER_URL, "confirm_delivery": True}
elif DRAMATIQ_BROKER_URL:
    DRAMATIQ_BROKER["OPTIONS"] = {"url": DRAMATIQ_BROKER_URL}

#: The relay's own, direct PostgreSQL connection (session-level: LISTEN) for when DATABASE_URL
#: is PgBouncer in transaction-pooling mode. ``outbox_relay`` makes it its default connection
#: before first use (``outbox.relay.relay_database_use``).
RELAY_DATABASE = (
    env.database("RELAY_DATABASE_URL", "")  # set, so the default is never used
    if env.str("RELAY_DATABASE_URL", None) is not None
    else None
)
if RELAY_DATABASE is not None:
    _default_db = DATABASES["default"]
    if {RELAY_DATABASE["ENGINE"], _default_db["ENGINE"]} != {"django.db.backends.postgresql"}:
        raise ImproperlyConfigured(
            "RELAY_DATABASE_URL must be a postgres:// URL, and DATABASE_URL as well (PgBouncer "
            "in front of the same PostgreSQL)"
        )
    # The relay's connection gets the client settings of the default one...
    RELAY_DATABASE["OPTIONS"] = {**_default_db["OPTIONS"], **RELAY_DATABASE.get("OPTIONS", {})}
    RELAY_DATABASE["CONN_MAX_AGE"] = _default_db["CONN_MAX_AGE"]
    RELAY_DATABASE["CONN_HEALTH_CHECKS"] = True
    # ...while the default one goes through PgBouncer in transaction mode, where a cursor
    # declared WITH HOLD outside a transaction would outlive the server connection it was lent
    # (Django's documented setting for transaction pooling).
    _default_db["DISABLE_SERVER_SIDE_CURSORS"] = True

# Django's PostgreSQL backend with a health check that needs no SELECT 1 when the connection's
# socket is quiet (core/pg_backend/base.py): one round trip less on every API call.
for _database in (DATABASES["default"], RELAY_DATABASE):
    if _database is not None and _database["ENGINE"] == "django.db.backends.postgresql":
        _database["ENGINE"] = "core.pg_backend"

#: Fernet keys for endpoint secrets, newest first (encrypt with the first, decrypt with any); the
#: keys derived from SECRET_KEY stay last so that secrets stored before keep working.
OUTBOX_ENCRYPTION_KEYS = env.fernet_keys("OUTBOX_ENCRYPTION_KEYS")

# --- Hardening (issue 12): request limits and the /metrics rule. See docs/security.md. -------
#: The largest request body we read (413 beyond); also Django's own DATA_UPLOAD_MAX_MEMORY_SIZE.
#: Register requests and Telegram updates are a few kilobytes; 1 MiB leaves room for long
#: purchase line lists.
REQUEST_BODY_MAX_BYTES = 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = REQUEST_BODY_MAX_BYTES
#: Arrays and objects nested deeper than this in a JSON body get 400 (a Telegram update nests
#: about 8 levels; our API bodies 3).
JSON_MAX_DEPTH = 32
# The limits are enforced by core.request_limits.BodyLimitMiddleware (in MIDDLEWARE) and
# core.parsers.StrictJSONParser (DRF's parser).
#: /metrics is never open by accident in production: with DEBUG=0 start-up stops without
#: METRICS_TOKEN, unless METRICS_PUBLIC=1 says the scrape port is private on purpose (the test
#: suite runs so; a production deployment should not).
METRICS_PUBLIC = env.bool("METRICS_PUBLIC", False)
if not DEBUG and not METRICS_TOKEN and not METRICS_PUBLIC:
    raise ImproperlyConfigured(
        "METRICS_TOKEN is required when DEBUG is 0 (or set METRICS_PUBLIC=1 to serve /metrics "
        "without a token on a private network)"
    )
# --- end of hardening block -----------------------------------------------------------------
