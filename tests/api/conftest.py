"""API test helpers: a DRF client signed in through a real session (admins OTP-verified),
and the change-log entries a request wrote."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from pbqms.core.models import ChangeLogEntry


@pytest.fixture
def api(db, entries):
    """``api(user)``: an APIClient with a signed-in session (``api(None)``: anonymous).
    Signing in writes a "login" entry; ``entries`` starts counting after it."""

    def _api(user=None) -> APIClient:
        client = APIClient()
        if user is None:
            return client
        client.force_login(user)
        from django_otp.plugins.otp_totp.models import TOTPDevice

        device = TOTPDevice.objects.filter(user=user).first() or TOTPDevice.objects.create(
            user=user, name="test", confirmed=True
        )
        session = client.session
        session["otp_device_id"] = device.persistent_id
        session.save()
        entries.mark()
        return client

    return _api


class EntryLog:
    """The change-log entries written after ``mark()``."""

    def __init__(self):
        self.mark()

    def mark(self) -> None:
        self.last_id = ChangeLogEntry.objects.order_by("-id").values_list("id", flat=True).first()

    def new(self) -> list[ChangeLogEntry]:
        return list(ChangeLogEntry.objects.filter(id__gt=self.last_id or 0).order_by("id"))

    def summary(self) -> list[tuple[str, str]]:
        return [(e.action, e.object_type) for e in self.new()]


@pytest.fixture
def entries(db):
    """``entries.mark()`` then ``entries.new()`` / ``entries.summary()``."""
    return EntryLog()


def assert_api_entries(entries: EntryLog, actor, expected: list[tuple[str, str]]) -> None:
    """Exactly ``expected`` (action, object type) entries, all from the API, by ``actor``,
    in one request."""
    new = entries.new()
    assert [(e.action, e.object_type) for e in new] == expected
    assert {e.source for e in new} == {"api"}
    assert {e.actor_id for e in new} == {actor.pk}
    assert len({e.request_id for e in new}) == 1


def count_queries(func) -> int:
    """How many SQL queries ``func()`` runs."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        func()
    return len(ctx)


# the frame of every API request (session, user, two-factor device, savepoint, grants …)
# plus the list's own queries; generous, so that shared middleware may grow a little
QUERY_CEILING = 15
