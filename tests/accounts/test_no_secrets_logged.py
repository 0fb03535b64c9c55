"""SECURITY.md item 11: no password, token or secret appears in any log — neither in the
Python log output nor in the change log nor in django-axes' tables."""

from __future__ import annotations

import base64
import logging

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from pbqms.accounts import services
from pbqms.core.models import ChangeLogEntry
from tests.accounts.conftest import LOGIN_URL
from tests.accounts.test_otp import code_for

pytestmark = pytest.mark.django_db

FIRST = "Initial-Secret-4711!"
WRONG = "Wrong-Secret-0815?"
SECOND = "Changed-Secret-9999#"
RESET = "Reset-Secret-31337$"


def _all_change_log_text() -> str:
    rows = ChangeLogEntry.objects.values_list(
        "actor_repr", "object_repr", "changes", "reason", "action"
    )
    return "\n".join(repr(row) for row in rows)


def _axes_text() -> str:
    parts = []
    for model in (AccessAttempt, AccessFailureLog, AccessLog):
        for row in model.objects.values():
            parts.append(repr(row))
    return "\n".join(parts)


def test_passwords_tokens_and_keys_never_logged(client, caplog, users, login):
    caplog.set_level(logging.DEBUG)
    for name in ("axes", "django", "django.request", "django.security", "pbqms"):
        caplog.set_level(logging.DEBUG, logger=name)
    admin_client = client
    # the system administrator creates an account with an initial password
    login(users.system_admin)
    response = admin_client.post(
        reverse("accounts:user_create"),
        {
            "username": "zhaoliu",
            "display_name": "赵六",
            "language": "zh-hans",
            "password": FIRST,
            "password2": FIRST,
        },
    )
    assert response.status_code == 302
    user = users.system_admin.__class__.objects.get(username="zhaoliu")
    services.reset_password(actor=users.system_admin, user=user, password=RESET)
    admin_client.post(reverse("accounts:logout"))

    # a failed and a successful sign-in, a forced password change
    client.post(LOGIN_URL, {"username": "zhaoliu", "password": WRONG})
    assert client.post(LOGIN_URL, {"username": "zhaoliu", "password": RESET}).status_code == 302
    response = client.post(
        reverse("accounts:password_change"),
        {"old_password": RESET, "new_password1": SECOND, "new_password2": SECOND},
    )
    assert response.status_code == 302
    # TOTP set-up with a real code
    client.get(reverse("accounts:otp"))
    device = TOTPDevice.objects.get(user=user)
    token = code_for(device)
    assert client.post(reverse("accounts:otp"), {"token": token}).status_code == 302
    csrf = client.cookies.get("csrftoken")
    session_key = client.session.session_key

    secrets = {
        FIRST,
        WRONG,
        SECOND,
        RESET,
        device.key,
        base64.b32encode(device.bin_key).decode(),
        session_key,
    }
    if csrf is not None:
        secrets.add(csrf.value)
    user.refresh_from_db()
    hashes = {user.password, *user.password_history.values_list("password", flat=True)}
    log_output = caplog.text
    change_log = _all_change_log_text()
    axes = _axes_text()
    assert "login_failed" in change_log and "password_change" in change_log  # did log
    assert "zhaoliu" in change_log
    for secret in secrets | hashes:
        assert secret not in log_output, secret
        assert secret not in change_log, secret
        assert secret not in axes, secret
    # a token used for sign-in is not kept either
    assert f"token={token}" not in axes


def test_failed_login_post_data_is_masked(client, db):
    client.post(LOGIN_URL, {"username": "someone", "password": WRONG}, REMOTE_ADDR="10.1.1.1")
    attempt = AccessAttempt.objects.get()
    assert WRONG not in attempt.post_data
    assert "password=********************" in attempt.post_data
