"""SECURITY.md item 17: production settings pass ``check --deploy``, refuse demo mode and a
missing secret key; the security headers are sent."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args: str, tmp_path, **env_extra) -> subprocess.CompletedProcess:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PBQMS_")
        # the browser tests' harness relaxes Django's async guard for their own process
        and key not in ("DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="pbqms.settings_production",
        PBQMS_VAR_DIR=str(tmp_path),
        **env_extra,
    )
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        tmp_path=tmp_path,
        PBQMS_SECRET_KEY=secrets.token_urlsafe(64),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_demo_mode(tmp_path):
    result = _manage(
        "check", tmp_path=tmp_path, PBQMS_SECRET_KEY=secrets.token_urlsafe(64), PBQMS_DEMO="1"
    )
    assert result.returncode != 0
    assert "Demo mode" in result.stderr


def test_production_refuses_missing_secret_key(tmp_path):
    result = _manage("check", tmp_path=tmp_path)
    assert result.returncode != 0
    assert "PBQMS_SECRET_KEY" in result.stderr


def test_production_settings_values(monkeypatch):
    """The hardening itself, read from the module (no subprocess)."""
    import importlib

    monkeypatch.setenv("PBQMS_SECRET_KEY", secrets.token_urlsafe(64))
    monkeypatch.delenv("PBQMS_DEMO", raising=False)
    prod = importlib.import_module("pbqms.settings_production")
    prod = importlib.reload(prod)
    assert prod.DEBUG is False
    assert prod.DEMO_MODE is False
    assert prod.SESSION_COOKIE_SECURE and prod.CSRF_COOKIE_SECURE
    assert prod.SESSION_COOKIE_HTTPONLY
    assert prod.SECURE_HSTS_SECONDS >= 31536000
    assert prod.SECURE_CONTENT_TYPE_NOSNIFF
    assert prod.SECURE_REFERRER_POLICY == "same-origin"
    assert prod.X_FRAME_OPTIONS == "DENY"


@pytest.mark.django_db
def test_security_headers_on_public_page(client):
    response = client.get(reverse("accounts:login"))
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    script_src = csp.split("script-src")[1].split(";")[0]
    assert "'self'" in script_src
    assert "unsafe-inline" not in script_src
    assert "frame-ancestors 'none'" in csp
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"


def test_signed_in_pages_are_not_cached(client, users, login):
    login(users.system_admin)
    for name in ("core:home", "accounts:user_list", "accounts:profile"):
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        assert "no-store" in response["Cache-Control"], name
        assert "Content-Security-Policy" in response


def test_session_cookie_is_http_only(client, users):
    from tests.factories import PASSWORD

    response = client.post(
        reverse("accounts:login"), {"username": users.member_a1.username, "password": PASSWORD}
    )
    cookie = response.cookies["sessionid"]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
