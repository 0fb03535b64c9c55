"""Who sees which version (scope in the querysets), read-and-acknowledge tasks and their
per-unit percentages, periodic review, diff."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.utils import timezone

from pbqms.core import workflow
from pbqms.core.roles import Role
from pbqms.documents import services
from pbqms.documents.models import (
    Acknowledgement,
    Document,
    DocumentReview,
    DocumentVersion,
)
from tests.factories import PASSWORD, grant, make_person, make_user

T = Document.Type
S = DocumentVersion.Status
TODAY = timezone.localdate


def visible_versions(user):
    return set(DocumentVersion.objects.visible_to(user).values_list("pk", flat=True))


def visible_docs(user):
    return set(Document.objects.visible_to(user).values_list("pk", flat=True))


class TestVisibility:
    def test_draft_is_seen_by_its_people_only(self, make_doc, people, users):
        v = make_doc().latest_version
        for user in (people.author, people.reviewer, people.approver, people.admin_a):
            assert v.pk in visible_versions(user), user
        for user in (users.member_a1, users.secretary_b1, users.auditor, users.expert):
            assert v.pk not in visible_versions(user), user
            assert v.document_id not in visible_docs(user)

    def test_party_committee_draft_is_invisible_to_a_branch(self, make_doc, people, users, tree):
        doc = make_doc(T.MANUAL, org=tree.root, actor=people.approver, assign=False)
        assert doc.pk not in visible_docs(users.secretary_a1)
        assert doc.pk not in visible_docs(users.member_a1)

    def test_effective_version_reaches_the_units_it_applies_to(
        self, make_doc, people, users, release
    ):
        doc = make_doc()
        a0 = release(doc.latest_version)
        for user in (users.member_a1, users.auditor, users.expert, people.author):
            assert a0.pk in visible_versions(user), user
        # B1 is outside A1's subtree and not an owner
        assert a0.pk not in visible_versions(users.secretary_b1)

    def test_group_document_applies_down_the_tree(self, make_doc, people, users, tree, release):
        doc = make_doc(T.REGULATION, org=tree.root, actor=people.approver, assign=False)
        v = doc.latest_version
        boss = make_user("boss")
        grant(boss, Role.PARTY_ADMIN, tree.root)
        team = {"reviewers": [boss], "approvers": [boss]}
        services.update_draft(v, actor=people.approver, data=team)
        services.submit(v, actor=people.approver, password=PASSWORD)
        services.review(v, actor=boss, password=PASSWORD)
        services.approve(v, actor=boss, password=PASSWORD, effective_on=TODAY())
        for user in (users.member_a1, users.secretary_b1, users.secretary_a1):
            assert v.pk in visible_versions(user), user

    def test_member_sees_only_effective_versions(self, make_doc, people, users, release):
        doc = make_doc()
        a0 = release(doc.latest_version)
        b0 = services.start_revision(doc, actor=people.author, reason="修订")
        assert visible_versions(users.member_a1) == {a0.pk}
        release(b0)
        assert visible_versions(users.member_a1) == {b0.pk}
        # readers with history rights see the superseded one too
        assert {a0.pk, b0.pk} <= visible_versions(users.auditor)

    def test_withdrawn_draft_never_reaches_readers(self, make_doc, people, users):
        v = make_doc().latest_version
        services.withdraw(v, actor=people.author, reason="作废")
        assert v.pk not in visible_versions(users.auditor)
        assert v.pk in visible_versions(people.author)

    def test_obsolete_document_stays_visible_with_history_rights(
        self, make_doc, people, users, release
    ):
        doc = make_doc()
        a0 = release(doc.latest_version)
        services.obsolete_document(doc, actor=people.approver, reason="废止")
        assert a0.pk in visible_versions(users.auditor)
        assert a0.pk not in visible_versions(users.member_a1)


# ---------------------------------------------------------------- acknowledgements


class TestAcknowledgements:
    @pytest.fixture
    def audience(self, tree, users):
        """Two more people with accounts in A1, one in A2 (outside the document's units),
        one in A1's party group (below A1), one without an account."""
        made = {}
        places = {"a1b": tree.branch_a1, "a1c": tree.branch_a1, "a2": tree.branch_a2}
        places["g"] = tree.group_a1
        for key, org in places.items():
            user = make_user(f"p_{key}")
            grant(user, Role.MEMBER, org)
            made[key] = make_person(org, f"人员{key}", user=user)
        make_person(tree.branch_a1, "无账号")
        return made

    def test_tasks_for_people_with_accounts_in_the_units(
        self, make_doc, release, audience, users, tree
    ):
        v = release(make_doc().latest_version)
        acks = Acknowledgement.objects.filter(document_version=v)
        names = set(acks.values_list("person__name", flat=True))
        assert names == {"党员甲", "人员a1b", "人员a1c", "人员g"}
        assert all(a.due == TODAY() + datetime.timedelta(days=30) for a in acks)

    def test_percentages_per_unit(
        self, make_doc, release, audience, users, people, tree, django_assert_num_queries
    ):
        v = release(make_doc().latest_version)
        mine = Acknowledgement.objects.get(document_version=v, person__user=users.member_a1)
        services.acknowledge(mine, actor=users.member_a1)
        with django_assert_num_queries(1):
            stats = services.ack_stats(v, people.approver)
        by_unit = {r["org__name"]: (r["done"], r["total"], r["percent"]) for r in stats["units"]}
        assert by_unit == {tree.branch_a1.name: (1, 3, 33), tree.group_a1.name: (0, 1, 0)}
        assert (stats["done"], stats["total"], stats["percent"]) == (1, 4, 25)
        # the secretary of B1 sees no unit of A
        assert services.ack_stats(v, users.secretary_b1)["units"] == []
        pending = services.pending_acknowledgements(v, people.author)
        assert {a.person.name for a in pending} == {"人员a1b", "人员a1c", "人员g"}

    def test_acknowledge_is_for_the_person_only(self, make_doc, release, audience, users):
        v = release(make_doc().latest_version)
        other = Acknowledgement.objects.get(document_version=v, person=audience["a1b"])
        with pytest.raises(Http404):
            services.acknowledge(other, actor=users.member_a1)
        services.acknowledge(other, actor=audience["a1b"].user)
        first = Acknowledgement.objects.get(pk=other.pk).done_at
        services.acknowledge(other, actor=audience["a1b"].user)  # twice: no change
        assert Acknowledgement.objects.get(pk=other.pk).done_at == first

    def test_superseded_version_needs_no_acknowledgement(self, make_doc, release, people, users):
        doc = make_doc()
        a0 = release(doc.latest_version)
        release(services.start_revision(doc, actor=people.author, reason="r"))
        old = Acknowledgement.objects.get(document_version=a0, person__user=users.member_a1)
        with pytest.raises(ValidationError):
            services.acknowledge(old, actor=users.member_a1)

    def test_roles_narrow_the_audience(self, make_doc, release, audience, users, people):
        doc = make_doc(applies_to_roles=[Role.BRANCH_SECRETARY])
        v = release(doc.latest_version)
        assert not Acknowledgement.objects.filter(document_version=v).exists()

    def test_remind_marks_the_laggards(self, make_doc, release, audience, people, users):
        v = release(make_doc().latest_version)
        with pytest.raises(PermissionDenied):
            services.remind_laggards(v, actor=people.author)
        assert services.remind_laggards(v, actor=people.approver) == 4


# ---------------------------------------------------------------- periodic review


class TestPeriodicReview:
    def _effective(self, make_doc, release):
        doc = make_doc()
        release(doc.latest_version)
        return Document.objects.get(pk=doc.pk)

    def test_due_and_overdue_listed_for_administrators(self, make_doc, release, people, users):
        doc = self._effective(make_doc, release)
        assert list(services.reviews_due(people.approver)) == []
        overdue = TODAY() - datetime.timedelta(days=3)
        Document.objects.filter(pk=doc.pk).update(next_review_on=overdue)
        assert list(services.reviews_due(people.approver)) == [doc]
        assert list(services.reviews_due(people.author)) == []  # not an administrator

    def test_continue_moves_the_date_on(self, make_doc, release, people):
        doc = self._effective(make_doc, release)
        services.record_review(doc, actor=people.approver, conclusion="continue")
        doc = Document.objects.get(pk=doc.pk)
        assert doc.next_review_on == services.add_months(TODAY(), 12)
        row = DocumentReview.objects.get()
        assert (
            row.document_version_id == doc.effective_version_id and row.reviewer == people.approver
        )

    def test_needs_revision_starts_one(self, make_doc, release, people):
        doc = self._effective(make_doc, release)
        with pytest.raises(ValidationError) as exc:
            services.record_review(doc, actor=people.approver, conclusion="revise")
        assert "notes" in exc.value.message_dict
        services.record_review(doc, actor=people.approver, conclusion="revise", notes="职责变化")
        assert doc.versions.get(status=S.DRAFT).change_reason == "职责变化"

    def test_obsolete_conclusion_obsoletes(self, make_doc, release, people):
        doc = self._effective(make_doc, release)
        services.record_review(doc, actor=people.approver, conclusion="obsolete", notes="合并")
        assert Document.objects.get(pk=doc.pk).status == Document.Status.OBSOLETE

    def test_author_may_not_record(self, make_doc, release, people):
        doc = self._effective(make_doc, release)
        with pytest.raises(PermissionDenied):
            services.record_review(doc, actor=people.author, conclusion="continue")

    def test_draft_document_has_no_periodic_review(self, make_doc, people):
        doc = make_doc()
        with pytest.raises(workflow.TransitionNotAllowed):
            services.record_review(doc, actor=people.approver, conclusion="continue")


# ---------------------------------------------------------------- diff


def test_diff_inline_and_side_by_side(make_doc, release, people):
    doc = make_doc(content="第一条\n第二条 <b>旧</b>\n第三条")
    a0 = release(doc.latest_version)
    b0 = services.start_revision(doc, actor=people.author, reason="r")
    new_text = "第一条\n第二条 新\n第三条\n第四条"
    services.update_draft(b0, actor=people.author, data={"content": new_text})
    b0.refresh_from_db()
    result = services.diff(a0, b0)
    assert result["stats"] == {"added": 2, "removed": 1}
    assert "<del>第二条 &lt;b&gt;旧&lt;/b&gt;</del>" in result["inline"]
    assert "<ins>第四条</ins>" in result["inline"]
    assert "<b>旧</b>" not in result["side_by_side"]  # escaped
    assert "A/0" in result["side_by_side"] and "B/0" in result["side_by_side"]


def test_diff_refuses_versions_of_two_documents(make_doc, people):
    a, b = make_doc(), make_doc()
    with pytest.raises(ValidationError):
        services.diff(a.latest_version, b.latest_version)
