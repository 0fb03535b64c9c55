"""/api/orgs/: scoping, permissions, validation, optimistic locking, change log, queries."""

from __future__ import annotations

import datetime

import pytest

from pbqms.core.roles import Role
from pbqms.orgs.models import Organization
from tests.api.conftest import QUERY_CEILING, assert_api_entries, count_queries
from tests.factories import grant, make_unit, make_user

URL = "/api/orgs/"


def detail(unit) -> str:
    return f"{URL}{unit.pk}/"


def parent_pk(unit) -> int:
    return Organization.objects.get_parent(Organization.objects.get(pk=unit.pk)).pk


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


# ---------------------------------------------------------------- reading


def test_party_admin_lists_the_whole_tree(api, users, tree):
    response = api(users.party_admin).get(URL)
    assert ids(response) == set(Organization.objects.values_list("pk", flat=True))
    rows = {row["code"]: row for row in response.json()["results"]}
    assert rows["A1"]["parent"] == tree.sub_a.pk
    assert rows["ROOT"]["parent"] is None
    assert rows["A1"]["kind"] == "branch"


def test_secretary_sees_only_their_branch(api, users, tree):
    client = api(users.secretary_a1)
    assert ids(client.get(URL)) == {tree.branch_a1.pk, tree.group_a1.pk}
    # the superior unit is outside the scope: not even its id is given
    row = client.get(detail(tree.branch_a1)).json()
    assert row["parent"] is None
    assert client.get(detail(tree.group_a1)).json()["parent"] == tree.branch_a1.pk


def test_other_units_are_not_found(api, users, tree):
    client = api(users.secretary_a1)
    for unit in (tree.branch_b1, tree.root, tree.branch_a2):
        response = client.get(detail(unit))
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    assert client.get(f"{URL}999999/").status_code == 404
    # an absurd id is "not found", never a server error
    assert client.get(f"{URL}99999999999999999999999/").status_code == 404


@pytest.mark.parametrize("who", ["audit_admin", "nobody"])
def test_roles_without_unit_access_are_forbidden(api, users, tree, who):
    client = api(getattr(users, who))
    assert client.get(URL).status_code == 403
    assert client.get(detail(tree.root)).status_code == 403


def test_anonymous_is_refused(api, tree):
    assert api(None).get(URL).status_code in (401, 403)


def test_filters(api, users, tree):
    client = api(users.party_admin)
    assert ids(client.get(URL, {"kind": "branch"})) == {
        tree.branch_a1.pk,
        tree.branch_a2.pk,
        tree.branch_b1.pk,
    }
    assert ids(client.get(URL, {"parent": tree.sub_a.pk})) == {tree.branch_a1.pk, tree.branch_a2.pk}
    assert ids(client.get(URL, {"within": tree.sub_a.pk})) == {
        tree.sub_a.pk,
        tree.branch_a1.pk,
        tree.group_a1.pk,
        tree.branch_a2.pk,
    }
    assert ids(client.get(URL, {"search": "B公司"})) == {tree.sub_b.pk, tree.branch_b1.pk}
    assert ids(client.get(URL, {"search": "a1g1"})) == {tree.group_a1.pk}
    Organization.objects.filter(pk=tree.branch_a2.pk).update(dissolved_on=datetime.date(2024, 1, 1))
    assert ids(client.get(URL, {"dissolved": "true"})) == {tree.branch_a2.pk}
    assert tree.branch_a2.pk not in ids(client.get(URL, {"dissolved": "false"}))


def test_filters_do_not_reach_outside_the_scope(api, users, tree):
    client = api(users.secretary_a1)
    assert ids(client.get(URL, {"within": tree.root.pk})) == set()
    assert ids(client.get(URL, {"parent": tree.sub_b.pk})) == set()


def test_bad_filter_values_are_400(api, users, tree):
    client = api(users.party_admin)
    response = client.get(URL, {"kind": "castle"})
    assert response.status_code == 400
    assert "kind" in response.json()["error"]["fields"]
    assert client.get(URL, {"within": "abc"}).status_code == 400
    assert ids(client.get(URL, {"within": "1e30"})) == set()


# ---------------------------------------------------------------- create


def test_party_admin_creates_a_branch(api, users, tree, entries):
    response = api(users.party_admin).post(
        URL,
        {"parent": tree.sub_a.pk, "name": " A公司第三党支部 ", "kind": "branch", "code": "A3"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    unit = Organization.objects.get(pk=body["id"])
    assert unit.name == "A公司第三党支部"
    assert Organization.objects.get_parent(unit).pk == tree.sub_a.pk
    assert body["parent"] == tree.sub_a.pk
    assert body["version"] == 1
    assert body["term_years"] == 3
    assert_api_entries(entries, users.party_admin, [("create", "orgs.organization")])
    entry = entries.new()[0]
    assert entry.object_id == str(unit.pk)
    assert entry.changes["name"] == [None, "A公司第三党支部"]


def test_create_without_code_numbers_the_unit(api, users, tree, entries):
    response = api(users.party_admin).post(
        URL, {"parent": tree.branch_b1.pk, "name": "第二党小组", "kind": "group"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["code"].startswith("DZZ-")
    # the first number also creates the number sequence
    assert_api_entries(
        entries,
        users.party_admin,
        [("create", "core.numbersequence"), ("create", "orgs.organization")],
    )


def test_secretary_may_not_create_units(api, users, tree, entries):
    before = Organization.objects.count()
    response = api(users.secretary_a1).post(
        URL, {"parent": tree.branch_a1.pk, "name": "新小组", "kind": "group"}, format="json"
    )
    assert response.status_code == 403
    assert Organization.objects.count() == before
    assert entries.new() == []


def test_create_under_a_unit_outside_the_scope_is_a_field_error(api, users, tree, entries):
    admin_a = make_user("admin_a")
    grant(admin_a, Role.PARTY_ADMIN, tree.sub_a)
    entries.mark()
    response = api(admin_a).post(
        URL, {"parent": tree.sub_b.pk, "name": "外单位支部", "kind": "branch"}, format="json"
    )
    assert response.status_code == 400
    assert "parent" in response.json()["error"]["fields"]
    # the same answer as for an id that does not exist
    response2 = api(admin_a).post(
        URL, {"parent": 999999, "name": "外单位支部", "kind": "branch"}, format="json"
    )
    assert response2.json()["parent"] == [
        response.json()["parent"][0].replace(str(tree.sub_b.pk), "999999")
    ]
    assert not Organization.objects.filter(name="外单位支部").exists()
    assert entries.new() == []


def test_only_the_system_admin_adds_a_top_level_unit(api, users, tree):
    data = {"name": "另一集团党委", "kind": "committee"}
    assert api(users.party_admin).post(URL, data, format="json").status_code == 403
    response = api(users.system_admin).post(URL, data, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["depth"] == 1


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "", "kind": "branch"}, "name"),
        ({"name": "x", "kind": "castle"}, "kind"),
        ({"name": "x"}, "kind"),
        ({"name": "x", "kind": "group"}, "kind"),  # a group cannot sit under a committee
        ({"name": "x", "kind": "branch", "code": "A1"}, "code"),  # taken
        ({"name": "x" * 201, "kind": "branch"}, "name"),
        ({"name": "x", "kind": "branch", "founded_on": "2999-01-01"}, "founded_on"),
        ({"name": "x", "kind": "branch", "founded_on": "yesterday"}, "founded_on"),
        ({"name": "x", "kind": "branch", "term_years": -1}, "term_years"),
        (
            {
                "name": "x",
                "kind": "branch",
                "founded_on": "2020-01-01",
                "term_started_on": "2019-01-01",
            },
            "term_started_on",
        ),
    ],
)
def test_bad_input_gives_field_errors_and_saves_nothing(api, users, tree, entries, data, field):
    before = Organization.objects.count()
    response = api(users.party_admin).post(URL, {"parent": tree.sub_a.pk, **data}, format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"]["code"] == "invalid"
    assert field in body["error"]["fields"]
    assert field in body  # DRF's flat field map too
    assert Organization.objects.count() == before
    assert entries.new() == []


def test_malformed_json_is_400(api, users, tree):
    response = api(users.party_admin).post(URL, data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


# ---------------------------------------------------------------- update


def test_update_requires_the_version(api, users, tree, entries):
    response = api(users.party_admin).patch(detail(tree.branch_a2), {"name": "改名"}, format="json")
    assert response.status_code == 400
    assert "version" in response.json()["error"]["fields"]
    assert Organization.objects.get(pk=tree.branch_a2.pk).name == "A公司第二党支部"
    assert entries.new() == []


def test_patch_with_current_version(api, users, tree, entries):
    response = api(users.party_admin).patch(
        detail(tree.branch_a2), {"name": "A公司第二党支部（改）", "version": 1}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["version"] == 2
    assert response.json()["name"] == "A公司第二党支部（改）"
    assert_api_entries(entries, users.party_admin, [("update", "orgs.organization")])
    assert entries.new()[0].changes["name"] == ["A公司第二党支部", "A公司第二党支部（改）"]


def test_stale_version_is_409_and_saves_nothing(api, users, tree, entries):
    client = api(users.party_admin)
    assert (
        client.patch(
            detail(tree.branch_a2), {"name": "第一次", "version": 1}, format="json"
        ).status_code
        == 200
    )
    entries.mark()
    response = client.patch(detail(tree.branch_a2), {"name": "第二次", "version": 1}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "stale"
    assert Organization.objects.get(pk=tree.branch_a2.pk).name == "第一次"
    assert entries.new() == []


def test_put_needs_the_required_fields(api, users, tree):
    client = api(users.party_admin)
    response = client.put(detail(tree.branch_a2), {"version": 1}, format="json")
    assert response.status_code == 400
    assert {"name", "kind"} <= set(response.json()["error"]["fields"])
    response = client.put(
        detail(tree.branch_a2), {"name": "新名", "kind": "branch", "version": 1}, format="json"
    )
    assert response.status_code == 200, response.content


def test_update_without_change_writes_no_entry(api, users, tree, entries):
    response = api(users.party_admin).patch(
        detail(tree.branch_a2), {"name": tree.branch_a2.name, "version": 1}, format="json"
    )
    assert response.status_code == 200
    # only the optimistic-lock counter moved: that is not a change worth an entry
    assert entries.new() == []


def test_member_may_read_but_not_change(api, users, tree, entries):
    client = api(users.member_a1)
    assert client.get(detail(tree.branch_a1)).status_code == 200
    response = client.patch(detail(tree.branch_a1), {"name": "x", "version": 1}, format="json")
    assert response.status_code == 403
    # forbidden comes before any complaint about the input
    assert client.patch(detail(tree.branch_a1), {"name": ""}, format="json").status_code == 403
    assert entries.new() == []


def test_update_outside_scope_is_404(api, users, tree):
    admin_a = make_user("admin_a")
    grant(admin_a, Role.PARTY_ADMIN, tree.sub_a)
    response = api(admin_a).patch(
        detail(tree.branch_b1), {"name": "x", "version": 1}, format="json"
    )
    assert response.status_code == 404
    # a role that may change no unit at all hears 403, whatever the unit
    response = api(users.secretary_b1).patch(
        detail(tree.branch_a1), {"name": "x", "version": 1}, format="json"
    )
    assert response.status_code == 403


def test_delete_is_not_allowed(api, users, tree, entries):
    response = api(users.party_admin).delete(detail(tree.branch_a2))
    assert response.status_code == 405
    assert Organization.objects.filter(pk=tree.branch_a2.pk).exists()
    assert entries.new() == []


# ---------------------------------------------------------------- move and dissolve


def test_move(api, users, tree, entries):
    response = api(users.party_admin).post(
        f"{detail(tree.branch_a2)}move/",
        {"parent": tree.sub_b.pk, "reason": "改隶", "version": 1},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["parent"] == tree.sub_b.pk
    assert parent_pk(tree.branch_a2) == tree.sub_b.pk
    assert_api_entries(entries, users.party_admin, [("update", "orgs.organization")])
    entry = entries.new()[0]
    assert entry.reason == "改隶"
    assert entry.changes["parent"] == ["A公司党委", "B公司党总支"]


@pytest.mark.parametrize(
    ("target", "field"),
    [("group_a1", "kind"), ("branch_a2", "parent"), ("sub_a", "parent")],
)
def test_bad_move_is_a_field_error(api, users, tree, entries, target, field):
    response = api(users.party_admin).post(
        f"{detail(tree.branch_a2)}move/",
        {"parent": getattr(tree, target).pk, "version": 1},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert parent_pk(tree.branch_a2) == tree.sub_a.pk
    assert entries.new() == []


def test_move_stale_and_forbidden(api, users, tree):
    url = f"{detail(tree.branch_a2)}move/"
    data = {"parent": tree.sub_b.pk, "version": 7}
    assert api(users.party_admin).post(url, data, format="json").status_code == 409
    assert api(users.auditor).post(url, data, format="json").status_code == 403
    admin_b = make_user("admin_b")
    grant(admin_b, Role.PARTY_ADMIN, tree.sub_b)
    assert api(admin_b).post(url, data, format="json").status_code == 404
    # moving one's own unit under a unit outside the scope: that parent does not exist
    response = api(admin_b).post(
        f"{detail(tree.branch_b1)}move/", {"parent": tree.sub_a.pk, "version": 1}, format="json"
    )
    assert response.status_code == 400
    assert "parent" in response.json()["error"]["fields"]


def test_dissolve(api, users, tree, entries):
    response = api(users.party_admin).post(
        f"{detail(tree.group_a1)}dissolve/",
        {"on": "2026-01-31", "reason": "撤销党小组", "version": 1},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["dissolved_on"] == "2026-01-31"
    assert response.json()["is_dissolved"] is True
    assert_api_entries(entries, users.party_admin, [("update", "orgs.organization")])
    assert entries.new()[0].reason == "撤销党小组"


def test_dissolve_rules(api, users, tree, entries):
    client = api(users.party_admin)
    # A1 still has a group and a member
    response = client.post(
        f"{detail(tree.branch_a1)}dissolve/",
        {"on": "2026-01-31", "reason": "合并", "version": 1},
        format="json",
    )
    assert response.status_code == 400
    assert "on" in response.json()["error"]["fields"]
    response = client.post(
        f"{detail(tree.group_a1)}dissolve/", {"on": "2026-01-31", "version": 1}, format="json"
    )
    assert response.status_code == 400
    assert "reason" in response.json()["error"]["fields"]
    assert Organization.objects.get(pk=tree.group_a1.pk).dissolved_on is None
    assert entries.new() == []
    assert (
        api(users.secretary_a1)
        .post(
            f"{detail(tree.group_a1)}dissolve/",
            {"on": "2026-01-31", "reason": "x", "version": 1},
            format="json",
        )
        .status_code
        == 403
    )


# ---------------------------------------------------------------- query count


def test_list_query_count_does_not_grow(api, users, tree):
    """The same number of queries for 10 and for 500 more units on the page."""
    client = api(users.party_admin)

    def add(n, start):
        for i in range(start, start + n):
            make_unit(f"党支部{i}", Organization.Kind.BRANCH, tree.sub_b, code=f"QB{i:04d}")

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


def test_odd_paths_under_api_answer_json_404(api, users):
    """Any path under /api/ that no endpoint takes is a JSON 404 — also one holding a
    newline or a dot (found by schemathesis: it used to fall through to the HTML page)."""
    client = api(users.party_admin)
    for path in ("/api/role-assignments/a.b%0Ac/", "/api/orgs/x%0A/", "/api/no-such-thing/"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response["Content-Type"].startswith("application/json"), path
        assert response.json()["error"]["code"] == "not_found"
