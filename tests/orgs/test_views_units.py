"""Organisation tree and unit pages: scope (404 outside, 403 without the right), bad input,
optimistic locking, change log, and bounded query counts."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from pbqms.core.locking import StaleObjectError
from pbqms.core.models import ChangeLogEntry
from pbqms.core.roles import Role
from pbqms.orgs.models import Organization, Person
from pbqms.orgs.views.units import reelection_status
from tests.factories import grant, make_person, make_unit, make_user

K = Organization.Kind


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def url(name, *args):
    return reverse(f"orgs:{name}", args=args)


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


def last_entry(obj, action=None):
    qs = ChangeLogEntry.objects.filter(
        object_type=f"{obj._meta.app_label}.{obj._meta.model_name}", object_id=str(obj.pk)
    )
    if action:
        qs = qs.filter(action=action)
    return qs.order_by("-id").first()


def html(response) -> str:
    return response.content.decode()


# the frame (session, user, menu, current unit …) runs a few queries of its own; the pages
# themselves a fixed number whatever the data
MAX_PAGE_QUERIES = 15


def count_queries(client, *args, **kwargs):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(*args, **kwargs)
    assert response.status_code == 200
    return len(ctx.captured_queries), response


def add_people(org, n):
    Person.objects.bulk_create(
        Person(org=org, name=f"批量{org.code}{i:04d}", gender="M", member_status="masses")
        for i in range(n)
    )


# ---------------------------------------------------------------- tree


class TestTree:
    def test_anonymous_is_sent_to_sign_in(self, client, tree):
        response = client.get(url("tree"))
        assert response.status_code == 302
        assert reverse("accounts:login") in response["Location"]

    def test_party_admin_sees_the_whole_tree_opened_one_level(self, users, tree, login):
        response = login(users.party_admin).get(url("tree"))
        assert response.status_code == 200
        body = html(response)
        for unit in (tree.root, tree.sub_a, tree.sub_b):
            assert unit.name in body
        # deeper levels load lazily
        assert tree.branch_a1.name not in body
        assert url("tree_children", tree.sub_a.pk) in body

    def test_secretary_sees_only_their_branch(self, users, tree, login):
        response = login(users.secretary_a1).get(url("tree"))
        body = html(response)
        assert tree.branch_a1.name in body
        assert tree.group_a1.name in body  # the scope root is opened
        for unit in (tree.root, tree.sub_a, tree.branch_a2, tree.sub_b, tree.branch_b1):
            assert unit.name not in body

    @pytest.mark.parametrize("who", ["nobody", "audit_admin"])
    def test_users_without_unit_view_are_forbidden(self, users, login, who):
        response = login(getattr(users, who)).get(url("tree"))
        assert response.status_code == 403

    def test_direct_people_counts(self, users, tree, login):
        add_people(tree.branch_a1, 3)  # plus 党员甲 from the users fixture
        response = login(users.secretary_a1).get(url("tree"))
        body = html(response)
        row = body[body.index(f'data-unit="{tree.branch_a1.pk}"') :]
        assert 'ti-users"></i> 4' in row[: row.index("</summary>")]

    def test_htmx_request_gets_only_the_panel(self, users, tree, login):
        response = login(users.party_admin).get(url("tree"), HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        assert "<html" not in html(response)
        assert tree.root.name in html(response)
        assert "HX-Request" in response["Vary"]

    def test_search_finds_units_in_scope_with_their_path(self, users, tree, login):
        response = login(users.party_admin).get(url("tree"), {"q": "第一党支部"})
        body = html(response)
        assert 'data-testid="tree-search-results"' in body
        assert tree.branch_a1.name in body and tree.branch_b1.name in body
        assert f"{tree.root.name} › {tree.sub_a.name} ›" in body

    def test_search_by_code_stays_in_scope(self, users, tree, login):
        client = login(users.secretary_a1)
        assert tree.branch_b1.name not in html(client.get(url("tree"), {"q": "B1"}))
        body = html(client.get(url("tree"), {"q": "A1G1"}))
        assert tree.group_a1.name in body
        # the path shows only the part of the tree the user can see
        assert tree.sub_a.name not in body

    def test_search_without_match_explains(self, users, tree, login):
        body = html(login(users.party_admin).get(url("tree"), {"q": "不存在的单位"}))
        assert "不存在的单位" in body and "tree-search-results" in body

    def test_dissolved_units_hidden_unless_asked(self, users, tree, login):
        gone = make_unit("已撤销支部", K.BRANCH, tree.sub_a, dissolved_on=datetime.date(2024, 1, 1))
        client = login(users.party_admin)
        assert gone.name not in html(client.get(url("tree_children", tree.sub_a.pk)))
        body = html(client.get(url("tree_children", tree.sub_a.pk), {"dissolved": "1"}))
        assert gone.name in body and "pb-status-dissolved" in body
        body = html(client.get(url("tree"), {"q": "已撤销"}))
        assert gone.name not in body
        assert gone.name in html(client.get(url("tree"), {"q": "已撤销", "dissolved": "1"}))

    def test_query_count_does_not_grow_with_people_or_units(
        self, users, tree, login, django_assert_max_num_queries
    ):
        client = login(users.party_admin)
        client.get(url("tree"))  # warm caches (content types, session)
        add_people(tree.sub_a, 10)
        small, _ = count_queries(client, url("tree"))
        small_search, _ = count_queries(client, url("tree"), {"q": "党委"})
        add_people(tree.sub_a, 490)
        add_people(tree.sub_b, 500)
        for i in range(30):
            make_unit(f"新党委{i}", K.COMMITTEE, tree.root, code=f"NEW{i}")
        with django_assert_max_num_queries(MAX_PAGE_QUERIES):
            big, response = count_queries(client, url("tree"))
        assert "新党委29" in html(response)
        with django_assert_max_num_queries(MAX_PAGE_QUERIES):
            big_search, response = count_queries(client, url("tree"), {"q": "党委"})
        assert "新党委29" in html(response)
        assert (big, big_search) == (small, small_search)


class TestTreeChildren:
    def test_rows_of_one_unit(self, users, tree, login):
        response = login(users.party_admin).get(url("tree_children", tree.sub_a.pk))
        assert response.status_code == 200
        body = html(response)
        assert tree.branch_a1.name in body and tree.branch_a2.name in body
        assert tree.group_a1.name not in body
        # A1 has a group: it can be opened; A2 has none
        assert url("tree_children", tree.branch_a1.pk) in body
        assert url("tree_children", tree.branch_a2.pk) not in body
        assert "HX-Request" in response["Vary"]

    def test_other_units_children_are_not_found(self, users, tree, login):
        client = login(users.secretary_a1)
        assert client.get(url("tree_children", tree.sub_b.pk)).status_code == 404
        assert client.get(url("tree_children", tree.sub_a.pk)).status_code == 404
        assert client.get(url("tree_children", 999999)).status_code == 404

    def test_single_unit_grant_does_not_open_its_children(self, tree, login):
        user = make_user("single")
        grant(user, Role.INTERNAL_AUDITOR, tree.branch_a1, subtree=False)
        body = html(login(user).get(url("tree")))
        assert tree.branch_a1.name in body
        assert url("tree_children", tree.branch_a1.pk) not in body
        assert login(user).get(url("tree_children", tree.sub_a.pk)).status_code == 404

    def test_query_count_does_not_grow_with_children(
        self, users, tree, login, django_assert_max_num_queries
    ):
        client = login(users.party_admin)
        client.get(url("tree_children", tree.sub_a.pk))
        small, _ = count_queries(client, url("tree_children", tree.sub_a.pk))
        for i in range(25):
            make_unit(f"支部{i}", K.BRANCH, tree.sub_a, code=f"AB{i}")
        add_people(tree.branch_a1, 500)
        with django_assert_max_num_queries(MAX_PAGE_QUERIES):
            big, response = count_queries(client, url("tree_children", tree.sub_a.pk))
        assert "支部24" in html(response)
        assert big == small


# ---------------------------------------------------------------- detail


class TestUnitDetail:
    def test_party_admin_sees_all_actions_and_tabs(self, users, tree, login):
        response = login(users.party_admin).get(url("unit_detail", tree.branch_a1.pk))
        assert response.status_code == 200
        body = html(response)
        for name in ("unit_edit", "unit_move", "unit_dissolve"):
            assert url(name, tree.branch_a1.pk) in body
        assert f"{url('unit_create')}?parent={tree.branch_a1.pk}" in body
        assert tree.sub_a.name in body  # breadcrumb
        assert tree.group_a1.name in body  # subordinate units tab
        assert "党员甲" in body  # people tab
        assert 'data-testid="object-history"' in body

    def test_secretary_sees_their_branch_without_unit_actions(self, users, tree, login):
        response = login(users.secretary_a1).get(url("unit_detail", tree.branch_a1.pk))
        assert response.status_code == 200
        body = html(response)
        for name in ("unit_edit", "unit_move", "unit_dissolve"):
            assert url(name, tree.branch_a1.pk) not in body
        assert f"{url('person_create')}?org={tree.branch_a1.pk}" in body
        # superior units outside the scope are not shown
        assert tree.sub_a.name not in body

    def test_member_sees_the_unit_but_not_its_people(self, users, tree, login):
        response = login(users.member_a1).get(url("unit_detail", tree.branch_a1.pk))
        assert response.status_code == 200
        assert "#tab-people" not in html(response)

    @pytest.mark.parametrize("who", ["secretary_a1", "member_a1", "nobody"])
    def test_other_units_are_not_found(self, users, tree, login, who):
        response = login(getattr(users, who)).get(url("unit_detail", tree.branch_b1.pk))
        assert response.status_code == 404

    def test_post_holders_are_listed(self, users, tree, login):
        from pbqms.orgs import services

        services.create_person(
            actor=users.party_admin,
            org=tree.branch_a1,
            data={
                "name": "书记乙",
                "gender": "F",
                "member_status": "full",
                "joined_on": datetime.date(2001, 7, 1),
            },
            posts=["secretary"],
        )
        body = html(login(users.member_a1).get(url("unit_detail", tree.branch_a1.pk)))
        assert "书记乙" in body

    def test_reelection_badge(self, users, tree, login):
        today = timezone.localdate()
        unit = fresh(tree.branch_a1)
        unit.term_years = 3
        unit.term_started_on = today.replace(year=today.year - 3) + datetime.timedelta(days=60)
        assert reelection_status(unit, today) == "due"
        unit.save()
        body = html(login(users.party_admin).get(url("unit_detail", unit.pk)))
        assert 'data-testid="reelection-badge"' in body
        unit.term_started_on = today.replace(year=today.year - 3) - datetime.timedelta(days=1)
        assert reelection_status(unit, today) == "overdue"
        unit.term_started_on = today.replace(year=today.year - 2)
        assert reelection_status(unit, today) is None
        unit.save()
        body = html(login(users.party_admin).get(url("unit_detail", unit.pk)))
        assert 'data-testid="reelection-badge"' not in body

    def test_query_count_bounded(self, users, tree, login, django_assert_max_num_queries):
        client = login(users.party_admin)
        client.get(url("unit_detail", tree.sub_a.pk))
        small, _ = count_queries(client, url("unit_detail", tree.sub_a.pk))
        add_people(tree.sub_a, 500)
        for i in range(20):
            make_unit(f"支部{i}", K.BRANCH, tree.sub_a, code=f"AB{i}")
        with django_assert_max_num_queries(MAX_PAGE_QUERIES + 4):
            big, _ = count_queries(client, url("unit_detail", tree.sub_a.pk))
        assert big == small


# ---------------------------------------------------------------- create


class TestUnitCreate:
    def test_party_admin_adds_a_branch(self, users, tree, login):
        client = login(users.party_admin)
        assert client.get(url("unit_create"), {"parent": tree.sub_a.pk}).status_code == 200
        response = client.post(
            f"{url('unit_create')}?parent={tree.sub_a.pk}",
            {"name": "A公司第三党支部", "kind": K.BRANCH, "code": "A3", "founded_on": "2020-01-01"},
        )
        unit = Organization.objects.get(code="A3")
        assert response.status_code == 302
        assert response["Location"] == url("unit_detail", unit.pk)
        assert Organization.objects.get_parent(unit) == tree.sub_a
        assert unit.term_years == 3  # default for the kind
        entry = last_entry(unit, "create")
        assert entry.actor_id == users.party_admin.pk and entry.source == "ui"

    def test_kind_choices_follow_the_parent(self, users, tree, login):
        body = html(login(users.party_admin).get(url("unit_create"), {"parent": tree.branch_a1.pk}))
        assert 'value="group"' in body and 'value="branch"' not in body

    def test_bad_input_keeps_the_input_and_saves_nothing(self, users, tree, login):
        before = Organization.objects.count()
        future = (timezone.localdate() + datetime.timedelta(days=3)).isoformat()
        response = login(users.party_admin).post(
            f"{url('unit_create')}?parent={tree.sub_a.pk}",
            {"name": "新支部", "kind": K.GROUP, "code": "KEEP-ME", "founded_on": future},
        )
        assert response.status_code == 200
        form = response.context["form"]
        assert "kind" in form.errors
        assert "KEEP-ME" in html(response) and "新支部" in html(response)
        assert Organization.objects.count() == before

    def test_service_errors_show_on_their_field(self, users, tree, login):
        before = Organization.objects.count()
        future = (timezone.localdate() + datetime.timedelta(days=3)).isoformat()
        response = login(users.party_admin).post(
            f"{url('unit_create')}?parent={tree.sub_a.pk}",
            {"name": "新支部", "kind": K.BRANCH, "code": "B1", "founded_on": future},
        )
        form = response.context["form"]
        assert "code" in form.errors and "founded_on" in form.errors
        assert "is-invalid" in html(response)
        assert Organization.objects.count() == before

    def test_secretary_may_not_add_units(self, users, tree, login):
        client = login(users.secretary_a1)
        assert client.get(url("unit_create"), {"parent": tree.branch_a1.pk}).status_code == 403
        response = client.post(
            f"{url('unit_create')}?parent={tree.branch_a1.pk}", {"name": "组", "kind": K.GROUP}
        )
        assert response.status_code == 403
        assert not Organization.objects.filter(name="组").exists()

    def test_other_units_parent_is_not_found(self, users, tree, login):
        client = login(users.secretary_a1)
        assert client.get(url("unit_create"), {"parent": tree.branch_b1.pk}).status_code == 404
        assert client.get(url("unit_create"), {"parent": "x"}).status_code == 404

    def test_top_level_only_for_the_system_administrator(self, users, tree, login):
        assert login(users.party_admin).get(url("unit_create")).status_code == 403
        client = login(users.system_admin)
        assert client.get(url("unit_create")).status_code == 200
        response = client.post(url("unit_create"), {"name": "第二集团党委", "kind": K.COMMITTEE})
        assert response.status_code == 302
        assert Organization.objects.get(name="第二集团党委").is_root()


# ---------------------------------------------------------------- edit


class TestUnitEdit:
    def data(self, unit, **changes):
        data = {
            "name": unit.name,
            "short_name": unit.short_name,
            "code": unit.code,
            "kind": unit.kind,
            "founded_on": "",
            "term_years": unit.term_years or "",
            "term_started_on": "",
            "version": unit.version,
        }
        data.update(changes)
        return data

    def test_party_admin_edits_and_the_change_is_logged(self, users, tree, login):
        unit = fresh(tree.branch_a1)
        response = login(users.party_admin).post(
            url("unit_edit", unit.pk), self.data(unit, name="A公司第一党支部（改）")
        )
        assert response.status_code == 302
        assert fresh(unit).name == "A公司第一党支部（改）"
        entry = last_entry(unit, "update")
        assert entry.actor_id == users.party_admin.pk
        assert entry.changes["name"] == ["A公司第一党支部", "A公司第一党支部（改）"]

    def test_form_shows_current_values_and_version(self, users, tree, login):
        body = html(login(users.party_admin).get(url("unit_edit", tree.branch_a1.pk)))
        assert 'name="version"' in body and tree.branch_a1.name in body

    def test_stale_edit_is_refused_and_keeps_the_input(self, users, tree, login):
        unit = fresh(tree.branch_a1)
        data = self.data(unit, name="我的修改")
        Organization.objects.filter(pk=unit.pk).update(version=unit.version + 1, name="别人的修改")
        response = login(users.party_admin).post(url("unit_edit", unit.pk), data)
        assert response.status_code == 200
        assert str(StaleObjectError().messages[0]) in response.context["form"].non_field_errors()
        assert "我的修改" in html(response)
        assert fresh(unit).name == "别人的修改"

    def test_bad_input(self, users, tree, login):
        unit = fresh(tree.branch_a1)
        response = login(users.party_admin).post(
            url("unit_edit", unit.pk), self.data(unit, name="  ", code="A2")
        )
        assert response.status_code == 200
        assert "name" in response.context["form"].errors
        response = login(users.party_admin).post(
            url("unit_edit", unit.pk), self.data(unit, code="A2")
        )
        assert "code" in response.context["form"].errors
        assert fresh(unit).code == "A1" and fresh(unit).version == unit.version

    def test_kind_change_that_children_do_not_fit_is_refused(self, users, tree, login):
        unit = fresh(tree.branch_a1)  # has a party group
        response = login(users.party_admin).post(
            url("unit_edit", unit.pk), self.data(unit, kind=K.JOINT_BRANCH)
        )
        assert response.status_code == 302  # a joint branch may have groups
        unit = fresh(unit)
        response = login(users.party_admin).post(
            url("unit_edit", unit.pk), self.data(unit, kind=K.GROUP)
        )
        assert "kind" in response.context["form"].errors
        assert fresh(unit).kind == K.JOINT_BRANCH

    def test_secretary_forbidden_and_other_unit_not_found(self, users, tree, login):
        client = login(users.secretary_a1)
        assert client.get(url("unit_edit", tree.branch_a1.pk)).status_code == 403
        unit = fresh(tree.branch_b1)
        response = client.post(url("unit_edit", unit.pk), self.data(unit, name="改"))
        assert response.status_code == 404
        assert fresh(unit).name == tree.branch_b1.name


# ---------------------------------------------------------------- move


class TestUnitMove:
    def test_party_admin_moves_a_branch_with_reason(self, users, tree, login):
        unit = fresh(tree.branch_a1)
        client = login(users.party_admin)
        body = html(client.get(url("unit_move", unit.pk)))
        # only units that can take a branch, and not the current parent
        assert tree.sub_b.name in body and tree.branch_a2.name not in body
        assert f'value="{tree.sub_a.pk}"' not in body
        response = client.post(
            url("unit_move", unit.pk),
            {"parent": tree.sub_b.pk, "reason": "企业重组", "version": unit.version},
        )
        assert response.status_code == 302
        moved = fresh(unit)
        assert moved.path.startswith(fresh(tree.sub_b).path)
        assert fresh(tree.group_a1).path.startswith(moved.path)  # the subtree moves along
        entry = last_entry(unit, "update")
        assert entry.reason == "企业重组" and entry.actor_id == users.party_admin.pk
        assert entry.changes["parent"] == [tree.sub_a.name, tree.sub_b.name]

    def test_reason_is_required(self, users, tree, login):
        unit = fresh(tree.branch_a1)
        response = login(users.party_admin).post(
            url("unit_move", unit.pk), {"parent": tree.sub_b.pk, "reason": " ", "version": 1}
        )
        assert "reason" in response.context["form"].errors
        assert fresh(unit).path == unit.path

    def test_own_subordinate_is_not_a_choice(self, users, tree, login):
        inner = make_unit("A内设党委", K.COMMITTEE, tree.sub_a, code="AC")
        unit = fresh(tree.sub_a)
        response = login(users.party_admin).post(
            url("unit_move", unit.pk), {"parent": inner.pk, "reason": "试", "version": unit.version}
        )
        assert "parent" in response.context["form"].errors
        assert fresh(unit).path == unit.path

    def test_stale_move_is_refused(self, users, tree, login):
        unit = fresh(tree.branch_a1)
        response = login(users.party_admin).post(
            url("unit_move", unit.pk),
            {"parent": tree.sub_b.pk, "reason": "重组", "version": unit.version + 5},
        )
        assert response.context["form"].non_field_errors()
        assert fresh(unit).path == unit.path

    def test_root_cannot_be_moved(self, users, tree, login):
        response = login(users.party_admin).get(url("unit_move", tree.root.pk))
        assert response.status_code == 200
        assert response.context["is_root"]

    def test_secretary_forbidden_and_other_unit_not_found(self, users, tree, login):
        client = login(users.secretary_a1)
        assert client.get(url("unit_move", tree.branch_a1.pk)).status_code == 403
        response = client.post(
            url("unit_move", tree.branch_b1.pk), {"parent": tree.sub_a.pk, "reason": "x"}
        )
        assert response.status_code == 404


# ---------------------------------------------------------------- dissolve


class TestUnitDissolve:
    def test_party_admin_dissolves_an_empty_unit(self, users, tree, login):
        unit = fresh(tree.branch_a2)
        response = login(users.party_admin).post(
            url("unit_dissolve", unit.pk),
            {"on": "2025-06-30", "reason": "支部合并", "version": unit.version},
        )
        assert response.status_code == 302
        unit = fresh(unit)
        assert unit.dissolved_on == datetime.date(2025, 6, 30)
        assert unit.dissolution_reason == "支部合并"
        entry = last_entry(unit, "update")
        assert entry.reason == "支部合并" and entry.actor_id == users.party_admin.pk
        # the detail page shows it dissolved, without the dissolve action
        body = html(login(users.party_admin).get(url("unit_detail", unit.pk)))
        assert "pb-status-dissolved" in body and url("unit_dissolve", unit.pk) not in body

    def test_refused_with_active_subordinate_units(self, users, tree, login):
        unit = fresh(tree.branch_a1)
        Person.objects.all().delete()
        response = login(users.party_admin).post(
            url("unit_dissolve", unit.pk),
            {"on": "2025-06-30", "reason": "x", "version": unit.version},
        )
        assert response.status_code == 200
        assert response.context["form"].errors["on"]
        assert fresh(unit).dissolved_on is None

    def test_refused_while_people_remain(self, users, tree, login):
        unit = fresh(tree.branch_a2)
        make_person(unit, "留下的人")
        response = login(users.party_admin).post(
            url("unit_dissolve", unit.pk),
            {"on": "2025-06-30", "reason": "x", "version": unit.version},
        )
        assert response.context["form"].errors["on"]
        assert fresh(unit).dissolved_on is None

    def test_reason_and_date_required(self, users, tree, login):
        unit = fresh(tree.branch_a2)
        response = login(users.party_admin).post(
            url("unit_dissolve", unit.pk), {"on": "", "reason": "", "version": unit.version}
        )
        errors = response.context["form"].errors
        assert "on" in errors and "reason" in errors
        assert fresh(unit).dissolved_on is None

    def test_stale_dissolve_is_refused(self, users, tree, login):
        unit = fresh(tree.branch_a2)
        Organization.objects.filter(pk=unit.pk).update(version=unit.version + 1)
        response = login(users.party_admin).post(
            url("unit_dissolve", unit.pk),
            {"on": "2025-06-30", "reason": "支部合并", "version": unit.version},
        )
        assert response.context["form"].non_field_errors()
        assert "支部合并" in html(response)
        assert fresh(unit).dissolved_on is None

    def test_secretary_forbidden_and_other_unit_not_found(self, users, tree, login):
        client = login(users.secretary_a1)
        assert client.get(url("unit_dissolve", tree.branch_a1.pk)).status_code == 403
        response = client.post(
            url("unit_dissolve", tree.branch_b1.pk), {"on": "2025-01-01", "reason": "x"}
        )
        assert response.status_code == 404
        assert fresh(tree.branch_b1).dissolved_on is None
