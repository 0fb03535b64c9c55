"""Pages of work plans: role matrix, scope (404), bad input, query counts."""

from __future__ import annotations

import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from pbqms.core.models import ChangeLogEntry
from pbqms.orgs.models import Organization
from pbqms.plans import services
from pbqms.plans.models import PlanItem, Task, WorkPlan
from tests.factories import make_unit
from tests.plans.conftest import YEAR, in_year, make_plan, make_record

K = Organization.Kind


def _task(plan, org):
    return Task.objects.get(item__plan=plan, org=org, item__title="每月召开支委会")


# ---------------------------------------------------------------- lists


@pytest.mark.parametrize(
    "name", ["plans:plan_list", "plans:task_list", "plans:calendar", "plans:pdca"]
)
def test_pages_open_for_admin_and_secretary(name, branch_plan, users, login):
    for user in (users.party_admin, users.secretary_a1):
        response = login(user).get(reverse(name))
        assert response.status_code == 200, (name, user)


@pytest.mark.parametrize(
    "name", ["plans:plan_list", "plans:task_list", "plans:calendar", "plans:pdca"]
)
def test_pages_forbidden_without_role(name, users, login):
    assert login(users.nobody).get(reverse(name)).status_code == 403
    assert login(users.system_admin).get(reverse(name)).status_code == 403


def test_task_list_secretary_sees_only_own_branch(branch_plan, users, login, tree):
    response = login(users.secretary_a1).get(reverse("plans:task_list"))
    tasks = list(response.context["tasks"])
    assert tasks and {t.org_id for t in tasks} == {tree.branch_a1.pk}
    # filtering by another branch is refused (not a visible choice), nothing listed
    response = login(users.secretary_a1).get(reverse("plans:task_list"), {"org": tree.branch_b1.pk})
    assert not list(response.context["tasks"])


def test_task_list_overdue_filter(users, login, tree):
    make_plan(users.secretary_a1, tree.branch_a1, year=YEAR - 1, items=[{}], publish=True)
    make_plan(users.secretary_a1, tree.branch_a1, items=[{}], publish=True)
    response = login(users.secretary_a1).get(reverse("plans:task_list"), {"overdue": "1"})
    tasks = list(response.context["tasks"])
    assert len(tasks) == 1 and tasks[0].due_on.year == YEAR - 1
    assert b'data-testid="task-overdue"' in response.content


def test_plan_list_htmx_returns_table(branch_plan, users, login):
    response = login(users.party_admin).get(reverse("plans:plan_list"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert b"<html" not in response.content
    assert branch_plan.title.encode() in response.content


# ---------------------------------------------------------------- plan pages


def test_other_branchs_plan_and_task_are_404(users, login, tree, branch_plan):
    b1_plan = make_plan(users.party_admin, tree.branch_b1, items=[{}], publish=True)
    b1_task = Task.objects.get(item__plan=b1_plan)
    client = login(users.secretary_a1)
    assert client.get(reverse("plans:plan_detail", args=[b1_plan.pk])).status_code == 404
    assert client.get(reverse("plans:plan_edit", args=[b1_plan.pk])).status_code == 404
    assert client.get(reverse("plans:task_detail", args=[b1_task.pk])).status_code == 404
    assert client.post(reverse("plans:plan_publish", args=[b1_plan.pk])).status_code == 404
    # the committee's plan is not the secretary's to see either (only their task)
    assert client.get(reverse("plans:plan_detail", args=[branch_plan.pk])).status_code == 404
    assert (
        client.get(
            reverse("plans:task_detail", args=[_task(branch_plan, tree.branch_a1).pk])
        ).status_code
        == 200
    )


def test_auditor_reads_but_cannot_create(users, login, tree, branch_plan):
    client = login(users.auditor)
    assert client.get(reverse("plans:plan_list")).status_code == 200
    assert client.get(reverse("plans:plan_create")).status_code == 403


def test_create_plan_and_item_flow(users, login, tree):
    client = login(users.secretary_a1)
    response = client.post(
        reverse("plans:plan_create"),
        {"org": tree.branch_a1.pk, "year": YEAR, "title": "第一支部年度计划", "description": ""},
    )
    plan = WorkPlan.objects.get(org=tree.branch_a1)
    assert response.status_code == 302
    url = reverse("plans:item_create", args=[plan.pk])
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {
            "title": "讲党课",
            "due_on": f"{YEAR}-06-30",
            "category": "ideological",
            "target_orgs": [tree.group_a1.pk],
        },
    )
    assert response.status_code == 302, response.context["form"].errors
    item = plan.items.get()
    assert list(item.target_orgs.all()) == [tree.group_a1]
    response = client.post(reverse("plans:plan_publish", args=[plan.pk]))
    assert response.status_code == 302
    assert Task.objects.filter(item=item, org=tree.group_a1).exists()
    page = client.get(reverse("plans:plan_detail", args=[plan.pk]) + "?tab=units")
    assert page.status_code == 200
    assert b"plan-completion-data" in page.content
    assert (
        client.get(reverse("plans:plan_detail", args=[plan.pk]) + "?tab=history").status_code == 200
    )


def test_bad_input_keeps_input_and_saves_nothing(users, login, tree):
    client = login(users.secretary_a1)
    response = client.post(
        reverse("plans:plan_create"), {"org": tree.branch_a1.pk, "year": "abc", "title": "我的计划"}
    )
    assert response.status_code == 200
    assert "year" in response.context["form"].errors
    assert b"\xe6\x88\x91\xe7\x9a\x84\xe8\xae\xa1\xe5\x88\x92" in response.content  # 我的计划 kept
    assert not WorkPlan.objects.exists()
    plan = make_plan(users.secretary_a1, tree.branch_a1)
    response = client.post(
        reverse("plans:item_create", args=[plan.pk]),
        {"title": "事项", "due_on": f"{YEAR + 1}-01-10"},
    )
    assert response.status_code == 200
    assert "due_on" in response.context["form"].errors
    assert not PlanItem.objects.exists()
    # another branch's unit as the plan's unit: not a choice
    response = client.post(
        reverse("plans:plan_create"), {"org": tree.branch_b1.pk, "year": YEAR, "title": "x"}
    )
    assert "org" in response.context["form"].errors


def test_field_errors_in_chinese(users, client, login, tree):
    login(users.secretary_a1)
    response = client.post(
        reverse("plans:plan_create"),
        {"org": tree.branch_a1.pk, "year": "", "title": ""},
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    html = response.content.decode()
    errors = re.findall(r'invalid-feedback d-block">([^<]+)<', html)
    assert errors and all(re.search(r"[\u4e00-\u9fff]", e) for e in errors), errors


def test_stale_item_edit_refused(users, login, tree):
    plan = make_plan(users.secretary_a1, tree.branch_a1, items=[{"title": "旧标题"}])
    item = plan.items.get()
    url = reverse("plans:item_edit", args=[plan.pk, item.pk])
    client = login(users.secretary_a1)
    data = {"title": "新标题", "due_on": f"{YEAR}-05-01", "version": item.version}
    PlanItem.objects.filter(pk=item.pk).update(version=item.version + 1)
    response = client.post(url, data)
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    item.refresh_from_db()
    assert item.title == "旧标题"


# ---------------------------------------------------------------- task completion


def test_complete_task_page(branch_plan, users, login, tree, template):
    task = _task(branch_plan, tree.branch_a1)
    url = reverse("plans:task_detail", args=[task.pk])
    client = login(users.secretary_a1)
    response = client.post(url, {"records": [], "note": "无"})
    assert response.status_code == 200
    assert "records" in response.context["complete_form"].errors
    task.refresh_from_db()
    assert task.status == Task.Status.OPEN
    record = make_record(tree.branch_a1, template)
    b1_record = make_record(tree.branch_b1, template)
    response = client.post(url, {"records": [b1_record.pk]})
    assert "records" in response.context["complete_form"].errors  # not a choice
    response = client.post(url, {"records": [record.pk], "completed_on": str(in_year(1, 1))})
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.status == Task.Status.DONE
    entry = ChangeLogEntry.objects.filter(object_type="plans.task", object_id=str(task.pk)).latest(
        "id"
    )
    assert entry.actor == users.secretary_a1 and "status" in entry.changes
    page = client.get(url)
    assert b'data-testid="evidence"' in page.content
    assert b'data-testid="reopen-form"' in page.content


def test_auditor_cannot_complete(branch_plan, users, login, tree, template):
    task = _task(branch_plan, tree.branch_a1)
    record = make_record(tree.branch_a1, template)
    client = login(users.auditor)
    assert client.get(reverse("plans:task_detail", args=[task.pk])).status_code == 200
    response = client.post(reverse("plans:task_detail", args=[task.pk]), {"records": [record.pk]})
    assert response.status_code == 403


# ---------------------------------------------------------------- calendar and PDCA


def test_calendar_month_navigation(branch_plan, users, login, tree):
    task = _task(branch_plan, tree.branch_a1)
    client = login(users.secretary_a1)
    response = client.get(
        reverse("plans:calendar"), {"year": task.due_on.year, "month": task.due_on.month}
    )
    assert task.title.encode() in response.content
    assert b"B\xe5\x85\xac\xe5\x8f\xb8\xe7\xac\xac\xe4\xb8\x80" not in response.content  # B公司第一
    partial = client.get(
        reverse("plans:calendar"), {"year": YEAR, "month": 13}, HTTP_HX_REQUEST="true"
    )
    assert partial.status_code == 200 and b"<html" not in partial.content


def test_pdca_for_parent_lists_children(branch_plan, users, login, tree, template):
    services.complete_task(
        _task(branch_plan, tree.branch_a1),
        actor=users.party_admin,
        records=[make_record(tree.branch_a1, template)],
    )
    client = login(users.party_admin)
    response = client.get(reverse("plans:pdca"), {"org": tree.root.pk, "year": YEAR})
    assert response.status_code == 200
    total = response.context["total"]
    assert total.tasks == 4 and total.tasks_done == 1 and total.records == 1
    children = {r["org"].pk: r["figures"] for r in response.context["children"]}
    assert set(children) == {tree.sub_a.pk, tree.sub_b.pk}
    assert children[tree.sub_a.pk].tasks == 2 and children[tree.sub_a.pk].tasks_done == 1
    assert children[tree.sub_b.pk].tasks == 2
    # a secretary asking for another branch: 404
    client = login(users.secretary_a1)
    assert client.get(reverse("plans:pdca"), {"org": tree.branch_b1.pk}).status_code == 404
    response = client.get(reverse("plans:pdca"), {"org": "x", "year": "y"})
    assert response.status_code == 404


# ---------------------------------------------------------------- query counts


def _grow(users, tree, n_branches: int):
    for i in range(n_branches):
        make_unit(f"扩展党支部{i}", K.BRANCH, tree.sub_a)
    return make_plan(
        users.party_admin,
        tree.root,
        items=[
            {
                "title": f"事项{j}",
                "due_on": datetime.date(YEAR, 1 + j, 10),
                "target_kinds": [K.BRANCH],
            }
            for j in range(3)
        ],
        publish=True,
    )


@pytest.mark.parametrize(
    "name,args",
    [
        ("plans:plan_list", {}),
        ("plans:task_list", {}),
        ("plans:calendar", {"year": YEAR, "month": 2}),
        ("plans:pdca", {}),
    ],
)
def test_query_count_does_not_grow(name, args, users, login, tree):
    client = login(users.party_admin)
    counts = []
    for n in (1, 12):
        _grow(users, tree, n) if not counts else None
        if counts:
            for i in range(n):
                make_unit(f"更多党支部{i}", K.BRANCH, tree.sub_b)
            plan = WorkPlan.objects.get()
            for item in plan.items.all():
                for org in services.subordinate_units(tree.root).filter(kind=K.BRANCH):
                    Task.objects.get_or_create(
                        item=item, org=org, defaults={"title": item.title, "due_on": item.due_on}
                    )
        client.get(reverse(name), args)  # warm caches (session, content types)
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse(name), args).status_code == 200
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts


def test_plan_detail_query_count(users, login, tree):
    plan = _grow(users, tree, 2)
    client = login(users.party_admin)
    url = reverse("plans:plan_detail", args=[plan.pk]) + "?tab=units"
    client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        client.get(url)
    small = len(ctx.captured_queries)
    for i in range(15):
        org = make_unit(f"再加党支部{i}", K.BRANCH, tree.sub_b)
        for item in plan.items.all():
            Task.objects.create(item=item, org=org, title=item.title, due_on=item.due_on)
    with CaptureQueriesContext(connection) as ctx:
        client.get(url)
    assert len(ctx.captured_queries) == small


def test_workbench_shows_overdue_tasks(users, login, tree):
    make_plan(users.secretary_a1, tree.branch_a1, year=YEAR - 1, items=[{}], publish=True)
    overdue_url = reverse("plans:task_list") + "?overdue=1"

    def card(user):
        response = login(user).get(reverse("core:home"))
        return next(c for c in response.context["cards"] if c["url"] == overdue_url)

    assert card(users.secretary_a1)["count"] == 1 and card(users.secretary_a1)["danger"]
    # another branch's secretary counts none of them
    assert card(users.secretary_b1)["count"] == 0


def test_task_detail_query_count(branch_plan, users, login, tree, template, other_template):
    task = _task(branch_plan, tree.branch_a1)
    url = reverse("plans:task_detail", args=[task.pk])
    client = login(users.secretary_a1)
    make_record(tree.branch_a1, template)
    client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    small = len(ctx.captured_queries)
    for i in range(20):
        make_record(tree.branch_a1, other_template if i % 2 else template, title=f"记录{i}")
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    assert len(ctx.captured_queries) == small


def test_calendar_absurd_year_falls_back_to_this_month(users, login):
    client = login(users.secretary_a1)
    response = client.get(reverse("plans:calendar"), {"year": "1" * 30, "month": "1"})
    assert response.status_code == 200


def test_task_list_with_odd_id_filters(users, login):
    client = login(users.party_admin)
    for query in ({"item": "-6.99e+120"}, {"plan": "1e30"}):
        assert client.get(reverse("plans:task_list"), query).status_code == 200
    nc_actions = reverse("improvement:action_list")
    assert client.get(nc_actions, {"nonconformity": "1e30"}).status_code == 200
