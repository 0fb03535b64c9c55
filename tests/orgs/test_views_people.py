"""People list and person pages: scope, filters, sorting, pagination, bad input, optimistic
locking, transfers and the change log."""

from __future__ import annotations

import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from pbqms.core.models import ChangeLogEntry
from pbqms.orgs import services
from pbqms.orgs.models import MembershipHistory, Person, Post
from tests.factories import make_person

S = Person.MemberStatus


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def url(name, *args):
    return reverse(f"orgs:{name}", args=args)


def html(response) -> str:
    return response.content.decode()


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


def last_entry(obj, action=None):
    qs = ChangeLogEntry.objects.filter(
        object_type=f"{obj._meta.app_label}.{obj._meta.model_name}", object_id=str(obj.pk)
    )
    if action:
        qs = qs.filter(action=action)
    return qs.order_by("-id").first()


def names_in(response) -> list[str]:
    """Person names in the table, in order."""
    return re.findall(r'class="fw-medium">([^<]+)</a>', html(response))


@pytest.fixture
def people(tree, users):
    """A handful of people across the tree (党员甲 of A1 comes from ``users``)."""
    return {
        "zhang": make_person(
            tree.branch_a1,
            "张红",
            gender="F",
            phone="13812345678",
            joined_on=datetime.date(2005, 7, 1),
        ),
        "li": make_person(
            tree.group_a1,
            "李明",
            member_status=S.PROBATIONARY,
            joined_on=datetime.date(2025, 7, 1),
        ),
        "wang": make_person(tree.branch_a2, "王强", member_status=S.ACTIVIST),
        "zhao": make_person(tree.branch_b1, "赵刚", phone="13900001111"),
    }


MAX_LIST_QUERIES = 15


def count_queries(client, *args, **kwargs):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(*args, **kwargs)
    assert response.status_code == 200
    return len(ctx.captured_queries), response


def bulk_people(org, n):
    Person.objects.bulk_create(
        Person(
            org=org, name=f"批量{i:04d}", gender="F", member_status=S.MASSES, phone="13700000000"
        )
        for i in range(n)
    )


# ---------------------------------------------------------------- list


class TestPersonList:
    def test_party_admin_sees_everyone(self, users, people, login):
        response = login(users.party_admin).get(url("person_list"))
        assert response.status_code == 200
        assert set(names_in(response)) == {"党员甲", "张红", "李明", "王强", "赵刚"}
        assert "5" in html(response).split('data-testid="total-count"')[1][:40]

    def test_secretary_sees_only_their_branch(self, users, people, login):
        response = login(users.secretary_a1).get(url("person_list"))
        assert set(names_in(response)) == {"党员甲", "张红", "李明"}
        assert "赵刚" not in html(response) and "王强" not in html(response)

    def test_auditor_sees_their_subtree(self, users, people, login):
        response = login(users.auditor).get(url("person_list"))
        assert set(names_in(response)) == {"党员甲", "张红", "李明", "王强"}

    @pytest.mark.parametrize("who", ["member_a1", "nobody", "expert", "audit_admin"])
    def test_users_without_person_view_are_forbidden(self, users, people, login, who):
        assert login(getattr(users, who)).get(url("person_list")).status_code == 403

    def test_phone_is_masked(self, users, people, login):
        body = html(login(users.party_admin).get(url("person_list")))
        assert "138****5678" in body and "13812345678" not in body

    @pytest.mark.parametrize(
        ("params", "expected"),
        [
            ({"q": "张"}, {"张红"}),
            ({"q": "13900001111"}, set()),  # phones are not searchable (masked)
            ({"member_status": S.PROBATIONARY}, {"李明"}),
            ({"gender": "F"}, {"张红"}),
            ({"member_status": S.FULL, "gender": "M"}, {"党员甲", "赵刚"}),
        ],
    )
    def test_filters(self, users, people, login, params, expected):
        response = login(users.party_admin).get(url("person_list"), params)
        assert set(names_in(response)) == expected

    def test_unit_filter_includes_the_subtree(self, users, tree, people, login):
        client = login(users.party_admin)
        response = client.get(url("person_list"), {"org": tree.branch_a1.pk})
        assert set(names_in(response)) == {"党员甲", "张红", "李明"}
        response = client.get(url("person_list"), {"org": tree.sub_b.pk})
        assert set(names_in(response)) == {"赵刚"}

    def test_unit_filter_outside_scope_shows_nothing(self, users, tree, people, login):
        response = login(users.secretary_a1).get(url("person_list"), {"org": tree.branch_b1.pk})
        assert response.status_code == 200
        assert names_in(response) == []
        assert "org" in response.context["form"].errors
        assert "赵刚" not in html(response)
        # the unit select offers only units in scope
        assert tree.branch_b1.name not in html(response)

    def test_post_filter(self, users, tree, people, login):
        person = services.create_person(
            actor=users.party_admin,
            org=tree.branch_a2,
            data={
                "name": "书记丙",
                "gender": "M",
                "member_status": S.FULL,
                "joined_on": datetime.date(2000, 1, 1),
            },
            posts=["secretary", "organization"],
        )
        response = login(users.party_admin).get(url("person_list"), {"post": "secretary"})
        assert names_in(response) == ["书记丙"]
        services.update_person(actor=users.party_admin, person=person, data={}, posts=[])
        response = login(users.party_admin).get(url("person_list"), {"post": "secretary"})
        assert names_in(response) == []

    def test_sorting(self, users, people, login):
        client = login(users.party_admin)
        by_name = names_in(client.get(url("person_list"), {"sort": "name"}))
        assert by_name == sorted(by_name)
        assert names_in(client.get(url("person_list"), {"sort": "-name"})) == by_name[::-1]
        joined = names_in(client.get(url("person_list"), {"sort": "-joined"}))
        assert joined[0] == "李明"  # 2025
        assert joined[-1] == "王强"  # no date: last
        status = names_in(client.get(url("person_list"), {"sort": "status"}))
        assert status[-1] == "王强" and status[-2] == "李明"
        # an unknown key falls back to the default
        assert client.get(url("person_list"), {"sort": "password"}).status_code == 200

    def test_pagination_and_per_page(self, users, tree, login):
        bulk_people(tree.branch_a1, 60)
        client = login(users.secretary_a1)
        response = client.get(url("person_list"))
        assert len(names_in(response)) == 25
        assert response.context["page"].paginator.count == 61
        response = client.get(url("person_list"), {"per_page": 50, "page": 2})
        assert len(names_in(response)) == 11
        response = client.get(url("person_list"), {"page": "last-ish"})
        assert response.status_code == 200

    def test_htmx_gets_only_the_table(self, users, people, login):
        response = login(users.party_admin).get(
            url("person_list"), {"q": "张"}, HTTP_HX_REQUEST="true"
        )
        body = html(response)
        assert "<html" not in body and 'data-testid="person-table"' in body
        assert "HX-Request" in response["Vary"]
        assert 'hx-swap-oob="true"' in body  # export link and sort follow the filters

    def test_export_button_follows_route_and_permission(self, users, people, login):
        from pbqms.orgs.views.people import export_url

        body = html(login(users.party_admin).get(url("person_list"), {"q": "张"}))
        if export_url(users.party_admin):
            assert 'data-testid="person-export"' in body
            assert (
                "q=%E5%BC%A0" in body.split('data-testid="person-export"')[0].rsplit("href=", 1)[1]
            )
        body = html(login(users.auditor).get(url("person_list")))
        assert 'data-testid="person-export"' not in body  # the auditor may not export

    def test_empty_state_offers_to_add(self, users, tree, login):
        Person.objects.all().delete()
        body = html(login(users.secretary_a1).get(url("person_list")))
        assert 'data-testid="person-empty"' in body
        assert url("person_create") in body
        body = html(login(users.secretary_a1).get(url("person_list"), {"q": "无人"}))
        assert (
            'data-testid="person-empty"' in body and "?q=" not in body.split("person-empty")[1][:50]
        )

    def test_query_count_does_not_grow(self, users, tree, login, django_assert_max_num_queries):
        client = login(users.party_admin)
        client.get(url("person_list"))
        bulk_people(tree.branch_a1, 10)
        params = {"org": tree.sub_a.pk, "sort": "-status", "q": "批量"}
        small_all, response = count_queries(client, url("person_list"))
        assert len(names_in(response)) == 11  # with 党员甲
        small_filtered, _ = count_queries(client, url("person_list"), params)
        bulk_people(tree.branch_a2, 490)
        bulk_people(tree.group_a1, 500)
        # the frame (session, user, menu …) adds a few queries of its own; the list itself
        # runs a fixed number whatever the data
        with django_assert_max_num_queries(MAX_LIST_QUERIES):
            big_all, response = count_queries(client, url("person_list"))
        assert response.context["page"].paginator.count == 1001
        with django_assert_max_num_queries(MAX_LIST_QUERIES):
            big_filtered, _ = count_queries(client, url("person_list"), {**params, "per_page": 100})
        assert (big_all, big_filtered) == (small_all, small_filtered)


# ---------------------------------------------------------------- detail


class TestPersonDetail:
    def test_secretary_sees_their_person(self, users, people, login):
        response = login(users.secretary_a1).get(url("person_detail", people["zhang"].pk))
        assert response.status_code == 200
        body = html(response)
        assert "张红" in body and "13812345678" in body  # may edit: full phone
        assert url("person_edit", people["zhang"].pk) in body
        assert url("person_transfer", people["zhang"].pk) in body
        assert 'data-testid="object-history"' in body or "tab-history" in body

    def test_auditor_sees_a_masked_phone_and_no_actions(self, users, people, login):
        response = login(users.auditor).get(url("person_detail", people["zhang"].pk))
        body = html(response)
        # nor in the change history tab
        assert "138****5678" in body and "13812345678" not in body
        assert url("person_edit", people["zhang"].pk) not in body

    @pytest.mark.parametrize("who", ["secretary_a1", "auditor", "nobody"])
    def test_other_units_people_are_not_found(self, users, people, login, who):
        response = login(getattr(users, who)).get(url("person_detail", people["zhao"].pk))
        assert response.status_code == 404

    def test_member_sees_their_own_page_only(self, users, people, login):
        client = login(users.member_a1)
        own = Person.objects.get(user=users.member_a1)
        response = client.get(url("person_detail", own.pk))
        assert response.status_code == 200
        assert url("person_edit", own.pk) not in html(response)
        assert client.get(url("person_detail", people["zhang"].pk)).status_code == 404

    def test_membership_history_after_transfer(self, users, tree, login):
        person = services.create_person(
            actor=users.party_admin,
            org=tree.branch_a1,
            data={
                "name": "调动人",
                "gender": "M",
                "member_status": S.FULL,
                "joined_on": datetime.date(2010, 1, 1),
            },
        )
        services.transfer_person(
            actor=users.party_admin,
            person=person,
            to_org=tree.branch_a2,
            on=datetime.date(2020, 5, 1),
            reason="工作调动",
        )
        body = html(login(users.auditor).get(url("person_detail", person.pk)))
        history = body.split('data-testid="membership-history"')[1]
        assert tree.branch_a1.name in history and tree.branch_a2.name in history
        assert "工作调动" in history


# ---------------------------------------------------------------- create


def person_data(**changes):
    data = {
        "name": "新党员",
        "gender": "F",
        "birth_date": "1990-05-01",
        "phone": "13611112222",
        "member_status": S.FULL,
        "joined_on": "2015-07-01",
        "probation_until": "",
    }
    data.update(changes)
    return data


class TestPersonCreate:
    def test_secretary_adds_a_person_with_posts(self, users, tree, login):
        client = login(users.secretary_a1)
        response = client.get(url("person_create"), {"org": tree.branch_a1.pk})
        assert response.status_code == 200
        assert response.context["form"].initial["org"] == tree.branch_a1
        # only units the secretary may add people to
        assert tree.branch_b1.name not in html(response)
        response = client.post(
            url("person_create"),
            person_data(org=tree.branch_a1.pk, posts=["secretary", "publicity"]),
        )
        person = Person.objects.get(name="新党员")
        assert response.status_code == 302
        assert response["Location"] == url("person_detail", person.pk)
        assert person.org == tree.branch_a1
        assert {p.title for p in person.current_posts()} == {"secretary", "publicity"}
        assert MembershipHistory.objects.filter(person=person, org=tree.branch_a1).exists()
        entry = last_entry(person, "create")
        assert entry.actor_id == users.secretary_a1.pk and entry.source == "ui"

    def test_unit_select_marks_the_choice_and_escapes_names(self, users, tree, login):
        from tests.factories import make_unit

        odd = make_unit("<b>特殊</b>党小组", "group", tree.branch_a1, code="ODD")
        body = html(login(users.secretary_a1).get(url("person_create"), {"org": odd.pk}))
        assert f'<option value="{odd.pk}" selected>' in body
        assert "&lt;b&gt;特殊&lt;/b&gt;党小组" in body and "<b>特殊" not in body
        # indented below the secretary's branch
        assert f'<option value="{tree.group_a1.pk}">\u3000第一党小组</option>' in body

    def test_save_and_add_another(self, users, tree, login):
        response = login(users.secretary_a1).post(
            url("person_create"), person_data(org=tree.group_a1.pk, add_another="1")
        )
        assert response["Location"] == f"{url('person_create')}?org={tree.group_a1.pk}"

    def test_bad_input_keeps_the_input_and_saves_nothing(self, users, tree, login):
        before = Person.objects.count()
        response = login(users.secretary_a1).post(
            url("person_create"),
            person_data(
                org=tree.branch_a1.pk, joined_on="", phone="12ab", name="保留的名字", gender=""
            ),
        )
        assert response.status_code == 200
        # the form's own errors and the service rules' errors come in one round
        errors = response.context["form"].errors
        assert {"gender", "joined_on", "phone"} <= set(errors)
        assert "保留的名字" in html(response)
        assert Person.objects.count() == before

    def test_too_young_to_join(self, users, tree, login):
        response = login(users.secretary_a1).post(
            url("person_create"),
            person_data(org=tree.branch_a1.pk, birth_date="2000-01-01", joined_on="2010-01-01"),
        )
        assert "joined_on" in response.context["form"].errors
        assert not Person.objects.filter(name="新党员").exists()

    def test_other_unit_is_refused(self, users, tree, login):
        client = login(users.secretary_a1)
        assert client.get(url("person_create"), {"org": tree.branch_b1.pk}).status_code == 404
        response = client.post(url("person_create"), person_data(org=tree.branch_b1.pk))
        assert "org" in response.context["form"].errors
        assert not Person.objects.filter(name="新党员").exists()

    @pytest.mark.parametrize("who", ["auditor", "member_a1", "nobody"])
    def test_roles_without_add_are_forbidden(self, users, tree, login, who):
        client = login(getattr(users, who))
        assert client.get(url("person_create")).status_code == 403
        assert (
            client.post(url("person_create"), person_data(org=tree.branch_a1.pk)).status_code == 403
        )
        assert not Person.objects.filter(name="新党员").exists()


# ---------------------------------------------------------------- edit


class TestPersonEdit:
    def data(self, person, **changes):
        data = {
            "name": person.name,
            "gender": person.gender,
            "birth_date": person.birth_date.isoformat() if person.birth_date else "",
            "phone": person.phone,
            "member_status": person.member_status,
            "joined_on": person.joined_on.isoformat() if person.joined_on else "",
            "probation_until": "",
            "version": person.version,
        }
        data.update(changes)
        return data

    def test_secretary_edits_and_the_change_is_logged(self, users, people, login):
        person = people["zhang"]
        response = login(users.secretary_a1).post(
            url("person_edit", person.pk),
            self.data(person, phone="13500000000", posts=["discipline"]),
        )
        assert response.status_code == 302
        person = fresh(person)
        assert person.phone == "13500000000"
        assert [p.title for p in person.current_posts()] == ["discipline"]
        entry = last_entry(person, "update")
        assert entry.actor_id == users.secretary_a1.pk
        assert entry.changes["phone"] == ["13812345678", "13500000000"]

    def test_posts_can_be_ended(self, users, people, login):
        person = people["zhang"]
        Post.objects.create(person=person, org=person.org, title="secretary")
        client = login(users.secretary_a1)
        body = html(client.get(url("person_edit", person.pk)))
        assert re.search(r'value="secretary"[^>]*checked', body)
        client.post(url("person_edit", person.pk), self.data(fresh(person)))
        post = Post.objects.get(person=person)
        assert post.ended_on == timezone.localdate()

    def test_stale_edit_is_refused(self, users, people, login):
        person = people["zhang"]
        data = self.data(person, name="我改的")
        Person.objects.filter(pk=person.pk).update(version=person.version + 1)
        response = login(users.secretary_a1).post(url("person_edit", person.pk), data)
        assert response.status_code == 200
        assert response.context["form"].non_field_errors()
        assert "我改的" in html(response)
        assert fresh(person).name == "张红"

    def test_bad_input(self, users, people, login):
        person = people["zhang"]
        response = login(users.secretary_a1).post(
            url("person_edit", person.pk), self.data(person, birth_date="2999-01-01", gender="X")
        )
        errors = response.context["form"].errors
        assert "gender" in errors
        response = login(users.secretary_a1).post(
            url("person_edit", person.pk), self.data(person, birth_date="2999-01-01")
        )
        assert "birth_date" in response.context["form"].errors
        assert fresh(person).birth_date is None and fresh(person).version == person.version

    def test_forbidden_and_not_found(self, users, people, login):
        assert login(users.auditor).get(url("person_edit", people["zhang"].pk)).status_code == 403
        own = Person.objects.get(user=users.member_a1)
        assert login(users.member_a1).get(url("person_edit", own.pk)).status_code == 403
        zhao = people["zhao"]
        response = login(users.secretary_a1).post(
            url("person_edit", zhao.pk), self.data(zhao, name="改")
        )
        assert response.status_code == 404
        assert fresh(zhao).name == "赵刚"


# ---------------------------------------------------------------- transfer


class TestPersonTransfer:
    def test_party_admin_transfers_with_history_and_log(self, users, tree, people, login):
        person = people["zhang"]
        MembershipHistory.objects.create(
            person=person, org=tree.branch_a1, started_on=datetime.date(2005, 7, 1), reason="join"
        )
        Post.objects.create(person=person, org=tree.branch_a1, title="publicity")
        response = login(users.party_admin).post(
            url("person_transfer", person.pk),
            {
                "to_org": tree.branch_b1.pk,
                "on": "2024-03-01",
                "reason": "工作调动",
                "version": person.version,
            },
        )
        assert response.status_code == 302
        person = fresh(person)
        assert person.org == tree.branch_b1
        stays = list(MembershipHistory.objects.filter(person=person).order_by("started_on"))
        assert [(s.org_id, s.ended_on) for s in stays] == [
            (tree.branch_a1.pk, datetime.date(2024, 3, 1)),
            (tree.branch_b1.pk, None),
        ]
        assert stays[1].note == "工作调动"
        assert person.current_posts() == []
        entry = last_entry(person, "update")
        assert entry.reason == "工作调动" and entry.actor_id == users.party_admin.pk
        assert entry.changes["org"] == [tree.branch_a1.pk, tree.branch_b1.pk]

    def test_secretary_transfers_within_scope_only(self, users, tree, people, login):
        person = people["zhang"]
        client = login(users.secretary_a1)
        body = html(client.get(url("person_transfer", person.pk)))
        assert tree.group_a1.name in body and tree.branch_b1.name not in body
        response = client.post(
            url("person_transfer", person.pk),
            {
                "to_org": tree.branch_b1.pk,
                "on": "2024-03-01",
                "reason": "调出",
                "version": person.version,
            },
        )
        assert response.status_code == 200
        assert "to_org" in response.context["form"].errors
        assert fresh(person).org == tree.branch_a1
        response = client.post(
            url("person_transfer", person.pk),
            {
                "to_org": tree.group_a1.pk,
                "on": "2024-03-01",
                "reason": "调整",
                "version": person.version,
            },
        )
        assert response.status_code == 302
        assert fresh(person).org == tree.group_a1

    def test_bad_input(self, users, tree, people, login):
        person = people["zhang"]
        future = (timezone.localdate() + datetime.timedelta(days=5)).isoformat()
        response = login(users.party_admin).post(
            url("person_transfer", person.pk),
            {"to_org": tree.branch_b1.pk, "on": future, "reason": "", "version": person.version},
        )
        errors = response.context["form"].errors
        assert "reason" in errors
        response = login(users.party_admin).post(
            url("person_transfer", person.pk),
            {
                "to_org": tree.branch_b1.pk,
                "on": future,
                "reason": "调动",
                "version": person.version,
            },
        )
        assert "on" in response.context["form"].errors
        assert "调动" in html(response)
        assert fresh(person).org == tree.branch_a1
        assert not MembershipHistory.objects.filter(person=person).exists()

    def test_stale_transfer_is_refused(self, users, tree, people, login):
        person = people["zhang"]
        Person.objects.filter(pk=person.pk).update(version=person.version + 1)
        response = login(users.party_admin).post(
            url("person_transfer", person.pk),
            {
                "to_org": tree.branch_b1.pk,
                "on": "2024-03-01",
                "reason": "调动",
                "version": person.version,
            },
        )
        assert response.context["form"].non_field_errors()
        assert fresh(person).org == tree.branch_a1

    def test_forbidden_and_not_found(self, users, tree, people, login):
        assert (
            login(users.auditor).get(url("person_transfer", people["zhang"].pk)).status_code == 403
        )
        zhao = people["zhao"]
        response = login(users.secretary_a1).post(
            url("person_transfer", zhao.pk),
            {
                "to_org": tree.branch_a1.pk,
                "on": "2024-03-01",
                "reason": "调入",
                "version": zhao.version,
            },
        )
        assert response.status_code == 404
        assert fresh(zhao).org == tree.branch_b1
