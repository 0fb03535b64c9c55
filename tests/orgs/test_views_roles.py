"""Role assignments UI (角色授权): ROLE_VIEW lists, ROLE_MANAGE (安全管理员) grants and
revokes through ``assign_role`` / ``revoke_role``; everything logged as permission_change."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse

from pbqms.core.models import ChangeLogEntry
from pbqms.core.roles import Role
from pbqms.orgs.models import RoleAssignment
from tests.factories import grant, make_user

pytestmark = pytest.mark.django_db

LIST = reverse("orgs:role_list")
GRANT = reverse("orgs:role_grant")


def revoke_url(ra) -> str:
    return reverse("orgs:role_revoke", args=[ra.pk])


def _grant_data(user, org, **overrides):
    data = {
        "user": user.pk,
        "role": Role.PARTY_WORKER,
        "org": org.pk,
        "include_subtree": "on",
        "valid_from": "",
        "valid_to": "",
        "note": "组织部通知 2026-12",
    }
    data.update(overrides)
    return data


@pytest.fixture
def limited_secadmin(tree):
    """A security administrator whose grant covers only A公司党委 and below."""
    user = make_user("sec_a")
    grant(user, Role.SECURITY_ADMIN, tree.sub_a)
    return user


# ---------------------------------------------------------------- list


@pytest.mark.parametrize("who", ["security_admin", "system_admin", "party_admin"])
def test_role_viewers_see_the_list(client, users, login, who):
    login(getattr(users, who))
    response = client.get(LIST)
    assert response.status_code == 200
    shown = {ra.user.username for ra in response.context["page"].object_list}
    assert {"sec_a1", "sec_b1", "member_a1"} <= shown


@pytest.mark.parametrize("who", ["secretary_a1", "member_a1", "auditor", "audit_admin", "nobody"])
def test_others_cannot_see_the_list(client, users, login, who):
    login(getattr(users, who))
    assert client.get(LIST).status_code == 403
    assert client.get(GRANT).status_code == 403


def test_grant_button_only_for_role_managers(client, users, login):
    login(users.party_admin)
    body = client.get(LIST).content.decode()
    assert GRANT not in body
    assert 'data-testid="revoke-' not in body
    client.logout()
    login(users.security_admin)
    body = client.get(LIST).content.decode()
    assert GRANT in body
    assert 'data-testid="revoke-' in body


def test_list_is_scoped(client, users, login, tree, limited_secadmin):
    login(limited_secadmin)
    rows = client.get(LIST).context["page"].object_list
    orgs = {ra.org.code for ra in rows}
    assert orgs <= {"A", "A1", "A1G1", "A2"}
    assert "sec_a1" in {ra.user.username for ra in rows}
    assert "sec_b1" not in {ra.user.username for ra in rows}
    # a unit outside the scope does not exist for this user
    assert client.get(LIST, {"org": tree.branch_b1.pk}).status_code == 404
    assert client.get(LIST, {"org": "abc"}).status_code == 404


def test_list_filters(client, users, login, tree):
    login(users.security_admin)
    by_user = client.get(LIST, {"q": "sec_"}).context["page"].object_list
    assert {ra.user.username for ra in by_user} == {"sec_a1", "sec_b1"}
    by_role = client.get(LIST, {"role": Role.BRANCH_SECRETARY}).context["page"].object_list
    assert {ra.user.username for ra in by_role} == {"sec_a1", "sec_b1"}
    by_unit = client.get(LIST, {"unit": "B公司第一"}).context["page"].object_list
    assert [ra.user.username for ra in by_unit] == ["sec_b1"]
    by_org = client.get(LIST, {"org": tree.branch_a1.pk}).context["page"].object_list
    assert {ra.user.username for ra in by_org} == {"sec_a1", "member_a1"}
    ended = make_user("retired")
    ra = grant(ended, Role.PARTY_WORKER, tree.branch_a2)
    RoleAssignment.objects.filter(pk=ra.pk).update(
        valid_from=datetime.date(2020, 1, 1), valid_to=datetime.date(2021, 1, 1)
    )
    by_state = client.get(LIST, {"state": "ended"}).context["page"].object_list
    assert [r.user.username for r in by_state] == ["retired"]
    current = client.get(LIST, {"state": "current"}).context["page"].object_list
    assert "retired" not in {r.user.username for r in current}
    # junk values are ignored, not errors
    assert client.get(LIST, {"role": "king", "sort": "evil", "page": "x"}).status_code == 200


def test_list_htmx_partial(client, users, login):
    login(users.security_admin)
    response = client.get(LIST, {"q": "sec"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert 'data-testid="role-table"' in body
    assert "<html" not in body


@pytest.mark.parametrize("extra", [10, 50])
def test_list_query_count_is_bounded(
    client, users, login, tree, django_assert_max_num_queries, extra
):
    for n in range(extra):
        grant(make_user(f"worker{n:02d}"), Role.PARTY_WORKER, tree.branch_a2)
    login(users.security_admin)
    with django_assert_max_num_queries(10):
        response = client.get(LIST, {"per_page": 50})
    assert response.status_code == 200


# ---------------------------------------------------------------- grant


def test_grant_a_role(client, users, login, tree):
    worker = make_user("worker")
    login(users.security_admin)
    assert client.get(GRANT).status_code == 200
    response = client.post(GRANT, _grant_data(worker, tree.branch_a2, valid_from="2026-01-01"))
    assert response.status_code == 302
    ra = RoleAssignment.objects.get(user=worker)
    assert (ra.role, ra.org_id, ra.include_subtree) == (Role.PARTY_WORKER, tree.branch_a2.pk, True)
    assert ra.valid_from == datetime.date(2026, 1, 1)
    assert ra.note == "组织部通知 2026-12"
    entry = ChangeLogEntry.objects.filter(action="permission_change").latest("id")
    assert entry.actor_id == users.security_admin.pk
    assert entry.changes["granted"] == Role.PARTY_WORKER
    assert entry.changes["user"] == "worker"
    assert entry.object_id == str(ra.pk)
    # the new right is in force at once
    client.logout()
    login(worker)
    assert client.get(reverse("orgs:person_list")).status_code == 200


def test_grant_prefills_from_query(client, users, login, tree):
    login(users.security_admin)
    response = client.get(GRANT, {"user": users.expert.pk, "org": tree.branch_a1.pk})
    body = response.content.decode()
    assert f'value="{users.expert.pk}" selected' in body
    assert tree.branch_a1.name in body
    # only the chosen rows are rendered, never the whole user or unit table
    assert tree.branch_b1.name not in body
    assert users.secretary_b1.username not in body


@pytest.mark.parametrize(
    ("case", "field"),
    [
        ("second_admin_role", "role"),
        ("self_admin", "user"),
        ("dates_reversed", "valid_to"),
        ("duplicate", "role"),
        ("no_role", "role"),
        ("no_unit", "org"),
        ("bad_date", "valid_from"),
        ("inactive_user", "user"),
    ],
)
def test_grant_bad_input_keeps_input_and_saves_nothing(client, users, login, tree, case, field):
    login(users.security_admin)
    target = make_user("target")
    data = _grant_data(target, tree.branch_a1)
    if case == "second_admin_role":  # 三员分立: the system admin cannot also be audit admin
        data.update(user=users.system_admin.pk, role=Role.AUDIT_ADMIN, org=tree.root.pk)
    elif case == "self_admin":
        data.update(user=users.security_admin.pk, role=Role.SECURITY_ADMIN, org=tree.sub_a.pk)
    elif case == "dates_reversed":
        data.update(valid_from="2026-06-01", valid_to="2026-05-01")
    elif case == "duplicate":
        data.update(user=users.secretary_a1.pk, role=Role.BRANCH_SECRETARY)
    elif case == "no_role":
        data.update(role="")
    elif case == "no_unit":
        data.update(org="")
    elif case == "bad_date":
        data.update(valid_from="2026-13-45")
    elif case == "inactive_user":
        target.is_active = False
        target.save()
    before = RoleAssignment.objects.count()
    logged = ChangeLogEntry.objects.filter(action="permission_change").count()
    response = client.post(GRANT, data)
    assert response.status_code == 200
    assert field in response.context["form"].errors, response.context["form"].errors
    assert RoleAssignment.objects.count() == before
    assert ChangeLogEntry.objects.filter(action="permission_change").count() == logged
    body = response.content.decode()
    assert "组织部通知 2026-12" in body  # the note typed is still there
    assert "is-invalid" in body


def test_grant_outside_scope_refused(client, users, login, tree, limited_secadmin):
    login(limited_secadmin)
    target = make_user("target")
    response = client.post(GRANT, _grant_data(target, tree.branch_b1))
    assert response.status_code == 200
    assert "org" in response.context["form"].errors
    assert not RoleAssignment.objects.filter(user=target).exists()
    assert client.post(GRANT, _grant_data(target, tree.branch_a2)).status_code == 302


def test_grant_post_by_viewer_is_forbidden(client, users, login, tree):
    login(users.party_admin)
    target = make_user("target")
    assert client.post(GRANT, _grant_data(target, tree.branch_a1)).status_code == 403
    assert not RoleAssignment.objects.filter(user=target).exists()


def test_options_endpoints(client, users, login, tree, limited_secadmin):
    login(limited_secadmin)
    units = client.get(reverse("orgs:role_unit_options"), {"org_q": "公司"}).content.decode()
    assert "A公司党委" in units
    assert "B公司" not in units  # outside the scope
    people = client.get(reverse("orgs:role_user_options"), {"user_q": "sec_"}).content.decode()
    assert "sec_a1" in people
    client.logout()
    login(users.party_admin)
    assert client.get(reverse("orgs:role_unit_options"), {"org_q": "A"}).status_code == 403
    assert client.get(reverse("orgs:role_user_options"), {"user_q": "A"}).status_code == 403


# ---------------------------------------------------------------- revoke


def test_revoke_with_reason(client, users, login, tree):
    ra = RoleAssignment.objects.get(user=users.secretary_b1)
    login(users.security_admin)
    page = client.get(revoke_url(ra))
    assert page.status_code == 200
    assert "B公司第一党支部" in page.content.decode()
    response = client.post(revoke_url(ra), {"reason": "换届后不再担任书记"})
    assert response.status_code == 302
    assert not RoleAssignment.objects.filter(pk=ra.pk).exists()
    entry = ChangeLogEntry.objects.filter(action="permission_change").latest("id")
    assert entry.changes["revoked"] == Role.BRANCH_SECRETARY
    assert entry.reason == "换届后不再担任书记"
    assert entry.actor_id == users.security_admin.pk
    delete = ChangeLogEntry.objects.filter(
        action="delete", object_type="orgs.roleassignment", object_id=str(ra.pk)
    ).get()
    assert delete.reason == "换届后不再担任书记"


def test_revoke_needs_reason(client, users, login):
    ra = RoleAssignment.objects.get(user=users.secretary_b1)
    login(users.security_admin)
    response = client.post(revoke_url(ra), {"reason": "  "})
    assert response.status_code == 200
    assert "reason" in response.context["form"].errors
    assert RoleAssignment.objects.filter(pk=ra.pk).exists()


def test_revoke_forbidden_for_viewer(client, users, login):
    ra = RoleAssignment.objects.get(user=users.secretary_b1)
    login(users.party_admin)
    assert client.get(revoke_url(ra)).status_code == 403
    assert client.post(revoke_url(ra), {"reason": "x"}).status_code == 403
    assert RoleAssignment.objects.filter(pk=ra.pk).exists()


def test_revoke_outside_scope_is_404(client, users, login, limited_secadmin):
    ra = RoleAssignment.objects.get(user=users.secretary_b1)
    login(limited_secadmin)
    assert client.get(revoke_url(ra)).status_code == 404
    assert client.post(revoke_url(ra), {"reason": "x"}).status_code == 404
    assert RoleAssignment.objects.filter(pk=ra.pk).exists()
    assert client.get(reverse("orgs:role_revoke", args=[999999])).status_code == 404


def test_menu_shows_role_assignments(client, users, login):
    login(users.security_admin)
    assert f'href="{LIST}"' in client.get("/").content.decode()
    client.logout()
    login(users.secretary_a1)
    assert f'href="{LIST}"' not in client.get("/").content.decode()
