"""Test data builders. They go through the real services where a rule applies, so tests see
the same change log and validation that users do."""

from __future__ import annotations

import itertools

from pbqms.accounts.models import User
from pbqms.core.context import action_context
from pbqms.orgs.models import Organization, Person, RoleAssignment

PASSWORD = "Test-Passw0rd!x"
_seq = itertools.count(1)


def make_user(username: str | None = None, *, password: str = PASSWORD, **extra) -> User:
    username = username or f"user{next(_seq)}"
    user = User(username=username, display_name=extra.pop("display_name", username), **extra)
    user.must_change_password = extra.get("must_change_password", False)
    user.set_password(password)
    user.save()
    return user


def make_unit(name: str, kind: str, parent: Organization | None = None, **extra) -> Organization:
    data = {"name": name, "kind": kind, "code": extra.pop("code", f"T{next(_seq):05d}"), **extra}
    with action_context(source="test"):
        if parent is None:
            return Organization.objects.add_root(data)
        return Organization.objects.add_child(parent, data)


def make_person(org: Organization, name: str | None = None, **extra) -> Person:
    data = {
        "name": name or f"人员{next(_seq)}",
        "gender": extra.pop("gender", "M"),
        "member_status": extra.pop("member_status", Person.MemberStatus.FULL),
        "joined_on": extra.pop("joined_on", None),
        **extra,
    }
    if data["joined_on"] is None and data["member_status"] in Person.PARTY_STATUSES:
        import datetime

        data["joined_on"] = datetime.date(2010, 7, 1)
    return Person.objects.create(org=org, **data)


def grant(user: User, role: str, org: Organization, subtree: bool = True) -> RoleAssignment:
    from pbqms.core import scope

    ra = RoleAssignment.objects.create(user=user, role=role, org=org, include_subtree=subtree)
    scope.clear_cache(user)
    return ra
