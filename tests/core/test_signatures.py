"""Electronic signatures (SECURITY.md item 10): password re-entry, what is recorded, the
security events, and validity against the current content."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from pbqms.core import signatures
from pbqms.core.models import ChangeLogEntry, Signature
from tests.factories import PASSWORD

M = Signature.Meaning


@pytest.fixture
def target(tree):
    return tree.branch_a1  # any model instance can be signed


def test_sign_records_name_meaning_time_and_hash(users, target):
    users.party_admin.display_name = "张书记"
    h = signatures.content_hash("DJ-CX-01", "A/0", "正文")
    sig = signatures.sign(
        target, user=users.party_admin, password=PASSWORD, meaning=M.APPROVED, content_hash=h
    )
    assert (sig.signer_name, sig.meaning, sig.signed_hash) == ("张书记", "approved", h)
    assert sig.signed_at is not None
    assert list(signatures.signatures_for(target)) == [sig]
    event = ChangeLogEntry.objects.filter(action="signature").get()
    assert event.outcome == "success" and event.actor_id == users.party_admin.pk
    assert event.changes["meaning"] == "approved" and event.changes["hash"] == h


def test_wrong_password_is_refused_and_logged_as_failure(users, target):
    with pytest.raises(ValidationError) as exc:
        signatures.sign(
            target, user=users.party_admin, password="nope", meaning=M.REVIEWED, content_hash="x"
        )
    assert "password" in exc.value.message_dict
    assert not Signature.objects.exists()
    event = ChangeLogEntry.objects.filter(action="signature").get()
    assert event.outcome == "failure"
    assert "nope" not in str(event.changes) and "nope" not in event.reason


def test_empty_password_is_refused(users, target):
    with pytest.raises(ValidationError) as exc:
        signatures.sign(
            target, user=users.party_admin, password="", meaning=M.REVIEWED, content_hash="x"
        )
    assert "password" in exc.value.message_dict


def test_inactive_user_cannot_sign(users, target):
    users.party_admin.is_active = False
    with pytest.raises(ValidationError):
        signatures.sign(
            target, user=users.party_admin, password=PASSWORD, meaning=M.VERIFIED, content_hash="x"
        )


def test_changed_content_invalidates_the_signature(users, target):
    h1 = signatures.content_hash("v1")
    sig = signatures.sign(
        target, user=users.party_admin, password=PASSWORD, meaning=M.PREPARED, content_hash=h1
    )
    assert signatures.is_valid(sig, h1)
    assert not signatures.is_valid(sig, signatures.content_hash("v2"))
    assert not signatures.is_valid(sig, "")


def test_signatures_cannot_be_changed_or_deleted(users, target):
    sig = signatures.sign(
        target, user=users.party_admin, password=PASSWORD, meaning=M.PREPARED, content_hash="h"
    )
    sig.signed_hash = "other"
    with pytest.raises(PermissionError):
        sig.save()
    with pytest.raises(PermissionError):
        sig.delete()


def test_failure_event_outlives_a_rolled_back_step(users, target):
    """verify_password runs before the step's transaction: the failed attempt stays."""
    with pytest.raises(ValidationError):
        signatures.verify_password(users.party_admin, "bad", obj=target, meaning=M.APPROVED)
    with pytest.raises(RuntimeError), transaction.atomic():
        signatures.sign(
            target, user=users.party_admin, password=PASSWORD, meaning=M.APPROVED, content_hash="h"
        )
        raise RuntimeError
    assert ChangeLogEntry.objects.filter(action="signature", outcome="failure").count() == 1
    assert not Signature.objects.exists()


def test_unknown_meaning_is_a_programming_error(users, target):
    with pytest.raises(ValueError):
        signatures.sign(
            target, user=users.party_admin, password=PASSWORD, meaning="liked", content_hash="h"
        )


def test_signatures_for_many_groups_by_object(users, tree):
    a, b = tree.branch_a1, tree.branch_a2
    for obj in (a, b, b):
        signatures.sign(
            obj, user=users.party_admin, password=PASSWORD, meaning=M.VERIFIED, content_hash="h"
        )
    grouped = signatures.signatures_for_many([a, b])
    assert (len(grouped[a.pk]), len(grouped[b.pk])) == (1, 2)
