"""SECURITY.md items 3, 4 and 8: sign-in, lockout by account and by address, logout."""

from __future__ import annotations

import datetime

import pytest
from axes.models import AccessAttempt
from django.contrib.sessions.models import Session
from django.urls import reverse
from django.utils import timezone

from pbqms.accounts import services
from pbqms.accounts.middleware import SESSION_LOGIN_AT
from tests.accounts.conftest import LOGIN_URL, events
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db

WRONG = "Wrong-Guess-2026!"


@pytest.fixture
def li():
    return make_user("lisi")


def test_login_page_renders(client):
    response = client.get(LOGIN_URL)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="username"' in body
    assert 'name="password"' in body
    assert 'autocomplete="current-password"' in body


def test_login_success_is_logged_and_starts_the_clock(client, li, post_login):
    response = post_login("lisi", PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == reverse("core:home")
    entry = events("login").get()
    assert entry.actor_id == li.pk
    assert entry.outcome == "success"
    assert entry.ip == "10.0.0.1"
    assert SESSION_LOGIN_AT in client.session
    assert client.get("/").status_code == 200


def test_login_failure_is_logged_with_user_name_only(client, li, post_login):
    response = post_login("lisi", WRONG)
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    entry = events("login_failed").get()
    assert entry.outcome == "failure"
    assert entry.object_repr == "lisi"
    assert entry.actor_repr == "lisi"
    # the login form keeps the user name, never the password
    body = response.content.decode()
    assert 'value="lisi"' in body
    assert WRONG not in body


def test_unknown_user_failure_is_logged(post_login, db):
    post_login("nosuchuser", WRONG)
    entry = events("login_failed").get()
    assert entry.actor_id is None
    assert entry.object_repr == "nosuchuser"


def test_lockout_by_account_after_five_failures(client, li, post_login, settings):
    assert settings.AXES_FAILURE_LIMIT == 5
    # five failures from five different addresses: the account locks
    for n in range(1, 5):
        assert post_login("lisi", WRONG, ip=f"10.0.1.{n}").status_code == 200
    fifth = post_login("lisi", WRONG, ip="10.0.1.5")
    assert fifth.status_code == 429
    assert 'data-testid="locked-out"' in fifth.content.decode()
    assert fifth.context["lockout_minutes"] == 30
    assert events("login_failed", object_repr="lisi").count() == 5
    lock = events("lockout").get()
    assert lock.object_repr == "lisi"
    assert lock.outcome == "failure"
    # even the right password from a fresh address is refused during the lockout
    locked = post_login("lisi", PASSWORD, ip="10.0.1.99")
    assert locked.status_code == 429
    assert not events("login").exists()
    # another account is not affected
    make_user("wangwu")
    assert post_login("wangwu", PASSWORD, ip="10.0.1.100").status_code == 302


def test_four_failures_do_not_lock(client, li, post_login):
    for _ in range(4):
        post_login("lisi", WRONG)
    assert post_login("lisi", PASSWORD).status_code == 302
    assert not events("lockout").exists()


def test_lockout_by_address_after_five_failures(client, li, post_login):
    # five different user names from one address: the address locks
    for n in range(5):
        response = post_login(f"guess{n}", WRONG, ip="10.9.9.9")
    assert response.status_code == 429
    assert events("lockout").exists()
    # a real user from that address is refused …
    assert post_login("lisi", PASSWORD, ip="10.9.9.9").status_code == 429
    # … and signs in from anywhere else
    assert post_login("lisi", PASSWORD, ip="10.9.9.10").status_code == 302


def test_lockout_ends_after_cool_off(client, li, post_login):
    for _ in range(5):
        post_login("lisi", WRONG)
    assert post_login("lisi", PASSWORD).status_code == 429
    # 29 minutes later: still locked
    AccessAttempt.objects.update(attempt_time=timezone.now() - datetime.timedelta(minutes=29))
    assert post_login("lisi", PASSWORD).status_code == 429
    # the failed attempt during the lockout restarted the clock; 31 minutes after it: free
    AccessAttempt.objects.update(attempt_time=timezone.now() - datetime.timedelta(minutes=31))
    response = post_login("lisi", PASSWORD)
    assert response.status_code == 302
    assert events("login").count() == 1


def test_lockout_duration_is_configurable(client, li, post_login, settings):
    settings.AXES_COOLOFF_TIME = 10 / 60
    for _ in range(5):
        post_login("lisi", WRONG)
    locked = post_login("lisi", PASSWORD)
    assert locked.status_code == 429
    assert services.lockout_minutes() == 10
    AccessAttempt.objects.update(attempt_time=timezone.now() - datetime.timedelta(minutes=11))
    assert post_login("lisi", PASSWORD).status_code == 302


def test_unlock_service_releases_lock(client, li, post_login, users):
    for _ in range(5):
        post_login("lisi", WRONG)
    assert post_login("lisi", PASSWORD).status_code == 429
    cleared = services.unlock(actor=users.security_admin, username="lisi")
    assert cleared >= 1
    assert post_login("lisi", PASSWORD).status_code == 302
    entry = events("unlock").get()
    assert entry.actor_id == users.security_admin.pk
    assert entry.object_id == str(li.pk)


def test_successful_login_resets_failures(client, li, post_login):
    for _ in range(4):
        post_login("lisi", WRONG)
    assert post_login("lisi", PASSWORD).status_code == 302
    client.post(reverse("accounts:logout"))
    for _ in range(4):
        post_login("lisi", WRONG)
    assert post_login("lisi", PASSWORD).status_code == 302


def test_inactive_account_cannot_sign_in(client, post_login, db):
    make_user("gone", is_active=False)
    response = post_login("gone", PASSWORD)
    assert response.status_code == 200
    assert not events("login").exists()


def test_logout_destroys_server_side_session(client, li, post_login):
    post_login("lisi", PASSWORD)
    key = client.session.session_key
    assert Session.objects.filter(session_key=key).exists()
    response = client.post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert response["Location"] == LOGIN_URL
    assert not Session.objects.filter(session_key=key).exists()
    entry = events("logout").get()
    assert entry.actor_id == li.pk
    # the old cookie no longer signs anybody in
    client.cookies["sessionid"] = key
    assert client.get("/").status_code == 302


def test_logout_needs_post(client, li, post_login):
    post_login("lisi", PASSWORD)
    assert client.get(reverse("accounts:logout")).status_code == 405
    assert client.get("/").status_code == 200


def test_signed_in_user_visiting_login_goes_home(client, li, post_login):
    post_login("lisi", PASSWORD)
    response = client.get(LOGIN_URL)
    assert response.status_code == 302


def test_login_redirects_to_safe_next_only(client, li):
    ok = client.post(
        LOGIN_URL + "?next=/accounts/profile/",
        {"username": "lisi", "password": PASSWORD, "next": "/accounts/profile/"},
    )
    assert ok["Location"] == "/accounts/profile/"
    client.post(reverse("accounts:logout"))
    evil = client.post(
        LOGIN_URL, {"username": "lisi", "password": PASSWORD, "next": "https://evil.example/"}
    )
    assert evil["Location"] == reverse("core:home")


def test_login_applies_language_preference(client, post_login, db):
    make_user("english", language="en")
    response = post_login("english", PASSWORD)
    assert response.cookies["django_language"].value == "en"
    page = client.get("/")
    assert '<html lang="en">' in page.content.decode()
