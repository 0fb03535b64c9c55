"""Writes and rules of records. Views, API and commands call these functions; each is one
transaction.

Scope rule: a record the actor cannot see is ``Http404``; visible but not allowed is
``PermissionDenied``; bad input, or a change of a locked (submitted) record other than by an
amendment, is a ``ValidationError``."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.http import Http404
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from pbqms.core import roles, scope, workflow
from pbqms.core.context import action_context
from pbqms.core.locking import check_version
from pbqms.orgs.models import Organization, Person
from pbqms.records import builtin, files, schema
from pbqms.records.models import (
    Record,
    RecordAmendment,
    RecordAttachment,
    RecordAttendance,
    RecordTemplate,
)
from pbqms.records.signals import record_submitted

S = Record.Status


def ensure_builtin_templates() -> int:
    """Create the built-in templates that are missing; returns how many were created."""
    return builtin.ensure(RecordTemplate)


# ---------------------------------------------------------------- reads


def visible_records(user):
    """Records ``user`` may see: submitted ones of the units of their view grant; drafts
    only with the draft grant (secretaries, party workers, committee administrators)."""
    drafts = scope.scope_q(user, roles.RECORD_VIEW_DRAFTS, "org")
    return Record.objects.visible_to(user, roles.RECORD_VIEW).filter(Q(status=S.SUBMITTED) | drafts)


def get_record_or_404(user, pk) -> Record:
    try:
        return visible_records(user).select_related("template", "org").get(pk=pk)
    except (Record.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def units_for_new_record(user):
    """Units where ``user`` may add records (active units in the add grant's scope)."""
    return Organization.objects.visible_to(user, roles.RECORD_ADD).active()


def unit_people(org: Organization):
    """The people an attendance list offers: party members (full and probationary) of the
    unit and its sub-units (a branch's groups)."""
    return (
        Person.objects.filter(
            org__path__startswith=org.path, member_status__in=Person.PARTY_STATUSES
        )
        .order_by("name", "id")
        .only("id", "name", "org_id", "member_status")
    )


def may_edit(user, record: Record) -> bool:
    return record.status == S.DRAFT and scope.has_perm(user, roles.RECORD_ADD, record.org)


def may_amend(user, record: Record) -> bool:
    return record.status == S.SUBMITTED and scope.has_perm(user, roles.RECORD_AMEND, record.org)


# ---------------------------------------------------------------- helpers


def _require_unit(actor, perm: str, org: Organization) -> None:
    if scope.has_perm(actor, perm, org):
        return
    if not Organization.objects.visible_to(actor).filter(pk=org.pk).exists():
        raise Http404
    raise PermissionDenied(_("You do not have permission to do this in %(unit)s.") % {"unit": org})


def _ensure_visible(record: Record, actor) -> None:
    if not visible_records(actor).filter(pk=record.pk).exists():
        raise Http404


def _clean_title(value) -> str:
    title = (value or "").strip()
    if not title:
        raise ValidationError({"title": _("Enter the record's title.")})
    if len(title) > 200:
        raise ValidationError({"title": _("Enter at most 200 characters.")})
    return title


def _clean_occurred_at(value) -> datetime.datetime:
    if isinstance(value, datetime.datetime):
        parsed = value
    else:
        text = (value or "").strip().replace(" ", "T") if isinstance(value, str) else ""
        try:
            parsed = parse_datetime(text) if text else None
        except ValueError:
            parsed = None
    if parsed is None:
        raise ValidationError({"occurred_at": _("Enter the date and time it took place.")})
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    if parsed > timezone.now() + datetime.timedelta(days=1):
        raise ValidationError(
            {"occurred_at": _("A record describes what took place: not a date in the future.")}
        )
    return parsed


def _person_ids(org: Organization) -> set[int]:
    return set(unit_people(org).values_list("id", flat=True))


def clean_attendance(org: Organization, rows, person_ids: set[int] | None = None):
    """Validate attendance rows ``[{"person": id, "present": bool, "reason": str}]``: people
    of the unit, once each; an absent person needs a reason. Field errors are keyed
    ``attendance`` (general) and ``attendance-<person id>`` (one row)."""
    if person_ids is None:
        person_ids = _person_ids(org)
    cleaned: dict[int, tuple[bool, str]] = {}
    errors: dict[str, list[str]] = {}
    for row in rows or []:
        try:
            pid = int(row.get("person"))
        except (TypeError, ValueError, AttributeError):
            raise ValidationError({"attendance": _("Choose people of the unit.")}) from None
        if pid not in person_ids:
            raise ValidationError(
                {"attendance": _("Only people of the unit can be on its attendance list.")}
            )
        if pid in cleaned:
            raise ValidationError({"attendance": _("A person is listed twice.")})
        present = bool(row.get("present"))
        reason = (row.get("reason") or row.get("absence_reason") or "").strip()[:200]
        if not present and not reason:
            errors[f"attendance-{pid}"] = [_("Give the reason for the absence.")]
        cleaned[pid] = (present, "" if present else reason)
    if errors:
        errors["attendance"] = [_("Give a reason for every absent person.")]
        raise ValidationError(errors)
    return cleaned


def _write_attendance(record: Record, cleaned: dict[int, tuple[bool, str]]) -> None:
    names = dict(Person.objects.filter(pk__in=cleaned).values_list("id", "name"))
    existing = {a.person_id: a for a in record.attendance.all()}
    for pid, row in existing.items():
        if pid not in cleaned:
            row.delete()
    for pid, (present, reason) in cleaned.items():
        row = existing.get(pid)
        if row is None:
            RecordAttendance.objects.create(
                record=record,
                person_id=pid,
                person_name=names.get(pid, ""),
                present=present,
                absence_reason=reason,
            )
        elif row.present != present or row.absence_reason != reason:
            row.present, row.absence_reason = present, reason
            row.save()


def _add_attachments(record: Record, actor, uploads) -> list[RecordAttachment]:
    """``uploads``: list of (field name, UploadedFile). All are checked before any is
    stored."""
    checked = []
    for field, upload in uploads or []:
        checked.append((field, upload, files.check_upload(upload, field=field or "file")))
    created = []
    for field, upload, info in checked:
        kind = (
            RecordAttachment.Kind.SIGN_IN
            if "sign" in (field or "")
            else RecordAttachment.Kind.PHOTO
            if info.content_type.startswith("image/")
            else RecordAttachment.Kind.OTHER
        )
        attachment = RecordAttachment(
            record=record,
            field=field or "",
            kind=kind,
            file_name=info.name,
            content_type=info.content_type,
            size=info.size,
            sha256=info.sha256,
            uploaded_by=actor if getattr(actor, "pk", None) else None,
        )
        upload.seek(0)
        attachment.file.save(
            f"r{record.pk}-{info.sha256[:16]}.{info.extension}",
            ContentFile(upload.read()),
            save=False,
        )
        attachment.save()
        created.append(attachment)
    return created


def snapshot(record: Record) -> dict[str, Any]:
    """The record's content as kept in an amendment (before/after)."""
    return {
        "title": record.title,
        "occurred_at": timezone.localtime(record.occurred_at).isoformat(),
        "data": record.data,
        "attendance": [
            {
                "person": a.person_id,
                "name": a.person_name,
                "present": a.present,
                "reason": a.absence_reason,
            }
            for a in record.attendance.order_by("id")
        ],
        "attachments": [
            {"id": a.pk, "name": a.file_name, "field": a.field}
            for a in record.attachments.filter(removed_at__isnull=True).order_by("id")
        ],
    }


def _complete_errors(record: Record) -> dict[str, list[str]]:
    """What a record must have to be submitted: required fields and files, attendance."""
    errors: dict[str, list[str]] = {}
    fields = record.template.fields
    try:
        schema.clean_data(fields, record.data, require=True, person_ids=_person_ids(record.org))
    except ValidationError as exc:
        errors.update(exc.message_dict)
    present_files = set(
        record.attachments.filter(removed_at__isnull=True).values_list("field", flat=True)
    )
    for spec in fields:
        if (
            spec.get("type") == "file"
            and spec.get("required")
            and spec["name"] not in present_files
        ):
            errors[spec["name"]] = [_("Attach this file.")]
    if record.template.has_attendance and not record.attendance.exists():
        errors["attendance"] = [_("Fill in the attendance.")]
    return errors


# ---------------------------------------------------------------- writes


@transaction.atomic
def create_record(
    *,
    actor,
    org: Organization,
    template: RecordTemplate,
    title: str,
    occurred_at,
    data: dict[str, Any] | None = None,
    attendance=None,
    uploads=None,
) -> Record:
    """A draft record of ``org`` (secretary/party worker of the unit or a committee
    administrator above it). Content may be incomplete; its types are checked."""
    _require_unit(actor, roles.RECORD_ADD, org)
    errors: dict[str, list[str]] = {}
    if not template.is_active:
        errors["template"] = [_("This record template is no longer in use.")]
    if org.dissolved_on is not None:
        errors["org"] = [_("The unit is dissolved.")]
    cleaned: dict[str, Any] = {}
    values: dict[str, Any] = {}
    person_ids = _person_ids(org)
    for key, fn in (
        ("title", lambda: _clean_title(title)),
        ("occurred_at", lambda: _clean_occurred_at(occurred_at)),
    ):
        try:
            values[key] = fn()
        except ValidationError as exc:
            errors.update(exc.message_dict)
    try:
        cleaned = schema.clean_data(
            template.fields, data or {}, require=False, person_ids=person_ids
        )
    except ValidationError as exc:
        errors.update(exc.message_dict)
    attendance_rows = None
    if attendance is not None and template.has_attendance:
        try:
            attendance_rows = clean_attendance(org, attendance, person_ids)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    for field, upload in uploads or []:
        try:
            files.check_upload(upload, field=field or "file")
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    record = Record.objects.create(
        template=template,
        org=org,
        title=values["title"],
        occurred_at=values["occurred_at"],
        data=cleaned,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    if attendance_rows is not None:
        _write_attendance(record, attendance_rows)
    _add_attachments(record, actor, uploads)
    return record


def _lock(record: Record) -> Record:
    return Record.objects.select_for_update().select_related("template", "org").get(pk=record.pk)


@transaction.atomic
def update_draft(
    record: Record,
    *,
    actor,
    expected_version=None,
    title=None,
    occurred_at=None,
    data: dict[str, Any] | None = None,
    attendance=None,
    uploads=None,
    remove_attachments=(),
) -> Record:
    """Edit a draft (refused once submitted: a submitted record changes only by
    ``amend_record``). ``None`` arguments are left unchanged."""
    _ensure_visible(record, actor)
    check_version(record, expected_version)
    current = _lock(record)
    if current.status != S.DRAFT:
        raise ValidationError(
            _("This record is submitted and locked; change it through an amendment with a reason."),
            code="locked",
        )
    _require_unit(actor, roles.RECORD_ADD, current.org)
    _apply_changes(current, actor, title, occurred_at, data, attendance, uploads, require=False)
    for attachment in current.attachments.filter(
        pk__in=list(remove_attachments or []), removed_at__isnull=True
    ):
        attachment.removed_at = timezone.now()
        attachment.save()
    current.save()
    record.__dict__.update({k: v for k, v in current.__dict__.items() if not k.startswith("_")})
    return current


def _apply_changes(record, actor, title, occurred_at, data, attendance, uploads, *, require: bool):
    errors: dict[str, list[str]] = {}
    person_ids = _person_ids(record.org)
    if title is not None:
        try:
            record.title = _clean_title(title)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if occurred_at is not None:
        try:
            record.occurred_at = _clean_occurred_at(occurred_at)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if data is not None:
        try:
            record.data = schema.clean_data(
                record.template.fields, data, require=require, person_ids=person_ids
            )
        except ValidationError as exc:
            errors.update(exc.message_dict)
    attendance_rows = None
    if attendance is not None and record.template.has_attendance:
        # people who have since left the unit stay on an existing record's list
        listed = set(record.attendance.values_list("person_id", flat=True))
        try:
            attendance_rows = clean_attendance(record.org, attendance, person_ids | listed)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    for field, upload in uploads or []:
        try:
            files.check_upload(upload, field=field or "file")
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    if attendance_rows is not None:
        _write_attendance(record, attendance_rows)
    _add_attachments(record, actor, uploads)


def _send(record: Record, amendment: RecordAmendment | None) -> None:
    record_submitted.send(sender=Record, record=record, amendment=amendment)


def submit_record(record: Record, *, actor, expected_version=None) -> Record:
    """Draft → submitted: checks required content and attendance, locks the record and
    sends ``record_submitted``."""
    _ensure_visible(record, actor)
    with transaction.atomic():
        check_version(record, expected_version)
        current = _lock(record)
        workflow.check(current, "submit", actor)
        errors = _complete_errors(current)
        if errors:
            raise ValidationError(errors)
        workflow.fire(current, "submit", actor=actor)
        _send(current, None)
    record.__dict__.update({k: v for k, v in current.__dict__.items() if not k.startswith("_")})
    return current


def amend_record(
    record: Record,
    *,
    actor,
    reason: str,
    expected_version=None,
    title=None,
    occurred_at=None,
    data: dict[str, Any] | None = None,
    attendance=None,
    uploads=None,
    remove_attachments=(),
) -> RecordAmendment:
    """Change a submitted record: a reason is required; the content before and after is
    kept as a numbered ``RecordAmendment``; sends ``record_submitted``."""
    _ensure_visible(record, actor)
    reason = (reason or "").strip()
    with transaction.atomic(), action_context(reason=reason):
        check_version(record, expected_version)
        current = _lock(record)
        if current.status != S.SUBMITTED:
            raise ValidationError(
                _("Only a submitted record is amended; edit the draft instead."),
                code="not_submitted",
            )
        _require_unit(actor, roles.RECORD_AMEND, current.org)
        if not reason:
            raise ValidationError({"reason": _("Give the reason for the amendment.")})
        before = snapshot(current)
        _apply_changes(current, actor, title, occurred_at, data, attendance, uploads, require=True)
        for attachment in current.attachments.filter(
            pk__in=list(remove_attachments or []), removed_at__isnull=True
        ):
            attachment.removed_at = timezone.now()
            attachment.save()
        errors = _complete_errors(current)
        if errors:
            raise ValidationError(errors)
        after = snapshot(current)
        if after == before:
            raise ValidationError(_("Nothing was changed."), code="no_change")
        current.amendment_count += 1
        current.save()
        amendment = RecordAmendment.objects.create(
            record=current,
            number=current.amendment_count,
            reason=reason,
            author=actor if getattr(actor, "pk", None) else None,
            data_before=before,
            data_after=after,
        )
        _send(current, amendment)
    record.__dict__.update({k: v for k, v in current.__dict__.items() if not k.startswith("_")})
    return amendment


def get_attachment_or_404(user, record_pk, attachment_pk) -> RecordAttachment:
    record = get_record_or_404(user, record_pk)
    try:
        return record.attachments.get(pk=attachment_pk)
    except (RecordAttachment.DoesNotExist, ValueError, TypeError):
        raise Http404 from None
