"""``pbqms createadmin``: the first administrators, with a password the operator types."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from pbqms.accounts.models import User
from pbqms.core.models import ChangeLogEntry
from pbqms.core.roles import Role
from pbqms.orgs.models import Organization, RoleAssignment

pytestmark = pytest.mark.django_db

GOOD = "Operator-Chosen-2026"


def run(*args, stdin: str = GOOD + "\n"):
    out = io.StringIO()
    call_command("createadmin", *args, "--no-input", stdin=io.StringIO(stdin), stdout=out)
    return out.getvalue()


def test_creates_top_unit_and_system_admin_on_empty_install():
    assert not Organization.objects.exists()
    output = run("--username", "admin", "--display-name", "系统管理员", "--unit-name", "集团党委")
    root = Organization.objects.get()
    assert root.name == "集团党委"
    assert root.kind == Organization.Kind.COMMITTEE
    assert root.is_root()
    admin = User.objects.get(username="admin")
    assert admin.check_password(GOOD)
    assert not admin.must_change_password  # the operator chose it
    assert not admin.is_superuser and not admin.is_staff
    ra = RoleAssignment.objects.get(user=admin)
    assert (ra.role, ra.org_id, ra.include_subtree) == (Role.SYSTEM_ADMIN, root.pk, True)
    assert "admin" in output
    entries = ChangeLogEntry.objects.filter(source="command")
    assert entries.filter(object_type="accounts.user", action="create").exists()
    assert entries.filter(action="permission_change").exists()
    assert GOOD not in output


def test_uses_existing_top_unit(tree):
    run("--username", "admin")
    ra = RoleAssignment.objects.get(user__username="admin")
    assert ra.org_id == tree.root.pk
    assert Organization.objects.count() == 7


def test_three_separate_admins(tree):
    run("--username", "admin")
    run("--username", "secadmin", "--role", "security_admin")
    run("--username", "auditadmin", "--role", "audit_admin")
    roles = dict(RoleAssignment.objects.values_list("user__username", "role"))
    assert roles == {
        "admin": Role.SYSTEM_ADMIN,
        "secadmin": Role.SECURITY_ADMIN,
        "auditadmin": Role.AUDIT_ADMIN,
    }


@pytest.mark.parametrize(
    "password",
    ["short-1A", "alllowercaseletters", "admin-Pass-2026", ""],
)
def test_weak_password_refused_and_nothing_created(tree, password):
    with pytest.raises(CommandError):
        run("--username", "admin", stdin=password + "\n")
    assert not User.objects.filter(username="admin").exists()
    assert not RoleAssignment.objects.exists()


def test_refuses_second_holder_of_the_role(tree):
    run("--username", "admin")
    with pytest.raises(CommandError, match="already holds"):
        run("--username", "admin2")
    assert not User.objects.filter(username="admin2").exists()


def test_refuses_taken_or_invalid_user_name(users):
    RoleAssignment.objects.filter(role=Role.SYSTEM_ADMIN).delete()
    with pytest.raises(CommandError, match="taken"):
        run("--username", "member_a1")
    with pytest.raises(CommandError):
        run("--username", "bad name")


def test_empty_tree_needs_unit_name():
    with pytest.raises(CommandError, match="unit-name"):
        run("--username", "admin")
    assert not User.objects.exists()


def test_interactive_prompts(monkeypatch, tree):
    answers = iter([GOOD, "different", GOOD, GOOD])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    monkeypatch.setattr("builtins.input", lambda prompt="": "typed_admin")
    err = io.StringIO()
    call_command("createadmin", stdout=io.StringIO(), stderr=err)
    assert "do not match" in err.getvalue()
    user = User.objects.get(username="typed_admin")
    assert user.check_password(GOOD)


def test_no_superuser_path():
    run("--username", "admin", "--unit-name", "党委")
    assert not User.objects.filter(is_superuser=True).exists()
