"""/api/role-assignments/: ROLE_VIEW reads, ROLE_MANAGE grants and revokes via services."""

from __future__ import annotations

import pytest

from pbqms.core.roles import Role
from pbqms.orgs.models import RoleAssignment
from tests.api.conftest import QUERY_CEILING, assert_api_entries, count_queries
from tests.factories import grant, make_user

URL = "/api/role-assignments/"


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_security_admin_lists_all(api, users):
    response = api(users.security_admin).get(URL)
    assert ids(response) == set(RoleAssignment.objects.values_list("pk", flat=True))
    row = next(r for r in response.json()["results"] if r["username"] == "sec_a1")
    assert row["role"] == "branch_secretary"
    assert row["org_name"] == "A公司第一党支部"


def test_scoped_reader_sees_only_assignments_in_their_subtree(api, users, tree):
    viewer = make_user("viewer_b")
    grant(viewer, Role.PARTY_ADMIN, tree.sub_b)  # party admins may view roles
    visible = ids(api(viewer).get(URL))
    assert visible == set(
        RoleAssignment.objects.filter(org__path__startswith=tree.sub_b.path).values_list(
            "pk", flat=True
        )
    )
    a1_secretary = RoleAssignment.objects.get(user=users.secretary_a1)
    assert api(viewer).get(f"{URL}{a1_secretary.pk}/").status_code == 404


@pytest.mark.parametrize("who", ["secretary_a1", "member_a1", "audit_admin", "nobody"])
def test_others_are_forbidden(api, users, who):
    assert api(getattr(users, who)).get(URL).status_code == 403


def test_filters(api, users, tree):
    client = api(users.security_admin)
    assert ids(client.get(URL, {"user": users.secretary_a1.pk})) == set(
        RoleAssignment.objects.filter(user=users.secretary_a1).values_list("pk", flat=True)
    )
    assert len(ids(client.get(URL, {"role": "branch_secretary"}))) == 2
    assert ids(client.get(URL, {"within": tree.sub_b.pk})) == set(
        RoleAssignment.objects.filter(org=tree.branch_b1).values_list("pk", flat=True)
    )
    assert client.get(URL, {"role": "emperor"}).status_code == 400


def test_grant_writes_the_assignment_and_a_permission_event(api, users, tree, entries):
    response = api(users.security_admin).post(
        URL,
        {"user": users.nobody.pk, "role": "member", "org": tree.branch_b1.pk, "note": "新党员"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assignment = RoleAssignment.objects.get(pk=response.json()["id"])
    assert assignment.user_id == users.nobody.pk
    assert assignment.include_subtree is True
    assert_api_entries(
        entries,
        users.security_admin,
        [("create", "orgs.roleassignment"), ("permission_change", "orgs.roleassignment")],
    )


def test_grant_is_forbidden_without_role_manage(api, users, tree, entries):
    data = {"user": users.nobody.pk, "role": "member", "org": tree.branch_b1.pk}
    for who in ("party_admin", "system_admin", "secretary_b1"):
        assert api(getattr(users, who)).post(URL, data, format="json").status_code == 403
    assert not RoleAssignment.objects.filter(user=users.nobody).exists()
    assert entries.new() == []


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"role": "emperor"}, "role"),
        ({"user": 999999}, "user"),
        ({"user": "x"}, "user"),
        ({"org": 999999}, "org"),
        ({"valid_from": "2026-05-01", "valid_to": "2026-01-01"}, "valid_to"),
        ({"role": "audit_admin", "user": "SELF"}, "user"),  # no admin role for oneself
        ({"user": "MEMBER_A1", "org": "A1"}, "role"),  # member_a1 already holds it there
    ],
)
def test_bad_grants_are_field_errors(api, users, tree, entries, data, field):
    data = dict(data)
    if data.get("user") == "SELF":
        data["user"] = users.security_admin.pk
    if data.get("user") == "MEMBER_A1":
        data["user"] = users.member_a1.pk
    if data.get("org") == "A1":
        data["org"] = tree.branch_a1.pk
    payload = {"user": users.nobody.pk, "role": "member", "org": tree.branch_b1.pk, **data}
    before = RoleAssignment.objects.count()
    response = api(users.security_admin).post(URL, payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert RoleAssignment.objects.count() == before
    assert entries.new() == []


def test_admin_roles_stay_separate(api, users, tree):
    response = api(users.security_admin).post(
        URL,
        {"user": users.system_admin.pk, "role": "audit_admin", "org": tree.root.pk},
        format="json",
    )
    assert response.status_code == 400
    assert "role" in response.json()["error"]["fields"]


def test_grant_on_a_unit_outside_the_scope(api, users, tree, entries):
    manager_a = make_user("secadmin_a")
    grant(manager_a, Role.SECURITY_ADMIN, tree.sub_a)
    entries.mark()
    response = api(manager_a).post(
        URL, {"user": users.nobody.pk, "role": "member", "org": tree.branch_b1.pk}, format="json"
    )
    assert response.status_code == 400
    assert "org" in response.json()["error"]["fields"]
    assert entries.new() == []


def test_revoke(api, users, entries):
    assignment = RoleAssignment.objects.get(user=users.secretary_b1)
    response = api(users.security_admin).delete(f"{URL}{assignment.pk}/?reason=调离")
    assert response.status_code == 204
    assert not RoleAssignment.objects.filter(pk=assignment.pk).exists()
    assert_api_entries(
        entries,
        users.security_admin,
        [("permission_change", "orgs.roleassignment"), ("delete", "orgs.roleassignment")],
    )
    assert {e.reason for e in entries.new()} == {"调离"}


def test_revoke_forbidden_and_out_of_scope(api, users, tree, entries):
    assignment = RoleAssignment.objects.get(user=users.secretary_b1)
    assert api(users.party_admin).delete(f"{URL}{assignment.pk}/").status_code == 403
    manager_a = make_user("secadmin_a")
    grant(manager_a, Role.SECURITY_ADMIN, tree.sub_a)
    entries.mark()
    assert api(manager_a).delete(f"{URL}{assignment.pk}/").status_code == 404
    assert RoleAssignment.objects.filter(pk=assignment.pk).exists()
    assert entries.new() == []


def test_assignments_are_not_edited(api, users):
    assignment = RoleAssignment.objects.get(user=users.secretary_b1)
    response = api(users.security_admin).patch(
        f"{URL}{assignment.pk}/", {"note": "x"}, format="json"
    )
    assert response.status_code == 405


def test_list_query_count_does_not_grow(api, users, tree):
    """The same number of queries for 10 and for 500 assignments on the page."""
    from pbqms.accounts.models import User

    client = api(users.security_admin)

    def add(n, start):
        new_users = User.objects.bulk_create(
            User(username=f"bulk{i}", password="!") for i in range(start, start + n)
        )
        RoleAssignment.objects.bulk_create(
            RoleAssignment(user=u, role="member", org=tree.branch_a2) for u in new_users
        )

    def get():
        response = client.get(URL, {"page_size": 500})
        assert response.status_code == 200
        return response

    add(10, 0)
    small = count_queries(get)
    add(490, 10)
    large = count_queries(get)
    assert len(get().json()["results"]) == 500
    assert small == large <= QUERY_CEILING
