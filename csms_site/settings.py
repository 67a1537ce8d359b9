"""Settings for the CSMS, read from the environment.

The embedded default (no variables set but DEBUG=1) is SQLite in WAL mode and an in-memory channel layer:
one process, nothing else to install. Production sets DATABASE_URL (PostgreSQL), REDIS_URL (the channel
layer shared by every worker process) and SECRET_KEY. docs/settings.md lists every variable.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

from csms_site.env import env_bool, env_float, env_int, env_list
from csms_site.gc_tuning import DEFAULT as GC_DEFAULT
from csms_site.gc_tuning import thresholds as gc_thresholds

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)

# Required to serve (asgi.py and the stations.E001 check refuse to start without it when DEBUG is
# off), but not to run commands that sign nothing, such as `manage.py emulate`.
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY and DEBUG:
    SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    # daphne first: `manage.py runserver` then serves HTTP and the OCPP WebSockets through ASGI.
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "stations",
    "reservations",
    "devicemodel",
    "locallists",
    "monitoring",
    "displays",
    "diagnostics",
    "certificates",
    "firmware",
    "smartcharging",
    "sites",
    "tariffs",
    "emulator",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "csms_site.urls"
ASGI_APPLICATION = "csms_site.asgi.application"
WSGI_APPLICATION = "csms_site.wsgi.application"

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

# --- Database -----------------------------------------------------------------------------------
# Reused connections: the OCPP consumers touch the database from a worker thread for every
# transaction message, and opening a connection per message would dominate the cost. SQLite keeps
# them per thread (CONN_MAX_AGE). PostgreSQL uses a pool per worker process instead: under ASGI each
# HTTP request runs in a thread of its own, and persistent per-thread connections piled up until
# PostgreSQL refused clients ("too many clients already", 500s under REST load).
_DEFAULT_SQLITE = f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", _DEFAULT_SQLITE),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 600),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    _pool_size = env_int("DB_POOL_MAX_SIZE", 10)  # per worker process; 0 turns pooling off
    if _pool_size > 0:
        DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps them; Django must not
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": _pool_size,
            "timeout": env_float("DB_POOL_TIMEOUT", 10.0),
        }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # WAL lets readers (admin, API) run while the OCPP side writes; IMMEDIATE takes the write
            # lock at BEGIN so two writers wait on busy_timeout instead of failing mid-transaction.
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;"
            ),
            "transaction_mode": "IMMEDIATE",
        }
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Channel layer ------------------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "csms_site.channel_layer.ShieldedRedisChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        # channels-redis blocks on BZPOPMIN for 5 s; redis-py 8 times out reads
                        # after 5 s by default, which dropped every idle station's socket.
                        "socket_timeout": 15,
                        "socket_connect_timeout": 5,
                        "socket_keepalive": True,
                        # redis-py 8 caps a pool at 100 connections and then raises: a boot storm
                        # of hundreds of handshakes per worker failed with 500s. Redis allows
                        # 10,000 clients by default. Past the cap our layer's pool makes callers
                        # wait for a free connection (up to "pool_timeout", 20 s) instead.
                        "max_connections": int(os.environ.get("REDIS_MAX_CONNECTIONS", "1000")),
                    }
                ],
                "capacity": 1500,
                "expiry": 30,
            },
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "csms_site.channel_layer.SweepingInMemoryChannelLayer"}
    }

# --- Auth, i18n, static -------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Production serves the collected, compressed files (the Dockerfile runs collectstatic); during
# development WhiteNoise finds them in the apps, so any ASGI server serves them too.
WHITENOISE_USE_FINDERS = DEBUG
# Files stations upload (logs, diagnostics) and operators upload (firmware): never served as static
# files, only through the operators' own views. A volume in the compose stack.
MEDIA_ROOT = os.environ.get("CSMS_MEDIA_ROOT", str(BASE_DIR / "var" / "media"))
# The address stations reach this CSMS's HTTP side at, for the upload URLs the CSMS gives them
# (GetLog, GetDiagnostics). `make run` serves http://127.0.0.1:8000.
CSMS_PUBLIC_URL = os.environ.get("CSMS_PUBLIC_URL", "http://127.0.0.1:8000")
# The certificate authority that signs stations' CSRs (certificates/authority.py): its ca.pem and
# ca.key (made there on first use if missing), or a signer of your own (a dotted path).
CSMS_CA_DIR = os.environ.get("CSMS_CA_DIR", str(BASE_DIR / "var" / "ca"))
CSMS_CERTIFICATE_SIGNER = os.environ.get("CSMS_CERTIFICATE_SIGNER", "")
# Certificates it signs are valid this many days; those expiring within OCPP_CERTIFICATE_RENEW_DAYS
# are listed for renewal (and renewed from the station's security page).
OCPP_CERTIFICATE_DAYS = env_int("OCPP_CERTIFICATE_DAYS", 365)
OCPP_CERTIFICATE_RENEW_DAYS = env_int("OCPP_CERTIFICATE_RENEW_DAYS", 30)
# How often connected stations with a certificate due are asked to renew it (each once a day).
OCPP_CERTIFICATE_RENEW_CHECK_SECONDS = env_float("OCPP_CERTIFICATE_RENEW_CHECK_SECONDS", 3600.0)
# OCSP for stations (GetCertificateStatus) and ISO 15118 contract certificates (certificates/ocsp.py):
# a responder that overrides the one each certificate names, how long to wait, how long to keep.
OCPP_OCSP_RESPONDER_URL = os.environ.get("OCPP_OCSP_RESPONDER_URL", "")
OCPP_OCSP_TIMEOUT = env_float("OCPP_OCSP_TIMEOUT", 5.0)
OCPP_OCSP_CACHE_SECONDS = env_float("OCPP_OCSP_CACHE_SECONDS", 3600.0)
# ISO 15118 contract certificates (Get15118EVCertificate) come from this provider (certificates/
# contracts.py): an HTTP endpoint taking the EXI request, or a class of your own (a dotted path).
OCPP_CONTRACT_PROVIDER_URL = os.environ.get("OCPP_CONTRACT_PROVIDER_URL", "")
OCPP_CONTRACT_PROVIDER = os.environ.get("OCPP_CONTRACT_PROVIDER", "")
# The roots a contract certificate chain (Authorize with a certificate) must lead to: a PEM file of
# V2G / MO roots; unset: the chain is not checked against roots (OCSP and validity still are).
OCPP_CONTRACT_ROOTS_FILE = os.environ.get("OCPP_CONTRACT_ROOTS_FILE", "")
# A contract certificate found good authorizes its eMAID even when no ID token of the CSMS has it.
OCPP_ACCEPT_VALID_CONTRACTS = env_bool("OCPP_ACCEPT_VALID_CONTRACTS", True)
# Firmware (firmware/): an update not proven within this many minutes fails; campaigns advance
# every OCPP_CAMPAIGN_TICK_SECONDS (one worker of the cluster).
OCPP_FIRMWARE_UPDATE_MINUTES = env_int("OCPP_FIRMWARE_UPDATE_MINUTES", 60)
OCPP_CAMPAIGN_TICK_SECONDS = env_float("OCPP_CAMPAIGN_TICK_SECONDS", 5.0)
# Load management (smartcharging/load.py): how often circuits' shares are recomputed and sent, the
# EV's current when it has not said (per phase), the least change worth a new TxProfile, and the
# stack level of the allocator's profiles.
OCPP_LOAD_TICK_SECONDS = env_float("OCPP_LOAD_TICK_SECONDS", 2.0)
OCPP_EV_MIN_CURRENT_A = env_float("OCPP_EV_MIN_CURRENT_A", 6.0)
OCPP_EV_MAX_CURRENT_A = env_float("OCPP_EV_MAX_CURRENT_A", 32.0)
OCPP_LOAD_STEP_A = env_float("OCPP_LOAD_STEP_A", 0.5)
OCPP_LOAD_STACK_LEVEL = env_int("OCPP_LOAD_STACK_LEVEL", 5)
# Tariffs (tariffs/): how often the running cost of 2.0.1 sessions is sent (CostUpdated, one worker
# of the cluster), and the least change of it worth telling the station (in the currency).
OCPP_COST_UPDATE_SECONDS = env_float("OCPP_COST_UPDATE_SECONDS", 60.0)
OCPP_COST_UPDATE_STEP = env_float("OCPP_COST_UPDATE_STEP", 0.01)
# An upload is refused above this size (413); an upload URL is good this many hours.
OCPP_UPLOAD_MAX_BYTES = env_int("OCPP_UPLOAD_MAX_BYTES", 64 * 1024 * 1024)
OCPP_UPLOAD_HOURS = env_float("OCPP_UPLOAD_HOURS", 24.0)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- REST API -----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header makes anonymous requests a 401, not a 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "csms_site.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CSMS API",
    "DESCRIPTION": "Stations, transactions, ID tokens, reservations and remote OCPP commands.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "RegistrationStatusEnum": "stations.models.RegistrationStatus",
        "AttributeTypeEnum": "devicemodel.models.AttributeType",
        "MonitorTypeEnum": "monitoring.models.MonitorType",
        "LogKindEnum": "diagnostics.models.LogRequest.Kind",
        "CertificateKindEnum": "certificates.models.SigningRequest.Kind",
        "CampaignStateEnum": "firmware.models.Campaign.State",
        "UpdateOutcomeEnum": "firmware.models.FirmwareUpdate.Outcome",
    },
}

# --- Production hardening (all on when DEBUG is off) ----------------------------------------------
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^ocpp/", r"^health/?$", r"^metrics/?$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
    if not SECURE_HSTS_PRELOAD:
        # Preloading commits the whole domain to HTTPS in browsers for good: the domain owner's
        # decision (SECURE_HSTS_PRELOAD=1), not a default.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
    SECURE_CONTENT_TYPE_NOSNIFF = True

# --- OCPP ---------------------------------------------------------------------------------------
# Unknown stations may connect and are registered as Pending (development default only).
OCPP_AUTO_REGISTER = env_bool("OCPP_AUTO_REGISTER", DEBUG)
OCPP_AUTO_REGISTER_STATUS = os.environ.get("OCPP_AUTO_REGISTER_STATUS", "Accepted")
# Refuse stations registered without a password (Security Profile 0). On in production.
OCPP_REQUIRE_PASSWORD = env_bool("OCPP_REQUIRE_PASSWORD", not DEBUG)
# Failed station logins (stations/throttle.py): after this many within the window (seconds), per
# identity or per address, handshakes are checked in memory first: wrong credentials and unknown
# identities are refused with 429 without database work, the right key is still admitted.
OCPP_LOGIN_FAILURE_LIMIT = env_int("OCPP_LOGIN_FAILURE_LIMIT", 5)
OCPP_LOGIN_FAILURE_WINDOW = env_float("OCPP_LOGIN_FAILURE_WINDOW", 300.0)
# How long a worker trusts the key hashes it last read for a throttled station (a key changed by
# another process may be refused that long), and refreshes its index of existing identities.
OCPP_LOGIN_KEY_CACHE_SECONDS = env_float("OCPP_LOGIN_KEY_CACHE_SECONDS", 10.0)
OCPP_LOGIN_INDEX_SECONDS = env_float("OCPP_LOGIN_INDEX_SECONDS", 5.0)
# A handshake the throttle refuses waits this long for its 429 (the right key never waits).
OCPP_LOGIN_THROTTLE_DELAY = env_float("OCPP_LOGIN_THROTTLE_DELAY", 0.5)
# Unknown ID tokens are Accepted rather than Invalid (development default only).
OCPP_ACCEPT_UNKNOWN_ID_TOKENS = env_bool("OCPP_ACCEPT_UNKNOWN_ID_TOKENS", DEBUG)
# Interval (seconds) returned in BootNotification: the heartbeat interval when Accepted, the retry
# interval when Pending or Rejected.
OCPP_HEARTBEAT_INTERVAL = env_int("OCPP_HEARTBEAT_INTERVAL", 300)
OCPP_BOOT_RETRY_INTERVAL = env_int("OCPP_BOOT_RETRY_INTERVAL", 60)
# Liveness. A half-open socket is found by the ASGI server's WebSocket pings (uvicorn:
# UVICORN_WS_PING_INTERVAL / UVICORN_WS_PING_TIMEOUT, 20 s each by default). A station that sends no
# frame at all for this many seconds is closed (code 4001) and marked offline whatever the
# transport thinks; 0 turns that off. Default: three heartbeat intervals.
OCPP_SILENCE_TIMEOUT = env_float("OCPP_SILENCE_TIMEOUT", 3.0 * OCPP_HEARTBEAT_INTERVAL)
# An open transaction whose station has been offline this many seconds is flagged for the operator
# (0: never). A transaction open when its station boots again is flagged at once.
OCPP_STALE_TRANSACTION_AFTER = env_float("OCPP_STALE_TRANSACTION_AFTER", 3600.0)
# Frames above this many bytes are refused: the connection is closed with 1009 (message too big).
OCPP_MAX_FRAME_BYTES = env_int("OCPP_MAX_FRAME_BYTES", 65536)
# daphne (runserver) takes frames up to twice that, so the consumer sees an oversize frame, logs it
# with the station's identity and closes with 1009; anything larger daphne refuses in the transport
# before buffering it, also with 1009 (csms_site/asgi.py), so memory per connection stays bounded
# whatever a station sends. (uvicorn: --ws-max-size, which closes with 1009 itself.)
DAPHNE_WEBSOCKET_MAX_MESSAGE_SIZE = 2 * OCPP_MAX_FRAME_BYTES
DAPHNE_WEBSOCKET_MAX_FRAME_SIZE = 2 * OCPP_MAX_FRAME_BYTES
# Seconds to wait for a station's answer to a CSMS-initiated CALL.
OCPP_CALL_TIMEOUT = env_float("OCPP_CALL_TIMEOUT", 30.0)
# Message log: every frame in and out is stored (buffered, flushed at most this many seconds later);
# rows older than the retention are deleted by the housekeeping task. 0 days keeps them forever.
OCPP_MESSAGE_LOG = env_bool("OCPP_MESSAGE_LOG", True)
OCPP_MESSAGE_LOG_FLUSH_SECONDS = env_float("OCPP_MESSAGE_LOG_FLUSH_SECONDS", 0.5)
OCPP_MESSAGE_LOG_RETENTION_DAYS = env_int("OCPP_MESSAGE_LOG_RETENTION_DAYS", 30)
# Group commit (stations/group_commit.py, docs/performance.md): the writes of many stations' messages
# in one transaction per batch, each answered after its batch commits. A batch takes what is waiting,
# up to OCPP_DB_BATCH_MAX; with a window > 0 it first waits that many milliseconds to fill (1 ms: about
# 8 % less CPU a message than 0 at 1,000 msg/s, for 2 ms more median latency). PostgreSQL
# runs OCPP_DB_WRITE_LANES batches at once (each its own connection; SQLite: one writer);
# OCPP_DB_READERS threads serve the hot path's reads. OCPP_DB_GROUP_COMMIT=0: a transaction a message.
OCPP_DB_GROUP_COMMIT = env_bool("OCPP_DB_GROUP_COMMIT", True)
OCPP_DB_BATCH_MAX = env_int("OCPP_DB_BATCH_MAX", 200)
OCPP_DB_BATCH_WINDOW_MS = env_float("OCPP_DB_BATCH_WINDOW_MS", 1.0)
OCPP_DB_WRITE_LANES = env_int("OCPP_DB_WRITE_LANES", 4)
OCPP_DB_READERS = env_int("OCPP_DB_READERS", 2)
# A callable (dotted path) told each committed batch's size inside its transaction; tests use it.
OCPP_DB_BATCH_OBSERVER = os.environ.get("OCPP_DB_BATCH_OBSERVER", "")
# The garbage collector, tuned once the application is imported (csms_site/gc_tuning.py): three
# thresholds, or empty for Python's defaults.
GC_THRESHOLDS = gc_thresholds(os.environ.get("GC_THRESHOLDS", GC_DEFAULT))
# last_seen / last_heartbeat are written in batches at most this many seconds apart.
OCPP_PRESENCE_FLUSH_SECONDS = env_float("OCPP_PRESENCE_FLUSH_SECONDS", 5.0)
# Reservations: default length when the driver names no expiry; how often expiry is swept.
OCPP_RESERVATION_MINUTES = env_int("OCPP_RESERVATION_MINUTES", 15)
OCPP_RESERVATION_SWEEP_SECONDS = env_float("OCPP_RESERVATION_SWEEP_SECONDS", 5.0)
# Local authorization lists (locallists/): how often the connected stations whose list is due get
# their update, and how many a tick.
OCPP_LOCAL_LIST_SYNC_SECONDS = env_float("OCPP_LOCAL_LIST_SYNC_SECONDS", 30.0)
OCPP_LOCAL_LIST_SYNC_BATCH = env_int("OCPP_LOCAL_LIST_SYNC_BATCH", 50)
# Security profiles (stations/security.py): read the verified client certificate from the headers
# of a TLS-terminating proxy (X-SSL-Client-Verify, X-SSL-Client-S-DN). Only where every connection
# comes through a proxy that sets them itself (the compose stack's nginx): anyone else could forge
# them.
OCPP_TLS_CLIENT_HEADERS = env_bool("OCPP_TLS_CLIENT_HEADERS", False)
# Monitoring (monitoring/): a station's event is an alert at this severity or worse (OCPP's 0
# Danger ... 9 Debug; 4 is Error).
OCPP_ALERT_SEVERITY = env_int("OCPP_ALERT_SEVERITY", 4)
# The security events (SecurityEventNotification types, comma-separated) that raise an alert; unset:
# the types the specifications call critical (monitoring/security_events.py).
OCPP_SECURITY_ALERTS: frozenset[str] | None = (
    frozenset(env_list("OCPP_SECURITY_ALERTS", []))
    if os.environ.get("OCPP_SECURITY_ALERTS") is not None
    else None
)
# How often each worker process runs housekeeping (message log retention).
OCPP_HOUSEKEEPING_SECONDS = env_float("OCPP_HOUSEKEEPING_SECONDS", 3600.0)

# --- Metrics (Prometheus, GET /metrics; docs/metrics.md) -----------------------------------------
# Without a token /metrics answers 404; with one, a scrape must send `Authorization: Bearer TOKEN`.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "").strip()
# The gauges read from the database (stations, connectors, transactions) are cached this long.
METRICS_CACHE_SECONDS = env_float("METRICS_CACHE_SECONDS", 2.0)

# --- Logging ------------------------------------------------------------------------------------
# Every raw frame is logged on `csms.frames` at INFO when OCPP_LOG_FRAMES is on (default: with DEBUG).
# LOG_FORMAT=json: one JSON object per line (csms_site/logging.py), for log shippers; `plain` is
# for people. uvicorn's own lines (server start, access log) go through the same handler.
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain").strip().lower() or "plain"
if LOG_FORMAT not in ("plain", "json"):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, not {LOG_FORMAT!r}")
OCPP_LOG_FRAMES = env_bool("OCPP_LOG_FRAMES", DEBUG)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s - %(message)s"},
        "json": {"()": "csms_site.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT},
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "csms": {"level": LOG_LEVEL, "handlers": ["console"], "propagate": False},
        "csms.frames": {
            "level": "INFO" if OCPP_LOG_FRAMES else "WARNING",
            "handlers": ["console"],
            "propagate": False,
        },
        "ocppj": {"level": LOG_LEVEL, "handlers": ["console"], "propagate": False},
        "ocppj.calls": {
            "level": "INFO" if OCPP_LOG_FRAMES else "WARNING",
            "handlers": ["console"],
            "propagate": False,
        },
        "django": {"level": "INFO", "handlers": ["console"], "propagate": False},
        "daphne": {"level": "INFO", "handlers": ["console"], "propagate": False},
        # No level: uvicorn's --log-level (and --no-access-log) still decide what it logs. Each
        # logger uvicorn sets a level on is named: dictConfig resets unnamed children to NOTSET,
        # which made uvicorn.error log INFO ("connection open") whatever --log-level said.
        "uvicorn": {"handlers": ["console"], "propagate": False},
        "uvicorn.error": {"propagate": True},  # to "uvicorn"'s handler, keeping its own level
        "uvicorn.access": {"handlers": ["console"], "propagate": False},
    },
}
