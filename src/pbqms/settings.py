"""Settings for pbqms.

Every setting that differs between installations comes from an environment variable
(prefix ``PBQMS_``); see ``docs/admin-guide.md`` for the full list. The defaults give the
embedded topology: SQLite under ``var/``, local files, jobs in-process. Production settings
(``pbqms.settings_production``) tighten these and refuse demo mode.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from pbqms.envparse import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent  # src/pbqms
PROJECT_DIR = BASE_DIR.parent.parent  # checkout root
VAR_DIR = Path(env_str("PBQMS_VAR_DIR", str(PROJECT_DIR / "var")))

DEBUG = env_bool("PBQMS_DEBUG", False)
# The development key only ever serves the embedded topology; production settings require
# PBQMS_SECRET_KEY to be set.
SECRET_KEY = env_str("PBQMS_SECRET_KEY", "dev-insecure-pbqms-key-change-me-0123456789abcdefghij")
ALLOWED_HOSTS = env_list("PBQMS_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("PBQMS_CSRF_TRUSTED_ORIGINS", [])

# Demo mode: shows the demo banner and allows `pbqms demo`. Never allowed in production.
DEMO_MODE = env_bool("PBQMS_DEMO", False)

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_htmx",
    "treebeard",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "pbqms.core",
    "pbqms.accounts",
    "pbqms.orgs",
    "pbqms.documents",
    "pbqms.improvement",
    "pbqms.audits",
    "pbqms.records",
    "pbqms.system",
    "pbqms.objectives",
    "pbqms.processes",
    "pbqms.reviews",
    "pbqms.plans",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "pbqms.core.middleware.RequestContextMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # after MessageMiddleware: it tells the user why they were signed out
    "pbqms.accounts.middleware.SessionPolicyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "pbqms.core.middleware.SecurityHeadersMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "pbqms.urls"
WSGI_APPLICATION = "pbqms.wsgi.application"
ASGI_APPLICATION = "pbqms.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "pbqms.core.context_processors.pbqms",
            ],
        },
    },
]

# Database: PBQMS_DATABASE_URL (e.g. postgres://user@127.0.0.1:5432/pbqms); default SQLite.
_default_sqlite = f"sqlite:///{VAR_DIR / 'pbqms.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        env_str("PBQMS_DATABASE_URL", _default_sqlite),
        conn_max_age=env_int("PBQMS_DB_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions: writers queue instead of failing with "database is locked",
    # which keeps the change-log hash chain strictly ordered.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
# Several test runs may share one PostgreSQL server: PBQMS_TEST_DB_NAME keeps them apart.
if os.environ.get("PBQMS_TEST_DB_NAME") and "sqlite" not in DATABASES["default"]["ENGINE"]:
    DATABASES["default"]["TEST"] = {"NAME": os.environ["PBQMS_TEST_DB_NAME"]}
# Every request is one transaction: a domain change and its change-log entry commit together.
DATABASES["default"]["ATOMIC_REQUESTS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "accounts:login"

# SECURITY.md item 2: >= 12 characters, >= 3 of 4 classes, not the username, not one of the
# last 5 passwords; maximum age (days) configurable.
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
    },
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": env_int("PBQMS_PASSWORD_MIN_LENGTH", 12)},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "pbqms.accounts.validators.CharacterClassValidator"},
    {"NAME": "pbqms.accounts.validators.NotContainingUsernameValidator"},
    {
        "NAME": "pbqms.accounts.validators.PasswordHistoryValidator",
        "OPTIONS": {"history": env_int("PBQMS_PASSWORD_HISTORY", 5)},
    },
]
PBQMS_PASSWORD_MAX_AGE_DAYS = env_int("PBQMS_PASSWORD_MAX_AGE_DAYS", 90)

# SECURITY.md item 3: lock after 5 failures for 30 minutes, by account and by IP.
AXES_FAILURE_LIMIT = env_int("PBQMS_LOCKOUT_FAILURES", 5)
AXES_COOLOFF_TIME = env_int("PBQMS_LOCKOUT_MINUTES", 30) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username"], ["ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "pbqms.accounts.views.lockout_response"
AXES_VERBOSE = False
AXES_ENABLE_ACCESS_FAILURE_LOG = True
# Behind nginx with `proxy_set_header X-Real-IP $remote_addr;` set PBQMS_CLIENT_IP_HEADER to
# HTTP_X_REAL_IP so that the change log and the per-IP lockout see the client, not the proxy.
PBQMS_CLIENT_IP_HEADER = env_str("PBQMS_CLIENT_IP_HEADER", "")
AXES_IPWARE_META_PRECEDENCE_ORDER = [h for h in (PBQMS_CLIENT_IP_HEADER, "REMOTE_ADDR") if h]
# SECURITY.md item 11: axes keeps the login form's fields; mask the password (always masked)
# and every token besides the user name and address it stores in its own columns
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "csrfmiddlewaretoken", "token"]

# SECURITY.md item 4: 30 minutes idle, 12 hours absolute; sessions live in the database.
SESSION_ENGINE = "django.contrib.sessions.backends.db"
PBQMS_SESSION_IDLE_MINUTES = env_int("PBQMS_SESSION_IDLE_MINUTES", 30)
PBQMS_SESSION_ABSOLUTE_HOURS = env_int("PBQMS_SESSION_ABSOLUTE_HOURS", 12)
SESSION_COOKIE_AGE = PBQMS_SESSION_IDLE_MINUTES * 60
SESSION_SAVE_EVERY_REQUEST = False  # the session policy middleware refreshes the expiry
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie

# SECURITY.md item 5: TOTP; required for the three admin roles.
OTP_TOTP_ISSUER = "pbqms"
PBQMS_TOTP_REQUIRED_FOR_ADMINS = env_bool("PBQMS_TOTP_REQUIRED_FOR_ADMINS", True)

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("PBQMS_STATIC_ROOT", str(VAR_DIR / "static")))
MEDIA_ROOT = Path(env_str("PBQMS_MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "/media-not-served/"  # attachments are served by views after a permission check
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
if env_str("PBQMS_S3_BUCKET", ""):
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env_str("PBQMS_S3_BUCKET", ""),
            "endpoint_url": env_str("PBQMS_S3_ENDPOINT_URL", "") or None,
            "access_key": env_str("PBQMS_S3_ACCESS_KEY", "") or None,
            "secret_key": env_str("PBQMS_S3_SECRET_KEY", "") or None,
            "default_acl": "private",
            "querystring_auth": True,
        },
    }
# the shared static files (theme, vendored Tabler/htmx/ECharts) live in src/pbqms/static
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = True
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
PBQMS_IMPORT_MAX_BYTES = env_int("PBQMS_IMPORT_MAX_BYTES", 10 * 1024 * 1024)
PBQMS_IMPORT_MAX_ROWS = env_int("PBQMS_IMPORT_MAX_ROWS", 20000)

CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": env_str("PBQMS_REDIS_URL", ""),
        }
        if env_str("PBQMS_REDIS_URL", "")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        # tokens from /api/auth/token/; refused for the administrator roles (they need TOTP
        # and use session authentication)
        "pbqms.core.authentication.PbqmsTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "pbqms.core.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "pbqms.core.api.exception_handler",
    "DEFAULT_VERSIONING_CLASS": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "pbqms API",
    "DESCRIPTION": _(
        "Party-Building Quality Management System REST API. Authentication: a signed-in "
        "browser session, or an API token from POST /api/auth/token/ sent as "
        "'Authorization: Token <key>'. The system, security and audit administrators must "
        "use two-factor authentication, so they get no token: they sign in on the web page "
        "and use the API through that session. You see and change only what your role "
        "assignments allow; anything outside your scope answers 404."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "PostTitleEnum": "pbqms.orgs.models.Post.Title",
        "OrganizationKindEnum": "pbqms.orgs.models.Organization.Kind",
        "ChangeLogActionEnum": "pbqms.core.models.ChangeLogEntry.Action",
        "RecordTemplateKindEnum": "pbqms.records.models.RecordTemplate.Kind",
        "DocumentStatusEnum": "pbqms.documents.models.Document.Status",
        "DocumentVersionStatusEnum": "pbqms.documents.models.DocumentVersion.Status",
        "RoleEnum": "pbqms.core.roles.Role",
        "CorrectiveActionKindEnum": "pbqms.improvement.models.CorrectiveAction.Kind",
        "ChecklistResultEnum": "pbqms.audits.models.ChecklistItem.Result",
        "ChecklistSourceEnum": "pbqms.audits.models.ChecklistItem.Source",
        "ProcessKindEnum": "pbqms.processes.models.Process.Kind",
        "ReviewOutputKindEnum": "pbqms.reviews.models.ReviewOutput.Kind",
        "IndicatorSourceEnum": "pbqms.objectives.models.Indicator.Source",
        "MeasurementSourceEnum": "pbqms.objectives.models.Measurement.Source",
    },
}

# Notifications (pbqms.core.notify): every message lands in the in-app inbox; it is also
# e-mailed when PBQMS_EMAIL_HOST is set (otherwise mail goes to the console log).
PBQMS_BASE_URL = env_str("PBQMS_BASE_URL", "http://127.0.0.1:8000")
EMAIL_HOST = env_str("PBQMS_EMAIL_HOST", "")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_PORT = env_int("PBQMS_EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("PBQMS_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = env_str("PBQMS_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = env_bool("PBQMS_EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env_str("PBQMS_EMAIL_FROM", "pbqms@localhost")

# SECURITY.md item 9: change-log retention in days (purge refuses younger entries; min 180)
PBQMS_AUDIT_RETENTION_DAYS = env_int("PBQMS_AUDIT_RETENTION_DAYS", 180)

# Background jobs (pbqms.core.jobs): thread (embedded default), worker (`pbqms run-worker`
# processes take jobs queued in the database), or sync (run at once; tests)
PBQMS_JOBS = env_str("PBQMS_JOBS", "thread")
if PBQMS_JOBS not in ("thread", "worker", "sync"):
    raise ImproperlyConfigured("PBQMS_JOBS must be thread, worker or sync")

# backups keep microseconds (the change-log hashes depend on them): pbqms.core.backup
SERIALIZATION_MODULES = {"pbqmsjson": "pbqms.core.backup_format"}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("PBQMS_LOG_LEVEL", "WARNING")},
    "loggers": {
        # never log request bodies (passwords) or SQL parameters
        "django.db.backends": {"level": "WARNING"},
        # at DEBUG, a missing template variable logs the whole template context, which
        # can hold secrets (a TOTP key being set up): never below INFO
        "django.template": {"level": "INFO"},
        "axes": {"level": "WARNING"},
    },
}

# Numbering patterns (ARCHITECTURE.md "Numbering"): default patterns per key; an
# administrator can change a pattern in the NumberSequence table.
PBQMS_NUMBERING_DEFAULTS = {
    "orgs.organization": "DZZ-{seq:05d}",
}
