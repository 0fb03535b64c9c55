"""Shared fixtures: a small enterprise tree and one user per role."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from pbqms.accounts.models import User
from pbqms.core.roles import Role
from pbqms.orgs.models import Organization
from tests.factories import PASSWORD, grant, make_person, make_unit, make_user

K = Organization.Kind


@dataclass
class Tree:
    root: Organization  # 集团党委
    sub_a: Organization  # A 公司党委
    branch_a1: Organization  # A 第一党支部
    group_a1: Organization  # A1 第一党小组
    branch_a2: Organization
    sub_b: Organization  # B 公司党总支
    branch_b1: Organization


@dataclass
class Users:
    party_admin: User  # 党委管理员 on the whole tree
    secretary_a1: User  # 支部书记 of branch A1
    secretary_b1: User  # 支部书记 of branch B1
    member_a1: User  # 党员 in A1
    auditor: User  # 内审员 on sub A subtree
    expert: User
    system_admin: User
    security_admin: User
    audit_admin: User
    nobody: User  # signed in, no role


@pytest.fixture
def tree(db) -> Tree:
    root = make_unit("集团党委", K.COMMITTEE, code="ROOT")
    sub_a = make_unit("A公司党委", K.COMMITTEE, root, code="A")
    a1 = make_unit("A公司第一党支部", K.BRANCH, sub_a, code="A1")
    g = make_unit("第一党小组", K.GROUP, a1, code="A1G1")
    a2 = make_unit("A公司第二党支部", K.BRANCH, sub_a, code="A2")
    sub_b = make_unit("B公司党总支", K.GENERAL_BRANCH, root, code="B")
    b1 = make_unit("B公司第一党支部", K.BRANCH, sub_b, code="B1")
    return Tree(*(Organization.objects.get(pk=o.pk) for o in (root, sub_a, a1, g, a2, sub_b, b1)))


@pytest.fixture
def users(tree) -> Users:
    def u(name, role=None, org=None, subtree=True):
        user = make_user(name)
        if role:
            grant(user, role, org, subtree)
        return user

    member = u("member_a1", Role.MEMBER, tree.branch_a1)
    make_person(tree.branch_a1, "党员甲", user=member)
    return Users(
        party_admin=u("party_admin", Role.PARTY_ADMIN, tree.root),
        secretary_a1=u("sec_a1", Role.BRANCH_SECRETARY, tree.branch_a1),
        secretary_b1=u("sec_b1", Role.BRANCH_SECRETARY, tree.branch_b1),
        member_a1=member,
        auditor=u("auditor", Role.INTERNAL_AUDITOR, tree.sub_a),
        expert=u("expert", Role.EXTERNAL_EXPERT, tree.root),
        system_admin=u("sysadmin", Role.SYSTEM_ADMIN, tree.root),
        security_admin=u("secadmin", Role.SECURITY_ADMIN, tree.root),
        audit_admin=u("auditadmin", Role.AUDIT_ADMIN, tree.root),
        nobody=u("nobody"),
    )


@pytest.fixture
def login(client):
    """``login(user)`` signs the test client in (admins pass the TOTP step as verified)."""

    def _login(user: User):
        client.force_login(user)
        session = client.session
        # django-otp: mark the session verified for admin roles (the TOTP flow itself is
        # tested in tests/accounts/test_otp.py)
        from django_otp.plugins.otp_totp.models import TOTPDevice

        device = TOTPDevice.objects.filter(user=user).first() or TOTPDevice.objects.create(
            user=user, name="test", confirmed=True
        )
        session["otp_device_id"] = device.persistent_id
        session.save()
        return client

    return _login


@pytest.fixture
def password():
    return PASSWORD


@pytest.fixture(autouse=True)
def _jobs_run_inline(settings):
    """Background jobs run at once inside ``enqueue`` (the thread and worker modes are
    tested in tests/core/test_jobs.py)."""
    settings.PBQMS_JOBS = "sync"


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    """Django's production PBKDF2 costs about a second per hash on a small machine; tests
    that create users or sign in would spend most of their time there."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
