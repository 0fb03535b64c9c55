"""Electronic signatures (SECURITY.md item 10; ideas of 21 CFR Part 11 / EU GMP Annex 11).

    sig = sign(version, user=request.user, password=form["password"],
               meaning=Signature.Meaning.APPROVED, content_hash=version.content_hash)

The signer re-enters their password every time; a wrong one is refused (``ValidationError``
on ``password``) and written to the change log as a failed ``signature`` security event.
A signature stores the signer's name as it was, the time, the meaning and the hash of what
was signed; ``is_valid(sig, current_hash)`` tells whether the object still holds exactly
that content.

The failure event must outlive the caller's transaction (the action is refused, the attempt
is still recorded): callers that wrap the signature in ``transaction.atomic`` call
``verify_password`` first, outside that block (``pbqms.core.workflow.fire`` does).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from pbqms.core.changelog import log_security_event, object_type_of
from pbqms.core.models import ChangeLogEntry, Signature

Meaning = Signature.Meaning
# a password checked once in this request is not hashed again by the next step of the same
# signature (the check and the signature are separate so that a failure is always logged);
# only a keyed digest is kept, on the user object of this request
_DIGEST_KEY = secrets.token_bytes(32)


def _digest(password: str) -> bytes:
    return hmac.new(_DIGEST_KEY, password.encode("utf-8"), hashlib.sha256).digest()


def content_hash(*parts: Any) -> str:
    """SHA-256 of a canonical JSON rendering of ``parts`` (what a signature covers)."""
    payload = json.dumps(parts, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _signable_repr(obj) -> dict[str, Any]:
    return {"object": object_type_of(obj), "id": str(obj.pk), "repr": str(obj)[:200]}


def verify_password(user, password: str | None, *, obj=None, meaning: str = "") -> None:
    """Refuse (and log) a signature attempt whose password is wrong or missing."""
    if not password:
        raise ValidationError(
            {"password": _("Enter your password to sign.")}, code="password_required"
        )
    remembered = getattr(user, "_pbqms_signing_digest", None)
    if (
        remembered is not None
        and user.is_active
        and hmac.compare_digest(remembered, _digest(password))
    ):
        return
    if user is None or not user.is_active or not user.check_password(password):
        details = {"meaning": meaning, **(_signable_repr(obj) if obj is not None else {})}
        log_security_event(
            ChangeLogEntry.Action.SIGNATURE,
            user=user,
            outcome=ChangeLogEntry.Outcome.FAILURE,
            details=details,
            reason=_("wrong password at signing"),
        )
        raise ValidationError(
            {"password": _("The password is not correct. The signature was not made.")},
            code="wrong_password",
        )
    user._pbqms_signing_digest = _digest(password)


def sign(
    obj,
    *,
    user,
    password: str | None,
    meaning: str,
    content_hash: str,
    comment: str = "",
    org_id: int | None = None,
) -> Signature:
    """Check the password again, then write the signature and a ``signature`` event."""
    if meaning not in Meaning.values:
        raise ValueError(f"unknown signature meaning {meaning!r}")
    if not content_hash:
        raise ValueError("a signature needs the hash of what is signed")
    verify_password(user, password, obj=obj, meaning=meaning)
    if org_id is None:
        org_id = getattr(obj, "org_id", None)
    signature = Signature.objects.create(
        content_type=ContentType.objects.get_for_model(obj, for_concrete_model=True),
        object_id=str(obj.pk),
        signer=user,
        signer_name=getattr(user, "name", "") or user.get_username(),
        meaning=meaning,
        signed_at=timezone.now(),
        signed_hash=content_hash,
        comment=comment,
        org_id=org_id if isinstance(org_id, int) else None,
    )
    log_security_event(
        ChangeLogEntry.Action.SIGNATURE,
        user=user,
        details={"meaning": meaning, "hash": content_hash, **_signable_repr(obj)},
    )
    return signature


def signatures_for(obj):
    """The signatures on ``obj``, oldest first, with the signer loaded (one query)."""
    ct = ContentType.objects.get_for_model(obj, for_concrete_model=True)
    return (
        Signature.objects.filter(content_type=ct, object_id=str(obj.pk))
        .select_related("signer")
        .order_by("signed_at", "id")
    )


def signatures_for_many(objects) -> dict[Any, list[Signature]]:
    """``{pk: [signatures]}`` for several objects of one model (one query)."""
    objects = list(objects)
    if not objects:
        return {}
    ct = ContentType.objects.get_for_model(objects[0], for_concrete_model=True)
    by_id: dict[str, list[Signature]] = {str(o.pk): [] for o in objects}
    for sig in (
        Signature.objects.filter(content_type=ct, object_id__in=list(by_id))
        .select_related("signer")
        .order_by("signed_at", "id")
    ):
        by_id[sig.object_id].append(sig)
    return {o.pk: by_id[str(o.pk)] for o in objects}


def is_valid(signature: Signature, current_hash: str) -> bool:
    """A signature is valid while the object still has the content that was signed."""
    return bool(current_hash) and signature.signed_hash == current_hash
