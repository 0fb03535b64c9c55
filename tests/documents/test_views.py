"""Pages of the document area: allowed role, forbidden role (403), another unit's data
(404), bad input (field errors, nothing saved, input kept), bounded query counts."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse
from django.utils import timezone

from pbqms.core.models import ChangeLogEntry
from pbqms.documents import services
from pbqms.documents.models import Acknowledgement, Document, DocumentVersion
from tests.factories import PASSWORD

T = Document.Type
S = DocumentVersion.Status


def url(name, *args):
    return reverse(f"documents:{name}", args=args)


def html(response) -> str:
    return response.content.decode()


@pytest.fixture
def effective(make_doc, release):
    doc = make_doc()
    release(doc.latest_version)
    return Document.objects.get(pk=doc.pk)


def many_documents(make_doc, release, n):
    for i in range(n):
        doc = make_doc(T.REGULATION, title=f"制度{i:03d}", assign=True)
        release(doc.latest_version)


# ---------------------------------------------------------------- master list and tree


class TestList:
    def test_member_sees_effective_documents_that_apply(self, effective, users, login):
        response = login(users.member_a1).get(url("list"))
        assert response.status_code == 200
        assert effective.number in html(response)

    def test_other_branch_does_not_see_them(self, effective, users, login):
        response = login(users.secretary_b1).get(url("list"))
        assert response.status_code == 200
        assert effective.number not in html(response)

    def test_role_without_document_rights_is_forbidden(self, users, login):
        assert login(users.system_admin).get(url("list")).status_code == 403

    def test_drafts_are_not_on_the_master_list(self, make_doc, people, login):
        doc = make_doc()
        body = html(login(people.author).get(url("list")))
        assert doc.number not in body
        body = html(login(people.author).get(url("list"), {"status": "draft"}))
        assert doc.number in body

    def test_search_by_number_title_and_text(self, effective, make_doc, release, users, login):
        other = make_doc(T.REGULATION, title="党费收缴制度", content="按月收缴党费")
        release(other.latest_version)
        client = login(users.member_a1)
        for q in ("DJ-ZD", "党费收缴", "按月收缴"):
            body = html(client.get(url("list"), {"q": q}))
            assert other.number in body and effective.number not in body, q

    def test_search_is_case_insensitive_for_latin_letters(self, make_doc, release, users, login):
        doc = make_doc(T.REGULATION, title="PDCA循环制度", content="按照 Plan-Do-Check-Act 运行")
        release(doc.latest_version)
        client = login(users.member_a1)
        for q in ("pdca", "dj-zd", "plan-do"):
            assert doc.number in html(client.get(url("list"), {"q": q})), q

    def test_draft_text_is_found_by_its_people_only(self, make_doc, release, people, users, login):
        draft = make_doc(T.REGULATION, title="草稿制度", content="草稿中的独特词语")
        effective = make_doc(T.REGULATION, title="现行制度", content="现行文本")
        release(effective.latest_version)
        revision = services.start_revision(
            Document.objects.get(pk=effective.pk), actor=people.author, reason="修订"
        )
        services.update_draft(revision, actor=people.author, data={"content": "修订中的秘密词语"})
        author = login(people.author)
        body = html(author.get(url("list"), {"q": "独特词语", "status": "draft"}))
        assert draft.number in body
        # a revision's text is not searched: a reader would find what they may not read
        reader = login(users.member_a1)
        body = html(reader.get(url("list"), {"q": "秘密词语", "status": "all"}))
        assert effective.number not in body
        body = html(reader.get(url("list"), {"q": "独特词语", "status": "all"}))
        assert draft.number not in body

    def test_htmx_gets_only_the_table(self, effective, users, login):
        response = login(users.member_a1).get(url("list"), HTTP_HX_REQUEST="true")
        assert "<html" not in html(response) and effective.number in html(response)
        assert "HX-Request" in response["Vary"]

    def test_bad_filter_is_no_500(self, effective, users, login):
        response = login(users.member_a1).get(url("list"), {"org": "999999", "doc_type": "x"})
        assert response.status_code == 200

    def test_query_count_does_not_grow(
        self, make_doc, release, people, login, django_assert_max_num_queries
    ):
        many_documents(make_doc, release, 3)
        client = login(people.approver)
        with django_assert_max_num_queries(20) as few:
            client.get(url("list"))
        many_documents(make_doc, release, 12)
        with django_assert_max_num_queries(len(few.captured_queries)):
            response = client.get(url("list"))
        assert html(response).count("DJ-ZD-") >= 15


class TestTree:
    def test_manual_and_procedures_then_children_on_demand(self, make_doc, people, login):
        def doc(doc_type, parent=None):
            return make_doc(doc_type, parent=parent, actor=people.approver, assign=False)

        manual = doc(T.MANUAL)
        proc = doc(T.PROCEDURE, manual)
        form = doc(T.RECORD_FORM, proc)
        client = login(people.approver)
        body = html(client.get(url("tree")))
        assert body.index(manual.number) < body.index(proc.number)
        assert form.number not in body
        assert url("tree_children", proc.pk) in body
        rows = html(client.get(url("tree_children", proc.pk), HTTP_HX_REQUEST="true"))
        assert form.number in rows and "<html" not in rows

    def test_long_levels_load_a_page_at_a_time(self, make_doc, people, login, monkeypatch):
        from pbqms.documents import views

        monkeypatch.setattr(views, "TREE_PAGE", 2)
        manual = make_doc(T.MANUAL, actor=people.approver, assign=False)
        procs = [
            make_doc(
                T.PROCEDURE, parent=manual, actor=people.approver, assign=False, title=f"程序{i}"
            )
            for i in range(5)
        ]
        for _i in range(3):
            make_doc(T.RECORD_FORM, parent=procs[0], actor=people.approver, assign=False)
        client = login(people.approver)
        body = html(client.get(url("tree")))
        assert procs[0].number in body and procs[1].number in body
        assert procs[2].number not in body
        more = url("tree_children", manual.pk) + "?offset=2"
        assert more in body and 'data-testid="tree-more-' in body
        rows = html(client.get(more, HTTP_HX_REQUEST="true"))
        assert procs[2].number in rows and procs[3].number in rows
        assert procs[1].number not in rows and "offset=4" in rows
        last = html(client.get(url("tree_children", manual.pk) + "?offset=4"))
        assert procs[4].number in last and "tree-more-" not in last
        # a procedure's own rows are paged the same way
        first = html(client.get(url("tree_children", procs[0].pk)))
        assert first.count("pb-doc-record_form") == 2 and "offset=2" in first
        assert client.get(url("tree_children", manual.pk) + "?offset=x").status_code == 200

    def test_children_of_an_invisible_document_are_404(self, make_doc, people, users, login):
        proc = make_doc(actor=people.approver, assign=False)
        assert login(users.secretary_b1).get(url("tree_children", proc.pk)).status_code == 404

    def test_tree_query_count_does_not_grow(
        self, make_doc, release, people, login, django_assert_max_num_queries
    ):
        many_documents(make_doc, release, 3)
        client = login(people.approver)
        with django_assert_max_num_queries(20) as few:
            client.get(url("tree"))
        many_documents(make_doc, release, 12)
        with django_assert_max_num_queries(len(few.captured_queries)):
            client.get(url("tree"))


# ---------------------------------------------------------------- document page


class TestDetail:
    def test_author_sees_the_draft_and_allowed_actions_only(self, make_doc, people, login):
        doc = make_doc()
        body = html(login(people.author).get(url("detail", doc.pk)))
        assert doc.number in body
        assert 'data-testid="action-submit"' in body
        assert 'data-testid="action-review"' not in body
        assert 'data-testid="edit-draft"' in body

    def test_another_branch_gets_404_for_a_draft(self, make_doc, users, login):
        doc = make_doc()
        assert login(users.secretary_b1).get(url("detail", doc.pk)).status_code == 404
        assert login(users.member_a1).get(url("detail", doc.pk)).status_code == 404

    def test_committee_draft_is_404_for_the_branch(self, make_doc, people, users, tree, login):
        """zhibu1 cannot see a draft of dangwei (the party committee)."""
        doc = make_doc(T.MANUAL, org=tree.root, actor=people.approver, assign=False)
        assert login(users.secretary_a1).get(url("detail", doc.pk)).status_code == 404

    def test_member_reads_effective_content_sanitised(self, make_doc, release, users, login):
        doc = make_doc(
            content="# 标题\n\n<script>alert(1)</script>\n\n| a | b |\n|---|---|\n| 1 | 2 |"
        )
        release(doc.latest_version)
        body = html(login(users.member_a1).get(url("detail", doc.pk)))
        assert "<h1" in body and "<table>" in body
        assert "<script>alert(1)</script>" not in body
        assert 'data-testid="acknowledge"' in body

    def test_signatures_tab_shows_names_meaning_validity(self, effective, users, login):
        body = html(login(users.auditor).get(url("detail", effective.pk), {"tab": "signatures"}))
        assert "审核人" in body and "party_admin" in body
        assert body.count("ti-shield-check") == 3

    def test_query_count_bounded(
        self, effective, people, login, make_doc, release, django_assert_max_num_queries
    ):
        client = login(people.approver)
        with django_assert_max_num_queries(45):
            response = client.get(url("detail", effective.pk))
        assert response.status_code == 200
        # more versions and references do not add queries per row
        for i in range(3):
            v = services.start_revision(effective, actor=people.author, reason=f"r{i}")
            release(v)
            other = make_doc(T.REGULATION, title=f"引用{i}")
            services.add_link(effective, actor=people.approver, to_document=other)
        with django_assert_max_num_queries(45):
            client.get(url("detail", effective.pk))

    def test_bad_version_parameter_is_no_500(self, effective, users, login):
        response = login(users.member_a1).get(url("detail", effective.pk), {"v": "abc"})
        assert response.status_code == 200


# ---------------------------------------------------------------- create and edit


class TestCreate:
    def test_member_is_forbidden(self, users, login):
        assert login(users.member_a1).get(url("create")).status_code == 403

    def test_bad_input_keeps_what_was_typed(self, users, tree, login):
        client = login(users.secretary_a1)
        response = client.post(
            url("create"),
            {
                "doc_type": "record_form",
                "title": "签到表",
                "org": tree.branch_a1.pk,
                "content": "我写的内容",
                "review_interval_months": 12,
            },
        )
        assert response.status_code == 200
        body = html(response)
        assert "我写的内容" in body and "签到表" in body
        assert "invalid-feedback" in body
        assert not Document.objects.exists()

    def test_unit_outside_scope_is_a_field_error(self, users, tree, login):
        response = login(users.secretary_a1).post(
            url("create"),
            {
                "doc_type": "regulation",
                "title": "x",
                "org": tree.branch_b1.pk,
                "review_interval_months": 12,
            },
        )
        assert response.status_code == 200 and not Document.objects.exists()

    def test_creates_a0_and_goes_to_the_editor(self, users, tree, login):
        response = login(users.secretary_a1).post(
            url("create"),
            {
                "doc_type": "regulation",
                "title": "学习制度",
                "org": tree.branch_a1.pk,
                "content": "正文",
                "review_interval_months": 12,
            },
        )
        doc = Document.objects.get()
        assert response.status_code == 302
        assert response["Location"] == url("version_edit", doc.latest_version_id)
        assert doc.number == "DJ-ZD-01" and doc.latest_version.label == "A/0"


class TestEdit:
    def test_stale_edit_is_refused_and_input_kept(self, make_doc, people, login):
        v = make_doc().latest_version
        client = login(people.author)
        data = {
            "title": "t",
            "content": "第一次",
            "review_interval_months": 12,
            "version": v.version,
            "reviewers": [people.reviewer.pk],
            "approvers": [people.approver.pk],
        }
        assert client.post(url("version_edit", v.pk), data).status_code == 302
        data["content"] = "过期的修改"
        response = client.post(url("version_edit", v.pk), data)
        assert response.status_code == 200 and "过期的修改" in html(response)
        assert DocumentVersion.objects.get(pk=v.pk).content == "第一次"

    def test_file_type_checked_by_content(self, make_doc, people, login):
        v = make_doc().latest_version
        fake = io.BytesIO(b"MZ not a pdf")
        fake.name = "rules.pdf"
        response = login(people.author).post(
            url("version_edit", v.pk),
            {
                "title": "t",
                "content": "x",
                "review_interval_months": 12,
                "version": v.version,
                "file": fake,
            },
        )
        assert response.status_code == 200
        assert "invalid-feedback" in html(response)
        assert not DocumentVersion.objects.get(pk=v.pk).file

    def test_pdf_upload_is_served_as_attachment_after_check(self, make_doc, people, users, login):
        v = make_doc().latest_version
        pdf = io.BytesIO(b"%PDF-1.4\n%test\n")
        pdf.name = "../../etc/规则.pdf"
        client = login(people.author)
        response = client.post(
            url("version_edit", v.pk),
            {
                "title": "t",
                "content": "x",
                "review_interval_months": 12,
                "version": v.version,
                "file": pdf,
                "reviewers": [people.reviewer.pk],
                "approvers": [people.approver.pk],
            },
        )
        assert response.status_code == 302
        v.refresh_from_db()
        assert v.file_name == "规则.pdf" and len(v.file_sha256) == 64
        download = client.get(url("version_file", v.pk))
        assert download.status_code == 200
        assert download["Content-Disposition"].startswith("attachment")
        assert login(users.secretary_b1).get(url("version_file", v.pk)).status_code == 404

    def test_reviewer_cannot_edit(self, make_doc, people, login):
        v = make_doc().latest_version
        assert login(people.reviewer).get(url("version_edit", v.pk)).status_code == 403

    def test_preview_is_sanitised(self, users, login):
        response = login(users.secretary_a1).post(
            url("preview"), {"content": "**粗体** <img src=x onerror=alert(1)>"}
        )
        body = html(response)
        assert "<strong>粗体</strong>" in body and "onerror" not in body

    def test_preview_forbidden_for_members(self, users, login):
        assert login(users.member_a1).post(url("preview"), {"content": "x"}).status_code == 403


# ---------------------------------------------------------------- signing


class TestSignDialog:
    def test_sign_dialog_shows_meaning_and_hash(self, make_doc, people, login):
        v = make_doc().latest_version
        body = html(login(people.author).get(url("version_action", v.pk, "submit")))
        assert 'data-testid="signature-meaning"' in body and v.content_hash in body
        assert 'name="password"' in body

    def test_wrong_password_is_a_field_error_and_logged(self, make_doc, people, login):
        v = make_doc().latest_version
        response = login(people.author).post(
            url("version_action", v.pk, "submit"), {"password": "wrong", "comment": "备注"}
        )
        assert response.status_code == 200 and "invalid-feedback" in html(response)
        assert "备注" in html(response)
        assert DocumentVersion.objects.get(pk=v.pk).status == S.DRAFT
        # the failed attempt survives the request (it is not rolled back with the step)
        assert ChangeLogEntry.objects.filter(action="signature", outcome="failure").exists()

    def test_full_flow_through_the_pages(self, make_doc, people, users, login):
        v = make_doc().latest_version
        assert (
            login(people.author)
            .post(url("version_action", v.pk, "submit"), {"password": PASSWORD})
            .status_code
            == 302
        )
        assert (
            login(people.reviewer)
            .post(url("version_action", v.pk, "review"), {"password": PASSWORD})
            .status_code
            == 302
        )
        today = timezone.localdate().isoformat()
        assert (
            login(people.approver)
            .post(
                url("version_action", v.pk, "approve"),
                {"password": PASSWORD, "effective_on": today},
            )
            .status_code
            == 302
        )
        assert DocumentVersion.objects.get(pk=v.pk).status == S.EFFECTIVE
        client = login(users.member_a1)
        ack = Acknowledgement.objects.get(person__user=users.member_a1)
        assert client.post(url("acknowledge", ack.pk)).status_code == 302
        assert Acknowledgement.objects.get(pk=ack.pk).done_at is not None

    def test_wrong_role_gets_403(self, make_doc, people, login):
        v = make_doc().latest_version
        services.submit(v, actor=people.author, password=PASSWORD)
        assert login(people.approver).get(url("version_action", v.pk, "review")).status_code == 403

    def test_wrong_state_redirects_with_the_reason(self, make_doc, people, login):
        v = make_doc().latest_version
        response = login(people.author).get(url("version_action", v.pk, "approve"), follow=True)
        assert "alert-danger" in html(response)

    def test_send_back_needs_comments(self, make_doc, people, login):
        v = make_doc().latest_version
        services.submit(v, actor=people.author, password=PASSWORD)
        client = login(people.reviewer)
        response = client.post(url("version_action", v.pk, "send_back"), {"reason": ""})
        assert response.status_code == 200 and "invalid-feedback" in html(response)
        client.post(url("version_action", v.pk, "send_back"), {"reason": "请补充"})
        assert DocumentVersion.objects.get(pk=v.pk).status == S.DRAFT

    def test_unknown_action_is_404_and_outsider_404(self, make_doc, people, users, login):
        v = make_doc().latest_version
        assert login(people.author).get(url("version_action", v.pk, "publish")).status_code == 404
        assert (
            login(users.secretary_b1).get(url("version_action", v.pk, "submit")).status_code == 404
        )

    def test_acknowledging_someone_elses_task_is_404(self, effective, people, login):
        ack = Acknowledgement.objects.get()
        assert login(people.author).post(url("acknowledge", ack.pk)).status_code == 404


# ---------------------------------------------------------------- other pages


class TestOtherPages:
    def test_diff_page(self, effective, people, login):
        v = services.start_revision(effective, actor=people.author, reason="r")
        services.update_draft(v, actor=people.author, data={"content": "全新内容"})
        body = html(login(people.author).get(url("diff", effective.pk), {"mode": "side"}))
        assert "全新内容" in body and "pb-diff-table" in body

    def test_tasks_lists_reviews_and_acknowledgements(
        self, make_doc, people, users, effective, login
    ):
        v = make_doc(title="待审文件").latest_version
        services.submit(v, actor=people.author, password=PASSWORD)
        body = html(login(people.reviewer).get(url("tasks")))
        assert "待审文件" in body
        body = html(login(users.member_a1).get(url("tasks")))
        assert effective.number in body

    def test_reviews_page_for_administrators_only(self, effective, people, login):
        Document.objects.filter(pk=effective.pk).update(next_review_on=timezone.localdate())
        body = html(login(people.approver).get(url("reviews")))
        assert effective.number in body
        assert login(people.author).get(url("reviews")).status_code == 403

    def test_periodic_review_form(self, effective, people, login):
        client = login(people.approver)
        response = client.post(url("periodic_review", effective.pk), {"conclusion": "revise"})
        assert response.status_code == 200 and "invalid-feedback" in html(response)
        response = client.post(
            url("periodic_review", effective.pk), {"conclusion": "revise", "notes": "需更新"}
        )
        assert response.status_code == 302
        assert effective.versions.filter(status=S.DRAFT).exists()

    def test_revise_and_obsolete_pages(self, effective, people, users, login):
        assert login(users.member_a1).get(url("revise", effective.pk)).status_code == 403
        client = login(people.author)
        response = client.post(url("revise", effective.pk), {"reason": "", "major": "1"})
        assert response.status_code == 200 and "invalid-feedback" in html(response)
        assert (
            client.post(url("revise", effective.pk), {"reason": "调整", "major": "1"}).status_code
            == 302
        )
        assert login(people.author).get(url("obsolete", effective.pk)).status_code == 403
        client = login(people.approver)
        assert client.post(url("obsolete", effective.pk), {"reason": "废止"}).status_code == 302
        assert Document.objects.get(pk=effective.pk).status == Document.Status.OBSOLETE

    def test_references_add_and_remove(self, effective, make_doc, release, people, login):
        other = make_doc(T.REGULATION, title="被引用")
        release(other.latest_version)
        client = login(people.author)
        client.post(url("link_add", effective.pk), {"to_document": other.number})
        assert effective.links_out.count() == 1
        body = html(client.get(url("detail", other.pk), {"tab": "links"}))
        assert effective.number in body  # "referenced by"
        client.post(url("link_add", effective.pk), {"to_document": "NO-SUCH"})
        assert effective.links_out.count() == 1
        link = effective.links_out.get()
        client.post(url("link_remove", effective.pk, link.pk))
        assert effective.links_out.count() == 0

    def test_menu_shows_document_items(self, users, login):
        body = html(login(users.member_a1).get(reverse("core:home")))
        assert url("list") in body and url("tree") in body and url("reviews") not in body
