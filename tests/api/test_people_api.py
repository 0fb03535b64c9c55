"""/api/people/: scoping, phone masking, create/update/transfer through services."""

from __future__ import annotations

import datetime

import pytest

from pbqms.orgs.models import MembershipHistory, Person, Post
from tests.api.conftest import QUERY_CEILING, assert_api_entries, count_queries
from tests.factories import make_person

URL = "/api/people/"


def detail(person) -> str:
    return f"{URL}{person.pk}/"


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


@pytest.fixture
def people(tree, users):
    """One person per branch (plus 党员甲 in A1 from the users fixture)."""
    return {
        "a1": make_person(tree.branch_a1, "张三", phone="13812345678", gender="M"),
        "a2": make_person(tree.branch_a2, "李四", phone="13900001111", gender="F"),
        "g1": make_person(
            tree.group_a1, "王五", member_status=Person.MemberStatus.ACTIVIST, gender="F"
        ),
        "b1": make_person(tree.branch_b1, "赵六", phone="13700002222"),
    }


def new_person(unit, **extra):
    return {
        "org": unit.pk,
        "name": "新党员",
        "gender": "F",
        "member_status": "probationary",
        "birth_date": "1995-05-04",
        "joined_on": "2025-07-01",
        "phone": "13655556666",
        **extra,
    }


# ---------------------------------------------------------------- reading


def test_secretary_lists_their_branch_with_masked_phones(api, users, tree, people):
    response = api(users.secretary_a1).get(URL)
    member = Person.objects.get(user=users.member_a1)
    assert ids(response) == {people["a1"].pk, people["g1"].pk, member.pk}
    row = next(r for r in response.json()["results"] if r["id"] == people["a1"].pk)
    assert row["phone"] == "138****5678"
    assert row["org"] == tree.branch_a1.pk
    assert row["org_name"] == tree.branch_a1.name


def test_detail_shows_the_full_phone_only_to_those_who_may_change(api, users, people):
    assert api(users.secretary_a1).get(detail(people["a1"])).json()["phone"] == "13812345678"
    # the internal auditor may read people of sub A but not change them
    response = api(users.auditor).get(detail(people["a1"]))
    assert response.status_code == 200
    assert response.json()["phone"] == "138****5678"


def test_other_units_people_are_invisible(api, users, people):
    client = api(users.secretary_a1)
    assert client.get(detail(people["b1"])).status_code == 404
    assert client.get(detail(people["a2"])).status_code == 404
    assert people["b1"].pk not in ids(client.get(URL))


def test_member_sees_only_their_own_record(api, users, people):
    client = api(users.member_a1)
    member = Person.objects.get(user=users.member_a1)
    assert ids(client.get(URL)) == {member.pk}
    assert client.get(detail(member)).status_code == 200
    assert client.get(detail(people["a1"])).status_code == 404


@pytest.mark.parametrize("who", ["expert", "audit_admin", "security_admin", "nobody"])
def test_roles_without_people_access_are_forbidden(api, users, people, who):
    client = api(getattr(users, who))
    assert client.get(URL).status_code == 403
    assert client.get(detail(people["a1"])).status_code == 403


def test_filters(api, users, tree, people):
    client = api(users.party_admin)
    member = Person.objects.get(user=users.member_a1)
    assert ids(client.get(URL, {"org": tree.branch_a1.pk})) == {
        people["a1"].pk,
        people["g1"].pk,
        member.pk,
    }
    assert ids(client.get(URL, {"org": tree.sub_b.pk})) == {people["b1"].pk}
    assert ids(client.get(URL, {"member_status": "activist"})) == {people["g1"].pk}
    assert ids(client.get(URL, {"gender": "F"})) == {people["a2"].pk, people["g1"].pk}
    assert ids(client.get(URL, {"search": "张"})) == {people["a1"].pk}
    assert ids(client.get(URL, {"q": "李四"})) == {people["a2"].pk}


def test_filter_by_a_unit_outside_the_scope_is_400(api, users, tree, people):
    response = api(users.secretary_a1).get(URL, {"org": tree.branch_b1.pk})
    assert response.status_code == 400
    assert "org" in response.json()["error"]["fields"]
    assert api(users.secretary_a1).get(URL, {"gender": "X"}).status_code == 400


# ---------------------------------------------------------------- create


def test_secretary_adds_a_person(api, users, tree, entries):
    response = api(users.secretary_a1).post(
        URL, new_person(tree.branch_a1, posts=["publicity"]), format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    person = Person.objects.get(pk=body["id"])
    assert person.org_id == tree.branch_a1.pk
    assert body["phone"] == "13655556666"
    assert [p["title"] for p in body["posts"]] == ["publicity"]
    assert_api_entries(
        entries,
        users.secretary_a1,
        [
            ("create", "orgs.person"),
            ("create", "orgs.membershiphistory"),
            ("create", "orgs.post"),
        ],
    )
    assert entries.new()[0].changes["phone"] == [None, "13655556666"]


def test_add_to_a_unit_outside_the_scope_is_a_field_error(api, users, tree, entries):
    response = api(users.secretary_a1).post(URL, new_person(tree.branch_b1), format="json")
    assert response.status_code == 400
    assert "org" in response.json()["error"]["fields"]
    assert not Person.objects.filter(name="新党员").exists()
    assert entries.new() == []


def test_add_to_a_visible_unit_without_the_right_is_403(api, users, tree, entries):
    # the member may see their branch but not add people to it
    response = api(users.member_a1).post(URL, new_person(tree.branch_a1), format="json")
    assert response.status_code == 403
    # the auditor may read people, not add them
    response = api(users.auditor).post(URL, new_person(tree.branch_a1), format="json")
    assert response.status_code == 403
    assert entries.new() == []


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"name": "  "}, "name"),
        ({"gender": "X"}, "gender"),
        ({"member_status": "king"}, "member_status"),
        ({"joined_on": None}, "joined_on"),  # a party member has a joining date
        ({"joined_on": "2010-01-01"}, "joined_on"),  # joined at 14
        ({"birth_date": "2999-01-01"}, "birth_date"),
        ({"phone": "12ab"}, "phone"),
        ({"phone": "1" * 21}, "phone"),
        ({"posts": ["emperor"]}, "posts"),
        ({"posts": "secretary"}, "posts"),
        ({"org": "abc"}, "org"),
        ({"org": None}, "org"),
    ],
)
def test_bad_input_gives_field_errors_and_saves_nothing(api, users, tree, entries, extra, field):
    before = Person.objects.count()
    response = api(users.secretary_a1).post(URL, new_person(tree.branch_a1, **extra), format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert Person.objects.count() == before
    assert entries.new() == []


# ---------------------------------------------------------------- update


def test_update_with_version(api, users, people, entries):
    person = people["a1"]
    response = api(users.secretary_a1).patch(
        detail(person),
        {"phone": "13811112222", "posts": ["secretary"], "version": 1},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["version"] == 2
    assert response.json()["phone"] == "13811112222"
    assert_api_entries(
        entries, users.secretary_a1, [("update", "orgs.person"), ("create", "orgs.post")]
    )
    assert entries.new()[0].changes["phone"] == ["13812345678", "13811112222"]


def test_update_needs_version_and_refuses_a_stale_one(api, users, people, entries):
    client = api(users.secretary_a1)
    url = detail(people["a1"])
    response = client.patch(url, {"name": "张三丰"}, format="json")
    assert response.status_code == 400
    assert "version" in response.json()["error"]["fields"]
    assert client.patch(url, {"name": "张三丰", "version": 1}, format="json").status_code == 200
    entries.mark()
    response = client.patch(url, {"name": "张三疯", "version": 1}, format="json")
    assert response.status_code == 409
    assert Person.objects.get(pk=people["a1"].pk).name == "张三丰"
    assert entries.new() == []


def test_update_bad_input_keeps_the_record(api, users, people, entries):
    response = api(users.secretary_a1).patch(
        detail(people["a1"]), {"birth_date": "2999-01-01", "version": 1}, format="json"
    )
    assert response.status_code == 400
    assert "birth_date" in response.json()["error"]["fields"]
    assert Person.objects.get(pk=people["a1"].pk).version == 1
    assert entries.new() == []


def test_update_forbidden_and_out_of_scope(api, users, people):
    data = {"name": "x", "version": 1}
    assert api(users.auditor).patch(detail(people["a1"]), data, format="json").status_code == 403
    assert (
        api(users.secretary_b1).patch(detail(people["a1"]), data, format="json").status_code == 404
    )
    assert api(users.party_admin).delete(detail(people["a1"])).status_code == 405


# ---------------------------------------------------------------- transfer


def test_transfer_within_scope(api, users, tree, people, entries):
    Post.objects.create(person=people["a1"], org=tree.branch_a1, title="publicity")
    entries.mark()
    response = api(users.secretary_a1).post(
        f"{detail(people['a1'])}transfer/",
        {"to_org": tree.group_a1.pk, "reason": "调整党小组", "version": 1},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["org"] == tree.group_a1.pk
    assert response.json()["posts"] == []
    new = entries.new()
    assert_api_entries(
        entries,
        users.secretary_a1,
        [
            ("update", "orgs.post"),
            ("update", "orgs.person"),
            ("create", "orgs.membershiphistory"),
        ],
    )
    assert {e.reason for e in new} == {"调整党小组"}
    assert MembershipHistory.objects.filter(person=people["a1"], org=tree.group_a1).exists()


def test_transfer_errors(api, users, tree, people, entries):
    client = api(users.secretary_a1)
    url = f"{detail(people['a1'])}transfer/"
    # a unit outside the scope does not exist for the caller
    response = client.post(
        url, {"to_org": tree.branch_b1.pk, "reason": "x", "version": 1}, format="json"
    )
    assert response.status_code == 400
    assert "to_org" in response.json()["error"]["fields"]
    response = client.post(
        url, {"to_org": tree.group_a1.pk, "reason": "", "version": 1}, format="json"
    )
    assert response.status_code == 400
    assert "reason" in response.json()["error"]["fields"]
    future = (datetime.date.today() + datetime.timedelta(days=30)).isoformat()
    response = client.post(
        url,
        {"to_org": tree.group_a1.pk, "reason": "x", "on": future, "version": 1},
        format="json",
    )
    assert response.status_code == 400
    assert "on" in response.json()["error"]["fields"]
    response = client.post(
        url, {"to_org": tree.group_a1.pk, "reason": "x", "version": 5}, format="json"
    )
    assert response.status_code == 409
    assert Person.objects.get(pk=people["a1"].pk).org_id == tree.branch_a1.pk
    assert entries.new() == []
    response = api(users.auditor).post(
        url, {"to_org": tree.group_a1.pk, "reason": "x", "version": 1}, format="json"
    )
    assert response.status_code == 403


# ---------------------------------------------------------------- query count


def test_list_query_count_does_not_grow(api, users, tree):
    """The same number of queries for 10 and for 500 people (with posts) on the page."""
    client = api(users.party_admin)

    def add(n, start):
        Person.objects.bulk_create(
            Person(org=tree.branch_a2, name=f"人员{i}", gender="M", member_status="masses")
            for i in range(start, start + n)
        )
        added = Person.objects.filter(name__startswith="人员", posts__isnull=True)
        Post.objects.bulk_create(
            Post(person=p, org=tree.branch_a2, title="committee_member") for p in added
        )

    def get():
        response = client.get(URL, {"page_size": 500, "org": tree.sub_a.pk})
        assert response.status_code == 200
        return response

    add(10, 0)
    small = count_queries(get)
    add(490, 10)
    large = count_queries(get)
    rows = get().json()["results"]
    assert len(rows) == 500
    assert all(r["posts"] for r in rows if r["name"].startswith("人员"))
    assert small == large <= QUERY_CEILING


def test_malformed_requests_are_answered_in_json(api, users, tree, settings):
    client = api(users.secretary_a1)
    fields = {"org": tree.branch_a1.pk, "posts": ["secretary"] * 1200}
    response = client.post(URL, fields)  # multipart with more fields than allowed
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    response = client.post(URL, {"name": "x" * 500}, format="json")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert not Person.objects.filter(name__startswith="xxx").exists()
