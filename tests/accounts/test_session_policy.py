"""SECURITY.md items 1, 4, 5: idle and absolute timeout, forced password change at first
sign-in, TOTP for the three administrator roles."""

from __future__ import annotations

import time

import pytest
from django.contrib.sessions.models import Session
from django.urls import reverse

from pbqms.accounts.middleware import SESSION_LOGIN_AT, SESSION_SEEN_AT
from pbqms.accounts.models import User
from tests.accounts.conftest import LOGIN_URL, events, t
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db


def _shift_session(client, **offsets):
    """Move the session's timestamps into the past (seconds)."""
    session = client.session
    now = time.time()
    if "seen" in offsets:
        session[SESSION_SEEN_AT] = now - offsets["seen"]
    if "login" in offsets:
        session[SESSION_LOGIN_AT] = now - offsets["login"]
    session.save()
    return session.session_key


def test_idle_timeout_signs_out(client, users, login):
    login(users.secretary_a1)
    assert client.get("/").status_code == 200
    key = _shift_session(client, seen=31 * 60)
    response = client.get("/orgs/people/?q=x")
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN_URL + "?next=")
    assert "%2Forgs%2Fpeople%2F%3Fq%3Dx" in response["Location"]
    assert not Session.objects.filter(session_key=key).exists()
    entry = events("session_expired").get()
    assert entry.changes == {"kind": "idle"}
    assert entry.actor_id == users.secretary_a1.pk
    # the login page says why
    page = client.get(response["Location"])
    assert t("Your session has expired. Please sign in again.") in page.content.decode()


def test_activity_within_idle_limit_keeps_session(client, users, login):
    login(users.secretary_a1)
    _shift_session(client, seen=29 * 60)
    assert client.get("/").status_code == 200
    # the request refreshed the idle clock
    assert time.time() - client.session[SESSION_SEEN_AT] < 5
    assert not events("session_expired").exists()


def test_absolute_timeout_signs_out_even_when_active(client, users, login):
    login(users.secretary_a1)
    _shift_session(client, seen=10, login=12 * 3600 + 5)
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN_URL)
    assert events("session_expired").get().changes == {"kind": "absolute"}


def test_timeouts_are_configurable(client, users, login, settings):
    settings.PBQMS_SESSION_IDLE_MINUTES = 5
    login(users.secretary_a1)
    _shift_session(client, seen=6 * 60)
    assert client.get("/").status_code == 302


def test_api_session_expiry_answers_without_redirect(client, users, login):
    login(users.secretary_a1)
    _shift_session(client, seen=31 * 60)
    response = client.get("/api/people/")
    assert response.status_code in (401, 403)
    assert events("session_expired").exists()


# ---------------------------------------------------------------- forced password change


@pytest.fixture
def newbie():
    return make_user("newbie", must_change_password=True)


def test_created_accounts_must_change_password_by_default():
    user = User.objects.create_user("plain", password=PASSWORD)
    assert user.must_change_password


def test_forced_change_blocks_other_pages(client, newbie, post_login):
    response = post_login("newbie", PASSWORD)
    assert response.status_code == 302
    for path in ("/", "/orgs/people/", reverse("accounts:user_list"), reverse("accounts:profile")):
        blocked = client.get(path)
        assert blocked.status_code == 302, path
        assert blocked["Location"] == reverse("accounts:password_change")
    api = client.get("/api/people/")
    assert api.status_code == 403
    assert api.json()["error"]["code"] == "account_setup_required"
    page = client.get(reverse("accounts:password_change"))
    assert page.status_code == 200
    assert 'data-testid="password-forced"' in page.content.decode()


def test_forced_change_then_free(client, newbie, post_login):
    post_login("newbie", PASSWORD)
    response = client.post(
        reverse("accounts:password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "My-Own-Choice-2026",
            "new_password2": "My-Own-Choice-2026",
        },
    )
    assert response.status_code == 302
    newbie.refresh_from_db()
    assert not newbie.must_change_password
    assert client.get("/").status_code == 200
    assert events("password_change", object_id=str(newbie.pk)).exists()


def test_forced_change_allows_sign_out_and_language(client, newbie, post_login):
    post_login("newbie", PASSWORD)
    response = client.post(reverse("accounts:language"), {"language": "en", "next": "/"})
    assert response.status_code == 302
    assert client.post(reverse("accounts:logout")).status_code == 302
    assert client.get("/").status_code == 302  # signed out: login page


# ---------------------------------------------------------------- TOTP for admin roles


@pytest.mark.parametrize("who", ["system_admin", "security_admin", "audit_admin"])
def test_admin_roles_without_otp_are_sent_to_otp(client, users, who):
    client.force_login(getattr(users, who))
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:otp")
    api = client.get("/api/people/")
    assert api.status_code == 403
    assert api.json()["error"]["code"] == "account_setup_required"


@pytest.mark.parametrize("who", ["party_admin", "secretary_a1", "member_a1", "auditor", "nobody"])
def test_non_admins_need_no_otp(client, users, who):
    client.force_login(getattr(users, who))
    assert client.get("/").status_code == 200


def test_otp_requirement_can_be_switched_off(client, users, settings):
    settings.PBQMS_TOTP_REQUIRED_FOR_ADMINS = False
    client.force_login(users.system_admin)
    assert client.get("/").status_code == 200


def test_password_step_comes_before_otp(client, users):
    User.objects.filter(pk=users.system_admin.pk).update(must_change_password=True)
    client.force_login(User.objects.get(pk=users.system_admin.pk))
    assert client.get("/")["Location"] == reverse("accounts:password_change")
    # the OTP page is not reachable before the password is changed
    assert client.get(reverse("accounts:otp"))["Location"] == reverse("accounts:password_change")


def test_pending_otp_does_not_open_other_account_pages(client, users):
    client.force_login(users.system_admin)
    for name in ("accounts:user_list", "accounts:profile", "accounts:password_change"):
        response = client.get(reverse(name))
        assert response.status_code == 302, name
        assert response["Location"] == reverse("accounts:otp")
