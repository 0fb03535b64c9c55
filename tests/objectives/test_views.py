"""Pages of policy and objectives: allowed and forbidden roles, another unit's data (404),
bad input (errors shown, input kept, nothing saved), bounded queries."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from pbqms.objectives import services
from pbqms.objectives.models import Indicator, IndicatorTarget, Measurement, Objective, Policy
from tests.factories import make_unit
from tests.objectives.conftest import make_plan

pytestmark = pytest.mark.django_db


def test_policy_page_roles(login, users, tree, plan):
    for user in (users.party_admin, users.secretary_a1, users.member_a1, users.expert):
        response = login(user).get("/objectives/")
        assert response.status_code == 200, user
        assert "围绕中心抓党建" in response.content.decode()
    assert login(users.system_admin).get("/objectives/").status_code == 403
    assert login(users.nobody).get("/objectives/").status_code == 403
    # the admin sees the management buttons, the secretary not
    assert b'data-testid="new-objective"' in login(users.party_admin).get("/objectives/").content
    assert (
        b'data-testid="new-objective"' not in login(users.secretary_a1).get("/objectives/").content
    )


def test_other_units_policy_is_404(login, users, tree, plan):
    services.save_policy(
        actor=users.party_admin, org=tree.sub_a, year=2026, title="A", statement="s"
    )
    client = login(users.secretary_b1)
    assert client.get(f"/objectives/?org={tree.sub_a.pk}").status_code == 404
    assert client.get("/objectives/?org=abc").status_code == 404
    assert login(users.secretary_a1).get(f"/objectives/?org={tree.sub_a.pk}").status_code == 200
    a_policy = Policy.objects.get(org=tree.sub_a)
    assert (
        login(users.secretary_b1).get(f"/objectives/policies/{a_policy.pk}/edit/").status_code
        == 403
    )
    assert login(users.party_admin).get("/objectives/policies/999999/edit/").status_code == 404


def test_create_policy_and_bad_input(login, users, tree):
    client = login(users.party_admin)
    response = client.get("/objectives/policies/new/")
    assert response.status_code == 200
    response = client.post(
        "/objectives/policies/new/",
        {"org": tree.root.pk, "year": "20x6", "title": "我的标题", "statement": ""},
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "invalid-feedback" in body and "我的标题" in body
    assert Policy.objects.count() == 0
    response = client.post(
        "/objectives/policies/new/",
        {"org": tree.root.pk, "year": 2026, "title": "方针", "statement": "抓党建促发展"},
    )
    assert response.status_code == 302
    assert Policy.objects.filter(org=tree.root, year=2026).exists()
    # a duplicate year is a field error, nothing saved
    response = client.post(
        "/objectives/policies/new/",
        {"org": tree.root.pk, "year": 2026, "title": "又一个", "statement": "x"},
    )
    assert response.status_code == 200 and Policy.objects.count() == 1
    # a secretary may not
    assert login(users.secretary_a1).get("/objectives/policies/new/").status_code == 403


def test_objective_and_indicator_forms(login, users, tree, plan):
    client = login(users.party_admin)
    url = f"/objectives/policies/{plan.policy.pk}/objectives/new/"
    assert client.post(url, {"code": "", "title": "", "sort_order": 1}).status_code == 200
    assert (
        client.post(url, {"code": "M2", "title": "队伍建设", "sort_order": 20}).status_code == 302
    )
    objective = Objective.objects.get(code="M2")
    url = f"/objectives/objectives/{objective.pk}/indicators/new/"
    bad = {"code": "I9", "name": "培训覆盖率", "source": "manual", "unit_of_measure": "",
           "direction": "higher", "target": "abc", "sort_order": 1}  # fmt: skip
    response = client.post(url, bad)
    assert response.status_code == 200 and "培训覆盖率" in response.content.decode()
    assert not Indicator.objects.filter(code="I9").exists()
    good = {**bad, "unit_of_measure": "%", "target": "100"}
    assert client.post(url, good).status_code == 302
    assert login(users.secretary_a1).get(url).status_code == 403


def test_indicator_page_targets_and_values(login, users, tree, plan):
    admin = login(users.party_admin)
    response = admin.get(f"/objectives/indicators/{plan.manual.pk}/")
    assert response.status_code == 200 and "indicator-chart-data" in response.content.decode()
    url = f"/objectives/indicators/{plan.manual.pk}/targets/"
    assert admin.get(url).status_code == 200
    # cascading: the units below A; a branch has none (an explanation, not an error)
    assert "A公司第二党支部" in admin.get(f"{url}?under={tree.sub_a.pk}").content.decode()
    assert admin.get(f"{url}?under={tree.branch_b1.pk}").status_code == 200
    assert admin.get(f"{url}?under=abc").status_code == 404
    response = admin.post(url, {f"target_{tree.sub_a.pk}": "x", f"target_{tree.sub_b.pk}": "80"})
    assert response.status_code == 200
    assert not IndicatorTarget.objects.filter(org=tree.sub_b).exists()
    response = admin.post(url, {f"target_{tree.sub_a.pk}": "93", f"target_{tree.sub_b.pk}": "80"})
    assert response.status_code == 302
    assert IndicatorTarget.objects.get(org=tree.sub_b).target == 80
    # a secretary enters the branch's value; bad input kept
    sec = login(users.secretary_a1)
    assert sec.get(f"/objectives/indicators/{plan.manual.pk}/").status_code == 200
    vurl = f"/objectives/indicators/{plan.manual.pk}/value/"
    response = sec.post(vurl, {"org": tree.branch_a1.pk, "value": "abc", "note": "我的备注"})
    assert response.status_code == 200 and "我的备注" in response.content.decode()
    assert not Measurement.objects.filter(indicator=plan.manual).exists()
    assert sec.post(vurl, {"org": tree.branch_a1.pk, "value": "97"}).status_code == 302
    assert Measurement.objects.get(org=tree.branch_a1).value == 97
    # another branch's unit is not a choice
    assert sec.post(vurl, {"org": tree.branch_b1.pk, "value": "1"}).status_code == 200
    # B1's secretary has no share: no value page; computed indicator: no value page
    assert login(users.secretary_b1).get(vurl).status_code == 403
    assert sec.get(f"/objectives/indicators/{plan.rate.pk}/value/").status_code == 403
    assert sec.get(url).status_code == 403  # breakdown: committee only
    assert login(users.secretary_b1).get("/objectives/indicators/999999/").status_code == 404


def test_refresh_and_copy(login, users, tree, plan):
    admin = login(users.party_admin)
    assert admin.post(f"/objectives/policies/{plan.policy.pk}/refresh/").status_code == 302
    assert (
        admin.post(f"/objectives/policies/{plan.policy.pk}/copy/", {"year": "x"}).status_code == 302
    )
    assert Policy.objects.count() == 1
    assert (
        admin.post(f"/objectives/policies/{plan.policy.pk}/copy/", {"year": 2027}).status_code
        == 302
    )
    assert Policy.objects.filter(year=2027).exists()
    sec = login(users.secretary_a1)
    assert sec.post(f"/objectives/policies/{plan.policy.pk}/refresh/").status_code == 403


def _queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_attainment_page_and_bounded_queries(login, users, tree):
    make_plan(users, tree, year=2025)
    plan = make_plan(users, tree, year=2026)
    sec = users.secretary_a1
    services.enter_value(actor=sec, indicator=plan.manual, org=tree.branch_a1, value="96")
    client = login(users.party_admin)
    url = f"/objectives/attainment/?org={tree.branch_a1.pk}&year=2026"
    response = client.get(url)
    body = response.content.decode()
    assert response.status_code == 200 and "attainment-chart-data" in body
    assert 'data-testid="attained-count">1<' in body
    small = _queries(client, url)
    index_small = _queries(client, "/objectives/?year=2026")
    # more objectives, indicators, units with shares and values: same number of queries
    admin = users.party_admin
    for i in range(12):
        obj = services.save_objective(actor=admin, policy=plan.policy, code=f"X{i}", title="x")
        ind = services.save_indicator(
            actor=admin, objective=obj, code=f"X{i}", name="x", unit_of_measure="次",
            direction="lower", target="3",
        )  # fmt: skip
        unit = make_unit(f"新支部{i}", "branch", tree.sub_a)
        services.set_targets(actor=admin, indicator=ind, targets={tree.branch_a1: "2", unit: "1"})
        services.enter_value(actor=sec, indicator=ind, org=tree.branch_a1, value=str(i))
    assert _queries(client, url) == small
    assert _queries(client, "/objectives/?year=2026") == index_small
    assert login(users.secretary_b1).get(url).status_code == 404
    assert login(users.system_admin).get("/objectives/attainment/").status_code == 403
    client = login(users.party_admin)
    assert client.get(f"/objectives/attainment/?org={tree.root.pk}&year=abc").status_code == 200
    assert client.get("/objectives/attainment/?org=abc").status_code == 404


def test_attainment_export(login, users, tree, plan):
    import io

    from openpyxl import load_workbook

    services.enter_value(
        actor=users.secretary_a1, indicator=plan.manual, org=tree.branch_a1, value="96"
    )
    client = login(users.secretary_a1)
    response = client.get(f"/objectives/attainment/export/?org={tree.branch_a1.pk}&year=2026")
    assert response.status_code == 200
    ws = load_workbook(io.BytesIO(response.content)).active
    rows = list(ws.iter_rows(min_row=3, values_only=True))
    assert rows[0][1] == "I1" and rows[0][6] == 95 and rows[0][7] == 96
    assert client.get(f"/objectives/attainment/export/?org={tree.branch_b1.pk}").status_code == 404
    assert login(users.system_admin).get("/objectives/attainment/export/").status_code == 403


def test_remove_indicator_and_objective(login, users, tree, plan):
    from pbqms.core.models import ChangeLogEntry

    sec = login(users.secretary_a1)
    assert sec.post(f"/objectives/indicators/{plan.manual.pk}/delete/").status_code == 403
    assert (
        login(users.secretary_b1).post("/objectives/indicators/999999/delete/").status_code == 403
    )
    admin = login(users.party_admin)
    page = admin.get(f"/objectives/indicators/{plan.manual.pk}/edit/").content.decode()
    assert 'data-testid="delete-form"' in page
    stale = admin.post(f"/objectives/indicators/{plan.manual.pk}/delete/", {"version": 99})
    assert stale.status_code == 302 and Indicator.objects.filter(pk=plan.manual.pk).exists()
    done = admin.post(f"/objectives/indicators/{plan.manual.pk}/delete/")
    assert done.status_code == 302 and not Indicator.objects.filter(pk=plan.manual.pk).exists()
    assert not IndicatorTarget.objects.filter(indicator_id=plan.manual.pk).exists()
    assert ChangeLogEntry.objects.filter(
        object_type="objectives.indicator", object_id=str(plan.manual.pk), action="delete"
    ).exists()
    assert admin.post(f"/objectives/objectives/{plan.objective.pk}/delete/").status_code == 302
    assert not Objective.objects.filter(pk=plan.objective.pk).exists()
    assert not Indicator.objects.filter(objective_id=plan.objective.pk).exists()
