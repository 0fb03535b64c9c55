"""REST API of plans and tasks: scope, the same rules as the pages, errors, query counts."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from pbqms.orgs.models import Organization
from pbqms.plans.models import Task, WorkPlan
from tests.factories import make_unit
from tests.plans.conftest import YEAR, make_plan, make_record

K = Organization.Kind
PLANS = "/api/plans/"
TASKS = "/api/tasks/"


@pytest.fixture
def api(db):
    def _api(user=None) -> APIClient:
        client = APIClient()
        if user is None:
            return client
        client.force_login(user)
        from django_otp.plugins.otp_totp.models import TOTPDevice

        device = TOTPDevice.objects.filter(user=user).first() or TOTPDevice.objects.create(
            user=user, name="test", confirmed=True
        )
        session = client.session
        session["otp_device_id"] = device.persistent_id
        session.save()
        return client

    return _api


def _task(plan, org):
    return Task.objects.get(item__plan=plan, org=org, item__title="每月召开支委会")


def test_anonymous_and_roleless_refused(api, users):
    assert api().get(PLANS).status_code in (401, 403)
    assert api(users.nobody).get(PLANS).status_code == 403
    assert api(users.nobody).get(TASKS).status_code == 403


def test_secretary_lists_own_tasks_only(api, users, tree, branch_plan):
    response = api(users.secretary_a1).get(TASKS)
    assert response.status_code == 200
    orgs = {t["org"] for t in response.json()["results"]}
    assert orgs == {tree.branch_a1.pk}
    other = _task(branch_plan, tree.branch_b1)
    assert api(users.secretary_a1).get(f"{TASKS}{other.pk}/").status_code == 404
    assert api(users.secretary_a1).get(f"{PLANS}{branch_plan.pk}/").status_code == 404


def test_overdue_filter(api, users, tree):
    make_plan(users.secretary_a1, tree.branch_a1, year=YEAR - 1, items=[{}], publish=True)
    make_plan(users.secretary_a1, tree.branch_a1, items=[{}], publish=True)
    results = api(users.secretary_a1).get(TASKS, {"overdue": "true"}).json()["results"]
    assert len(results) == 1 and results[0]["is_overdue"] is True


def test_create_add_items_publish(api, users, tree):
    client = api(users.party_admin)
    response = client.post(
        PLANS, {"org": tree.sub_a.pk, "year": YEAR, "title": "A公司党委年度计划"}, format="json"
    )
    assert response.status_code == 201, response.json()
    plan_id = response.json()["id"]
    response = client.post(
        f"{PLANS}{plan_id}/items/",
        {"title": "支委会", "due_on": f"{YEAR}-03-31", "target_kinds": ["branch"]},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert len(response.json()["items"]) == 1
    response = client.post(f"{PLANS}{plan_id}/publish/")
    assert response.status_code == 200 and response.json()["status"] == "published"
    assert set(Task.objects.filter(item__plan_id=plan_id).values_list("org_id", flat=True)) == {
        tree.branch_a1.pk,
        tree.branch_a2.pk,
    }
    again = client.post(f"{PLANS}{plan_id}/publish/")
    assert again.status_code == 400


def test_bad_input_is_400_with_fields(api, users, tree):
    client = api(users.party_admin)
    response = client.post(PLANS, {"org": tree.sub_a.pk, "year": "x", "title": ""}, format="json")
    assert response.status_code == 400
    assert {"year", "title"} <= set(response.json()["error"]["fields"])
    plan = make_plan(users.party_admin, tree.sub_a)
    response = client.post(
        f"{PLANS}{plan.pk}/items/",
        {"title": "x", "due_on": f"{YEAR + 1}-01-01", "target_orgs": [tree.branch_b1.pk]},
        format="json",
    )
    assert response.status_code == 400
    assert "target_orgs" in response.json()["error"]["fields"]
    assert not plan.items.exists()


def test_secretary_cannot_create_for_another_branch(api, users, tree):
    response = api(users.secretary_a1).post(
        PLANS, {"org": tree.branch_b1.pk, "year": YEAR, "title": "x"}, format="json"
    )
    assert response.status_code == 400  # not a valid choice for them
    assert not WorkPlan.objects.exists()
    assert (
        api(users.auditor)
        .post(PLANS, {"org": tree.sub_a.pk, "year": YEAR, "title": "x"}, format="json")
        .status_code
        == 403
    )


def test_stale_update_is_409(api, users, tree):
    plan = make_plan(users.party_admin, tree.sub_a)
    response = api(users.party_admin).put(
        f"{PLANS}{plan.pk}/", {"title": "新", "version": plan.version + 5}, format="json"
    )
    assert response.status_code == 409


def test_complete_needs_records_of_the_unit(api, users, tree, branch_plan, template):
    task = _task(branch_plan, tree.branch_a1)
    client = api(users.secretary_a1)
    url = f"{TASKS}{task.pk}/complete/"
    assert client.post(url, {"records": []}, format="json").status_code == 400
    other = make_record(tree.branch_a2, template)
    response = client.post(url, {"records": [other.pk]}, format="json")
    assert response.status_code == 400 and "records" in response.json()["error"]["fields"]
    own = make_record(tree.branch_a1, template)
    response = client.post(url, {"records": [own.pk], "note": "ok"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "done" and response.json()["records"] == [own.pk]
    response = client.post(f"{TASKS}{task.pk}/reopen/", {"reason": ""}, format="json")
    assert response.status_code == 400
    response = client.post(f"{TASKS}{task.pk}/reopen/", {"reason": "重做"}, format="json")
    assert response.json()["status"] == "open"


def test_auditor_cannot_complete(api, users, tree, branch_plan, template):
    task = _task(branch_plan, tree.branch_a1)
    record = make_record(tree.branch_a1, template)
    response = api(users.auditor).post(
        f"{TASKS}{task.pk}/complete/", {"records": [record.pk]}, format="json"
    )
    assert response.status_code == 403


def test_list_query_counts_do_not_grow(api, users, tree, branch_plan):
    client = api(users.party_admin)
    counts = []
    for n in (0, 15):
        for i in range(n):
            org = make_unit(f"新党支部{i}", K.BRANCH, tree.sub_b)
            for item in branch_plan.items.all():
                Task.objects.create(item=item, org=org, title=item.title, due_on=item.due_on)
        for url in (PLANS, TASKS):
            client.get(url)
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(PLANS).status_code == 200
            assert client.get(TASKS, {"per_page": 100}).status_code == 200
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts


def test_huge_or_odd_id_filters_are_refused_not_crashing(api, users):
    client = api(users.party_admin)
    for query in ({"item": "-6.99e+120"}, {"plan": "1e30"}, {"item": "9" * 30}, {"plan": "x"}):
        response = client.get("/api/tasks/", query)
        assert response.status_code == 400, (query, response.status_code)
