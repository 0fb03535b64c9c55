"""Checklist generation from the audit's criteria, editing, and reusable templates."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from pbqms.audits import services
from pbqms.audits.models import Audit, ChecklistItem, ChecklistTemplate
from pbqms.core.context import action_context
from pbqms.documents.models import Document, DocumentVersion
from pbqms.system.models import ConformityResult, ConformityStatus
from tests.audits.conftest import make_audit

S = ConformityStatus
TODAY = timezone.localdate()


@pytest.fixture
def obligation(tree, db):
    from pbqms.records.models import RecordTemplate
    from pbqms.records.services import ensure_builtin_templates
    from pbqms.system.builtin import ensure_builtin_requirements
    from pbqms.system.models import Requirement
    from tests.system.conftest import make_obligation

    ensure_builtin_templates()
    ensure_builtin_requirements()
    return make_obligation(
        tree.root,
        RecordTemplate.objects.get(code="theme_day"),
        Requirement.objects.get(code="DJ-ZTDR"),
        name="主题党日",
        frequency="monthly",
    )


def cell(org, obligation, days_ago, status):
    due = TODAY - datetime.timedelta(days=days_ago)
    return ConformityResult.objects.create(
        org=org,
        obligation=obligation,
        period_start=due - datetime.timedelta(days=20),
        period_end=due,
        due_on=due,
        status=status,
        computed_at=timezone.now(),
    )


def effective_document(org, applies_to, number, title, author):
    with action_context(source="test"):
        doc = Document.objects.create(
            number=number, title=title, doc_type="regulation", org=org, status="effective"
        )
        version = DocumentVersion.objects.create(
            document=doc, title=title, status="effective", content="正文", author=author
        )
        doc.effective_version = version
        doc.save()
        doc.applies_to.set(applies_to)
    return doc


@pytest.fixture
def criteria(tree, users, obligation):
    """A1 has one missing and one late month and one met; A2 (not audited) a missing one;
    a regulation applies to A公司 (so to A1), another only to B."""
    cells = {
        "missing": cell(tree.branch_a1, obligation, 40, S.MISSING),
        "late": cell(tree.branch_a1, obligation, 70, S.LATE),
        "met": cell(tree.branch_a1, obligation, 100, S.MET),
        "stale_upcoming": cell(tree.branch_a1, obligation, 10, S.UPCOMING),
        "other": cell(tree.branch_a2, obligation, 40, S.MISSING),
    }
    admin = users.party_admin
    docs = {
        "a": effective_document(tree.root, [tree.sub_a], "ZD-001", "三会一课制度", admin),
        "b": effective_document(tree.root, [tree.sub_b], "ZD-002", "B公司制度", admin),
    }
    return cells, docs


@pytest.fixture
def audit_a1(programme, tree, team):
    return make_audit(programme, [tree.branch_a1], lead_auditor=team.b1)


def test_generate_from_criteria(audit_a1, criteria, users, obligation, tree):
    cells, docs = criteria
    added = services.generate_checklist(actor=users.party_admin, audit=audit_a1)
    by_source = {}
    for item in added:
        by_source.setdefault(item.source, []).append(item)
    # the obligation that applies to A1, once
    assert [i.source_key for i in by_source["obligation"]] == [f"obligation:{obligation.pk}"]
    # the document that applies to A公司 (above A1), not B's
    assert [i.source_key for i in by_source["document"]] == [f"document:{docs['a'].pk}"]
    assert "ZD-001" in by_source["document"][0].source_ref
    # each gap of A1 (missing, late, and an upcoming cell whose due date passed), not A2's
    gap_keys = {i.source_key for i in by_source["gap"]}
    assert gap_keys == {
        f"gap:{cells['missing'].pk}",
        f"gap:{cells['late'].pk}",
        f"gap:{cells['stale_upcoming'].pk}",
    }
    gap = next(i for i in by_source["gap"] if i.source_key == f"gap:{cells['missing'].pk}")
    assert cells["missing"].due_on.isoformat() in gap.question
    assert tree.branch_a1.name in gap.source_ref and "主题党日" in gap.source_ref
    assert all(i.unit == tree.branch_a1 for i in added)
    assert [i.position for i in audit_a1.checklist.all()] == list(range(1, len(added) + 1))
    # generating again adds only what is new
    assert services.generate_checklist(actor=users.party_admin, audit=audit_a1) == []
    cell(tree.branch_a1, obligation, 130, S.MISSING)
    again = services.generate_checklist(actor=users.party_admin, audit=audit_a1)
    assert [i.source for i in again] == ["gap"]


def test_generate_rules(audit_a1, criteria, users, team):
    # outside the audit team: refused
    with pytest.raises(PermissionDenied):
        services.generate_checklist(actor=users.secretary_a1, audit=audit_a1)
    # the lead auditor may
    assert services.generate_checklist(actor=team.b1_user, audit=audit_a1)
    # a reported audit's checklist is frozen
    Audit.objects.filter(pk=audit_a1.pk).update(status=Audit.Status.REPORTED)
    audit_a1.refresh_from_db()
    with pytest.raises(ValidationError):
        services.generate_checklist(actor=users.party_admin, audit=audit_a1)


def test_edit_and_delete_items(audit_a1, criteria, users, tree):
    items = services.generate_checklist(actor=users.party_admin, audit=audit_a1)
    item = items[0]
    with pytest.raises(ValidationError) as exc:
        services.update_checklist_item(
            actor=users.party_admin, item=item, data={"criterion": "", "question": "问"}
        )
    assert "criterion" in exc.value.message_dict
    services.update_checklist_item(
        actor=users.party_admin,
        item=item,
        data={"criterion": "新标准", "question": "新问题", "unit": None},
        version=item.version,
    )
    item.refresh_from_db()
    assert (item.criterion, item.question) == ("新标准", "新问题")
    # an item with a nonconformity stays
    ChecklistItem.objects.filter(pk=items[1].pk).update(nonconformity_id=1)
    items[1].refresh_from_db()
    with pytest.raises(ValidationError):
        services.delete_checklist_item(actor=users.party_admin, item=items[1])
    services.delete_checklist_item(actor=users.party_admin, item=item)
    assert not ChecklistItem.objects.filter(pk=item.pk).exists()


def test_template_round_trip(audit_a1, criteria, users, programme, tree, team):
    services.generate_checklist(actor=users.party_admin, audit=audit_a1)
    with pytest.raises(ValidationError):
        services.save_as_template(actor=users.party_admin, audit=audit_a1, name=" ")
    template = services.save_as_template(
        actor=users.party_admin, audit=audit_a1, name="支部内审检查表", description="通用"
    )
    questions = list(audit_a1.checklist.values_list("criterion", "question"))
    assert list(template.items.values_list("criterion", "question")) == questions
    other = make_audit(programme, [tree.branch_b1], lead_auditor=team.a1)
    added = services.apply_template(actor=users.party_admin, audit=other, template=template)
    assert [(i.criterion, i.question) for i in added] == questions
    assert all(i.source == "template" and i.unit == tree.branch_b1 for i in added)
    assert not any(i.result for i in added)
    # applying twice adds nothing
    assert services.apply_template(actor=users.party_admin, audit=other, template=template) == []
    with pytest.raises(PermissionDenied):
        services.apply_template(actor=users.secretary_b1, audit=other, template=template)


# --- pages ----------------------------------------------------------------------------


def test_checklist_pages(login, audit_a1, criteria, users):
    c = login(users.party_admin)
    r = c.post(reverse("audits:checklist_generate", args=[audit_a1.pk]))
    assert r.status_code == 302
    n = audit_a1.checklist.count()
    assert n >= 5
    page = c.get(reverse("audits:checklist", args=[audit_a1.pk]))
    assert page.status_code == 200
    assert 'data-testid="source-ref"' in page.content.decode()
    # save as template: bad input keeps the form, nothing saved
    url = reverse("audits:checklist_save_template", args=[audit_a1.pk])
    assert c.get(url).status_code == 200
    r = c.post(url, {"name": "", "description": "保留的说明"})
    assert r.status_code == 200 and "name" in r.context["form"].errors
    assert "保留的说明" in r.content.decode()
    assert not ChecklistTemplate.objects.exists()
    r = c.post(url, {"name": "模板一"})
    assert r.status_code == 302
    template = ChecklistTemplate.objects.get()
    # edit an item: bad input, then good
    item = audit_a1.checklist.first()
    edit = reverse("audits:checklist_item_edit", args=[audit_a1.pk, item.pk])
    r = c.post(edit, {"criterion": "", "question": "保留的问题", "version": item.version})
    assert r.status_code == 200 and "criterion" in r.context["form"].errors
    assert "保留的问题" in r.content.decode()
    r = c.post(edit, {"criterion": "改", "question": "改问", "version": item.version})
    assert r.status_code == 302
    r = c.post(edit, {"delete": "1"})
    assert r.status_code == 302 and audit_a1.checklist.count() == n - 1
    # apply the template: a bad template id is an error message, not a 500
    apply_url = reverse("audits:checklist_apply_template", args=[audit_a1.pk])
    r = c.post(apply_url, {"template": "999999"})
    assert r.status_code == 302
    r = c.post(apply_url, {"template": template.pk})
    assert r.status_code == 302


def test_checklist_pages_forbidden_and_scoped(login, audit_a1, criteria, users):
    # the branch secretary sees the audit of their branch but does not fill it
    c = login(users.secretary_a1)
    assert c.post(reverse("audits:checklist_generate", args=[audit_a1.pk])).status_code == 403
    assert c.get(reverse("audits:checklist_save_template", args=[audit_a1.pk])).status_code == 403
    # another branch's secretary does not see it at all
    c = login(users.secretary_b1)
    assert c.post(reverse("audits:checklist_generate", args=[audit_a1.pk])).status_code == 404
    assert not audit_a1.checklist.exists()


def test_checklist_page_query_count(
    login, audit_a1, criteria, users, obligation, tree, django_assert_max_num_queries
):
    c = login(users.party_admin)
    services.generate_checklist(actor=users.party_admin, audit=audit_a1)
    url = reverse("audits:checklist", args=[audit_a1.pk])
    c.get(url)
    with django_assert_max_num_queries(40) as small:
        c.get(url)
    for days_ago in range(130, 330, 20):
        cell(tree.branch_a1, obligation, days_ago, S.MISSING)
    services.generate_checklist(actor=users.party_admin, audit=audit_a1)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert c.get(url).status_code == 200


# --- evidence files -----------------------------------------------------------------------

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06"
    b"\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01"
    b"\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


def test_evidence_files(login, users, team, programme, tree, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from pbqms.audits.models import ChecklistAttachment
    from pbqms.core import workflow

    settings.MEDIA_ROOT = str(tmp_path)
    audit = make_audit(programme, [tree.branch_b1])
    services.assign_team(actor=users.party_admin, audit=audit, lead=team.a1, members=[])
    audit.refresh_from_db()
    item = ChecklistItem.objects.create(audit=audit, position=1, criterion="c", question="q")
    url = reverse("audits:checklist_attach", args=[audit.pk, item.pk])
    c = login(team.a1_user)
    # not yet auditing: refused, nothing stored
    c.post(url, {"files": SimpleUploadedFile("签到表.png", PNG, content_type="image/png")})
    assert not ChecklistAttachment.objects.exists()
    workflow.fire(audit, "start", actor=team.a1_user)
    # a file that is not what it claims: refused
    fake = SimpleUploadedFile("x.png", b"MZ not an image at all", content_type="image/png")
    c.post(url, {"files": fake})
    assert not ChecklistAttachment.objects.exists()
    r = c.post(url, {"files": SimpleUploadedFile("签到表.png", PNG, content_type="image/png")})
    assert r.status_code == 302
    attachment = ChecklistAttachment.objects.get()
    assert attachment.item == item and attachment.is_image
    page = c.get(reverse("audits:checklist", args=[audit.pk]))
    assert 'data-testid="evidence-files"' in page.content.decode()
    file_url = reverse("audits:checklist_file", args=[audit.pk, item.pk, attachment.pk])
    r = c.get(file_url)
    assert r.status_code == 200 and b"".join(r.streaming_content) == PNG
    # the audited branch's secretary sees it but may not attach; another branch's: 404
    sec = login(users.secretary_b1)
    assert sec.get(file_url).status_code == 200
    assert sec.post(url, {}).status_code == 403
    assert login(users.secretary_a1).get(file_url).status_code == 404
