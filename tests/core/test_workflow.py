"""The declared state machine helper (pbqms.core.workflow), exercised on the document
version lifecycle: refusals name the state and the step, guards decide who, signatures and
reasons are enforced, concurrent changes are detected, nothing is a silent no-op."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import translation

from pbqms.core import workflow
from pbqms.core.models import Signature
from pbqms.core.roles import Role
from pbqms.documents import services
from pbqms.documents.models import Document, DocumentVersion
from tests.factories import PASSWORD, grant, make_user

S = DocumentVersion.Status


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def worker(tree):
    user = make_user("worker_a")
    grant(user, Role.PARTY_WORKER, tree.sub_a)
    return user


@pytest.fixture
def draft(users, tree, worker):
    doc = services.create_document(
        actor=users.party_admin,
        org=tree.sub_a,
        doc_type=Document.Type.REGULATION,
        title="制度",
        content="正文",
        reviewers=[worker],
        approvers=[worker],
    )
    return doc.latest_version


def test_transitions_are_declared_once_with_labels(draft):
    names = workflow.transition_names(DocumentVersion)
    assert names[:3] == ["submit", "review", "approve"]
    info = workflow.info(draft, "submit")
    assert info.label == "Submit for review"
    assert info.signature == Signature.Meaning.PREPARED
    assert info.targets == (S.IN_REVIEW,)
    assert set(workflow.info(draft, "review").targets) == {S.IN_REVIEW, S.AWAITING_APPROVAL}


def test_wrong_state_raises_a_clear_validation_error(draft, users):
    with pytest.raises(workflow.TransitionNotAllowed) as exc:
        workflow.fire(draft, "make_effective", actor=users.party_admin)
    assert isinstance(exc.value, ValidationError)
    assert (
        str(exc.value.messages[0])
        == "“Make effective” is not possible while the status is “Draft”."
    )
    assert exc.value.state == S.DRAFT and exc.value.transition == "make_effective"
    assert DocumentVersion.objects.get(pk=draft.pk).status == S.DRAFT


def test_guard_refuses_the_wrong_person(draft, users):
    with pytest.raises(PermissionDenied):
        workflow.fire(draft, "submit", actor=users.member_a1, password=PASSWORD)


def test_signature_transition_needs_the_password(draft, users):
    with pytest.raises(ValidationError) as exc:
        workflow.fire(draft, "submit", actor=users.party_admin)
    assert "password" in exc.value.message_dict
    obj, sig = workflow.fire(draft, "submit", actor=users.party_admin, password=PASSWORD)
    assert obj.status == S.IN_REVIEW and sig.meaning == Signature.Meaning.PREPARED
    assert sig.signed_hash == obj.content_hash


def test_reason_required_transition(draft, users, worker):
    workflow.fire(draft, "submit", actor=users.party_admin, password=PASSWORD)
    with pytest.raises(ValidationError) as exc:
        workflow.fire(draft, "send_back", actor=worker, reason="  ")
    assert "reason" in exc.value.message_dict
    workflow.fire(draft, "send_back", actor=worker, reason="请修改")
    assert DocumentVersion.objects.get(pk=draft.pk).status == S.DRAFT


def test_a_stale_object_cannot_fire_from_its_old_state(draft, users):
    other_copy = DocumentVersion.objects.get(pk=draft.pk)
    workflow.fire(draft, "submit", actor=users.party_admin, password=PASSWORD)
    with pytest.raises(workflow.TransitionNotAllowed) as exc:
        workflow.fire(other_copy, "withdraw", actor=users.party_admin, reason="x")
    assert "changed the status meanwhile" in str(exc.value)
    assert DocumentVersion.objects.get(pk=draft.pk).status == S.IN_REVIEW


def test_allowed_lists_only_what_the_user_may_do_now(draft, users, worker):
    assert [t.name for t in workflow.allowed(draft, users.party_admin)] == ["submit", "withdraw"]
    assert workflow.allowed(draft, users.member_a1) == []
    workflow.fire(draft, "submit", actor=users.party_admin, password=PASSWORD)
    assert [t.name for t in workflow.allowed(draft, worker)] == [
        "review",
        "send_back",
    ]
    assert workflow.can(draft, "review", worker)
    assert not workflow.can(draft, "review", users.party_admin)


def test_system_actor_may_only_release(draft, users):
    assert not workflow.can(draft, "submit", workflow.SYSTEM)
    with pytest.raises(PermissionDenied):
        workflow.fire(draft, "withdraw", actor=workflow.SYSTEM, reason="x")


def test_unknown_transition_is_a_programming_error(draft, users):
    with pytest.raises(ValueError):
        workflow.fire(draft, "publish", actor=users.party_admin)
