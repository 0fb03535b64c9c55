"""The read-only audit API: same scoping as the pages."""

from __future__ import annotations

from tests.audits.conftest import make_audit


def test_auditors_api_scoped(login, users, team):
    r = login(users.party_admin).get("/api/auditors/")
    assert r.status_code == 200
    names = {row["person_name"] for row in r.json()["results"]}
    assert {"审核员甲", "审核员丙", "审核员戊"} <= names
    r = login(team.b1_user).get("/api/auditors/")
    assert {row["person_name"] for row in r.json()["results"]} == {"审核员丙"}
    assert login(users.member_a1).get("/api/auditors/").status_code == 403


def test_programmes_and_proposal_api(login, users, team, programme, tree):
    audit = make_audit(programme, [tree.branch_a1])
    c = login(users.party_admin)
    assert c.get("/api/audit-programmes/").json()["results"][0]["id"] == programme.pk
    r = c.get(f"/api/audit-programmes/{programme.pk}/proposal/")
    assert r.status_code == 200
    row = r.json()[0]
    assert row["audit"] == audit.pk and len(row["auditors"]) == 2
    assert team.a1.pk not in row["auditors"] and team.a1.pk in row["excluded"]["own_unit"]
    assert (
        login(users.secretary_a1).get(f"/api/audit-programmes/{programme.pk}/").status_code == 404
    )


def test_audits_api_scoped(login, users, team, programme, tree, django_assert_max_num_queries):
    audit = make_audit(programme, [tree.branch_b1], lead_auditor=team.a1)
    for _ in range(5):
        make_audit(programme, [tree.branch_b1, tree.branch_a2]).team.add(team.b)
    c = login(users.party_admin)
    with django_assert_max_num_queries(12):
        r = c.get("/api/audits/")
    assert r.json()["count"] == 6
    # the lead auditor (role on A1 only) sees the audit they lead, not the others
    r = login(team.a1_user).get("/api/audits/")
    assert [row["id"] for row in r.json()["results"]] == [audit.pk]
    assert login(users.secretary_a1).get(f"/api/audits/{audit.pk}/").status_code == 404
    assert login(users.secretary_b1).get(f"/api/audits/{audit.pk}/").status_code == 200


# --- writes ------------------------------------------------------------------------------


def _staffed(users, team, programme, tree):
    from pbqms.audits import services

    audit = make_audit(programme, [tree.branch_b1])
    services.assign_team(actor=users.party_admin, audit=audit, lead=team.a1, members=[])
    audit.refresh_from_db()
    return audit


def test_audit_transitions_via_api(login, users, team, programme, tree):
    from tests.factories import PASSWORD

    audit = _staffed(users, team, programme, tree)
    lead = login(team.a1_user)
    url = f"/api/audits/{audit.pk}/transition/"
    # another unit's secretary: 404; bad input: 400
    assert login(users.secretary_a1).post(url, {"transition": "start"}).status_code == 404
    lead = login(team.a1_user)
    assert lead.post(url, {"transition": "fly"}, content_type="application/json").status_code == 400
    r = lead.post(url, {"transition": "start"}, content_type="application/json")
    assert r.status_code == 200 and r.json()["status"] == "in_progress"
    # reporting needs the summary, then the lead's password
    r = lead.post(
        url, {"transition": "report", "password": PASSWORD}, content_type="application/json"
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "transition_not_allowed"
    audit.refresh_from_db()
    audit.report_summary = "有效"
    audit.save()
    r = lead.post(
        url, {"transition": "report", "password": "wrong"}, content_type="application/json"
    )
    assert r.status_code == 400
    r = lead.post(
        url, {"transition": "report", "password": PASSWORD}, content_type="application/json"
    )
    assert r.status_code == 200 and r.json()["status"] == "reported"
    # the lead may not close; the committee may
    assert (
        lead.post(url, {"transition": "close"}, content_type="application/json").status_code == 403
    )
    r = login(users.party_admin).post(url, {"transition": "close"}, content_type="application/json")
    assert r.status_code == 200 and r.json()["status"] == "closed"


def test_findings_api(login, users, team, programme, tree):
    from pbqms.core import workflow
    from pbqms.improvement.models import Nonconformity

    audit = _staffed(users, team, programme, tree)
    other = make_audit(programme, [tree.branch_a2])
    lead = login(team.a1_user)
    r = lead.post(
        "/api/findings/",
        {"audit": audit.pk, "criterion": "三会一课", "question": "是否按月召开？"},
        content_type="application/json",
    )
    assert r.status_code == 201, r.content
    item = r.json()
    # bad input: 400, nothing saved
    r = lead.post(
        "/api/findings/", {"audit": audit.pk, "criterion": ""}, content_type="application/json"
    )
    assert r.status_code == 400 and "criterion" in r.json()["error"]["fields"]
    # an audit the lead is not on: 404
    r = lead.post(
        "/api/findings/",
        {"audit": other.pk, "criterion": "x", "question": "y"},
        content_type="application/json",
    )
    assert r.status_code == 404
    # they see their audit's checklist and nothing else
    from pbqms.audits.models import ChecklistItem

    ChecklistItem.objects.create(audit=other, criterion="别的", question="?")
    rows = lead.get("/api/findings/").json()["results"]
    assert [row["id"] for row in rows] == [item["id"]]
    assert login(users.secretary_a1).get(f"/api/findings/{item['id']}/").status_code == 404
    assert login(users.member_a1).get("/api/findings/").status_code == 403
    lead = login(team.a1_user)  # one test client: sign the lead in again
    # results only while auditing
    url = f"/api/findings/{item['id']}/"
    body = {"result": "minor", "evidence": "缺3月记录", "version": item["version"]}
    assert lead.patch(url, body, content_type="application/json").status_code == 400
    workflow.fire(audit, "start", actor=team.a1_user)
    r = lead.patch(url, body, content_type="application/json")
    assert r.status_code == 200 and r.json()["result"] == "minor"
    # stale version: 409
    assert lead.patch(url, body, content_type="application/json").status_code == 409
    # the audited branch's secretary sees it but may not fill it
    sec = login(users.secretary_b1)
    assert sec.get(url).status_code == 200
    body["version"] = r.json()["version"]
    assert sec.patch(url, body, content_type="application/json").status_code == 403
    # raise the nonconformity
    raise_url = f"/api/findings/{item['id']}/raise-nonconformity/"
    lead = login(team.a1_user)
    r = lead.post(raise_url, {"title": ""}, content_type="application/json")
    assert r.status_code == 400 and not Nonconformity.objects.exists()
    r = lead.post(
        raise_url,
        {"title": "记录不全", "correction_due": "2099-01-01"},
        content_type="application/json",
    )
    assert r.status_code == 201
    nc = Nonconformity.objects.get(pk=r.json()["id"])
    assert nc.org == tree.branch_b1 and nc.raised_by == team.a1_user
    # the lead raised it: they see it through the nonconformity API too
    assert lead.get(f"/api/nonconformities/{nc.pk}/").status_code == 200
    # raising twice is refused
    r = lead.post(
        raise_url,
        {"title": "再来", "correction_due": "2099-01-01"},
        content_type="application/json",
    )
    assert r.status_code == 400


def test_generate_checklist_and_accept_proposal_api(login, users, team, programme, tree):
    audit = make_audit(programme, [tree.branch_a1])
    admin = login(users.party_admin)
    r = admin.post(f"/api/audits/{audit.pk}/generate-checklist/")
    assert r.status_code == 201 and r.json() == []
    proposal = admin.get(f"/api/audit-programmes/{programme.pk}/proposal/").json()
    teams = {str(row["audit"]): row["auditors"] for row in proposal}
    url = f"/api/audit-programmes/{programme.pk}/accept-proposal/"
    # a team that breaks independence is refused with the reason
    bad = {str(audit.pk): [team.a1.pk]}
    r = admin.post(url, {"teams": bad}, content_type="application/json")
    assert r.status_code == 400 and f"team_{audit.pk}" in r.json()["error"]["fields"]
    # odd keys and ids beyond any key are field errors, not crashes
    for odd in ({"²": [team.a1.pk]}, {str(audit.pk): [10**30]}, {"1" * 40: [1]}):
        r = admin.post(url, {"teams": odd}, content_type="application/json")
        assert r.status_code == 400, (odd, r.content)
    assert admin.get("/api/findings/", {"audit": "²"}).status_code == 200
    outsider = login(team.a1_user).post(url, {"teams": teams}, content_type="application/json")
    assert outsider.status_code in (403, 404)
    admin = login(users.party_admin)  # one test client: sign the administrator in again
    r = admin.post(url, {"teams": teams}, content_type="application/json")
    assert r.status_code == 200 and r.json()[0]["lead_auditor"] == teams[str(audit.pk)][0]


def test_findings_list_query_count(
    login, users, team, programme, tree, django_assert_max_num_queries
):
    from pbqms.audits.models import ChecklistItem

    audit = _staffed(users, team, programme, tree)
    c = login(team.a1_user)
    ChecklistItem.objects.create(audit=audit, criterion="a", question="?")
    with django_assert_max_num_queries(20) as small:
        c.get("/api/findings/")
    for i in range(15):
        ChecklistItem.objects.create(audit=audit, criterion=f"c{i}", question="?")
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert c.get("/api/findings/").json()["count"] == 16
