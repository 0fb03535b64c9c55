"""Simplified mode (三合为一): procedures, work instructions and regulations as one type,
switchable by document administrators without touching any document."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation
from openpyxl import load_workbook

from pbqms.core.models import ChangeLogEntry
from pbqms.documents import modes
from pbqms.documents.models import Document, DocumentSystemSetting

T = Document.Type


def _combined_zh() -> str:
    # the page's language; “程序/作业/制度文件” once the lead's catalogue has the msgid
    with translation.override("zh-hans"):
        return str(modes.COMBINED_LABEL)


COMBINED_ZH = _combined_zh()


def url(name, *args):
    return reverse(f"documents:{name}", args=args)


def snapshot():
    return list(Document.objects.order_by("pk").values_list("pk", "number", "doc_type", "title"))


@pytest.fixture
def mixed(make_doc, release, tree):
    """An effective procedure, a regulation and a work instruction of branch A1."""
    proc = make_doc(T.PROCEDURE, title="文件控制程序")
    release(proc.latest_version)
    rule = make_doc(T.REGULATION, title="党费收缴制度")
    release(rule.latest_version)
    wi = make_doc(T.WORK_INSTRUCTION, title="发展党员作业指导书", parent=proc)
    release(wi.latest_version)
    return proc, rule, wi


class TestResolver:
    def test_nearest_setting_wins(self, tree, people):
        modes.set_mode(tree.root, actor=people.approver, simplified=True)
        modes.set_mode(tree.sub_a, actor=people.approver, simplified=False)
        r = modes.Resolver()
        assert r.simplified(tree.root.path)
        assert r.simplified(tree.branch_b1.path)
        assert not r.simplified(tree.sub_a.path)
        assert not r.simplified(tree.group_a1.path)

    def test_default_is_the_five_types(self, tree):
        assert not modes.is_simplified(tree.branch_a1)

    def test_choices(self):
        values = [v for v, _l in modes.type_choices(True, full=False)]
        assert values == [T.MANUAL, modes.COMBINED, T.RECORD_FORM]
        values = [v for v, _l in modes.type_choices(False)]
        assert values == list(T.values)


class TestSetMode:
    def test_switching_keeps_every_document_and_is_logged(self, mixed, tree, people):
        before = snapshot()
        setting = modes.set_mode(tree.sub_a, actor=people.admin_a, simplified=True)
        assert snapshot() == before
        modes.set_mode(
            tree.sub_a, actor=people.admin_a, simplified=False, expected_version=setting.version
        )
        assert snapshot() == before
        entries = ChangeLogEntry.objects.filter(
            object_type="documents.documentsystemsetting", object_id=str(setting.pk)
        )
        assert entries.count() == 2
        assert entries.order_by("id").last().changes["simplified"] == [True, False]

    def test_only_document_administrators(self, tree, people, users):
        with pytest.raises(PermissionDenied):
            modes.set_mode(tree.branch_a1, actor=people.author, simplified=True)
        with pytest.raises(Http404):
            modes.set_mode(tree.sub_b, actor=people.admin_a, simplified=True)
        assert not DocumentSystemSetting.objects.exists()

    def test_stale_version_refused(self, tree, people):
        setting = modes.set_mode(tree.sub_a, actor=people.admin_a, simplified=True)
        modes.set_mode(tree.sub_a, actor=people.approver, simplified=False)
        with pytest.raises(ValidationError):
            modes.set_mode(
                tree.sub_a,
                actor=people.admin_a,
                simplified=True,
                expected_version=setting.version,
            )
        assert not DocumentSystemSetting.objects.get().simplified


class TestCreate:
    def test_merged_type_is_stored_as_a_procedure(self, tree, people, make_doc):
        modes.set_mode(tree.sub_a, actor=people.admin_a, simplified=True)
        doc = make_doc(modes.COMBINED, title="组织生活制度")
        assert doc.doc_type == T.PROCEDURE and doc.number.startswith("DJ-CX-")

    def test_merged_type_refused_in_full_mode(self, tree, people, make_doc):
        with pytest.raises(ValidationError) as exc:
            make_doc(modes.COMBINED, title="组织生活制度")
        assert "doc_type" in exc.value.message_dict
        assert not Document.objects.exists()

    def test_create_form_offers_the_merged_type(self, tree, people, login):
        client = login(people.author)
        body = client.get(url("create")).content.decode()
        assert 'value="combined"' not in body and 'value="work_instruction"' in body
        modes.set_mode(tree.sub_a, actor=people.admin_a, simplified=True)
        body = client.get(url("create")).content.decode()
        assert 'value="combined"' in body and COMBINED_ZH in body
        assert 'value="work_instruction"' not in body and 'value="regulation"' not in body
        response = client.post(
            url("create"),
            {
                "doc_type": "combined",
                "title": "三会一课制度",
                "org": tree.branch_a1.pk,
                "review_interval_months": 12,
            },
        )
        assert response.status_code == 302
        assert Document.objects.get(title="三会一课制度").doc_type == T.PROCEDURE


class TestPages:
    def test_tree_list_and_export_group_the_types_and_switch_back(
        self, mixed, tree, people, users, login
    ):
        proc, rule, _wi = mixed
        client = login(people.admin_a)
        modes.set_mode(tree.sub_a, actor=people.admin_a, simplified=True)
        tree_body = client.get(url("tree")).content.decode()
        assert COMBINED_ZH in tree_body
        children = client.get(url("tree_children", proc.pk)).content.decode()
        assert COMBINED_ZH in children and "作业指导书</span>" not in children
        body = client.get(url("list"), {"doc_type": "combined"}).content.decode()
        for d in mixed:
            assert d.number in body
        assert body.count(COMBINED_ZH) >= 3
        detail = client.get(url("detail", rule.pk)).content.decode()
        assert COMBINED_ZH in detail
        xlsx = client.get(url("list_export"))
        sheet = load_workbook(io.BytesIO(xlsx.content)).active
        types = {row[2] for row in sheet.iter_rows(min_row=2, values_only=True)}
        assert types == {COMBINED_ZH}

        modes.set_mode(tree.sub_a, actor=people.admin_a, simplified=False)
        body = client.get(url("list")).content.decode()
        assert COMBINED_ZH not in body
        assert "管理制度" in body and "作业指导书" in body and "程序文件" in body

    def test_other_systems_keep_their_types(self, mixed, tree, people, login):
        modes.set_mode(tree.sub_b, actor=people.approver, simplified=True)
        body = login(people.approver).get(url("list")).content.decode()
        assert f">{COMBINED_ZH}</div>" not in body  # the filter offers it, no row shows it


class TestSystemPage:
    def test_admin_switches(self, tree, people, login):
        client = login(people.admin_a)
        page = client.get(url("system"))
        assert page.status_code == 200
        body = page.content.decode()
        assert "A公司党委" in body and "集团党委" not in body
        response = client.post(url("system"), {"org": tree.sub_a.pk, "simplified": "1"})
        assert response.status_code == 302
        assert DocumentSystemSetting.objects.get(org=tree.sub_a).simplified
        body = client.get(url("system")).content.decode()
        assert 'value="1" checked' in body or 'checked value="1"' in body or "bg-azure-lt" in body

    def test_forbidden_for_non_administrators(self, people, users, login):
        assert login(people.author).get(url("system")).status_code == 403
        assert login(users.member_a1).get(url("system")).status_code == 403

    def test_another_units_committee_is_404(self, tree, people, login):
        client = login(people.admin_a)
        response = client.post(url("system"), {"org": tree.root.pk, "simplified": "1"})
        assert response.status_code == 404
        assert not DocumentSystemSetting.objects.exists()

    def test_bad_input_saves_nothing(self, tree, people, login):
        client = login(people.admin_a)
        response = client.post(url("system"), {"org": tree.sub_a.pk, "simplified": "maybe"})
        assert response.status_code == 200
        assert not DocumentSystemSetting.objects.exists()
        modes.set_mode(tree.sub_a, actor=people.admin_a, simplified=False)
        response = client.post(
            url("system"), {"org": tree.sub_a.pk, "simplified": "1", "version": "99"}
        )
        assert response.status_code == 200
        assert response.context["rows"][0]["errors"]
        assert not DocumentSystemSetting.objects.filter(simplified=True).exists()

    def test_bounded_queries(self, tree, people, login):
        client = login(people.approver)
        modes.set_mode(tree.sub_a, actor=people.approver, simplified=True)
        client.get(url("system"))
        with CaptureQueriesContext(connection) as small:
            client.get(url("system"))
        modes.set_mode(tree.root, actor=people.approver, simplified=True)
        modes.set_mode(tree.sub_a, actor=people.approver, simplified=False)
        with CaptureQueriesContext(connection) as larger:
            client.get(url("system"))
        assert len(larger) == len(small), "\n".join(q["sql"][:120] for q in larger.captured_queries)
