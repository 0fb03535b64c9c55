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
