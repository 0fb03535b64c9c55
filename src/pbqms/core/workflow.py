"""Declared state machines (ARCHITECTURE.md "Workflows"), built on django-fsm-2.

A model declares each transition once, on a method:

    class DocumentVersion(VersionedModel):
        status = workflow.StateField(choices=Status.choices, default=Status.DRAFT)

        @workflow.transition(
            status, source=Status.DRAFT, target=Status.IN_REVIEW,
            label=_("Submit for review"), guard=is_author_or_admin,
            signature=Signature.Meaning.PREPARED,
            conditions=[workflow.Condition(has_reviewers, _("Choose at least one reviewer."))],
        )
        def submit(self, **kwargs): ...

and every caller changes state through one function:

    workflow.fire(version, "submit", actor=user, password=pw)

``fire`` refuses, never silently skips: a transition that does not start from the current
state, or whose conditions are not met, raises ``TransitionNotAllowed`` (a
``ValidationError`` naming the current state and the transition); an actor the guard does
not accept gets ``PermissionDenied``; a transition that needs a signature checks the
password (``pbqms.core.signatures``) before anything is written, then stores the signature
with the state change in one transaction; one that needs a reason refuses an empty one.
``allowed(obj, user)`` lists what a user may do now (the buttons a page shows).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import django_fsm
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from pbqms.core import signatures
from pbqms.core.context import action_context

StateField = django_fsm.FSMField
RETURN_VALUE = django_fsm.RETURN_VALUE
ANY_STATE = django_fsm.ANY_STATE


class _SystemActor:
    """The scheduler acting on its own (e.g. an effective date reached): guards that allow
    it say so explicitly (``actor is SYSTEM``); it has no password, so it never signs."""

    pk = None
    is_authenticated = False
    is_active = False
    username = "system"
    name = "system"

    def __str__(self) -> str:
        return "system"


SYSTEM = _SystemActor()


class TransitionNotAllowed(ValidationError):
    """The transition does not start from the object's current state, or a condition of it
    is not met. Views show it as a form error, the API as 400."""

    def __init__(self, message, *, transition: str = "", state: str = ""):
        super().__init__(message, code="transition_not_allowed")
        self.transition = transition
        self.state = state


@dataclass(frozen=True)
class Condition:
    """A condition on the object's data; ``message`` says what is missing."""

    check: Callable[[Any], bool]
    message: Any

    def __call__(self, instance) -> bool:
        return bool(self.check(instance))


@dataclass(frozen=True)
class TransitionInfo:
    name: str
    label: str
    source: Any
    targets: tuple[str, ...]
    signature: str | None
    reason_required: bool
    style: str
    hidden: bool


def transition(
    field,
    *,
    source,
    target,
    label,
    guard: Callable[[Any, Any], bool] | None = None,
    signature: str | None = None,
    conditions: Sequence[Condition] = (),
    reason_required: bool = False,
    style: str = "",
    hidden: bool = False,
):
    """Declare a transition on a model method (see the module docstring).

    ``target`` may be ``RETURN_VALUE("a", "b")`` when the method decides; ``guard(obj, user)``
    says who may fire it; ``signature`` is the meaning of the e-signature it requires;
    ``style`` is a hint for the button (e.g. "danger"); ``hidden`` transitions are fired by
    services as part of another step and are not offered as buttons."""
    custom = {
        "label": label,
        "signature": signature,
        "reason_required": reason_required,
        "style": style,
        "hidden": hidden,
    }
    return django_fsm.transition(
        field=field,
        source=source,
        target=target,
        permission=guard,
        conditions=list(conditions),
        custom=custom,
    )


def _meta(obj, name: str):
    method = getattr(type(obj), name, None)
    meta = getattr(method, "_django_fsm", None)
    if meta is None:
        raise ValueError(f"{type(obj).__name__} has no transition {name!r}")
    return meta


def _field_name(meta) -> str:
    field = meta.field
    return field if isinstance(field, str) else field.name


def _state_label(obj, field_name: str, state) -> str:
    field = obj._meta.get_field(field_name)
    return str(dict(field.flatchoices).get(state, state))


def _targets(target) -> tuple[str, ...]:
    allowed = getattr(target, "allowed_states", None)
    if allowed is not None:
        return tuple(allowed)
    return (target,) if target is not None else ()


def info(obj, name: str) -> TransitionInfo:
    meta = _meta(obj, name)
    state = getattr(obj, _field_name(meta))
    t = meta.get_transition(state) or next(iter(meta.transitions.values()))
    return TransitionInfo(
        name=name,
        label=str(t.custom.get("label") or name),
        source=t.source,
        targets=_targets(t.target),
        signature=t.custom.get("signature"),
        reason_required=bool(t.custom.get("reason_required")),
        style=t.custom.get("style") or "",
        hidden=bool(t.custom.get("hidden")),
    )


def check(obj, name: str, actor) -> TransitionInfo:
    """Raise if ``actor`` may not fire ``name`` on ``obj`` now; else describe it."""
    meta = _meta(obj, name)
    field_name = _field_name(meta)
    state = getattr(obj, field_name)
    described = info(obj, name)
    if not meta.has_transition(state):
        raise TransitionNotAllowed(
            _("“%(transition)s” is not possible while the status is “%(state)s”.")
            % {"transition": described.label, "state": _state_label(obj, field_name, state)},
            transition=name,
            state=state,
        )
    t = meta.get_transition(state)
    for condition in t.conditions:
        if not condition(obj):
            message = getattr(condition, "message", None) or _("A condition is not met.")
            raise TransitionNotAllowed(
                _("“%(transition)s” is not possible yet: %(why)s")
                % {"transition": described.label, "why": message},
                transition=name,
                state=state,
            )
    if not t.has_perm(obj, actor):
        raise PermissionDenied(
            _("You may not do “%(transition)s” here.") % {"transition": described.label}
        )
    return described


def can(obj, name: str, actor) -> bool:
    try:
        check(obj, name, actor)
    except (ValidationError, PermissionDenied):
        return False
    return True


def transition_names(model) -> list[str]:
    """All transitions declared on ``model``, in declaration order."""
    names = []
    for klass in reversed(model.__mro__):
        for attr, value in vars(klass).items():
            if hasattr(value, "_django_fsm") and attr not in names:
                names.append(attr)
    return names


def allowed(obj, actor, names: Iterable[str] | None = None) -> list[TransitionInfo]:
    """The transitions ``actor`` may fire on ``obj`` now (for the page's action buttons)."""
    result = []
    for name in names if names is not None else transition_names(type(obj)):
        try:
            described = check(obj, name, actor)
        except (ValidationError, PermissionDenied):
            continue
        if names is not None or not described.hidden:
            result.append(described)
    return result


def fire(
    obj,
    name: str,
    *,
    actor,
    password: str | None = None,
    reason: str = "",
    signed_hash: str | None = None,
    signature_comment: str = "",
    **kwargs: Any,
):
    """Fire transition ``name`` on ``obj`` as ``actor``: check it, sign if required, run the
    method, save. Returns ``(obj, signature_or_None)``. The row is locked and its state
    re-read first, so two people firing at once cannot both succeed from the same state."""
    described = check(obj, name, actor)
    reason = (reason or "").strip()
    if described.reason_required and not reason:
        raise ValidationError({"reason": _("Give the reason for this step.")}, code="required")
    if described.signature:
        # outside the transaction: a refused attempt is still recorded
        signatures.verify_password(actor, password, obj=obj, meaning=described.signature)
    meta = _meta(obj, name)
    field_name = _field_name(meta)
    with transaction.atomic(), action_context(reason=reason or ""):
        current = (
            type(obj)
            ._default_manager.select_for_update()
            .filter(pk=obj.pk)
            .values_list(field_name, flat=True)
            .first()
        )
        if current != getattr(obj, field_name):
            raise TransitionNotAllowed(
                _(
                    "Someone else changed the status meanwhile (now “%(state)s”). Reload the "
                    "page and try again."
                )
                % {"state": _state_label(obj, field_name, current)},
                transition=name,
                state=current,
            )
        try:
            getattr(obj, name)(actor=actor, reason=reason, **kwargs)
        except django_fsm.TransitionNotAllowed as exc:  # pragma: no cover - check() ran first
            raise TransitionNotAllowed(str(exc), transition=name) from exc
        signature = None
        if described.signature:
            signature = signatures.sign(
                obj,
                user=actor,
                password=password,
                meaning=described.signature,
                content_hash=signed_hash or obj.signed_content_hash(),
                comment=signature_comment,
            )
        obj.save()
    return obj, signature
