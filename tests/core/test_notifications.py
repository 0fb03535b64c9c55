"""In-app inbox + e-mail (pbqms.core.notify) and computed reminders (pbqms.core.reminders)."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.urls import reverse

from pbqms.core import reminders
from pbqms.core.models import Notification
from pbqms.core.notify import mark_read, notify, unread_count
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_notify_creates_inbox_message_and_email():
    alice = make_user("alice", email="alice@example.com")
    bob = make_user("bob", email="")
    n = notify([alice, bob], subject="学习确认提醒", body="请确认", url="/documents/1/")
    assert n == 2
    assert unread_count(alice) == 1 and unread_count(bob) == 1
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["alice@example.com"]
    assert "学习确认提醒" in mail.outbox[0].subject
    assert "/documents/1/" in mail.outbox[0].body
    assert Notification.objects.get(recipient=alice).emailed_at is not None
    assert Notification.objects.get(recipient=bob).emailed_at is None


def test_dedupe_key_delivers_once_per_user():
    alice = make_user("alice")
    bob = make_user("bob")
    assert notify([alice], subject="x", dedupe_key="k1") == 1
    assert notify([alice, bob], subject="x", dedupe_key="k1") == 1
    assert Notification.objects.filter(dedupe_key="k1").count() == 2
    assert notify([alice], subject="x", dedupe_key="k2") == 1


def test_inactive_users_are_skipped():
    ghost = make_user("ghost", is_active=False)
    assert notify([ghost, None], subject="x") == 0
    assert not Notification.objects.exists()


def test_mark_read_only_touches_own_messages():
    alice, bob = make_user("alice"), make_user("bob")
    notify([alice, bob], subject="x")
    other = Notification.objects.get(recipient=bob)
    assert mark_read(alice, [other.pk]) == 0
    assert mark_read(alice) == 1
    assert unread_count(alice) == 0 and unread_count(bob) == 1


def test_reminders_run_delivers_and_dedupes():
    alice = make_user("alice")

    @reminders.provider("test.due")
    def due(today):
        yield reminders.Reminder(
            alice, f"任务将于 {today} 到期", url="/x/", dedupe_key=f"due:{today}"
        )

    @reminders.provider("test.broken")
    def broken(today):
        raise RuntimeError("boom")
        yield  # pragma: no cover

    try:
        day = dt.date(2026, 11, 24)
        result = reminders.run(day)
        assert result["test.due"] == 1
        assert result["test.broken"] == -1  # a failing provider does not stop the others
        assert reminders.run(day)["test.due"] == 0  # same day: not twice
        assert reminders.run(day + dt.timedelta(days=1))["test.due"] == 1
        note = Notification.objects.filter(recipient=alice).first()
        assert note.kind == "test.due"
        out = StringIO()
        call_command("send_reminders", "--date", "2026-12-01", "--only", "test.due", stdout=out)
        assert "test.due: 1 message(s)" in out.getvalue()
        with pytest.raises(CommandError):
            call_command("send_reminders", "--only", "nope")
        with pytest.raises(CommandError):
            call_command("send_reminders", "--date", "2026-13-01")
    finally:
        reminders._PROVIDERS.pop("test.due", None)
        reminders._PROVIDERS.pop("test.broken", None)


def test_inbox_shows_own_messages_only(client, login, users):
    notify([users.secretary_a1], subject="给支部书记的提醒", url="/records/")
    notify([users.secretary_b1], subject="别人的提醒")
    login(users.secretary_a1)
    page = client.get(reverse("core:notifications"))
    assert page.status_code == 200
    body = page.content.decode()
    assert "给支部书记的提醒" in body and "别人的提醒" not in body
    assert 'data-testid="unread-count"' in body  # bell badge in the top bar


def test_open_marks_read_and_redirects_others_404(client, login, users):
    notify([users.secretary_a1], subject="mine", url="/records/")
    notify([users.secretary_b1], subject="theirs")
    mine = Notification.objects.get(subject="mine")
    theirs = Notification.objects.get(subject="theirs")
    login(users.secretary_a1)
    assert client.get(reverse("core:notification_open", args=[mine.pk])).status_code == 405
    resp = client.post(reverse("core:notification_open", args=[mine.pk]))
    assert resp.status_code == 302 and resp.url == "/records/"
    mine.refresh_from_db()
    assert mine.read_at is not None
    assert client.post(reverse("core:notification_open", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_open_refuses_offsite_redirect(client, login, users):
    notify([users.secretary_a1], subject="evil", url="https://evil.example.com/")
    note = Notification.objects.get(subject="evil")
    login(users.secretary_a1)
    resp = client.post(reverse("core:notification_open", args=[note.pk]))
    assert resp.url == reverse("core:notifications")


def test_mark_all_read(client, login, users):
    notify([users.secretary_a1], subject="a")
    notify([users.secretary_a1], subject="b")
    login(users.secretary_a1)
    client.post(reverse("core:notifications_read"))
    assert unread_count(users.secretary_a1) == 0


def test_inbox_requires_login(client):
    resp = client.get(reverse("core:notifications"))
    assert resp.status_code == 302 and "login" in resp.url


def test_inbox_query_count_bounded(client, login, users, django_assert_max_num_queries):
    login(users.secretary_a1)
    notify([users.secretary_a1], subject="one")
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        client.get(reverse("core:notifications"))
    for i in range(60):
        notify([users.secretary_a1], subject=f"n{i}")
    with CaptureQueriesContext(connection) as big:
        client.get(reverse("core:notifications"))
    assert len(big) == len(small)
