"""Writes and rules of management reviews (管理评审). Views, API and demo data call these;
each is one transaction (signing steps check the password first, see ``core.workflow``).

Answers follow the scope rule: an object the actor cannot see is ``Http404``; visible but
not allowed is ``PermissionDenied``; bad input, or a step the lifecycle does not allow now,
is a ``ValidationError``.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from pbqms.core import roles, scope, workflow
from pbqms.core.context import action_context
from pbqms.core.ids import is_id
from pbqms.core.locking import check_version
from pbqms.core.numbering import next_number
from pbqms.orgs.models import Organization, Person
from pbqms.reviews import inputs
from pbqms.reviews.models import InputSnapshot, ManagementReview, ReviewOutput

R = ManagementReview.Status
O = ReviewOutput.Status  # noqa: E741
NUMBER_KEY = "reviews.managementreview"
DEFAULT_NUMBER_PATTERN = "MR-{year}-{seq:03d}"
TITLE_MAX = 200
TEXT_MAX = 10000
MAX_ATTENDEES = 200


# ---------------------------------------------------------------- access


def may_manage(actor, org: Organization | None = None) -> bool:
    return scope.has_perm(actor, roles.REVIEW_MANAGE, org)


def _require_manage(actor, org: Organization) -> None:
    if may_manage(actor, org):
        return
    if not Organization.objects.visible_to(actor).filter(pk=org.pk).exists():
        raise Http404
    raise PermissionDenied(_("You do not have permission to do this in %(unit)s.") % {"unit": org})


def manageable_units(actor):
    return Organization.objects.filter(scope.scope_q(actor, roles.REVIEW_MANAGE, "self")).filter(
        dissolved_on__isnull=True
    )


def people_for(org: Organization):
    """The people who may chair, attend or own an output: those of the unit's subtree and
    of the units above it (a higher committee's secretary may chair)."""
    step = Organization.steplen
    above = [org.path[:i] for i in range(step, len(org.path), step)]
    return (
        Person.objects.filter(Q(org__path__startswith=org.path) | Q(org__path__in=above))
        .select_related("org")
        .order_by("org__path", "name", "pk")
    )


def may_see_inputs(actor, review: ManagementReview) -> bool:
    """The frozen inputs (and the minutes, which summarise them) list other units'
    nonconformities: they are for whoever may see reviews of the unit, the chair and the
    attendees — not for an output's owner who sees the review only through their action."""
    if scope.has_perm(actor, roles.REVIEW_VIEW, review.org):
        return True
    pk = getattr(actor, "pk", None)
    if pk is None:
        return False
    if review.chair.user_id == pk:
        return True
    return review.attendees.filter(user_id=pk).exists()


def may_complete(actor, output: ReviewOutput) -> bool:
    if output.status != O.OPEN:
        return False
    owner_user = output.owner.user_id
    return (owner_user is not None and owner_user == getattr(actor, "pk", None)) or may_manage(
        actor, output.review.org
    )


# ---------------------------------------------------------------- cleaning


def _text(value, field: str, message: str | None, *, max_length: int = TEXT_MAX) -> str:
    text = (value or "").strip() if isinstance(value, str) or value is None else str(value)
    if not text and message:
        raise ValidationError({field: message})
    if len(text) > max_length:
        raise ValidationError({field: _("At most %(n)d characters, please.") % {"n": max_length}})
    return text


def _date(value, field: str, message: str) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str) and value.strip():
        try:
            return datetime.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValidationError({field: message})


def _person(org: Organization, person, field: str, message: str) -> Person:
    if person is None or person == "":
        raise ValidationError({field: message})
    pk = person.pk if isinstance(person, Person) else person
    found = people_for(org).filter(pk=pk).first() if is_id(str(pk)) else None
    if found is None:
        raise ValidationError({field: _("Choose a person of %(unit)s.") % {"unit": org.name}})
    return found


def _people(org: Organization, people, field: str) -> list[Person]:
    pks = {p.pk if isinstance(p, Person) else p for p in (people or [])}
    if len(pks) > MAX_ATTENDEES:
        raise ValidationError({field: _("Too many people.")})
    if not all(is_id(str(pk)) for pk in pks):
        raise ValidationError({field: _("Choose people from the list.")})
    found = list(people_for(org).filter(pk__in=pks))
    if len(found) != len(pks):
        raise ValidationError({field: _("Choose people of %(unit)s.") % {"unit": org.name}})
    return found


def _review_fields(org: Organization, data: dict[str, Any], *, period: bool) -> dict[str, Any]:
    errors: dict[str, list] = {}
    cleaned: dict[str, Any] = {}

    def run(field, func):
        try:
            cleaned[field] = func()
        except ValidationError as exc:
            errors.update(exc.message_dict)

    run(
        "title",
        lambda: _text(
            data.get("title"), "title", _("Give the review a title."), max_length=TITLE_MAX
        ),
    )
    run("planned_on", lambda: _date(data.get("planned_on"), "planned_on", _("Enter the date.")))
    run("location", lambda: _text(data.get("location"), "location", None, max_length=200))
    run("chair", lambda: _person(org, data.get("chair"), "chair", _("Choose the chair.")))
    run("attendees", lambda: _people(org, data.get("attendees"), "attendees"))
    if period:
        run(
            "period_start",
            lambda: _date(data.get("period_start"), "period_start", _("Enter the date.")),
        )
        run("period_end", lambda: _date(data.get("period_end"), "period_end", _("Enter the date.")))
        start, end = cleaned.get("period_start"), cleaned.get("period_end")
        if start and end and end < start:
            errors["period_end"] = [_("The period cannot end before it starts.")]
        if start and end and (end - start).days > 3 * 366:
            errors["period_end"] = [_("A review covers at most three years.")]
    if errors:
        raise ValidationError(errors)
    return cleaned


# ---------------------------------------------------------------- numbering


def assign_number(year: int) -> str:
    for _attempt in range(1000):
        number = next_number(f"{NUMBER_KEY}@{year}", pattern=DEFAULT_NUMBER_PATTERN, year=year)
        if not ManagementReview.objects.filter(number=number).exists():
            return number
    raise ValidationError(_("No free review number: check the numbering pattern."))


# ---------------------------------------------------------------- reviews


@transaction.atomic
def schedule_review(*, actor, org: Organization, data: dict[str, Any]) -> ManagementReview:
    """Schedule a management review of ``org`` (and the units below it)."""
    if org is None:
        raise ValidationError({"org": _("Choose the unit reviewed.")})
    _require_manage(actor, org)
    if org.dissolved_on:
        raise ValidationError({"org": _("This unit has been dissolved.")})
    cleaned = _review_fields(org, data, period=True)
    attendees = cleaned.pop("attendees")
    review = ManagementReview.objects.create(
        number=assign_number(cleaned["planned_on"].year), org=org, **cleaned
    )
    review.attendees.set(attendees)
    return review


@transaction.atomic
def update_review(
    review: ManagementReview, *, actor, data: dict[str, Any], expected_version=None
) -> ManagementReview:
    """Edit the plan (title, date, chair, attendees, location; the period only before the
    inputs are frozen)."""
    _require_manage(actor, review.org)
    if review.status == R.CLOSED:
        raise ValidationError(_("A closed review cannot be changed."))
    check_version(review, expected_version)
    period = review.status == R.PLANNED
    cleaned = _review_fields(review.org, data, period=period)
    attendees = cleaned.pop("attendees")
    for field, value in cleaned.items():
        setattr(review, field, value)
    review.save()
    review.attendees.set(attendees)
    return review


def compile_inputs(review: ManagementReview, *, actor, today=None) -> InputSnapshot:
    """Compile the inputs and freeze them (计划 → 输入已冻结). The snapshot never changes.
    The review row is locked first: two people compiling at once get one snapshot and a
    clear refusal, never a database error."""
    _require_manage(actor, review.org)
    workflow.check(review, "freeze_inputs", actor)
    with transaction.atomic():
        current = ManagementReview.objects.select_for_update().get(pk=review.pk)
        review.status = current.status
        workflow.check(review, "freeze_inputs", actor)
        data = inputs.compile_inputs(review, today=today)
        snapshot = InputSnapshot.objects.create(
            review=review, data=data, compiled_at=timezone.now(), compiled_by=actor
        )
        workflow.fire(review, "freeze_inputs", actor=actor)
    return snapshot


@transaction.atomic
def record_meeting(
    review: ManagementReview, *, actor, data: dict[str, Any], expected_version=None
) -> ManagementReview:
    """The meeting record: date, attendees, conclusions and decisions."""
    _require_manage(actor, review.org)
    if review.status not in (R.INPUTS_FROZEN, R.HELD):
        raise ValidationError(
            _("The meeting is recorded once the inputs are frozen and until the review closes.")
        )
    check_version(review, expected_version)
    errors: dict[str, list] = {}
    cleaned: dict[str, Any] = {}
    try:
        held_on = _date(data.get("held_on"), "held_on", _("Enter the date of the meeting."))
        if held_on > timezone.localdate():
            errors["held_on"] = [_("The date cannot be in the future.")]
        cleaned["held_on"] = held_on
    except ValidationError as exc:
        errors.update(exc.message_dict)
    for field in ("suitability", "adequacy", "effectiveness", "decisions"):
        try:
            cleaned[field] = _text(data.get(field), field, None)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    try:
        attendees = _people(review.org, data.get("attendees"), "attendees")
        if not attendees:
            errors["attendees"] = [_("Choose who attended.")]
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    for field, value in cleaned.items():
        setattr(review, field, value)
    review.save()
    review.attendees.set(attendees)
    return review


def hold(review: ManagementReview, *, actor) -> ManagementReview:
    workflow.fire(review, "hold", actor=actor)
    return review


def close(review: ManagementReview, *, actor, password: str | None) -> ManagementReview:
    """Close the review: the chair signs the minutes (once every output is done)."""
    workflow.fire(review, "close", actor=actor, password=password)
    return review


# ---------------------------------------------------------------- outputs


def _clean_output(review: ManagementReview, data: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, list] = {}
    cleaned: dict[str, Any] = {}
    kind = data.get("kind") or ReviewOutput.Kind.IMPROVEMENT
    if kind not in ReviewOutput.Kind.values:
        errors["kind"] = [_("Choose the kind of action.")]
    cleaned["kind"] = kind
    try:
        cleaned["description"] = _text(
            data.get("description"), "description", _("Describe the action."), max_length=2000
        )
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        cleaned["owner"] = _person(review.org, data.get("owner"), "owner", _("Choose the owner."))
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        due = _date(data.get("due_on"), "due_on", _("Enter the due date."))
        reference = review.held_on or review.planned_on
        if due < reference:
            errors["due_on"] = [_("The due date cannot be before the meeting.")]
        cleaned["due_on"] = due
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    return cleaned


@transaction.atomic
def add_output(review: ManagementReview, *, actor, data: dict[str, Any]) -> ReviewOutput:
    """An output action (输出措施) with owner and due date."""
    _require_manage(actor, review.org)
    if review.status not in (R.INPUTS_FROZEN, R.HELD):
        raise ValidationError(
            _("Output actions are recorded at the meeting (after the inputs are frozen).")
        )
    return ReviewOutput.objects.create(review=review, **_clean_output(review, data))


@transaction.atomic
def complete_output(
    output: ReviewOutput, *, actor, result: str, done_on=None, expected_version=None
) -> ReviewOutput:
    """The owner (or the committee) reports the action done, with its result."""
    if not may_complete(actor, output):
        if output.status != O.OPEN:
            raise ValidationError(_("This action is no longer open."))
        raise PermissionDenied(_("Only the action's owner or the committee can do this."))
    check_version(output, expected_version)
    errors: dict[str, list] = {}
    try:
        text = _text(result, "result", _("Say what was done."), max_length=2000)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        day = _date(done_on or timezone.localdate(), "done_on", _("Enter the date."))
        if day > timezone.localdate():
            errors["done_on"] = [_("The date cannot be in the future.")]
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    output.status = O.DONE
    output.result = text
    output.done_on = day
    output.save()
    return output


@transaction.atomic
def cancel_output(output: ReviewOutput, *, actor, reason: str) -> ReviewOutput:
    _require_manage(actor, output.review.org)
    if output.status != O.OPEN:
        raise ValidationError(_("This action is no longer open."))
    reason = _text(reason, "reason", _("Give the reason for this step."), max_length=2000)
    with action_context(reason=reason):
        output.status = O.CANCELLED
        output.result = reason
        output.save()
    return output


@transaction.atomic
def raise_nonconformity(
    output: ReviewOutput, *, actor, org: Organization, requirement: str, severity: str
):
    """Raise a nonconformity (source 管理评审) from an output action, through the
    improvement services; the output keeps the link."""
    from pbqms.improvement import services as improvement
    from pbqms.improvement.models import Nonconformity

    _require_manage(actor, output.review.org)
    if output.nonconformity_id:
        raise ValidationError(_("A nonconformity has already been raised from this action."))
    if org is None or not org.path.startswith(output.review.org.path):
        raise ValidationError({"org": _("Choose a unit covered by the review.")})
    review = output.review
    nc = improvement.raise_nonconformity(
        actor=actor,
        org=org,
        title=output.description[:200],
        source_kind=Nonconformity.Source.MANAGEMENT_REVIEW,
        source=output,
        source_ref=f"{review.number} {review.title}"[:200],
        requirement=requirement,
        description=output.description,
        severity=severity,
        correction_due=output.due_on,
    )
    output.nonconformity_id = nc.pk
    output.save()
    return nc
