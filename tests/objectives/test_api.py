"""API: /api/policies/, /api/objectives/, /api/indicators/, /api/indicator-values/,
/api/processes/: allowed, forbidden (403), another unit's (404), bad input (400, nothing
saved), stale version (409), bounded queries."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from pbqms.objectives import services
from pbqms.objectives.models import Measurement, Objective, Policy
from pbqms.processes import services as process_services
from pbqms.processes.models import Process

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    def _api(user):
        client = APIClient()
        client.force_authenticate(user)
        return client

    return _api


def test_read_scoped(api, users, tree, plan, django_assert_max_num_queries):
    services.save_policy(
        actor=users.party_admin, org=tree.sub_a, year=2026, title="A", statement="s"
    )
    a_policy = Policy.objects.get(org=tree.sub_a)
    sec_b = api(users.secretary_b1)
    body = sec_b.get("/api/policies/").json()
    assert [p["org"] for p in body["results"]] == [tree.root.pk]
    assert sec_b.get(f"/api/policies/{a_policy.pk}/").status_code == 404
    assert sec_b.get("/api/policies/abc/").status_code == 404
    assert api(users.secretary_a1).get(f"/api/policies/{a_policy.pk}/").status_code == 200
    assert api(users.system_admin).get("/api/objectives/").status_code == 403
    with django_assert_max_num_queries(8):
        response = api(users.party_admin).get("/api/indicators/")
    assert response.status_code == 200 and response.json()["count"] == 2
    targets = {t["org"] for r in response.json()["results"] for t in r["targets"]}
    assert targets == {tree.sub_a.pk, tree.branch_a1.pk}
    assert api(users.member_a1).get("/api/objectives/").json()["count"] == 1


def test_objective_writes(api, users, tree, plan):
    admin = api(users.party_admin)
    payload = {"policy": plan.policy.pk, "code": "M2", "title": "队伍建设"}
    response = admin.post("/api/objectives/", payload, format="json")
    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["year"] == 2026
    bad = admin.post("/api/objectives/", {**payload, "code": ""}, format="json")
    assert bad.status_code == 400 and "code" in bad.json()["error"]["fields"]
    dup = admin.post("/api/objectives/", payload, format="json")
    assert dup.status_code == 400
    assert Objective.objects.filter(code="M2").count() == 1
    assert (
        api(users.secretary_a1).post("/api/objectives/", payload, format="json").status_code == 403
    )
    url = f"/api/objectives/{created['id']}/"
    ok = admin.put(url, {**payload, "title": "改", "version": created["version"]}, format="json")
    assert ok.status_code == 200 and ok.json()["title"] == "改"
    stale = admin.put(
        url, {**payload, "title": "再改", "version": created["version"]}, format="json"
    )
    assert stale.status_code == 409


def test_indicator_and_value_writes(api, users, tree, plan):
    admin = api(users.party_admin)
    payload = {
        "objective": plan.objective.pk, "code": "I3", "name": "不符合项关闭率",
        "direction": "higher", "target": "90", "source": "nc_closure_rate",
    }  # fmt: skip
    response = admin.post("/api/indicators/", payload, format="json")
    assert response.status_code == 201 and response.json()["unit_of_measure"] == "%"
    assert admin.post("/api/indicators/", {**payload, "code": "I4", "target": "150"},
                      format="json").status_code == 400  # fmt: skip
    sec = api(users.secretary_a1)
    value = {"indicator": plan.manual.pk, "org": tree.branch_a1.pk, "value": "95.5"}
    assert sec.post("/api/indicator-values/", value, format="json").status_code == 201
    assert (
        sec.post("/api/indicator-values/", {**value, "value": "x"}, format="json").status_code
        == 400
    )
    other = sec.post("/api/indicator-values/", {**value, "org": tree.branch_b1.pk}, format="json")
    assert other.status_code == 400  # not a unit the caller may enter values for
    assert Measurement.objects.get(indicator=plan.manual, org=tree.branch_a1).value == 95.5
    listed = api(users.secretary_b1).get("/api/indicator-values/").json()
    assert listed["count"] == 0
    assert (
        api(users.member_a1).post("/api/indicator-values/", value, format="json").status_code == 403
    )


def test_processes_api(api, users, tree, templates, requirement, django_assert_max_num_queries):
    process_services.ensure_starter_processes(actor=users.party_admin, org=tree.root)
    sec = api(users.secretary_a1)
    with django_assert_max_num_queries(12):
        response = sec.get("/api/processes/")
    assert response.status_code == 200 and response.json()["count"] >= 10
    admin = api(users.party_admin)
    payload = {
        "org": tree.sub_a.pk,
        "code": "A-01",
        "name": "A过程",
        "requirements": [requirement.pk],
    }
    created = admin.post("/api/processes/", payload, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["requirements"] == [requirement.pk]
    bad = admin.post("/api/processes/", {**payload, "code": "A-02", "requirements": [999999]},
                     format="json")  # fmt: skip
    assert bad.status_code == 400
    assert not Process.objects.filter(code="A-02").exists()
    assert sec.post("/api/processes/", payload, format="json").status_code == 403
    pk = created.json()["id"]
    assert api(users.secretary_b1).get(f"/api/processes/{pk}/").status_code == 404
    upd = admin.put(f"/api/processes/{pk}/", {**payload, "name": "改", "version": 1}, format="json")
    assert upd.status_code == 200 and upd.json()["name"] == "改"
    assert (
        admin.put(f"/api/processes/{pk}/", {**payload, "version": 1}, format="json").status_code
        == 409
    )


@pytest.mark.parametrize(
    "url",
    [
        "/api/policies/?year=abc",
        "/api/policies/?org=99999999999999999999",
        "/api/objectives/?policy__year=99999999999",
        "/api/indicators/?objective__policy__year=-1&source=nope",
        "/api/indicator-values/?indicator=1.5",
        "/api/processes/?org=x&kind=other",
        "/api/processes/99999999999999999999/",
    ],
)
def test_bad_filters_are_not_server_errors(api, users, tree, plan, url):
    assert api(users.party_admin).get(url).status_code in (200, 400, 404)


def test_indicator_targets_only_of_visible_units(api, users, tree, plan):
    """A branch reads the committee's indicator, but only its own share of the target (as
    on the indicator page), not its sister units' shares."""

    def targets_seen(user):
        results = api(user).get("/api/indicators/").json()["results"]
        return {t["org"] for r in results for t in r["targets"]}

    assert targets_seen(users.party_admin) == {tree.sub_a.pk, tree.branch_a1.pk}
    assert targets_seen(users.secretary_a1) == {tree.branch_a1.pk}  # not A公司 (sub_a)
    assert targets_seen(users.secretary_b1) == set()
