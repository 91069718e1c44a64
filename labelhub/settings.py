"""LabelHub settings: one file, every value from the environment (see README, "Configuration").

Embedded default (nothing set): DEBUG on, a SQLite file beside this project, Celery eager, local
memory cache. Production: DEBUG off, and then SECRET_KEY and ALLOWED_HOSTS must be set, cookies
are secure, HSTS and nosniff apply.
"""

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from labelhub.env import env_bool, env_int, env_list, env_path, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", default=False)

_DEV_SECRET_KEY = "django-insecure-labelhub-dev-only-key-never-use-in-production"  # noqa: S105 (DEBUG only)
SECRET_KEY = env_str("SECRET_KEY") or (_DEV_SECRET_KEY if DEBUG else None)
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off.")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "annotations",
    "consensus",
    "frontend",
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

ROOT_URLCONF = "labelhub.urls"
WSGI_APPLICATION = "labelhub.wsgi.application"
ASGI_APPLICATION = "labelhub.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock at BEGIN, so
    # two writers queue up instead of failing with "database is locked" on lock upgrade.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "frontend:login"
LOGIN_REDIRECT_URL = "frontend:home"
LOGOUT_REDIRECT_URL = "frontend:login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env_path("STATIC_ROOT", BASE_DIR / "staticfiles")
MEDIA_ROOT = env_path("MEDIA_ROOT", BASE_DIR / "media")
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# A static file missing from the manifest is served unhashed instead of failing the page.
WHITENOISE_MANIFEST_STRICT = False
# Imports of image archives stream to disk above this size; the archive limit is in importers.
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 50 * 1024 * 1024)
LABELHUB_MAX_IMPORT_BYTES = env_int("LABELHUB_MAX_IMPORT_BYTES", 1024 * 1024 * 1024)
# One audio clip at import (transcription projects); a longer recording should be cut first.
LABELHUB_MAX_AUDIO_BYTES = env_int("LABELHUB_MAX_AUDIO_BYTES", 50 * 1024 * 1024)
LABELHUB_LEASE_SECONDS = env_int("LABELHUB_LEASE_SECONDS", 600)
# Seconds a requested consistency recompute waits, gathering a burst of labels into one run.
LABELHUB_RECOMPUTE_DELAY_SECONDS = env_int("LABELHUB_RECOMPUTE_DELAY_SECONDS", 2)
# Webhooks: per-attempt HTTP timeout, attempts per delivery, and the first retry delay (it
# doubles each retry, plus jitter); see consensus/README.md.
LABELHUB_WEBHOOK_TIMEOUT_SECONDS = env_int("LABELHUB_WEBHOOK_TIMEOUT_SECONDS", 5)
LABELHUB_WEBHOOK_MAX_ATTEMPTS = env_int("LABELHUB_WEBHOOK_MAX_ATTEMPTS", 5)
LABELHUB_WEBHOOK_BACKOFF_SECONDS = env_int("LABELHUB_WEBHOOK_BACKOFF_SECONDS", 10)
# Webhooks to private, loopback or link-local addresses are refused unless allowed (development
# receivers on localhost; an internal network the operator trusts).
LABELHUB_WEBHOOK_ALLOW_PRIVATE = env_bool("LABELHUB_WEBHOOK_ALLOW_PRIVATE", default=DEBUG)

EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "labelhub@localhost")

REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery: eager exactly when no broker is configured (the embedded default), never by probing.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or REDIS_URL
CELERY_TASK_ALWAYS_EAGER = CELERY_BROKER_URL is None
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND") or CELERY_BROKER_URL
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 300)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 360)
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True


def _throttle_rate(name: str, default: str) -> str:
    """A DRF rate from the environment, checked at start (DRF would fail only when a request
    arrives): "<n>/<s|m|h|d…>", n ≥ 1."""
    rate = env_str(name, default)
    count, _, period = rate.partition("/")
    if not (count.strip().isdigit() and int(count) > 0 and period[:1] in {"s", "m", "h", "d"}):
        raise ImproperlyConfigured(f"{name} must look like 100/hour, got {rate!r}")
    return rate


REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Personal tokens (hashed), "Authorization: Bearer <key>"; first, so its challenge makes
        # unauthenticated requests 401.
        "annotations.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Per person, per anonymous IP, and per scope (views set ``throttle_scope``). Rates are
    # "<n>/<second|minute|hour|day>"; a throttled request gets 429 with Retry-After.
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
        "rest_framework.throttling.ScopedRateThrottle",
    ],
    # DRF keeps one timestamp per request inside the window in the cache, read and written on
    # every request: per-minute windows keep that list short (1,200 entries ≈ 11 kB; 20000/hour
    # would be 180 kB per request at the limit). 1,200/minute is 20 requests/s for a person.
    "DEFAULT_THROTTLE_RATES": {
        "user": _throttle_rate("API_THROTTLE_USER", "1200/minute"),
        "anon": _throttle_rate("API_THROTTLE_ANON", "200/hour"),
        "export": _throttle_rate("API_THROTTLE_EXPORT", "120/hour"),
        # POST /api/v1/auth/token/ checks passwords: slow down guessing.
        "auth": _throttle_rate("API_THROTTLE_AUTH", "30/minute"),
    },
    # Anonymous clients are told apart by address. 0: REMOTE_ADDR, never X-Forwarded-For (which a
    # client can forge to dodge the limits); behind n reverse proxies set API_NUM_PROXIES=n.
    "NUM_PROXIES": env_int("API_NUM_PROXIES", 0),
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "DEFAULT_PARSER_CLASSES": [
        "labelhub.validation.StrictJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "labelhub.pagination.DefaultCursorPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "labelhub.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "LabelHub API",
    "DESCRIPTION": "Multi-labeler annotation, agreement and clean-dataset export.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Two choice sets share the field name "kind": name their enums.
    "ENUM_NAME_OVERRIDES": {
        "ClassKindEnum": "annotations.models.ClassKind",
        "FlagKindEnum": "annotations.models.FlagKind",
        "WebhookEventEnum": "consensus.models.WebhookEvent",
    },
}

if not DEBUG:
    SECURE_COOKIES = env_bool("SECURE_COOKIES", default=True)
    SESSION_COOKIE_SECURE = SECURE_COOKIES
    CSRF_COOKIE_SECURE = SECURE_COOKIES
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=False)
    if env_bool("USE_X_FORWARDED_PROTO", default=False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
