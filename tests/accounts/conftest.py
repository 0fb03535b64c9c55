"""Helpers for the account and security tests."""

from __future__ import annotations

import pytest
from django.urls import reverse

from pbqms.core.models import ChangeLogEntry

LOGIN_URL = reverse("accounts:login")


def events(action: str, **filters):
    return ChangeLogEntry.objects.filter(action=action, **filters)


@pytest.fixture
def post_login(client):
    """``post_login(username, password, ip=...)``: a real sign-in through the login form
    (django-axes sees it), returning the response."""

    def _post(username: str, password: str, ip: str = "10.0.0.1", **extra):
        return client.post(
            LOGIN_URL, {"username": username, "password": password}, REMOTE_ADDR=ip, **extra
        )

    return _post


def t(msgid: str, **params) -> str:
    """A UI string as pages render it for a client without a language preference (the
    default language), so assertions hold before and after translation."""
    from django.conf import settings
    from django.utils import translation

    with translation.override(settings.LANGUAGE_CODE):
        text = translation.gettext(msgid)
    return text % params if params else text
