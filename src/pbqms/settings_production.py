"""Production settings: everything in ``pbqms.settings`` plus the deployment hardening of
SECURITY.md item 17. ``manage.py check --deploy`` is clean with these settings."""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

from pbqms.envparse import env_bool, env_int, env_str
from pbqms.settings import *  # noqa: F403
from pbqms.settings import DATABASES, MIDDLEWARE  # noqa: F401

if os.environ.get("PBQMS_SECRET_KEY", "") == "":
    raise ImproperlyConfigured("PBQMS_SECRET_KEY must be set in production")
SECRET_KEY = os.environ["PBQMS_SECRET_KEY"]
DEBUG = False
if env_bool("PBQMS_DEMO", False):
    raise ImproperlyConfigured("Demo mode (PBQMS_DEMO) is not allowed with production settings")
DEMO_MODE = False

SECURE_SSL_REDIRECT = env_bool("PBQMS_SECURE_SSL_REDIRECT", True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env_int("PBQMS_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
X_FRAME_OPTIONS = "DENY"
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
LOGGING = {**LOGGING, "root": {**LOGGING["root"], "level": env_str("PBQMS_LOG_LEVEL", "INFO")}}  # noqa: F405
