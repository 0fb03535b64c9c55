"""Security page (安全管理员 only): policy in force, lockouts with unlock, accounts without
TOTP."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.accounts.conftest import LOGIN_URL, events, t
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db

PAGE = reverse("accounts:security")
UNLOCK = reverse("accounts:unlock")
WRONG = "Wrong-Guess-2026!"


def _fail(client_factory, username, ip, times=5):
    c = client_factory()
    for _ in range(times):
        c.post(LOGIN_URL, {"username": username, "password": WRONG}, REMOTE_ADDR=ip)


@pytest.fixture
def fresh_client():
    from django.test import Client

    return Client


@pytest.mark.parametrize(
    "who", ["system_admin", "audit_admin", "party_admin", "secretary_a1", "nobody"]
)
def test_other_roles_are_refused(client, users, login, who):
    login(getattr(users, who))
    assert client.get(PAGE).status_code == 403
    assert client.post(UNLOCK, {"username": "x"}).status_code == 403
    assert not events("unlock").exists()


def test_policy_in_force_is_shown(client, users, login, settings):
    settings.PBQMS_PASSWORD_MAX_AGE_DAYS = 60
    settings.PBQMS_SESSION_IDLE_MINUTES = 20
    login(users.security_admin)
    response = client.get(PAGE)
    assert response.status_code == 200
    policy = {str(k): str(v) for k, v in response.context["policy"]}
    assert policy[t("Minimum password length")] == t("%(n)s characters", n=12)
    assert policy[t("Earlier passwords that cannot be reused")] == "5"
    assert policy[t("Maximum password age")] == t("%(n)s days", n=60)  # from settings
    assert policy[t("Session ends when idle for")] == t("%(n)s minutes", n=20)
    assert policy[t("Session ends at the latest after")] == t("%(n)s hours", n=12)
    assert policy[t("Lockout duration")] == t("%(n)s minutes", n=30)
    assert policy[t("Lockout after failed sign-ins")] == t(
        "%(n)s failures, by user name and by address", n=5
    )
    assert policy[t("User name inside the password")] == t("not allowed")
    body = response.content.decode()
    assert 'data-testid="policy"' in body


def test_lockouts_listed_and_unlocked(client, users, login, fresh_client):
    victim = make_user("victim")
    _fail(fresh_client, "victim", "10.5.0.1", times=3)
    _fail(fresh_client, "victim", "10.5.0.2", times=2)  # 5 by user name over two addresses
    _fail(fresh_client, "ghost1", "10.6.6.6", times=3)
    _fail(fresh_client, "ghost2", "10.6.6.6", times=2)  # 5 from one address
    _fail(fresh_client, "almost", "10.7.0.1", times=2)  # not locked
    login(users.security_admin)
    response = client.get(PAGE)
    locked = response.context["locked"]
    assert [r["value"] for r in locked["usernames"]] == ["victim"]
    assert locked["usernames"][0]["failures"] == 5
    assert [r["value"] for r in locked["ips"]] == ["10.6.6.6"]
    body = response.content.decode()
    assert "victim" in body and "10.6.6.6" in body
    assert "almost" not in body

    done = client.post(UNLOCK, {"username": "victim"})
    assert done.status_code == 302
    assert not AccessAttempt.objects.filter(username="victim").exists()
    entry = events("unlock").get()
    assert entry.actor_id == users.security_admin.pk
    assert entry.object_id == str(victim.pk)
    assert entry.changes["username"] == "victim"
    other = fresh_client()
    assert (
        other.post(
            LOGIN_URL, {"username": "victim", "password": PASSWORD}, REMOTE_ADDR="10.5.0.1"
        ).status_code
        == 302
    )

    assert client.post(UNLOCK, {"ip": "10.6.6.6"}).status_code == 302
    assert not AccessAttempt.objects.filter(ip_address="10.6.6.6").exists()
    assert events("unlock").count() == 2
    assert client.get(PAGE).context["locked"] == {"usernames": [], "ips": []}


def test_unlock_bad_input(client, users, login):
    login(users.security_admin)
    empty = client.post(UNLOCK, {}, follow=True)
    assert empty.status_code == 200
    assert not events("unlock").exists()
    bad_ip = client.post(UNLOCK, {"ip": "not-an-ip"}, follow=True)
    assert bad_ip.status_code == 200
    assert not events("unlock").exists()
    assert client.get(UNLOCK).status_code == 405


def test_accounts_without_totp(client, users, login):
    TOTPDevice.objects.create(user=users.member_a1, name="phone", confirmed=True)
    TOTPDevice.objects.create(user=users.expert, name="pending", confirmed=False)
    login(users.security_admin)  # gets a confirmed device through the fixture
    rows = list(client.get(PAGE).context["page"].object_list)
    names = [u.username for u in rows]
    assert "member_a1" not in names
    assert "secadmin" not in names
    assert "expert" in names  # an unconfirmed device does not count
    # administrators (for whom TOTP is required) come first and are marked
    assert rows[0].is_admin
    assert {u.username for u in rows if u.is_admin} == {"sysadmin", "auditadmin"}


@pytest.mark.parametrize("extra", [5, 50])
def test_query_count_is_bounded(client, users, login, django_assert_max_num_queries, extra):
    for n in range(extra):
        make_user(f"nototp{n:02d}")
    login(users.security_admin)
    with django_assert_max_num_queries(12):
        assert client.get(PAGE).status_code == 200
