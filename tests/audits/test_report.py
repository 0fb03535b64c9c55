"""The audit report: compiled from plan, checklist results and nonconformities, signed by
the lead auditor, exported to .docx; an audit closes only when its nonconformities are."""

from __future__ import annotations

import datetime
import io

import pytest
from django.urls import reverse
from docx import Document as DocxDocument

from pbqms.audits import report, services
from pbqms.audits.models import Audit, ChecklistItem
from pbqms.core import workflow
from pbqms.improvement.models import Nonconformity
from tests.audits.conftest import make_audit
from tests.factories import PASSWORD


def _docx_text(data: bytes) -> str:
    doc = DocxDocument(io.BytesIO(data))
    parts = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        for row in table.rows:
            parts.append(" | ".join(c.text for c in row.cells))
    return "\n".join(parts)


@pytest.fixture
def reported(users, team, programme, tree):
    audit = make_audit(
        programme,
        [tree.branch_b1],
        agenda="首次会议、现场审核、末次会议",
        criteria="党支部工作条例",
        start_date=datetime.date.today(),
    )
    services.assign_team(actor=users.party_admin, audit=audit, lead=team.a1, members=[team.a2])
    audit.refresh_from_db()
    workflow.fire(audit, "start", actor=team.a1_user)
    results = ["conforming", "conforming", "observation", "minor", "major", ""]
    items = []
    for i, result in enumerate(results, start=1):
        items.append(
            ChecklistItem.objects.create(
                audit=audit,
                position=i,
                criterion=f"第{i}条",
                question="?",
                result=result,
                evidence="证据" if result else "",
                unit=tree.branch_b1,
            )
        )
    due = datetime.date.today() + datetime.timedelta(days=30)
    ncs = [
        services.raise_from_item(
            actor=team.a1_user, item=items[3], title="记录不全", correction_due=due
        ),
        services.raise_from_item(
            actor=team.a1_user, item=items[4], title="未按期换届", correction_due=due
        ),
    ]
    audit.refresh_from_db()
    summary = "总体有效。\n需整改两项。"
    services.save_report_summary(actor=team.a1_user, audit=audit, summary=summary)
    audit.refresh_from_db()
    workflow.fire(audit, "report", actor=team.a1_user, password=PASSWORD)
    audit.refresh_from_db()
    return audit, ncs


def test_compile_report(reported):
    audit, ncs = reported
    r = report.compile_report(audit)
    counts = {v: n for v, _label, n in r.counts}
    assert counts == {"conforming": 2, "observation": 1, "minor": 1, "major": 1}
    assert r.total == 6 and r.unanswered == 1
    assert [i.result for i in r.findings] == ["observation", "minor", "major"]
    assert sorted(nc.number for nc in r.nonconformities) == sorted(nc.number for nc in ncs)
    assert [s.signer_name for s in r.signatures] and all(r.signature_valid.values())


def test_report_docx(login, reported, team, users):
    audit, ncs = reported
    r = login(team.a1_user).get(reverse("audits:audit_report_docx", args=[audit.pk]))
    assert r.status_code == 200
    assert r["Content-Type"].startswith("application/vnd.openxmlformats")
    text = _docx_text(r.content)
    # plan fields
    plan = ("B公司第一党支部", "首次会议", "党支部工作条例")
    for value in (audit.number, audit.programme.title, *plan):
        assert value in text
    assert team.a1.name in text and team.a2.name in text
    # result counts: 2 conforming, 1 observation, 1 minor, 1 major, 1 open, 6 in all
    with __import__("django").utils.translation.override("en"):
        text_en = _docx_text(report.report_docx(audit))
    assert "Conforming | 2" in text_en
    assert "Observation | 1" in text_en
    assert "Minor nonconformity | 1" in text_en
    assert "Major nonconformity | 1" in text_en
    assert "Not yet assessed | 1" in text_en and "Total | 6" in text_en
    # nonconformity numbers, the conclusion and the signer's name
    for nc in ncs:
        assert nc.number in text
    assert "需整改两项。" in text
    sig_name = team.a1_user.display_name or team.a1_user.get_username()
    assert sig_name in text_en and "Signed by the lead auditor" in text_en
    assert "| valid" in text_en


def test_report_docx_draft_and_scope(login, users, team, programme, tree):
    audit = make_audit(programme, [tree.branch_a1])
    with __import__("django").utils.translation.override("en"):
        text = _docx_text(report.report_docx(audit))
    assert "Not signed yet" in text and "No nonconformity was raised." in text
    url = reverse("audits:audit_report_docx", args=[audit.pk])
    # the audited branch's secretary sees it; another branch's does not
    assert login(users.secretary_a1).get(url).status_code == 200
    assert login(users.secretary_b1).get(url).status_code == 404
    assert login(users.member_a1).get(url).status_code == 404


def test_report_docx_query_count(login, reported, team, tree, django_assert_max_num_queries):
    audit, _ncs = reported
    c = login(team.a1_user)
    url = reverse("audits:audit_report_docx", args=[audit.pk])
    with django_assert_max_num_queries(30) as small:
        c.get(url)
    for i in range(20):
        ChecklistItem.objects.create(
            audit=audit, position=10 + i, criterion="x", question="?", result="observation"
        )
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert c.get(url).status_code == 200


def test_audit_closes_only_when_its_nonconformities_are_closed(reported, users):
    audit, ncs = reported
    with pytest.raises(workflow.TransitionNotAllowed):
        workflow.fire(audit, "close", actor=users.party_admin)
    Nonconformity.objects.filter(pk=ncs[0].pk).update(status=Nonconformity.Status.CLOSED)
    with pytest.raises(workflow.TransitionNotAllowed):
        workflow.fire(audit, "close", actor=users.party_admin)
    Nonconformity.objects.filter(pk=ncs[1].pk).update(status=Nonconformity.Status.CANCELLED)
    workflow.fire(audit, "close", actor=users.party_admin)
    audit.refresh_from_db()
    assert audit.status == Audit.Status.CLOSED


def test_detail_lists_the_nonconformities(login, reported, users):
    audit, ncs = reported
    r = login(users.party_admin).get(reverse("audits:audit_detail", args=[audit.pk]))
    body = r.content.decode()
    assert all(nc.number in body for nc in ncs)
    assert 'data-testid="report-docx"' in body


def test_cross_audit_team_raises_only_about_its_audited_units(users, team, programme, tree):
    """team.a1_user's own grant is on branch A1 only; as lead of B1's audit they raise about B1
    (and only while auditing), not about another unit, and a non-member cannot."""
    from django.core.exceptions import PermissionDenied
    from django.http import Http404

    from pbqms.improvement import services as nc_services

    audit = make_audit(programme, [tree.branch_b1])
    services.assign_team(actor=users.party_admin, audit=audit, lead=team.a1, members=[])
    audit.refresh_from_db()
    due = datetime.date.today() + datetime.timedelta(days=30)

    def raise_(actor, org):
        return nc_services.raise_nonconformity(
            actor=actor,
            org=org,
            title="t",
            source_kind="internal_audit",
            requirement="r",
            description="d",
            severity="minor",
            correction_due=due,
            source=audit,
        )

    with pytest.raises((PermissionDenied, Http404)):
        raise_(team.a1_user, tree.branch_b1)  # not started yet
    workflow.fire(audit, "start", actor=team.a1_user)
    audit.refresh_from_db()
    assert raise_(team.a1_user, tree.branch_b1).org == tree.branch_b1
    with pytest.raises((PermissionDenied, Http404)):
        raise_(team.a1_user, tree.branch_a2)  # not audited
    with pytest.raises((PermissionDenied, Http404)):
        raise_(users.auditor, tree.branch_b1)  # not on the team (own grant on A公司 only)


def test_audit_team_follows_its_nonconformities(login, reported, team, users, tree):
    """team.a2 is a member of B1's audit without any grant: once given an account, they see
    the audit's nonconformities (raised by the lead) and their actions, nothing else."""
    from pbqms.core.context import action_context
    from pbqms.improvement.models import CorrectiveAction
    from tests.factories import make_user

    _audit, ncs = reported
    member = make_user("member_no_grant")
    with action_context(source="test"):
        team.a2.user = member
        team.a2.save()
    other = services.improvement_raise()(
        actor=users.party_admin,
        org=tree.branch_b1,
        title="别的不符合项",
        source_kind="self_inspection",
        requirement="r",
        description="d",
        severity="minor",
        correction_due=datetime.date.today() + datetime.timedelta(days=10),
    )
    visible = set(Nonconformity.objects.visible_to(member, "improvement.view_nonconformity"))
    assert visible == set(ncs) and other not in visible
    r = login(member).get("/api/nonconformities/")
    assert {row["id"] for row in r.json()["results"]} == {nc.pk for nc in ncs}
    assert (
        not CorrectiveAction.objects.visible_to(member, "improvement.view_nonconformity")
        .exclude(nonconformity__in=ncs)
        .exists()
    )


def test_external_expert_reads_audits_and_reports_only(login, reported, users, team):
    audit, _ncs = reported
    c = login(users.expert)
    assert c.get(reverse("audits:programme_list")).status_code == 200
    assert c.get(reverse("audits:audit_detail", args=[audit.pk])).status_code == 200
    assert c.get(reverse("audits:audit_report_docx", args=[audit.pk])).status_code == 200
    # nothing to change
    assert c.get(reverse("audits:programme_create")).status_code == 403
    c.post(reverse("audits:audit_transition", args=[audit.pk]), {"transition": "close"})
    audit.refresh_from_db()
    assert audit.status == Audit.Status.REPORTED
    assert c.post(reverse("audits:checklist_generate", args=[audit.pk])).status_code in (302, 403)
    assert not audit.checklist.filter(source="obligation").exists()
