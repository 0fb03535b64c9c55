"""Word exports: open the produced .docx with python-docx and check the cover fields, the
signature names, the revision history, the controlled-copy marking and the audit row."""

from __future__ import annotations

import io

import docx
from django.urls import reverse
from django.utils import timezone

from pbqms.core.models import ChangeLogEntry
from pbqms.documents import services
from pbqms.documents.export import markdown_to_docx
from pbqms.documents.models import Document

T = Document.Type


def url(name, *args):
    return reverse(f"documents:{name}", args=args)


def all_text(d) -> str:
    parts = [p.text for p in d.paragraphs]
    for table in d.tables:
        for row in table.rows:
            parts.extend(cell.text for cell in row.cells)
    for section in d.sections:
        parts.extend(p.text for p in section.header.paragraphs)
        parts.extend(p.text for p in section.footer.paragraphs)
    return "\n".join(parts)


def open_docx(response):
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    return docx.Document(io.BytesIO(response.content))


def test_version_export_has_cover_signatures_history_and_marking(
    make_doc, release, people, users, login
):
    doc = make_doc(
        title="文件控制程序", content="# 目的\n\n正文**要点**\n\n| 甲 | 乙 |\n|---|---|\n| 1 | 2 |"
    )
    v = release(doc.latest_version)
    d = open_docx(login(users.member_a1).get(url("export_version", v.pk)))
    text = all_text(d)
    for expected in (doc.number, "文件控制程序", "A/0", v.content_hash, doc.org.name):
        assert expected in text, expected
    # 编制 / 审核 / 批准 with the signers' names, all valid
    cover = d.tables[1]
    rows = [[c.text for c in r.cells] for r in cover.rows[1:]]
    assert [r[1] for r in rows] == ["sec_a1", "审核人", "party_admin"]
    assert len({r[0] for r in rows}) == 3
    # revision history and content (with the table converted)
    history = d.tables[2]
    assert history.rows[1].cells[0].text == "A/0"
    assert history.rows[1].cells[3].text == "sec_a1"
    assert "正文要点" in text and "甲" in text
    header = d.sections[0].header.paragraphs[0].text
    assert doc.number in header and len(header) > len(doc.number) + 5
    event = ChangeLogEntry.objects.filter(action="export").get()
    assert event.actor_id == users.member_a1.pk and event.changes["document"] == doc.number


def test_draft_export_shows_missing_signatures(make_doc, people, login):
    v = make_doc().latest_version
    d = open_docx(login(people.author).get(url("export_version", v.pk)))
    signers = [r.cells[1].text for r in d.tables[1].rows[1:]]
    assert signers == ["—", "—", "—"]


def test_export_outside_scope_is_404(make_doc, people, users, login):
    v = make_doc().latest_version
    assert login(users.secretary_b1).get(url("export_version", v.pk)).status_code == 404
    assert not ChangeLogEntry.objects.filter(action="export").exists()


def test_manual_export_contains_its_procedures(make_doc, release, people, users, tree, login):
    def signed(doc_type, parent=None, title="t"):
        d = make_doc(
            doc_type,
            parent=parent,
            title=title,
            org=tree.sub_a,
            actor=people.approver,
            assign=False,
        )
        v = d.latest_version
        services.update_draft(
            v,
            actor=people.approver,
            data={"reviewers": [people.admin_a], "approvers": [people.admin_a]},
        )
        services.submit(v, actor=people.approver, password="Test-Passw0rd!x")
        services.review(v, actor=people.admin_a, password="Test-Passw0rd!x")
        services.approve(
            v, actor=people.admin_a, password="Test-Passw0rd!x", effective_on=timezone.localdate()
        )
        return Document.objects.get(pk=d.pk)

    manual = signed(T.MANUAL, title="管理手册")
    p1 = signed(T.PROCEDURE, manual, title="文件控制程序")
    p2 = signed(T.PROCEDURE, manual, title="内部审核程序")
    draft = make_doc(
        T.PROCEDURE,
        parent=manual,
        org=tree.sub_a,
        actor=people.approver,
        assign=False,
        title="草稿程序",
    )
    d = open_docx(login(people.approver).get(url("export_manual", manual.pk)))
    text = all_text(d)
    assert manual.number in text and p1.number in text and p2.number in text
    assert draft.number not in text
    assert len(d.sections) == 3


def test_manual_export_of_a_procedure_is_404(make_doc, release, people, login):
    doc = make_doc()
    release(doc.latest_version)
    assert login(people.author).get(url("export_manual", doc.pk)).status_code == 404


def test_markdown_subset_conversion():
    d = docx.Document()
    markdown_to_docx(
        d, "# 一\n\n- 甲\n- 乙\n\n1. 第一\n\n普通 `代码` 文字\n\n| a | b |\n|---|---|\n| 1 |"
    )
    styles = [p.style.name for p in d.paragraphs]
    assert "Heading 1" in styles and "List Bullet" in styles and "List Number" in styles
    assert d.tables[0].rows[1].cells[1].text == ""


def test_master_list_xlsx_follows_filters_and_scope(make_doc, release, people, users, login):
    import openpyxl

    a = make_doc(title="文件控制程序")
    release(a.latest_version)
    b = make_doc(T.REGULATION, title="学习制度")
    release(b.latest_version)
    make_doc(T.REGULATION, title="草稿制度")  # not effective: not on the list
    response = login(users.member_a1).get(url("list_export"), {"doc_type": "regulation"})
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert [r[0] for r in rows[1:]] == [b.number]
    assert rows[1][3] == "A/0"
    event = ChangeLogEntry.objects.filter(action="export").get()
    assert event.changes["rows"] == 1 and event.changes["filter"] == {"doc_type": "regulation"}
    empty = login(users.secretary_b1).get(url("list_export"))
    assert len(list(openpyxl.load_workbook(io.BytesIO(empty.content)).active.iter_rows())) == 1
    assert login(users.system_admin).get(url("list_export")).status_code == 403
