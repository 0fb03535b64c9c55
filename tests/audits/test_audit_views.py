"""Programmes, audits, the cross-audit proposal, the audit lifecycle and the checklist."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from pbqms.audits import services
from pbqms.audits.models import Audit, AuditProgramme, ChecklistItem
from pbqms.core import workflow
from pbqms.core.models import Signature
from tests.audits.conftest import YEAR, make_audit
from tests.factories import PASSWORD

# --- programmes -----------------------------------------------------------------------


def test_create_programme(login, users, tree):
    c = login(users.party_admin)
    assert c.get(reverse("audits:programme_create")).status_code == 200
    r = c.post(
        reverse("audits:programme_create"),
        {
            "org": tree.root.pk,
            "year": YEAR,
            "title": "年度内审方案",
            "scope_units": [tree.sub_a.pk, tree.sub_b.pk],
            "criteria": "管理手册",
            "team_size": 2,
            "no_reciprocal": "on",
        },
    )
    assert r.status_code == 302, r.context["form"].errors if r.context else r
    p = AuditProgramme.objects.get(title="年度内审方案")
    assert p.org == tree.root and p.no_reciprocal and p.team_size == 2
    assert set(p.scope_units.all()) == {tree.sub_a, tree.sub_b}


def test_create_programme_bad_input_keeps_data(login, users, tree):
    c = login(users.party_admin)
    r = c.post(
        reverse("audits:programme_create"),
        {"org": tree.root.pk, "year": "abc", "title": "保留的标题", "team_size": 0},
    )
    assert r.status_code == 200
    assert {"year", "team_size"} <= set(r.context["form"].errors)
    assert "保留的标题" in r.content.decode()
    assert not AuditProgramme.objects.exists()


def test_programme_pages_forbidden_and_scoped(login, users, team, programme, tree):
    assert login(users.secretary_a1).get(reverse("audits:programme_create")).status_code == 403
    assert login(users.member_a1).get(reverse("audits:programme_list")).status_code == 403
    # the programme belongs to the root committee: a branch secretary does not see it
    url = reverse("audits:programme_detail", args=[programme.pk])
    assert login(users.secretary_a1).get(url).status_code == 404
    assert login(users.party_admin).get(url).status_code == 200
    edit = reverse("audits:programme_edit", args=[programme.pk])
    assert login(users.secretary_a1).get(edit).status_code == 404


def test_programme_list_query_count(
    login, users, team, programme, tree, django_assert_max_num_queries
):
    c = login(users.party_admin)
    make_audit(programme, [tree.branch_a1])
    c.get(reverse("audits:programme_list"))
    for _ in range(10):
        make_audit(programme, [tree.branch_b1, tree.branch_a2], lead_auditor=team.a1)
    with django_assert_max_num_queries(14):
        r = c.get(reverse("audits:programme_list"))
    assert r.status_code == 200 and len(r.context["audits"]) == 11


def test_programme_detail_query_count(
    login, users, team, programme, tree, django_assert_max_num_queries
):
    c = login(users.party_admin)
    make_audit(programme, [tree.branch_a1])
    url = reverse("audits:programme_detail", args=[programme.pk])
    c.get(url)
    for _ in range(10):
        a = make_audit(programme, [tree.branch_b1, tree.branch_a2], lead_auditor=team.a1)
        a.team.add(team.b)
    # the risk section adds a fixed handful of queries (units, conformity, nonconformities,
    # last audits, planned units) and pagination its count
    with django_assert_max_num_queries(26):
        r = c.get(url)
    assert len(r.context["audits"]) == 11


# --- audits -----------------------------------------------------------------------------


def test_create_audit_and_units_must_be_in_scope(login, users, programme, tree):
    c = login(users.party_admin)
    url = reverse("audits:audit_create", args=[programme.pk])
    r = c.post(
        url, {"audited_units": [tree.branch_a1.pk], "planned_month": 5, "agenda": "首次会议"}
    )
    assert r.status_code == 302
    audit = Audit.objects.get()
    assert audit.number.startswith(f"NS-{YEAR}-")
    assert audit.criteria == programme.criteria
    # the programme's scope limits the audited units
    programme.scope_units.set([tree.sub_b])
    r = c.post(
        url, {"audited_units": [tree.branch_a1.pk], "planned_month": 5, "agenda": "保留议程"}
    )
    assert r.status_code == 200
    assert r.context["form"].errors["audited_units"]
    assert "保留议程" in r.content.decode()
    r = c.post(url, {"planned_month": 13, "start_date": "2026-05-02", "end_date": "2026-05-01"})
    assert {"audited_units", "planned_month"} <= set(r.context["form"].errors)
    assert Audit.objects.count() == 1


def test_audit_detail_scope(login, users, team, programme, tree):
    audit = make_audit(programme, [tree.branch_b1], lead_auditor=team.a1)
    url = reverse("audits:audit_detail", args=[audit.pk])
    assert login(users.party_admin).get(url).status_code == 200
    # B1's secretary sees the audit of B1; A1's secretary does not
    assert login(users.secretary_b1).get(url).status_code == 200
    assert login(users.secretary_a1).get(url).status_code == 404
    # the lead auditor sees it although their role is on A1 only
    assert login(team.a1_user).get(url).status_code == 200
    assert login(users.member_a1).get(url).status_code == 404
    # a secretary may not edit it
    assert (
        login(users.secretary_b1).get(reverse("audits:audit_edit", args=[audit.pk])).status_code
        == 403
    )


# --- cross-audit assignment ---------------------------------------------------------------


def test_propose_page_explains_and_accepts(login, users, team, programme, tree):
    a1 = make_audit(programme, [tree.branch_a1])
    b1 = make_audit(programme, [tree.branch_b1])
    c = login(users.party_admin)
    url = reverse("audits:programme_propose", args=[programme.pk])
    r = c.get(url)
    assert r.status_code == 200
    rows = {row["audit"].pk: row for row in r.context["rows"]}
    # A1 cannot be audited by A1's auditor; B1 not by B1's or B's auditor; expired never
    assert team.a1 not in rows[a1.pk]["chosen"] and team.expired not in rows[a1.pk]["chosen"]
    assert team.b1 not in rows[b1.pk]["chosen"] and team.b not in rows[b1.pk]["chosen"]
    body = r.content.decode()
    assert "not-qualified" not in body
    labels = [ex["label"] for row in r.context["rows"] for ex in row["excluded"]]
    assert any("own unit" in str(label) or "本" in str(label) for label in labels)
    post = {}
    for row in r.context["rows"]:
        post[f"lead_{row['audit'].pk}"] = row["selected"][0]
        post[f"team_{row['audit'].pk}"] = row["selected"][1:]
    r = c.post(url, post)
    assert r.status_code == 302
    a1.refresh_from_db()
    b1.refresh_from_db()
    assert a1.lead_auditor_id and b1.lead_auditor_id
    assert a1.lead_auditor.org_id != tree.branch_a1.pk


def test_propose_edit_that_breaks_independence_is_refused(login, users, team, programme, tree):
    a1 = make_audit(programme, [tree.branch_a1])
    c = login(users.party_admin)
    url = reverse("audits:programme_propose", args=[programme.pk])
    r = c.post(url, {f"lead_{a1.pk}": team.a1.pk, f"team_{a1.pk}": [team.b1.pk]})
    assert r.status_code == 200
    row = r.context["rows"][0]
    assert row["errors"] and "审核员甲" in row["errors"][0]
    assert row["selected"] == [team.a1.pk, team.b1.pk]  # the edit is kept
    a1.refresh_from_db()
    assert a1.lead_auditor_id is None


def test_propose_forbidden_and_404(login, users, team, programme, tree):
    url = reverse("audits:programme_propose", args=[programme.pk])
    assert login(team.a1_user).get(url).status_code == 404
    assert login(users.secretary_b1).get(url).status_code == 404
    assert login(users.nobody).get(url).status_code == 404


def test_manual_team_refused_with_reason(users, team, programme, tree):
    audit = make_audit(programme, [tree.branch_a1])
    with pytest.raises(ValidationError) as exc:
        services.assign_team(
            actor=users.party_admin, audit=audit, lead=team.b1, members=[team.expired]
        )
    assert "审核员戊" in str(exc.value)
    # a unit above the auditor's own: A's committee audits... auditor from A1 auditing sub A
    parent_audit = make_audit(programme, [tree.sub_a])
    with pytest.raises(ValidationError) as exc:
        services.assign_team(actor=users.party_admin, audit=parent_audit, lead=team.a1, members=[])
    assert "审核员甲" in str(exc.value) and tree.sub_a.name in str(exc.value)
    with pytest.raises(PermissionDenied):
        services.assign_team(actor=users.secretary_b1, audit=audit, lead=team.b1, members=[])
    services.assign_team(actor=users.party_admin, audit=audit, lead=team.b1, members=[team.b])
    audit.refresh_from_db()
    assert audit.lead_auditor == team.b1 and list(audit.team.all()) == [team.b]


def test_manual_team_reciprocal_refused(users, team, programme, tree):
    first = make_audit(programme, [tree.branch_a1])
    services.assign_team(actor=users.party_admin, audit=first, lead=team.b1, members=[])
    back = make_audit(programme, [tree.branch_b1])
    with pytest.raises(ValidationError) as exc:
        services.assign_team(actor=users.party_admin, audit=back, lead=team.a1, members=[])
    assert "reciprocal" in str(exc.value) or "互" in str(exc.value)
    programme.no_reciprocal = False
    programme.save()
    back.programme.refresh_from_db()
    services.assign_team(actor=users.party_admin, audit=back, lead=team.a1, members=[])


def test_team_form_view(login, users, team, programme, tree):
    audit = make_audit(programme, [tree.branch_a1])
    c = login(users.party_admin)
    page = c.get(reverse("audits:audit_detail", args=[audit.pk]))
    assert len(page.context["team_seats"]) >= 1
    url = reverse("audits:audit_team", args=[audit.pk])
    r = c.post(
        url, {"lead_auditor": team.a1.pk, "team": [team.b1.pk, ""], "version": audit.version}
    )
    assert r.status_code == 200
    assert r.context["team_form"].errors["team"]
    # what was chosen stays chosen
    assert team.b1.pk in r.context["team_seats"]
    assert r.context["team_form"]["lead_auditor"].value() == str(team.a1.pk)
    audit.refresh_from_db()
    assert audit.lead_auditor_id is None
    r = c.post(url, {"lead_auditor": team.b1.pk, "team": ["", team.b.pk], "version": audit.version})
    assert r.status_code == 302
    audit.refresh_from_db()
    assert audit.lead_auditor == team.b1 and list(audit.team.all()) == [team.b]
    # A1's secretary sees the audit of A1 but may not staff it; B1's does not see it
    assert login(users.secretary_a1).post(url, {"lead_auditor": team.b1.pk}).status_code == 403
    assert login(users.secretary_b1).post(url, {"lead_auditor": team.b1.pk}).status_code == 404


# --- lifecycle ------------------------------------------------------------------------------


def test_lifecycle_start_report_close(login, users, team, programme, tree):
    audit = make_audit(programme, [tree.branch_a1])
    # no lead yet: cannot start
    with pytest.raises(workflow.TransitionNotAllowed):
        workflow.fire(audit, "start", actor=users.party_admin)
    services.assign_team(actor=users.party_admin, audit=audit, lead=team.b1, members=[team.b])
    audit.refresh_from_db()
    # the lead starts it (via the page)
    c = login(team.b1_user)
    r = c.post(reverse("audits:audit_transition", args=[audit.pk]), {"transition": "start"})
    assert r.status_code == 302
    audit.refresh_from_db()
    assert audit.status == Audit.Status.IN_PROGRESS and audit.start_date
    # report needs a summary
    r = c.post(
        reverse("audits:audit_transition", args=[audit.pk]),
        {"transition": "report", "password": PASSWORD},
    )
    audit.refresh_from_db()
    assert audit.status == Audit.Status.IN_PROGRESS
    r = c.post(
        reverse("audits:audit_report", args=[audit.pk]),
        {"report_summary": "", "version": audit.version},
    )
    assert r.status_code == 200 and r.context["report_form"].errors
    r = c.post(
        reverse("audits:audit_report", args=[audit.pk]),
        {"report_summary": "体系运行基本有效。", "version": audit.version},
    )
    assert r.status_code == 302
    audit.refresh_from_db()
    # only the lead signs the report; a wrong password is refused
    with pytest.raises(PermissionDenied):
        workflow.fire(audit, "report", actor=users.party_admin, password=PASSWORD)
    with pytest.raises(ValidationError):
        workflow.fire(audit, "report", actor=team.b1_user, password="wrong-password")
    r = c.post(
        reverse("audits:audit_transition", args=[audit.pk]),
        {"transition": "report", "password": PASSWORD},
    )
    audit.refresh_from_db()
    assert audit.status == Audit.Status.REPORTED
    sig = Signature.objects.get(object_id=str(audit.pk), meaning=Signature.Meaning.PREPARED)
    assert sig.signer == team.b1_user
    # the lead may not close; the committee may
    with pytest.raises(PermissionDenied):
        workflow.fire(audit, "close", actor=team.b1_user)
    c = login(users.party_admin)
    r = c.post(reverse("audits:audit_transition", args=[audit.pk]), {"transition": "close"})
    audit.refresh_from_db()
    assert audit.status == Audit.Status.CLOSED
    # illegal transition from closed
    with pytest.raises(workflow.TransitionNotAllowed):
        workflow.fire(audit, "start", actor=users.party_admin)
    r = c.post(reverse("audits:audit_transition", args=[audit.pk]), {"transition": "bogus"})
    assert r.status_code == 404


def test_close_waits_for_open_nonconformities(users, team, programme, tree):
    from django.apps import apps

    if not apps.is_installed("pbqms.improvement"):
        pytest.skip("improvement app not installed")
    from pbqms.improvement.models import Nonconformity

    audit = make_audit(programme, [tree.branch_b1], lead_auditor=team.a1, status="reported")
    nc = services.improvement_raise()(
        actor=users.party_admin,
        org=tree.branch_b1,
        title="三会一课记录不全",
        source_kind="internal_audit",
        requirement="制度第5条",
        description="缺3月记录",
        severity="minor",
        correction_due=datetime.date.today() + datetime.timedelta(days=30),
        source=audit,
    )
    with pytest.raises(workflow.TransitionNotAllowed):
        workflow.fire(audit, "close", actor=users.party_admin)
    Nonconformity.objects.filter(pk=nc.pk).update(status=Nonconformity.Status.CLOSED)
    workflow.fire(audit, "close", actor=users.party_admin)
    assert audit.status == Audit.Status.CLOSED


def test_programme_complete_needs_closed_audits(users, team, programme, tree):
    make_audit(programme, [tree.branch_b1])
    workflow.fire(programme, "approve", actor=users.party_admin)
    with pytest.raises(workflow.TransitionNotAllowed):
        workflow.fire(programme, "complete", actor=users.party_admin)
    other = AuditProgramme.objects.create(year=YEAR, title="另一方案", org=tree.root)
    with pytest.raises(PermissionDenied):
        workflow.fire(other, "approve", actor=users.secretary_b1)
    Audit.objects.update(status=Audit.Status.CLOSED)
    workflow.fire(programme, "complete", actor=users.party_admin)
    assert programme.status == AuditProgramme.Status.COMPLETED


def test_audit_detail_query_count(
    login, users, team, programme, tree, django_assert_max_num_queries
):
    audit = make_audit(programme, [tree.branch_b1], lead_auditor=team.a1)
    c = login(users.party_admin)
    url = reverse("audits:audit_detail", args=[audit.pk])
    c.get(url)
    audit.team.add(team.a2)
    for i in range(10):
        ChecklistItem.objects.create(
            audit=audit, criterion=f"c{i}", question="q", result="conforming"
        )
    with django_assert_max_num_queries(40):
        assert c.get(url).status_code == 200


# --- checklist ----------------------------------------------------------------------------


def _started(users, team, programme, tree):
    audit = make_audit(programme, [tree.branch_b1, tree.branch_a2])
    services.assign_team(actor=users.party_admin, audit=audit, lead=team.a1, members=[])
    audit.refresh_from_db()
    workflow.fire(audit, "start", actor=team.a1_user)
    return audit


def test_checklist_fill(login, users, team, programme, tree):
    audit = _started(users, team, programme, tree)
    c = login(team.a1_user)
    url = reverse("audits:checklist", args=[audit.pk])
    assert c.get(url).status_code == 200
    r = c.post(
        url,
        {
            "criterion": "ISO 9001 9.2",
            "question": "是否按计划召开支委会？",
            "unit": tree.branch_b1.pk,
        },
    )
    assert r.status_code == 302
    item = audit.checklist.get()
    assert item.unit == tree.branch_b1
    # bad input keeps data
    r = c.post(url, {"criterion": "", "question": "保留的问题"})
    assert r.status_code == 200 and "保留的问题" in r.content.decode()
    assert r.context["add_form"].errors["criterion"]
    # a nonconformity needs evidence
    res = reverse("audits:checklist_result", args=[audit.pk, item.pk])
    r = c.post(
        res,
        {
            f"i{item.pk}-result": "minor",
            f"i{item.pk}-evidence": "",
            f"i{item.pk}-version": item.version,
        },
    )
    assert r.status_code == 200
    item.refresh_from_db()
    assert item.result == ""
    r = c.post(
        res,
        {
            f"i{item.pk}-result": "minor",
            f"i{item.pk}-evidence": "3月无记录",
            f"i{item.pk}-version": item.version,
        },
    )
    assert r.status_code == 302
    item.refresh_from_db()
    assert item.result == "minor" and item.evidence == "3月无记录"


def test_checklist_forbidden_and_404(login, users, team, programme, tree):
    audit = _started(users, team, programme, tree)
    url = reverse("audits:checklist", args=[audit.pk])
    # B1's secretary sees the audit (B1 is audited) but may not fill the checklist
    c = login(users.secretary_b1)
    assert c.get(url).status_code == 200
    assert c.post(url, {"criterion": "x", "question": "y"}).status_code == 403
    # an auditor not on the team and outside the audited units: 404
    assert login(users.secretary_a1).get(url).status_code == 404
    item = ChecklistItem.objects.create(audit=audit, criterion="c", question="q")
    res = reverse("audits:checklist_result", args=[audit.pk, item.pk])
    assert (
        login(users.secretary_b1).post(res, {f"i{item.pk}-result": "conforming"}).status_code == 403
    )
    other = make_audit(programme, [tree.branch_a1])
    bad = reverse("audits:checklist_result", args=[other.pk, item.pk])
    assert login(users.party_admin).post(bad, {}).status_code == 404


def test_checklist_query_count(login, users, team, programme, tree, django_assert_max_num_queries):
    audit = _started(users, team, programme, tree)
    c = login(team.a1_user)
    url = reverse("audits:checklist", args=[audit.pk])
    ChecklistItem.objects.create(audit=audit, criterion="c", question="q")
    c.get(url)
    for i in range(20):
        ChecklistItem.objects.create(
            audit=audit, criterion=f"c{i}", question="q", result="minor", evidence="e"
        )
    with django_assert_max_num_queries(25):
        assert c.get(url).status_code == 200


def test_raise_nonconformity_from_checklist(login, users, team, programme, tree):
    from django.apps import apps

    if services.improvement_raise() is None:
        pytest.skip("improvement app not installed")
    Nonconformity = apps.get_model("improvement", "Nonconformity")
    audit = _started(users, team, programme, tree)
    item = ChecklistItem.objects.create(
        audit=audit,
        criterion="制度第5条",
        question="q",
        result="minor",
        evidence="缺记录",
        unit=tree.branch_b1,
    )
    c = login(users.party_admin)
    url = reverse("audits:checklist_raise", args=[audit.pk, item.pk])
    r = c.post(url, {f"nc{item.pk}-title": "", f"nc{item.pk}-correction_due": ""})
    assert r.status_code == 200
    assert not Nonconformity.objects.exists()
    due = (datetime.date.today() + datetime.timedelta(days=30)).isoformat()
    r = c.post(url, {f"nc{item.pk}-title": "记录不全", f"nc{item.pk}-correction_due": due})
    assert r.status_code == 302, r.content.decode()[:500]
    nc = Nonconformity.objects.get()
    assert nc.org == tree.branch_b1 and nc.severity == "minor"
    item.refresh_from_db()
    assert item.nonconformity_id == nc.pk
    assert [n.pk for n in Nonconformity.objects.for_source(audit)] == [nc.pk]
    assert login(users.secretary_b1).post(url, {}).status_code == 403


def test_propose_page_query_count(
    login, users, team, programme, tree, django_assert_max_num_queries
):
    from tests.audits.conftest import qualify
    from tests.factories import make_person

    c = login(users.party_admin)
    make_audit(programme, [tree.branch_a1])
    url = reverse("audits:programme_propose", args=[programme.pk])
    c.get(url)
    for i in range(8):
        make_audit(programme, [tree.branch_b1, tree.branch_a2])
        qualify(make_person(tree.group_a1, f"组员{i}"))
    with django_assert_max_num_queries(20):
        r = c.get(url)
    assert len(r.context["rows"]) == 9


def test_changing_units_rechecks_team(users, team, programme, tree):
    audit = make_audit(programme, [tree.branch_b1])
    services.assign_team(actor=users.party_admin, audit=audit, lead=team.a1, members=[])
    audit.refresh_from_db()
    with pytest.raises(ValidationError):
        services.update_audit(
            actor=users.party_admin,
            audit=audit,
            data={"planned_month": 6},
            audited_units=[tree.branch_a1],
        )
    audit.refresh_from_db()
    assert list(audit.audited_units.all()) == [tree.branch_b1]


def test_proposal_counts_teams_already_in_the_round(users, team, programme, tree):
    """B1's auditor already audits A1 in this round: the proposal for B1 must not use A1's
    auditor (reciprocity), and workload counts the existing seat."""
    first = make_audit(programme, [tree.branch_a1])
    services.assign_team(actor=users.party_admin, audit=first, lead=team.b1, members=[])
    back = make_audit(programme, [tree.branch_b1])
    programme.team_size = 1
    programme.save()
    proposal, audits, _people = services.propose_teams(programme)
    assert [a.pk for a in audits] == [back.pk]
    assert team.a1.pk not in proposal.audits[back.pk].auditor_ids
    assert team.a1.pk in proposal.audits[back.pk].excluded["reciprocal"]
    assert proposal.load[team.b1.pk] == 1
