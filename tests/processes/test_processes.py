"""Process map: the starter map, rights and validation of the service, the pages (map,
chain, form) with allowed / forbidden roles, another unit's process (404), bad input,
bounded queries; and the chain's links (records, conformity, nonconformities)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from pbqms.core import roles
from pbqms.core.models import ChangeLogEntry
from pbqms.processes import chain, services
from pbqms.processes.models import Process
from pbqms.system import engine
from pbqms.system.models import Requirement
from tests.system.conftest import at, file_record, make_obligation

pytestmark = pytest.mark.django_db


@pytest.fixture
def starter(users, tree, templates):
    return services.ensure_starter_processes(actor=users.party_admin, org=tree.root)


def test_starter_map(users, tree, starter, templates):
    codes = [p.code for p in starter]
    assert "HX-03" in codes and "GL-03" in codes and len(codes) >= 10
    life = Process.objects.get(org=tree.root, code="HX-03")
    assert life.name == "组织生活"
    assert {t.code for t in life.record_templates.all()} >= {"committee_meeting", "theme_day"}
    assert life.requirements.filter(code="DJ-ZBWYH").exists()
    # idempotent; the unit's edits are kept
    assert services.ensure_starter_processes(actor=users.party_admin, org=tree.root) == []
    with pytest.raises(PermissionDenied):
        services.ensure_starter_processes(actor=users.secretary_a1, org=tree.branch_a1)
    assert ChangeLogEntry.objects.filter(object_type="processes.process").count() >= len(codes)


def test_save_process_rules(users, tree, starter, requirement):
    admin = users.party_admin
    with pytest.raises(ValidationError) as exc:
        services.save_process(actor=admin, org=tree.root, data={"code": "HX-03", "name": "重复"})
    assert "code" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.save_process(actor=admin, org=tree.root, data={"code": "", "name": ""})
    assert {"code", "name"} <= set(exc.value.message_dict)
    p = services.save_process(
        actor=admin,
        org=tree.sub_a,
        data={"code": "A-01", "name": "A过程", "requirements": [requirement]},
    )
    assert list(p.requirements.all()) == [requirement]
    entry = ChangeLogEntry.objects.filter(object_type="processes.process", object_id=str(p.pk))
    assert entry.filter(action="update").first().changes["requirements"] == [[], [requirement.pk]]
    with pytest.raises(PermissionDenied):
        services.save_process(
            actor=users.secretary_a1, org=tree.branch_a1, data={"code": "x", "name": "x"}
        )


def test_scope(users, tree, starter):
    sub = services.save_process(
        actor=users.party_admin, org=tree.sub_a, data={"code": "A-01", "name": "A过程"}
    )
    a1 = set(Process.objects.visible_to(users.secretary_a1, roles.PROCESS_VIEW))
    b1 = set(Process.objects.visible_to(users.secretary_b1, roles.PROCESS_VIEW))
    assert sub in a1 and sub not in b1
    assert set(starter) <= a1 and set(starter) <= b1
    assert not Process.objects.visible_to(users.system_admin, roles.PROCESS_VIEW).exists()


def test_chain_links(users, tree, starter, templates, requirement):
    from django.contrib.contenttypes.models import ContentType

    from pbqms.improvement.models import Nonconformity as NC

    life = Process.objects.get(org=tree.root, code="HX-03")
    ob = make_obligation(tree.root, templates["theme_day"], requirement, frequency="monthly")
    life.obligations.add(ob)
    life.requirements.add(requirement)
    record = file_record(tree.branch_a1, templates["theme_day"], at(2026, 3, 5))
    file_record(tree.branch_b1, templates["theme_day"], at(2026, 3, 6))
    engine.recompute_all(today=dt.date(2026, 11, 24))
    nc = NC.objects.create(
        number="NC-1", title="主题党日未开展", source_kind=NC.Source.SELF_INSPECTION,
        org=tree.branch_a1, requirement=requirement.title, description="d",
        requirement_type=ContentType.objects.get_for_model(Requirement),
        requirement_id=str(requirement.pk), raised_by=users.party_admin,
        correction_due=dt.date(2026, 12, 1),
    )  # fmt: skip
    c = chain.build(users.secretary_a1, life, 2026, dt.date(2026, 11, 24))
    assert [r.pk for r in c.records] == [record.pk]  # only A1's records for A1's secretary
    assert c.checks["total"] == 12
    assert c.findings == [nc] and c.findings_open == 1
    c = chain.build(users.party_admin, life, 2026, dt.date(2026, 11, 24))
    assert c.records_total == 2
    assert c.findings == [nc]
    assert chain.build(users.secretary_b1, life, 2026).findings == []


def _queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_pages(login, users, tree, starter, templates, requirement):
    life = Process.objects.get(org=tree.root, code="HX-03")
    for user in (users.party_admin, users.secretary_a1, users.member_a1, users.auditor):
        client = login(user)
        response = client.get("/processes/")
        assert response.status_code == 200 and "组织生活" in response.content.decode()
        assert client.get(f"/processes/{life.pk}/").status_code == 200
    assert login(users.system_admin).get("/processes/").status_code == 403
    sub = services.save_process(
        actor=users.party_admin, org=tree.sub_a, data={"code": "A-01", "name": "A过程"}
    )
    b1 = login(users.secretary_b1)
    assert b1.get(f"/processes/{sub.pk}/").status_code == 404
    assert b1.get(f"/processes/?org={tree.sub_a.pk}").status_code == 404
    assert b1.get(f"/processes/{life.pk}/edit/").status_code == 403
    assert b1.get("/processes/999999/").status_code == 404
    # bounded: the chain page does not grow with records and links
    client = login(users.party_admin)
    url = f"/processes/{life.pk}/?year=2026"
    ob = make_obligation(tree.root, templates["theme_day"], requirement, frequency="monthly")
    life.obligations.add(ob)
    small = _queries(client, url)
    map_small = _queries(client, "/processes/")
    for month in range(1, 11):
        file_record(tree.branch_a1, templates["theme_day"], at(2026, month, 5))
        file_record(tree.branch_a2, templates["theme_day"], at(2026, month, 5))
    engine.recompute_all(today=dt.date(2026, 11, 24))
    for i in range(5):
        services.save_process(
            actor=users.party_admin, org=tree.root, data={"code": f"Z-{i}", "name": f"过程{i}"}
        )
    assert _queries(client, url) == small
    assert _queries(client, "/processes/") == map_small


def test_form_and_bad_input(login, users, tree, starter, requirement):
    client = login(users.party_admin)
    url = f"/processes/new/?org={tree.root.pk}"
    assert client.get(url).status_code == 200
    response = client.post(
        url, {"code": "HX-03", "name": "我的过程", "kind": "core", "sort_order": 1}
    )
    assert response.status_code == 200 and "我的过程" in response.content.decode()
    assert Process.objects.filter(name="我的过程").count() == 0
    response = client.post(
        url,
        {"code": "HX-09", "name": "我的过程", "kind": "core", "sort_order": 1,
         "requirements": [requirement.pk], "is_active": "on"},
    )  # fmt: skip
    assert response.status_code == 302
    p = Process.objects.get(code="HX-09")
    assert list(p.requirements.all()) == [requirement]
    edit = client.post(
        f"/processes/{p.pk}/edit/",
        {"code": "HX-09", "name": "改名", "kind": "core", "sort_order": 1, "version": 1},
    )
    assert edit.status_code == 302
    stale = client.post(
        f"/processes/{p.pk}/edit/",
        {"code": "HX-09", "name": "再改", "kind": "core", "sort_order": 1, "version": 1},
    )
    assert stale.status_code == 200
    assert Process.objects.get(pk=p.pk).name == "改名"
    assert login(users.secretary_a1).get(url).status_code == 403
    # the starter button: committee only
    assert (
        login(users.secretary_a1)
        .post("/processes/starter/", {"org": tree.branch_a1.pk})
        .status_code
        == 403
    )
    client = login(users.party_admin)
    assert client.post("/processes/starter/", {"org": tree.sub_a.pk}).status_code == 302
    assert Process.objects.filter(org=tree.sub_a, code="HX-03").exists()
