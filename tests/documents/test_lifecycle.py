"""The document lifecycle through the services: every transition allowed, refused (wrong
state), by the wrong person, and with a wrong password; revision, obsoleting, numbering."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone

from pbqms.core import workflow
from pbqms.core.locking import StaleObjectError
from pbqms.core.models import ChangeLogEntry, Signature
from pbqms.core.roles import Role
from pbqms.documents import services
from pbqms.documents.models import Document, DocumentVersion
from tests.factories import PASSWORD, grant, make_user

T = Document.Type
S = DocumentVersion.Status
M = Signature.Meaning
TODAY = timezone.localdate


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


def statuses(document):
    return dict(document.versions.values_list("label", "status"))


# ---------------------------------------------------------------- numbering


class TestNumbering:
    def test_patterns_per_type_and_children_restart_per_parent(self, make_doc, people, tree):
        def doc(doc_type, parent=None):
            return make_doc(doc_type, parent=parent, actor=people.approver, assign=False)

        manual = doc(T.MANUAL)
        p1, p2 = doc(T.PROCEDURE, manual), doc(T.PROCEDURE, manual)
        assert manual.number == "DJ-SC-01"
        assert (p1.number, p2.number) == ("DJ-CX-01", "DJ-CX-02")
        assert [doc(T.RECORD_FORM, p1).number for _ in range(2)] == ["DJ-JL-01-01", "DJ-JL-01-02"]
        assert doc(T.RECORD_FORM, p2).number == "DJ-JL-02-01"
        assert doc(T.WORK_INSTRUCTION, p2).number == "DJ-ZY-02-01"
        assert doc(T.REGULATION).number == "DJ-ZD-01"

    def test_a_draft_parent_of_someone_else_is_not_found(self, make_doc, people):
        manual = make_doc(T.MANUAL, actor=people.approver, assign=False)
        with pytest.raises(Http404):
            make_doc(T.PROCEDURE, parent=manual)

    def test_numbers_are_never_reused(self, make_doc, people):
        first = make_doc()
        services.withdraw(first.latest_version, actor=people.author, reason="重复")
        assert fresh(first).status == Document.Status.OBSOLETE
        assert make_doc().number == "DJ-CX-02"

    def test_a_taken_number_is_skipped(self, make_doc):
        doc = make_doc()
        Document.objects.filter(pk=doc.pk).update(number="DJ-CX-02")
        assert make_doc().number == "DJ-CX-03"

    def test_child_without_parent_is_refused(self, make_doc):
        with pytest.raises(ValidationError) as exc:
            make_doc(T.RECORD_FORM)
        assert "parent" in exc.value.message_dict
        assert not Document.objects.exists()

    def test_wrong_parent_type_is_refused(self, make_doc):
        proc = make_doc()
        with pytest.raises(ValidationError) as exc:
            make_doc(T.PROCEDURE, parent=proc)
        assert "parent" in exc.value.message_dict


# ---------------------------------------------------------------- create / edit


class TestCreate:
    def test_first_draft_is_a0_by_its_author(self, make_doc, people):
        doc = make_doc()
        v = doc.latest_version
        assert (v.label, v.status, v.author_id) == ("A/0", S.DRAFT, people.author.pk)
        assert v.content_hash == v.compute_hash()
        assert list(doc.applies_to.all()) == [doc.org]
        assert ChangeLogEntry.objects.filter(
            object_type="documents.document", object_id=str(doc.pk), action="create"
        ).exists()

    def test_member_may_not_draft(self, make_doc, users):
        with pytest.raises(PermissionDenied):
            make_doc(actor=users.member_a1)

    def test_other_branch_is_not_found(self, make_doc, users):
        with pytest.raises(Http404):
            make_doc(actor=users.secretary_b1)

    def test_empty_title_is_a_field_error(self, make_doc):
        with pytest.raises(ValidationError) as exc:
            make_doc(title="  ")
        assert "title" in exc.value.message_dict

    def test_author_cannot_review_own_version(self, make_doc, people):
        with pytest.raises(ValidationError) as exc:
            services.create_document(
                actor=people.author,
                org=people.author.role_assignments.get().org,
                doc_type=T.REGULATION,
                title="制度",
                reviewers=[people.author],
            )
        assert "reviewers" in exc.value.message_dict

    def test_procedure_approver_must_administer_the_committee(self, make_doc, people):
        with pytest.raises(ValidationError) as exc:
            make_doc(assign=False).latest_version  # noqa: B018
            services.update_draft(
                Document.objects.get().latest_version,
                actor=people.author,
                data={"approvers": [people.reviewer], "reviewers": []},
            )
        assert "approvers" in exc.value.message_dict


class TestEditDraft:
    def test_author_edits_draft_and_hash_follows(self, make_doc, people):
        v = make_doc().latest_version
        old_hash = v.content_hash
        services.update_draft(
            v, actor=people.author, data={"content": "新内容"}, expected_version=v.version
        )
        v = fresh(v)
        assert v.content == "新内容" and v.content_hash != old_hash

    def test_stale_edit_is_refused(self, make_doc, people):
        v = make_doc().latest_version
        services.update_draft(
            v, actor=people.author, data={"content": "一"}, expected_version=v.version
        )
        with pytest.raises(StaleObjectError):
            services.update_draft(
                v, actor=people.author, data={"content": "二"}, expected_version=1
            )
        assert fresh(v).content == "一"

    def test_submitted_version_cannot_be_edited(self, make_doc, people):
        v = make_doc().latest_version
        services.submit(v, actor=people.author, password=PASSWORD)
        with pytest.raises(workflow.TransitionNotAllowed):
            services.update_draft(v, actor=people.author, data={"content": "x"})

    def test_other_secretary_in_scope_may_not_edit(self, make_doc, people, tree):
        other = make_user("worker_a1")
        grant(other, Role.PARTY_WORKER, tree.branch_a1)
        v = make_doc().latest_version
        with pytest.raises(Http404):  # a draft is visible only to its people
            services.update_draft(v, actor=other, data={"content": "x"})


# ---------------------------------------------------------------- transitions


class TestLifecycle:
    def test_full_path_to_effective_with_three_signatures(self, make_doc, people, release, users):
        doc = make_doc()
        v = release(doc.latest_version)
        assert v.status == S.EFFECTIVE and v.effective_on == TODAY()
        doc = fresh(doc)
        assert doc.status == Document.Status.EFFECTIVE and doc.effective_version_id == v.pk
        assert doc.next_review_on == services.add_months(TODAY(), 12)
        rows = services.signature_rows(v)
        assert [r["signature"].meaning for r in rows] == [M.PREPARED, M.REVIEWED, M.APPROVED]
        assert [r["signature"].signer_name for r in rows] == ["sec_a1", "审核人", "party_admin"]
        assert all(r["valid"] for r in rows)
        # every signature is a security event
        assert ChangeLogEntry.objects.filter(action="signature", outcome="success").count() == 3
        # the member of A1 got a read-and-acknowledge task
        assert list(v.acknowledgements.values_list("person__user", flat=True)) == [
            users.member_a1.pk
        ]

    def test_future_effective_date_waits_for_it(self, make_doc, people, release):
        later = TODAY() + datetime.timedelta(days=10)
        v = release(make_doc().latest_version, effective_on=later)
        assert v.status == S.APPROVED
        with pytest.raises(workflow.TransitionNotAllowed) as exc:
            services.make_effective(v, actor=people.approver)
        assert "effective date" in str(exc.value)
        assert services.activate_due_versions() == 0
        # the day comes (the scheduler runs daily)
        DocumentVersion.objects.filter(pk=v.pk).update(effective_on=TODAY())
        assert services.activate_due_versions() == 1
        assert fresh(v).status == S.EFFECTIVE
        assert fresh(v.document).effective_version_id == v.pk

    def test_two_reviewers_both_sign_before_approval(self, make_doc, people, tree):
        second = make_user("worker_a2", display_name="审核人二")
        grant(second, Role.PARTY_WORKER, tree.sub_a)
        doc = make_doc()
        v = doc.latest_version
        services.update_draft(v, actor=people.author, data={"reviewers": [people.reviewer, second]})
        services.submit(v, actor=people.author, password=PASSWORD)
        services.review(v, actor=people.reviewer, password=PASSWORD)
        assert fresh(v).status == S.IN_REVIEW
        with pytest.raises(PermissionDenied):  # already signed this round
            services.review(v, actor=people.reviewer, password=PASSWORD)
        services.review(v, actor=second, password=PASSWORD)
        assert fresh(v).status == S.AWAITING_APPROVAL

    def test_submit_without_reviewers_is_refused_with_a_reason(self, make_doc, people):
        v = make_doc(assign=False, doc_type=T.REGULATION).latest_version
        with pytest.raises(workflow.TransitionNotAllowed) as exc:
            services.submit(v, actor=people.author, password=PASSWORD)
        assert "reviewer" in str(exc.value)
        assert fresh(v).status == S.DRAFT

    def test_illegal_transition_names_state_and_step(self, make_doc, people, release):
        v = release(make_doc().latest_version)
        with pytest.raises(workflow.TransitionNotAllowed) as exc:
            services.submit(v, actor=people.author, password=PASSWORD)
        message = str(exc.value)
        assert "Submit for review" in message and "Effective" in message
        with pytest.raises(workflow.TransitionNotAllowed):
            services.review(v, actor=people.reviewer, password=PASSWORD)
        with pytest.raises(workflow.TransitionNotAllowed):
            services.approve(v, actor=people.approver, password=PASSWORD, effective_on=TODAY())

    @pytest.mark.parametrize("who", ["author", "approver", "admin_a"])
    def test_review_by_someone_not_chosen_is_forbidden(self, make_doc, people, who):
        v = make_doc().latest_version
        services.submit(v, actor=people.author, password=PASSWORD)
        with pytest.raises(PermissionDenied):
            services.review(v, actor=getattr(people, who), password=PASSWORD)
        assert fresh(v).status == S.IN_REVIEW

    def test_approve_by_reviewer_is_forbidden(self, make_doc, people):
        v = make_doc().latest_version
        services.submit(v, actor=people.author, password=PASSWORD)
        services.review(v, actor=people.reviewer, password=PASSWORD)
        with pytest.raises(PermissionDenied):
            services.approve(v, actor=people.reviewer, password=PASSWORD, effective_on=TODAY())

    def test_reader_outside_scope_gets_not_found(self, make_doc, people, users):
        v = make_doc().latest_version
        services.submit(v, actor=people.author, password=PASSWORD)
        with pytest.raises(Http404):
            services.review(v, actor=users.secretary_b1, password=PASSWORD)

    @pytest.mark.parametrize("step", ["submit", "review", "approve"])
    def test_wrong_password_refuses_and_is_logged(self, make_doc, people, step):
        v = make_doc().latest_version
        if step in ("review", "approve"):
            services.submit(v, actor=people.author, password=PASSWORD)
        if step == "approve":
            services.review(v, actor=people.reviewer, password=PASSWORD)
        before = fresh(v).status
        actor = {"submit": people.author, "review": people.reviewer, "approve": people.approver}
        kwargs = {"effective_on": TODAY()} if step == "approve" else {}
        n_sigs = Signature.objects.count()
        with pytest.raises(ValidationError) as exc:
            getattr(services, step)(v, actor=actor[step], password="wrong-password", **kwargs)
        assert "password" in exc.value.message_dict
        assert fresh(v).status == before
        assert Signature.objects.count() == n_sigs
        failure = ChangeLogEntry.objects.filter(action="signature", outcome="failure").get()
        assert failure.actor_id == actor[step].pk
        assert "wrong-password" not in str(failure.changes)

    def test_missing_password_is_a_field_error(self, make_doc, people):
        v = make_doc().latest_version
        with pytest.raises(ValidationError) as exc:
            services.submit(v, actor=people.author, password="")
        assert "password" in exc.value.message_dict

    def test_send_back_needs_comments_and_starts_a_new_round(self, make_doc, people):
        v = make_doc().latest_version
        services.submit(v, actor=people.author, password=PASSWORD)
        with pytest.raises(ValidationError) as exc:
            services.send_back(v, actor=people.reviewer, comment=" ")
        assert "reason" in exc.value.message_dict
        services.send_back(v, actor=people.reviewer, comment="第三条不清楚")
        v = fresh(v)
        assert v.status == S.DRAFT and v.return_comment == "第三条不清楚"
        # edited content: the earlier 编制 signature no longer matches
        services.update_draft(v, actor=people.author, data={"content": "改正后的内容"})
        v = fresh(v)
        assert [r["valid"] for r in services.signature_rows(v)] == [False]
        services.submit(v, actor=people.author, password=PASSWORD)
        services.review(v, actor=people.reviewer, password=PASSWORD)
        assert fresh(v).status == S.AWAITING_APPROVAL

    def test_approver_sends_back(self, make_doc, people):
        v = make_doc().latest_version
        services.submit(v, actor=people.author, password=PASSWORD)
        services.review(v, actor=people.reviewer, password=PASSWORD)
        services.send_back(v, actor=people.approver, comment="请补充职责")
        assert fresh(v).status == S.DRAFT
        assert not fresh(v).assignments.filter(signed_at__isnull=False).exists()

    def test_past_effective_date_takes_effect_at_once(self, make_doc, people, release, users):
        past = TODAY() - datetime.timedelta(days=20)
        v = release(make_doc().latest_version, effective_on=past)
        assert v.status == S.EFFECTIVE and v.effective_on == past
        doc = fresh(v.document)
        assert doc.effective_version_id == v.pk
        assert doc.next_review_on == services.add_months(past, 12)
        # the readers still get the whole period to acknowledge, counted from today
        ack = v.acknowledgements.get()
        assert ack.due == TODAY() + datetime.timedelta(days=services.ACKNOWLEDGE_WITHIN_DAYS)

    def test_past_effective_date_supersedes_the_version_in_force(self, make_doc, people, release):
        first = release(make_doc().latest_version, effective_on=TODAY() - datetime.timedelta(30))
        rev = services.start_revision(first.document, actor=people.author, reason="职责调整")
        v = release(rev, effective_on=TODAY() - datetime.timedelta(days=5))
        assert v.status == S.EFFECTIVE
        old = fresh(first)
        assert old.status == S.SUPERSEDED and old.ended_on == TODAY()
        assert fresh(v.document).effective_version_id == v.pk

    def test_effective_date_before_the_superseded_version_is_refused(
        self, make_doc, people, release
    ):
        first = release(make_doc().latest_version, effective_on=TODAY() - datetime.timedelta(10))
        v = services.start_revision(first.document, actor=people.author, reason="职责调整")
        services.submit(v, actor=people.author, password=PASSWORD)
        services.review(v, actor=people.reviewer, password=PASSWORD)
        with pytest.raises(ValidationError) as exc:
            services.approve(
                v,
                actor=people.approver,
                password=PASSWORD,
                effective_on=TODAY() - datetime.timedelta(days=11),
            )
        assert "effective_on" in exc.value.message_dict
        assert fresh(v).status == S.AWAITING_APPROVAL
        assert fresh(first).status == S.EFFECTIVE

    def test_withdraw_needs_a_reason(self, make_doc, people):
        v = make_doc().latest_version
        with pytest.raises(ValidationError) as exc:
            services.withdraw(v, actor=people.author, reason="")
        assert "reason" in exc.value.message_dict
        assert fresh(v).status == S.DRAFT

    def test_reviewer_may_not_withdraw(self, make_doc, people):
        v = make_doc().latest_version
        with pytest.raises(PermissionDenied):
            services.withdraw(v, actor=people.reviewer, reason="x")


class TestRevision:
    def test_revision_b0_supersedes_a0_when_effective(self, make_doc, people, release):
        doc = make_doc()
        a0 = release(doc.latest_version)
        with pytest.raises(ValidationError) as exc:
            services.start_revision(doc, actor=people.author, reason="")
        assert "reason" in exc.value.message_dict
        b0 = services.start_revision(doc, actor=people.author, reason="机构调整")
        assert (b0.label, b0.status, b0.content) == ("B/0", S.DRAFT, a0.content)
        assert fresh(a0).status == S.EFFECTIVE  # still in force meanwhile
        with pytest.raises(workflow.TransitionNotAllowed):
            services.start_revision(doc, actor=people.author, reason="again")
        services.update_draft(b0, actor=people.author, data={"content": a0.content + "\n新增条款"})
        release(fresh(b0))
        assert statuses(doc) == {"A/0": S.SUPERSEDED, "B/0": S.EFFECTIVE}
        doc = fresh(doc)
        assert doc.effective_version_id == b0.pk
        # A/0's signatures stay valid: its content did not change
        assert all(r["valid"] for r in services.signature_rows(fresh(a0)))

    def test_minor_revision_is_a1(self, make_doc, people, release):
        doc = make_doc()
        release(doc.latest_version)
        a1 = services.start_revision(doc, actor=people.author, reason="勘误", major=False)
        assert a1.label == "A/1"

    def test_member_may_not_start_revision(self, make_doc, people, release, users):
        doc = make_doc()
        release(doc.latest_version)
        with pytest.raises(PermissionDenied):
            services.start_revision(doc, actor=users.member_a1, reason="x")

    def test_draft_document_cannot_be_revised(self, make_doc, people):
        doc = make_doc()
        with pytest.raises(workflow.TransitionNotAllowed):
            services.start_revision(doc, actor=people.author, reason="x")


class TestObsolete:
    def test_obsolete_with_reason_leaves_master_list(self, make_doc, people, release):
        doc = make_doc()
        release(doc.latest_version)
        services.start_revision(doc, actor=people.author, reason="修订中")
        assert Document.objects.in_master_list().filter(pk=doc.pk).exists()
        with pytest.raises(ValidationError):
            services.obsolete_document(doc, actor=people.approver, reason="")
        with pytest.raises(PermissionDenied):
            services.obsolete_document(doc, actor=people.author, reason="不再适用")
        services.obsolete_document(doc, actor=people.approver, reason="不再适用")
        doc = fresh(doc)
        assert doc.status == Document.Status.OBSOLETE and doc.obsolete_reason == "不再适用"
        assert statuses(doc) == {"A/0": S.OBSOLETE, "B/0": S.OBSOLETE}
        assert not Document.objects.in_master_list().filter(pk=doc.pk).exists()
        with pytest.raises(workflow.TransitionNotAllowed):
            services.obsolete_document(doc, actor=people.approver, reason="again")


class TestConstraints:
    def test_database_refuses_a_second_effective_version(self, make_doc, people, release):
        doc = make_doc()
        release(doc.latest_version)
        b0 = services.start_revision(doc, actor=people.author, reason="r")
        with pytest.raises(IntegrityError), transaction.atomic():
            DocumentVersion.objects.filter(pk=b0.pk).update(status=S.EFFECTIVE)

    def test_database_refuses_a_second_open_version(self, make_doc, people):
        doc = make_doc()
        with pytest.raises(IntegrityError), transaction.atomic():
            DocumentVersion.objects.create(
                document=doc, edition="B", revision=0, title="t", author=people.author
            )


def test_daily_command_makes_due_versions_effective(make_doc, people, release):
    from io import StringIO

    from django.core.management import call_command

    later = TODAY() + datetime.timedelta(days=5)
    v = release(make_doc().latest_version, effective_on=later)
    out = StringIO()
    call_command("documents_daily", stdout=out)
    assert out.getvalue().startswith("0 ")
    DocumentVersion.objects.filter(pk=v.pk).update(effective_on=TODAY())
    call_command("documents_daily", stdout=out)
    assert fresh(v).status == S.EFFECTIVE
    entry = ChangeLogEntry.objects.filter(
        object_type="documents.documentversion", object_id=str(v.pk), source="command"
    ).first()
    assert entry is not None and entry.reason == "effective date reached"
