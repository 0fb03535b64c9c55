"""`pbqms demo`: the demo enterprise, its accounts, idempotence and the demo-mode guard."""

from __future__ import annotations

import datetime
import os
import re
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from pbqms.accounts.models import User
from pbqms.core.changelog import verify_chain
from pbqms.core.models import ChangeLogEntry
from pbqms.core.roles import Role
from pbqms.orgs import demo_data
from pbqms.orgs.models import MembershipHistory, Organization, Person, Post, RoleAssignment
from tests.factories import make_unit

K = Organization.Kind
PASSWORD = demo_data.PASSWORD
EXPECTED_ROLES = {
    "admin": Role.SYSTEM_ADMIN,
    "secadmin": Role.SECURITY_ADMIN,
    "auditadmin": Role.AUDIT_ADMIN,
    "dangwei": Role.PARTY_ADMIN,
    "zhibu1": Role.BRANCH_SECRETARY,
    "zhibu2": Role.BRANCH_SECRETARY,
    "member1": Role.MEMBER,
    "auditor1": Role.INTERNAL_AUDITOR,
    "expert1": Role.EXTERNAL_EXPERT,
}
ADMINS = {"admin", "secadmin", "auditadmin"}


@pytest.fixture
def demo_mode(settings):
    settings.DEMO_MODE = True
    # the demo hashes nine passwords; a fast hasher keeps the tests quick (the login
    # flow is the same whatever the hasher)
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return settings


def run_demo() -> str:
    out = StringIO()
    call_command("demo", stdout=out)
    return out.getvalue()


@pytest.fixture
def demo(db, demo_mode) -> str:
    return run_demo()


def _counts() -> dict[str, int]:
    return {
        "units": Organization.objects.count(),
        "people": Person.objects.count(),
        "posts": Post.objects.count(),
        "history": MembershipHistory.objects.count(),
        "roles": RoleAssignment.objects.count(),
        "users": User.objects.count(),
        "devices": TOTPDevice.objects.count(),
        "log": ChangeLogEntry.objects.count(),
    }


def test_demo_enterprise_shape(demo):
    root = Organization.objects.get(code=demo_data.ROOT_CODE)
    assert root.is_root() and root.kind == K.COMMITTEE
    subsidiaries = Organization.objects.filter(depth=2, kind__in=[K.COMMITTEE, K.GENERAL_BRANCH])
    assert subsidiaries.count() == 3
    assert {u.kind for u in subsidiaries} == {K.COMMITTEE, K.GENERAL_BRANCH}
    branches = Organization.objects.filter(kind__in=[K.BRANCH, K.JOINT_BRANCH])
    assert 12 <= branches.count() <= 20
    with_groups = branches.filter(numchild__gt=0)
    assert with_groups.count() >= branches.count() * 2 // 3
    assert Organization.objects.filter(kind=K.GROUP).count() >= 12
    assert 180 <= Person.objects.count() <= 240

    people = list(Person.objects.all())
    full = [p for p in people if p.member_status == Person.MemberStatus.FULL]
    assert 0.8 <= len(full) / len(people) <= 0.9
    statuses = {p.member_status for p in people}
    assert statuses == set(Person.MemberStatus.values)
    genders = {g: sum(p.gender == g for p in people) for g in "MF"}
    assert 0.25 <= genders["F"] / len(people) <= 0.45
    assert len({p.name for p in people}) == len(people)
    for person in people:
        assert re.fullmatch(r"[\u4e00-\u9fff]{2,4}", person.name), person.name
        if person.member_status in Person.PARTY_STATUSES:
            adult = person.birth_date.replace(year=person.birth_date.year + 18)
            assert person.joined_on >= adult
            assert person.joined_on <= datetime.date.today()
        else:
            assert person.joined_on is None
        if person.member_status == Person.MemberStatus.PROBATIONARY:
            assert person.probation_until > person.joined_on
        else:
            assert person.probation_until is None

    # every 党支部 has exactly one current 书记; a 党小组 has its 组长
    for branch in branches:
        titles = list(
            Post.objects.filter(org=branch, ended_on__isnull=True).values_list("title", flat=True)
        )
        assert titles.count(Post.Title.SECRETARY) == 1, branch
    for group in Organization.objects.filter(kind=K.GROUP):
        assert Post.objects.filter(
            org=group, title=Post.Title.GROUP_LEADER, ended_on__isnull=True
        ).exists()
    assert Post.objects.filter(title=Post.Title.DEPUTY_SECRETARY).count() >= 5
    assert Post.objects.filter(org=root, title=Post.Title.SECRETARY).count() == 1
    # every post holder is a full member who joined before the post began
    for post in Post.objects.select_related("person"):
        assert post.person.member_status == Person.MemberStatus.FULL
        assert post.person.joined_on < post.started_on

    # everyone has a history; transfers close the old stay and open a new one
    assert not Person.objects.filter(memberships__isnull=True).exists()
    transfers = MembershipHistory.objects.filter(reason=MembershipHistory.Reason.TRANSFER)
    assert transfers.count() >= 5
    for stay in transfers.select_related("person"):
        assert stay.person.org_id == stay.org_id
        closed = MembershipHistory.objects.get(person=stay.person, ended_on=stay.started_on)
        assert closed.org_id != stay.org_id


def test_demo_accounts_have_their_roles_and_sign_in(demo, client):
    for username, role in EXPECTED_ROLES.items():
        user = User.objects.get(username=username)
        assert not user.must_change_password
        assert user.is_active
        assert list(user.role_assignments.values_list("role", flat=True)) == [role]
        response = client.post(
            reverse("accounts:login"), {"username": username, "password": PASSWORD}
        )
        assert response.status_code == 302, username
        assert reverse("accounts:login") not in response["Location"]
        home = client.get("/")
        if username in ADMINS:
            # the admin roles pass the TOTP step first
            assert home.status_code == 302
            assert home["Location"].startswith(reverse("accounts:otp"))
        else:
            assert home.status_code == 200, username
        client.post(reverse("accounts:logout"))
    # no account holds two of the three admin roles
    for username in ADMINS:
        roles = RoleAssignment.objects.filter(user__username=username).values_list(
            "role", flat=True
        )
        assert len(roles) == 1


def test_admin_passes_totp_with_the_demo_code(demo, client):
    client.post(reverse("accounts:login"), {"username": "admin", "password": PASSWORD})
    out = StringIO()
    call_command("demo_totp", "admin", stdout=out, stderr=StringIO())
    code = out.getvalue().strip()
    assert re.fullmatch(r"\d{6}", code)
    response = client.post(reverse("accounts:otp"), {"token": code})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    # the documented secret is the one stored
    device = TOTPDevice.objects.get(user__username="admin")
    assert device.confirmed
    import base64

    assert base64.b32encode(device.bin_key).decode() == demo_data.TOTP_SECRET_BASE32


def test_secretaries_and_member_sit_where_documented(demo):
    zhibu1 = User.objects.get(username="zhibu1")
    zhibu2 = User.objects.get(username="zhibu2")
    member1 = User.objects.get(username="member1")
    branch1 = zhibu1.role_assignments.get().org
    branch2 = zhibu2.role_assignments.get().org
    assert branch1.kind == branch2.kind == K.BRANCH
    # different subsidiaries: their ancestors just below the root differ
    steplen = Organization.steplen
    sub1, sub2 = branch1.path[: 2 * steplen], branch2.path[: 2 * steplen]
    assert Organization.objects.get(path=sub1).depth == 2
    assert sub1 != sub2
    # each secretary account is the person holding 书记 in that branch
    for user, branch in ((zhibu1, branch1), (zhibu2, branch2)):
        assert user.person.org == branch
        assert Post.objects.filter(
            person=user.person, org=branch, title=Post.Title.SECRETARY, ended_on__isnull=True
        ).exists()
    # member1 is a full member inside zhibu1's branch
    assert member1.person.org.path.startswith(branch1.path)
    assert member1.person.member_status == Person.MemberStatus.FULL
    assert member1.role_assignments.get().org == branch1
    # dangwei is a person of the group 党委
    dangwei = User.objects.get(username="dangwei")
    assert dangwei.person.org.is_root()
    # scope: zhibu1 sees member1 and not zhibu2's branch
    visible = Person.objects.visible_to(zhibu1)
    assert visible.filter(pk=member1.person.pk).exists()
    assert not visible.filter(pk=zhibu2.person.pk).exists()
    assert Person.objects.visible_to(dangwei).count() == Person.objects.count()


def test_second_run_adds_nothing(demo):
    before = _counts()
    out = run_demo()
    assert "demo already loaded" in out
    assert _counts() == before


def test_second_run_puts_accounts_back(demo, client):
    member1 = User.objects.get(username="member1")
    member1.set_password("Another-Passw0rd!")
    member1.must_change_password = True
    member1.save()
    TOTPDevice.objects.filter(user__username="secadmin").delete()
    run_demo()
    response = client.post(reverse("accounts:login"), {"username": "member1", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    assert TOTPDevice.objects.filter(user__username="secadmin", confirmed=True).count() == 1


def test_change_log_records_the_demo_and_verifies(demo):
    report = verify_chain()
    assert report.ok, report
    assert report.checked > 500
    admin = User.objects.get(username="admin")
    person_entries = ChangeLogEntry.objects.filter(object_type="orgs.person", action="create")
    assert person_entries.count() == Person.objects.count()
    assert set(person_entries.values_list("actor_id", flat=True)) == {admin.pk}
    assert set(person_entries.values_list("source", flat=True)) == {"command"}
    assert set(person_entries.values_list("reason", flat=True)) == {demo_data.REASON}
    grants = ChangeLogEntry.objects.filter(action="permission_change")
    assert grants.count() == len(EXPECTED_ROLES)
    transfer_reasons = {t.reason for t in demo_data.TRANSFERS}
    assert ChangeLogEntry.objects.filter(reason__in=transfer_reasons).exists()


def test_refuses_without_demo_mode(db, settings):
    settings.DEMO_MODE = False
    with pytest.raises(CommandError, match="PBQMS_DEMO"):
        run_demo()
    assert not Organization.objects.exists()
    assert not User.objects.exists()
    with pytest.raises(CommandError, match="demo mode"):
        call_command("demo_totp", "admin", stdout=StringIO())


def test_refuses_a_database_with_other_organisations(db, demo_mode):
    make_unit("某公司党委", K.COMMITTEE, code="OTHER")
    with pytest.raises(CommandError, match="empty database"):
        run_demo()
    assert Organization.objects.count() == 1
    assert not User.objects.filter(username="admin").exists()


def test_production_settings_refuse_demo_mode():
    env = {
        **os.environ,
        "PBQMS_DEMO": "1",
        "PBQMS_SECRET_KEY": "x" * 60,
        "DJANGO_SETTINGS_MODULE": "pbqms.settings_production",
    }
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "Demo mode (PBQMS_DEMO) is not allowed" in result.stderr
