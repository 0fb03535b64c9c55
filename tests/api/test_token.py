"""/api/auth/token/: username + password → token; lockout, admin refusal, no token in logs."""

from __future__ import annotations

import logging

import pytest
from axes.models import AccessAttempt, AccessLog
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from pbqms.core.models import ChangeLogEntry
from pbqms.core.roles import Role
from pbqms.orgs.models import Organization
from tests.factories import PASSWORD, grant, make_user

URL = "/api/auth/token/"


def obtain(username, password=PASSWORD, **extra):
    return APIClient().post(
        URL, {"username": username, "password": password, **extra}, format="json"
    )


def token_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_secretary_gets_a_token_and_uses_it(users, tree):
    response = obtain("sec_a1")
    assert response.status_code == 200, response.content
    key = response.json()["token"]
    assert Token.objects.get(user=users.secretary_a1).key == key
    client = token_client(key)
    assert client.get("/api/people/").status_code == 200
    assert client.get(f"/api/orgs/{tree.branch_b1.pk}/").status_code == 404
    login = ChangeLogEntry.objects.filter(action="login", actor=users.secretary_a1).latest("id")
    assert login.source == "api"


def test_writes_with_a_token_are_logged_with_the_actor(users, tree):
    key = obtain("sec_a1").json()["token"]
    last = ChangeLogEntry.objects.latest("id").pk
    response = token_client(key).patch(
        f"/api/orgs/{tree.branch_a1.pk}/", {"name": "x", "version": 1}, format="json"
    )
    assert response.status_code == 403  # secretaries do not edit units
    response = token_client(key).post(
        "/api/people/",
        {"org": tree.branch_a1.pk, "name": "新人", "gender": "M", "member_status": "masses"},
        format="json",
    )
    assert response.status_code == 201, response.content
    new = ChangeLogEntry.objects.filter(pk__gt=last)
    assert [(e.action, e.object_type) for e in new.order_by("id")] == [
        ("create", "orgs.person"),
        ("create", "orgs.membershiphistory"),
    ]
    assert {(e.actor_id, e.source) for e in new} == {(users.secretary_a1.pk, "api")}


def test_token_never_appears_in_logs_or_the_change_log(users, tree, caplog):
    caplog.set_level(logging.DEBUG)
    response = obtain("sec_a1")
    key = response.json()["token"]
    client = token_client(key)
    client.get("/api/people/")
    client.get("/api/orgs/999999/")  # a 404 is logged as a warning
    token_client("0" * 40).get("/api/people/")  # a bad token is logged as a warning
    client.delete(URL)
    assert key not in caplog.text
    assert PASSWORD not in caplog.text
    for entry in ChangeLogEntry.objects.all():
        blob = repr((entry.changes, entry.reason, entry.object_repr))
        assert key not in blob
        assert PASSWORD not in blob
    for row in AccessAttempt.objects.all():
        assert PASSWORD not in (row.post_data or "")
    assert not any(key in (row.user_agent or "") for row in AccessLog.objects.all())


def test_wrong_password_is_400_and_logged(users):
    response = obtain("sec_a1", "wrong-password-1A!")
    assert response.status_code == 400
    body = response.json()
    assert body["error"]["code"] == "invalid_credentials"
    assert "non_field_errors" in body["error"]["fields"]
    assert not Token.objects.filter(user=users.secretary_a1).exists()
    failed = ChangeLogEntry.objects.filter(action="login_failed").latest("id")
    assert failed.actor_id == users.secretary_a1.pk
    assert failed.outcome == "failure"


@pytest.mark.django_db
def test_missing_fields_are_400():
    response = APIClient().post(URL, {"username": "x"}, format="json")
    assert response.status_code == 400
    assert "password" in response.json()["error"]["fields"]


@pytest.mark.django_db
def test_get_is_not_allowed():
    assert APIClient().get(URL).status_code == 405


def test_lockout_applies_to_the_token_endpoint(users, client, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        obtain("sec_b1", "wrong-password-1A!")
    response = obtain("sec_b1")  # the right password, but locked
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "locked_out"
    assert response["Content-Type"].startswith("application/json")
    assert not Token.objects.filter(user=users.secretary_b1).exists()
    assert ChangeLogEntry.objects.filter(action="lockout").exists()
    # the web sign-in is locked too
    page = client.post("/accounts/login/", {"username": "sec_b1", "password": PASSWORD})
    assert page.status_code == 429


@pytest.mark.parametrize("who", ["system_admin", "security_admin", "audit_admin"])
def test_admin_roles_get_no_token(users, who):
    user = getattr(users, who)
    response = obtain(user.username)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "session_auth_required"
    assert not Token.objects.filter(user=user).exists()


def test_a_token_stops_working_when_an_admin_role_is_granted(users, tree):
    key = obtain("nobody").json()["token"]
    assert token_client(key).get("/api/orgs/").status_code == 403  # no role yet: forbidden
    grant(users.nobody, Role.AUDIT_ADMIN, tree.root)
    response = token_client(key).get("/api/change-log/")
    assert response.status_code in (401, 403)
    assert response.json()["error"]["code"] == "session_auth_required"


def test_pending_password_change_gets_no_token(db):
    make_user("fresh", must_change_password=True)
    response = obtain("fresh")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "password_change_required"


def test_enrolled_users_give_their_totp_code(users):
    device = TOTPDevice.objects.create(user=users.secretary_a1, name="phone", confirmed=True)
    response = obtain("sec_a1")
    assert response.status_code == 400
    assert "otp" in response.json()["error"]["fields"]
    response = obtain("sec_a1", otp="000000" if totp(device.bin_key) != 0 else "111111")
    assert response.status_code == 400
    assert ChangeLogEntry.objects.filter(action="otp_failed").exists()
    device.refresh_from_db()
    device.throttle_reset()  # django-otp delays the next try after a wrong code
    response = obtain("sec_a1", otp=f"{totp(device.bin_key):06d}")
    assert response.status_code == 200, response.content


def test_delete_revokes_the_token(users, tree):
    key = obtain("sec_a1").json()["token"]
    client = token_client(key)
    assert client.delete(URL).status_code == 204
    assert client.get("/api/people/").status_code in (401, 403)
    assert APIClient().delete(URL).status_code in (401, 403)


def test_the_session_still_works_for_admins(api, users):
    # administrators use the API through their (two-factor) session
    assert api(users.audit_admin).get("/api/change-log/").status_code == 200
    assert api(users.system_admin).get("/api/orgs/").status_code == 200
    assert Organization.objects.exists()
