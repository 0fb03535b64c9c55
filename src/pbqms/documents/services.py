"""Writes and rules of controlled documents. Views, API and commands call these functions;
each is one transaction (steps that sign check the password first, outside it, so that a
refused signature is still logged: ``pbqms.core.signatures``).

Permission answers follow the scope rule: an object the actor cannot see is ``Http404``;
visible but not allowed is ``PermissionDenied``; bad input or a step the lifecycle does not
allow now is a ``ValidationError`` (``TransitionNotAllowed`` for the latter).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from pbqms.core import changelog, roles, scope, signatures, workflow
from pbqms.core.locking import check_version
from pbqms.core.models import NumberSequence, Signature
from pbqms.core.numbering import next_number
from pbqms.core.roles import Role
from pbqms.documents import files, modes, rendering
from pbqms.documents.models import (
    SYSTEM,
    Acknowledgement,
    Document,
    DocumentLink,
    DocumentReview,
    DocumentVersion,
    VersionAssignment,
)
from pbqms.orgs.models import Organization, Person, RoleAssignment

T = Document.Type
S = DocumentVersion.Status

NUMBER_PATTERNS = {
    T.MANUAL: "DJ-SC-{seq:02d}",
    T.PROCEDURE: "DJ-CX-{seq:02d}",
    T.WORK_INSTRUCTION: "DJ-ZY-{parent}-{seq:02d}",
    T.REGULATION: "DJ-ZD-{seq:02d}",
    T.RECORD_FORM: "DJ-JL-{parent}-{seq:02d}",
}
ACKNOWLEDGE_WITHIN_DAYS = getattr(settings, "PBQMS_ACKNOWLEDGE_DAYS", 30)
REVIEW_DUE_SOON_DAYS = 30
MAX_REVIEW_INTERVAL = 60


def add_months(day: datetime.date, months: int) -> datetime.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return day.replace(year=year, month=month, day=min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)  # pragma: no cover


# ---------------------------------------------------------------- access


def _require_unit(actor, perm: str, org: Organization) -> None:
    if scope.has_perm(actor, perm, org):
        return
    if not Organization.objects.visible_to(actor).filter(pk=org.pk).exists():
        raise Http404
    raise PermissionDenied(_("You do not have permission to do this in %(unit)s.") % {"unit": org})


def _ensure_visible(version: DocumentVersion, actor) -> None:
    if actor is SYSTEM:
        return
    if not DocumentVersion.objects.visible_to(actor).filter(pk=version.pk).exists():
        raise Http404


def _ensure_document_visible(document: Document, actor) -> None:
    if actor is SYSTEM:
        return
    if not Document.objects.visible_to(actor).filter(pk=document.pk).exists():
        raise Http404


def is_admin(actor, document: Document) -> bool:
    return scope.has_perm(actor, roles.DOC_MANAGE, document.org)


def may_draft(actor, document: Document) -> bool:
    return scope.has_perm(actor, roles.DOC_DRAFT, document.org) or is_admin(actor, document)


# ---------------------------------------------------------------- numbering


def _pattern_for(doc_type: str) -> str:
    key = f"documents.{doc_type}"
    default = settings.PBQMS_NUMBERING_DEFAULTS.get(key) or NUMBER_PATTERNS[doc_type]
    row, _created = NumberSequence.objects.get_or_create(key=key, defaults={"pattern": default})
    return row.pattern


def assign_number(doc_type: str, parent: Document | None) -> str:
    """The next number of the type; children numbered per parent restart per parent
    (``DJ-JL-05-01``, ``DJ-JL-05-02``, then ``DJ-JL-06-01``). Numbers are never reused: a
    number taken (by hand or an old pattern) is skipped."""
    pattern = _pattern_for(doc_type)
    key = f"documents.{doc_type}"
    ctx: dict[str, Any] = {"parent": "", "parent_number": ""}
    if "{parent" in pattern:
        if parent is None:
            raise ValidationError({"parent": _("Choose the document this one belongs under.")})
        key = f"{key}@{parent.number}"
        ctx = {"parent": parent.short_code, "parent_number": parent.number}
    for _attempt in range(1000):
        number = next_number(key, pattern=pattern, **ctx)
        if not Document.objects.filter(number=number).exists():
            return number
    raise ValidationError(_("No free document number: check the numbering pattern."))


# ---------------------------------------------------------------- reviewers and approvers


def _ancestor_paths(path: str) -> list[str]:
    step = Organization.steplen
    return [path[:i] for i in range(step, len(path) + 1, step)]


def approval_committee(document: Document) -> Organization:
    """The party committee whose administrators approve the manual and procedures: the
    nearest committee at or above the owner unit."""
    org = document.org
    committee = (
        Organization.objects.filter(
            path__in=_ancestor_paths(org.path), kind=Organization.Kind.COMMITTEE
        )
        .order_by("-depth")
        .first()
    )
    return committee or org


def _roles_with(*perms: str) -> list[str]:
    return [r for r in Role.values if any(p in roles.permissions_of(r) for p in perms)]


def _grant_rows_covering(org: Organization, role_values: Iterable[str]):
    today = timezone.localdate()
    return (
        RoleAssignment.objects.filter(role__in=list(role_values))
        .filter(Q(org=org) | Q(org__path__in=_ancestor_paths(org.path), include_subtree=True))
        .filter(Q(valid_from__isnull=True) | Q(valid_from__lte=today))
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=today))
    )


def eligible_signers(document: Document):
    """Users who may review or approve the document's versions: those who may draft or
    administer documents of the owner unit."""
    from pbqms.accounts.models import User

    user_ids = _grant_rows_covering(
        document.org, _roles_with(roles.DOC_DRAFT, roles.DOC_MANAGE)
    ).values("user_id")
    return User.objects.filter(pk__in=user_ids, is_active=True).order_by("username")


def eligible_approvers(document: Document):
    """For the manual and procedures: party committee administrators of the approval
    committee (e.g. the 党委书记); for other types the same people as reviewers."""
    if document.doc_type not in Document.COMMITTEE_APPROVAL:
        return eligible_signers(document)
    from pbqms.accounts.models import User

    committee = approval_committee(document)
    user_ids = _grant_rows_covering(committee, [Role.PARTY_ADMIN]).values("user_id")
    return User.objects.filter(pk__in=user_ids, is_active=True).order_by("username")


def default_approvers(document: Document) -> list:
    if document.doc_type not in Document.COMMITTEE_APPROVAL:
        return []
    committee = approval_committee(document)
    from pbqms.accounts.models import User

    direct = (
        _grant_rows_covering(committee, [Role.PARTY_ADMIN]).filter(org=committee).values("user_id")
    )
    return list(User.objects.filter(pk__in=direct, is_active=True).order_by("username")[:1])


def _set_assignees(version: DocumentVersion, reviewers, approvers) -> None:
    reviewers = list(dict.fromkeys(reviewers or []))
    approvers = list(dict.fromkeys(approvers or []))
    errors: dict[str, str] = {}
    author_id = version.author_id
    signer_ids = set(eligible_signers(version.document).values_list("pk", flat=True))
    approver_ids = set(eligible_approvers(version.document).values_list("pk", flat=True))
    if any(u.pk == author_id for u in reviewers):
        errors["reviewers"] = _("The author cannot review their own version.")
    elif any(u.pk not in signer_ids for u in reviewers):
        errors["reviewers"] = _("Choose reviewers who work on this unit's documents.")
    if any(u.pk == author_id for u in approvers):
        errors["approvers"] = _("The author cannot approve their own version.")
    elif any(u.pk not in approver_ids for u in approvers):
        if version.document.doc_type in Document.COMMITTEE_APPROVAL:
            errors["approvers"] = _(
                "The manual and procedures are approved by an administrator of the party "
                "committee (%(unit)s)."
            ) % {"unit": approval_committee(version.document)}
        else:
            errors["approvers"] = _("Choose approvers who work on this unit's documents.")
    if errors:
        raise ValidationError(errors)
    wanted = {(u.pk, VersionAssignment.Role.REVIEWER, i) for i, u in enumerate(reviewers)}
    wanted |= {(u.pk, VersionAssignment.Role.APPROVER, i) for i, u in enumerate(approvers)}
    current = {(a.user_id, a.role): a for a in version.assignments.all()}
    keep = {(uid, role) for uid, role, _pos in wanted}
    for key, assignment in current.items():
        if key not in keep:
            assignment.delete()
    for uid, role, position in sorted(wanted, key=lambda w: (w[1], w[2])):
        existing = current.get((uid, role))
        if existing is None:
            VersionAssignment.objects.create(
                document_version=version, user_id=uid, role=role, position=position
            )
        elif existing.position != position:
            existing.position = position
            existing.save(update_fields=["position"])


# ---------------------------------------------------------------- create and edit


def _validate_parent(doc_type: str, parent: Document | None, org: Organization) -> None:
    allowed = Document.ALLOWED_PARENTS.get(doc_type, frozenset())
    if parent is None:
        if doc_type in Document.PARENT_REQUIRED:
            raise ValidationError(
                {"parent": _("Choose the procedure this document belongs under.")}
            )
        return
    if parent.doc_type not in allowed:
        raise ValidationError(
            {
                "parent": _("A %(type)s cannot be placed under a %(parent)s.")
                % {"type": T(doc_type).label, "parent": T(parent.doc_type).label}
            }
        )
    if parent.status == Document.Status.OBSOLETE:
        raise ValidationError({"parent": _("An obsolete document cannot take new documents.")})


def _clean_units(actor, units) -> list[Organization]:
    units = list(units or [])
    visible = set(
        Organization.objects.visible_to(actor)
        .filter(pk__in=[u.pk for u in units])
        .values_list("pk", flat=True)
    )
    if any(u.pk not in visible for u in units):
        raise ValidationError({"applies_to": _("Choose units from your own scope.")})
    return units


def _clean_roles(values) -> list[str]:
    values = [str(v) for v in (values or [])]
    if any(v not in Role.values for v in values):
        raise ValidationError({"applies_to_roles": _("Choose roles from the list.")})
    return sorted(set(values), key=Role.values.index)


def _clean_interval(value) -> int:
    try:
        months = int(value if value not in (None, "") else 12)
    except (TypeError, ValueError):
        months = 0
    if not 1 <= months <= MAX_REVIEW_INTERVAL:
        raise ValidationError(
            {
                "review_interval_months": _("Enter a number of months from 1 to %(max)d.")
                % {"max": MAX_REVIEW_INTERVAL}
            }
        )
    return months


def _attach_file(version: DocumentVersion, upload) -> None:
    checked = files.check_upload(upload)
    version.file.save(checked.name, upload, save=False)
    version.file_name = checked.name
    version.file_sha256 = checked.sha256
    version.file_size = checked.size


def _log_applies_to(document: Document, before: list[str], after: list[str]) -> None:
    if before != after:
        changelog.write_entry(
            "update" if before else "create",
            instance=document,
            changes={"applies_to": [before or None, after]},
        )


def _unit_codes(units) -> list[str]:
    return sorted(u.code for u in units)


@transaction.atomic
def create_document(
    *,
    actor,
    org: Organization,
    doc_type: str,
    title: str,
    parent: Document | None = None,
    applies_to=None,
    applies_to_roles=None,
    review_interval_months=12,
    content: str = "",
    change_reason: str = "",
    file=None,
    reviewers=None,
    approvers=None,
) -> Document:
    """A new document with its first draft, version A/0, numbered by its type's pattern."""
    _require_unit(actor, roles.DOC_DRAFT, org)
    errors: dict[str, str] = {}
    title = (title or "").strip()
    if not title:
        errors["title"] = _("Enter the document's title.")
    if doc_type == modes.COMBINED:
        # the merged type of the simplified mode (三合为一): offered by units using it
        if not modes.is_simplified(org):
            errors["doc_type"] = _(
                "%(unit)s keeps procedures, work instructions and regulations apart: choose "
                "one of them."
            ) % {"unit": org}
        doc_type = modes.stored_type(doc_type)
    elif doc_type not in T.values:
        errors["doc_type"] = _("Choose the document type.")
    if errors:
        raise ValidationError(errors)
    if parent is not None:
        _ensure_document_visible(parent, actor)
    _validate_parent(doc_type, parent, org)
    units = _clean_units(actor, applies_to) or [org]
    role_values = _clean_roles(applies_to_roles)
    interval = _clean_interval(review_interval_months)
    document = Document.objects.create(
        number=assign_number(doc_type, parent),
        title=title,
        doc_type=doc_type,
        org=org,
        parent=parent,
        applies_to_roles=role_values,
        review_interval_months=interval,
    )
    document.applies_to.set(units)
    _log_applies_to(document, [], _unit_codes(units))
    version = DocumentVersion(
        document=document,
        edition="A",
        revision=0,
        title=title,
        content=content or "",
        change_reason=(change_reason or "").strip() or _("First issue"),
        author=actor,
    )
    if file:
        _attach_file(version, file)
    version.save()
    document.latest_version = version
    document.save(update_fields=["latest_version"])
    if reviewers or approvers:
        _set_assignees(version, reviewers, approvers)
    elif doc_type in Document.COMMITTEE_APPROVAL:
        suggested = [u for u in default_approvers(document) if u.pk != actor.pk]
        if suggested:
            _set_assignees(version, [], suggested)
    return document


EDITABLE = (
    "title",
    "content",
    "change_reason",
    "applies_to",
    "applies_to_roles",
    "review_interval_months",
)


@transaction.atomic
def update_draft(
    version: DocumentVersion,
    *,
    actor,
    data: dict[str, Any],
    expected_version=None,
) -> DocumentVersion:
    """Edit a draft: its title, content, file, reason, the document's distribution and
    review interval, and the reviewers/approvers. Refused once submitted."""
    _ensure_visible(version, actor)
    check_version(version, expected_version)
    version.refresh_from_db()
    document = version.document
    if version.status != S.DRAFT:
        raise workflow.TransitionNotAllowed(
            _("Only a draft can be edited; this version is “%(state)s”.")
            % {"state": version.get_status_display()}
        )
    if not (version.author_id == actor.pk or is_admin(actor, document)):
        raise PermissionDenied(_("Only the author or a document administrator edits a draft."))
    if "title" in data:
        title = (data.get("title") or "").strip()
        if not title:
            raise ValidationError({"title": _("Enter the document's title.")})
        version.title = title
        if document.effective_version_id is None:
            document.title = title
    if "content" in data:
        version.content = data.get("content") or ""
    if "change_reason" in data:
        version.change_reason = (data.get("change_reason") or "").strip()
    if data.get("remove_file"):
        version.file = ""
        version.file_name = version.file_sha256 = ""
        version.file_size = None
    if data.get("file"):
        _attach_file(version, data["file"])
    if (version.revision or version.edition != "A") and not version.change_reason:
        raise ValidationError({"change_reason": _("Give the reason for this revision.")})
    version.save()
    if "applies_to" in data:
        units = _clean_units(actor, data["applies_to"]) or [document.org]
        before = _unit_codes(document.applies_to.all())
        document.applies_to.set(units)
        _log_applies_to(document, before, _unit_codes(units))
    if "applies_to_roles" in data:
        document.applies_to_roles = _clean_roles(data["applies_to_roles"])
    if "review_interval_months" in data:
        document.review_interval_months = _clean_interval(data["review_interval_months"])
    document.save()
    if "reviewers" in data or "approvers" in data:
        _set_assignees(
            version,
            data.get("reviewers", [a.user for a in version.assignments.filter(role="reviewer")]),
            data.get("approvers", [a.user for a in version.assignments.filter(role="approver")]),
        )
    return version


# ---------------------------------------------------------------- lifecycle


def _signing_step(version, name: str, actor, password: str | None):
    """Check visibility and the transition, then the password (outside any transaction)."""
    _ensure_visible(version, actor)
    described = workflow.check(version, name, actor)
    if described.signature:
        signatures.verify_password(actor, password, obj=version, meaning=described.signature)
    return described


def submit(version: DocumentVersion, *, actor, password: str | None) -> DocumentVersion:
    """草稿 → 审核中, signed 编制 by the author."""
    _signing_step(version, "submit", actor, password)
    workflow.fire(version, "submit", actor=actor, password=password)
    return version


def review(
    version: DocumentVersion, *, actor, password: str | None, comment: str = ""
) -> DocumentVersion:
    """One reviewer signs 审核; when the last one has, the version awaits approval."""
    _signing_step(version, "review", actor, password)
    workflow.fire(
        version, "review", actor=actor, password=password, signature_comment=comment.strip()
    )
    return version


def send_back(version: DocumentVersion, *, actor, comment: str) -> DocumentVersion:
    """A reviewer or approver returns the version to its author with comments (the author
    may also withdraw it from review this way)."""
    _ensure_visible(version, actor)
    if not (comment or "").strip():
        raise ValidationError({"reason": _("Write what needs to change.")})
    workflow.fire(version, "send_back", actor=actor, reason=comment)
    return version


def _clean_effective_on(value, version: DocumentVersion | None = None) -> datetime.date:
    """The effective date: today or earlier takes effect at once (a version approved after
    the date it was meant to apply from), a later day is scheduled. Never before the
    effective date of the version it supersedes."""
    if not value:
        raise ValidationError({"effective_on": _("Enter the date the version takes effect.")})
    if isinstance(value, str):
        try:
            value = datetime.date.fromisoformat(value)
        except ValueError as exc:
            raise ValidationError({"effective_on": _("Enter a valid date.")}) from exc
    if version is not None and value < timezone.localdate():
        current = (
            DocumentVersion.objects.filter(document_id=version.document_id, status=S.EFFECTIVE)
            .exclude(pk=version.pk)
            .values_list("effective_on", flat=True)
            .first()
        )
        if current is not None and value < current:
            raise ValidationError(
                {
                    "effective_on": _(
                        "The effective date cannot be before that of the version it supersedes "
                        "(%(date)s)."
                    )
                    % {"date": current.isoformat()}
                }
            )
    return value


def approve(
    version: DocumentVersion,
    *,
    actor,
    password: str | None,
    effective_on,
    comment: str = "",
) -> DocumentVersion:
    """An approver signs 批准 with the effective date; when the last approver has signed,
    the version is approved, and takes effect at once if the date is today or past
    (superseding the previous version); a future date waits for the daily job."""
    effective_on = _clean_effective_on(effective_on, version)
    _signing_step(version, "approve", actor, password)
    with transaction.atomic():
        document = Document.objects.select_for_update().get(pk=version.document_id)
        workflow.fire(
            version,
            "approve",
            actor=actor,
            password=password,
            effective_on=effective_on,
            signature_comment=comment.strip(),
        )
        if version.status == S.APPROVED and effective_on <= timezone.localdate():
            _make_effective(version, document, actor)
    return version


def make_effective(version: DocumentVersion, *, actor) -> DocumentVersion:
    """已批准 → 生效 on or after the effective date; the previous effective version is
    superseded in the same transaction."""
    _ensure_visible(version, actor)
    workflow.check(version, "make_effective", actor)
    with transaction.atomic():
        document = Document.objects.select_for_update().get(pk=version.document_id)
        _make_effective(version, document, actor)
    return version


def _make_effective(version: DocumentVersion, document: Document, actor) -> None:
    previous_id = document.effective_version_id
    if previous_id and previous_id != version.pk:
        previous = DocumentVersion.objects.get(pk=previous_id)
        if previous.status == S.EFFECTIVE:
            workflow.fire(previous, "supersede", actor=actor)
    workflow.fire(version, "make_effective", actor=actor)
    document.status = Document.Status.EFFECTIVE
    document.effective_version = version
    document.title = version.title
    document.next_review_on = add_months(version.effective_on, document.review_interval_months)
    document.save()
    create_acknowledgements(version)


def activate_due_versions(today: datetime.date | None = None) -> int:
    """The scheduler's step: approved versions whose effective date has come take effect."""
    today = today or timezone.localdate()
    count = 0
    for version in DocumentVersion.objects.filter(
        status=S.APPROVED, effective_on__lte=today
    ).select_related("document"):
        with transaction.atomic():
            document = Document.objects.select_for_update().get(pk=version.document_id)
            _make_effective(version, document, SYSTEM)
        count += 1
    return count


def _next_label(document: Document, major: bool, base: DocumentVersion) -> tuple[str, int]:
    labels = list(document.versions.values_list("edition", "revision"))
    if major:
        last = max(e for e, _r in labels)
        if last >= "Z":
            raise ValidationError(_("No further edition letter is available."))
        return chr(ord(last) + 1), 0
    revs = [r for e, r in labels if e == base.edition]
    return base.edition, max(revs) + 1


@transaction.atomic
def start_revision(
    document: Document, *, actor, reason: str, major: bool = True
) -> DocumentVersion:
    """A new draft from the effective version: B/0 for a new edition, A/1 for an
    amendment. The effective version stays in force until the revision takes effect."""
    _ensure_document_visible(document, actor)
    document = Document.objects.select_for_update().get(pk=document.pk)
    if not may_draft(actor, document):
        raise PermissionDenied(_("You may not revise this unit's documents."))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Give the reason for the revision.")})
    if document.status != Document.Status.EFFECTIVE or document.effective_version_id is None:
        raise workflow.TransitionNotAllowed(_("Only an effective document can be revised."))
    if document.versions.filter(status__in=DocumentVersion.OPEN_STATUSES).exists():
        raise workflow.TransitionNotAllowed(
            _("A revision of this document is already in progress.")
        )
    base = document.effective_version
    edition, revision = _next_label(document, major, base)
    version = DocumentVersion(
        document=document,
        edition=edition,
        revision=revision,
        title=base.title,
        content=base.content,
        file=base.file.name if base.file else "",
        file_name=base.file_name,
        file_sha256=base.file_sha256,
        file_size=base.file_size,
        change_reason=reason,
        author=actor,
    )
    version.save()
    document.latest_version = version
    document.save(update_fields=["latest_version"])
    previous = base.assignments.all()
    for a in previous:
        if a.user_id != actor.pk:
            VersionAssignment.objects.create(
                document_version=version, user_id=a.user_id, role=a.role, position=a.position
            )
    return version


def withdraw(version: DocumentVersion, *, actor, reason: str) -> DocumentVersion:
    """Withdraw a version being prepared (its number and history stay). A document that
    never took effect becomes obsolete with it."""
    _ensure_visible(version, actor)
    with transaction.atomic():
        document = Document.objects.select_for_update().get(pk=version.document_id)
        workflow.fire(version, "withdraw", actor=actor, reason=reason)
        if document.effective_version_id is None:
            document.status = Document.Status.OBSOLETE
            document.obsoleted_on = timezone.localdate()
            document.obsolete_reason = reason
        document.latest_version = version
        document.save()
    return version


@transaction.atomic
def obsolete_document(document: Document, *, actor, reason: str) -> Document:
    """废止: the effective version (and any version in preparation) become obsolete; the
    document leaves the master list and stays searchable as obsolete."""
    _ensure_document_visible(document, actor)
    document = Document.objects.select_for_update().get(pk=document.pk)
    if not is_admin(actor, document):
        raise PermissionDenied(_("Only a document administrator can obsolete a document."))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Give the reason for obsoleting the document.")})
    if document.status == Document.Status.OBSOLETE:
        raise workflow.TransitionNotAllowed(_("The document is already obsolete."))
    for version in document.versions.filter(status__in=DocumentVersion.OPEN_STATUSES):
        workflow.fire(version, "withdraw", actor=actor, reason=reason)
    if document.effective_version_id:
        effective = DocumentVersion.objects.get(pk=document.effective_version_id)
        if effective.status == S.EFFECTIVE:
            workflow.fire(effective, "obsolete", actor=actor, reason=reason)
    document.status = Document.Status.OBSOLETE
    document.obsoleted_on = timezone.localdate()
    document.obsolete_reason = reason
    document.next_review_on = None
    document.save()
    return document


# ---------------------------------------------------------------- references


@transaction.atomic
def add_link(document: Document, *, actor, to_document: Document, note: str = "") -> DocumentLink:
    _ensure_document_visible(document, actor)
    _ensure_document_visible(to_document, actor)
    if not may_draft(actor, document):
        raise PermissionDenied(_("You may not change this document's references."))
    if to_document.pk == document.pk:
        raise ValidationError({"to_document": _("A document cannot reference itself.")})
    if DocumentLink.objects.filter(from_document=document, to_document=to_document).exists():
        raise ValidationError({"to_document": _("This reference is already recorded.")})
    return DocumentLink.objects.create(
        from_document=document, to_document=to_document, note=(note or "").strip()[:200]
    )


@transaction.atomic
def remove_link(link: DocumentLink, *, actor) -> None:
    _ensure_document_visible(link.from_document, actor)
    if not may_draft(actor, link.from_document):
        raise PermissionDenied(_("You may not change this document's references."))
    link.delete()


# ---------------------------------------------------------------- diff


def diff(a: DocumentVersion, b: DocumentVersion) -> dict[str, Any]:
    """The difference from version ``a`` to version ``b`` of one document."""
    if a.document_id != b.document_id:
        raise ValidationError(_("Compare two versions of the same document."))
    return {
        "inline": rendering.diff_inline(a.content, b.content),
        "side_by_side": rendering.diff_side_by_side(a.content, b.content, a.label, b.label),
        "stats": rendering.diff_stats(a.content, b.content),
        "title_changed": a.title != b.title,
        "file_changed": a.file_sha256 != b.file_sha256,
    }


# ---------------------------------------------------------------- acknowledgements


def _audience(document: Document):
    """(person id, unit id) of the people with an account the document applies to."""
    units = list(document.applies_to.all()) or [document.org]
    q = Q()
    for unit in units:
        q |= Q(org__path__startswith=unit.path)
    people = Person.objects.filter(q, user__isnull=False, user__is_active=True)
    if document.applies_to_roles:
        holders = RoleAssignment.objects.filter(role__in=document.applies_to_roles).values(
            "user_id"
        )
        people = people.filter(user_id__in=holders)
    return people.values_list("pk", "org_id")


def create_acknowledgements(version: DocumentVersion) -> int:
    """Read-and-acknowledge tasks for the people the document applies to (with accounts),
    when a version takes effect. Returns how many were created."""
    # a version approved with a past effective date still leaves the full period to read it
    start = max(version.effective_on or timezone.localdate(), timezone.localdate())
    due = start + datetime.timedelta(days=ACKNOWLEDGE_WITHIN_DAYS)
    existing = set(version.acknowledgements.values_list("person_id", flat=True))
    rows = [
        Acknowledgement(document_version=version, person_id=pid, org_id=org_id, due=due)
        for pid, org_id in _audience(version.document)
        if pid not in existing
    ]
    Acknowledgement.objects.bulk_create(rows, batch_size=1000)
    if rows:
        changelog.write_entry(
            "create",
            instance=version,
            changes={"acknowledgement_tasks": [None, len(rows)], "due": [None, due]},
        )
    return len(rows)


@transaction.atomic
def acknowledge(ack: Acknowledgement, *, actor) -> Acknowledgement:
    """The person confirms they have read and understood the version (学习确认)."""
    ack = (
        Acknowledgement.objects.select_for_update()
        .select_related("person", "document_version")
        .get(pk=ack.pk)
    )
    if ack.person.user_id != actor.pk:
        raise Http404
    if ack.document_version.status != S.EFFECTIVE:
        raise ValidationError(_("This version is no longer in force; nothing to acknowledge."))
    if ack.done_at is None:
        ack.done_at = timezone.now()
        ack.save(update_fields=["done_at"])
    return ack


def _unit_people_q(user) -> Q:
    """Acknowledgements of units whose people the user may see (their secretaries, the
    document administrators)."""
    return scope.scope_q(user, roles.PERSON_VIEW, "org") | scope.scope_q(
        user, roles.DOC_MANAGE, "org"
    )


def ack_stats(version: DocumentVersion, user) -> dict[str, Any]:
    """Per unit: how many have acknowledged out of how many, with the percentage (one
    aggregate query), restricted to the units whose people the user may see."""
    rows = list(
        Acknowledgement.objects.filter(document_version=version)
        .filter(_unit_people_q(user))
        .values("org_id", "org__name", "org__path")
        .annotate(total=Count("id"), done=Count("id", filter=Q(done_at__isnull=False)))
        .order_by("org__path")
    )
    total = sum(r["total"] for r in rows)
    done = sum(r["done"] for r in rows)
    for r in rows:
        r["percent"] = round(100 * r["done"] / r["total"]) if r["total"] else 0
    return {
        "units": rows,
        "total": total,
        "done": done,
        "percent": round(100 * done / total) if total else 0,
    }


def pending_acknowledgements(version: DocumentVersion, user, limit: int = 200):
    return list(
        Acknowledgement.objects.filter(document_version=version, done_at__isnull=True)
        .filter(_unit_people_q(user))
        .select_related("person", "org")
        .order_by("org__path", "person__name")[:limit]
    )


@transaction.atomic
def remind_laggards(version: DocumentVersion, *, actor) -> int:
    """Send each person who has not acknowledged the version a reminder (in-app inbox and
    e-mail, ``pbqms.core.notify``; at most one per version and day) and mark them as
    reminded; returns how many were reminded now."""
    from pbqms.documents.reminders import remind_version_laggards

    _ensure_visible(version, actor)
    if not is_admin(actor, version.document):
        raise PermissionDenied
    if version.status != S.EFFECTIVE:
        raise ValidationError(_("Only the version in force is acknowledged."))
    n = remind_version_laggards(version)
    if n:
        Acknowledgement.objects.filter(document_version=version, done_at__isnull=True).update(
            reminded_at=timezone.now()
        )
        changelog.write_entry("update", instance=version, changes={"reminded": [None, n]})
    return n


# ---------------------------------------------------------------- periodic review


def reviews_due(user, within_days: int = REVIEW_DUE_SOON_DAYS):
    """Effective documents the user administers whose review is due within the period or
    overdue, soonest first."""
    limit = timezone.localdate() + datetime.timedelta(days=within_days)
    return (
        Document.objects.filter(scope.scope_q(user, roles.DOC_MANAGE, "org"))
        .filter(status=Document.Status.EFFECTIVE, next_review_on__lte=limit)
        .select_related("org", "effective_version")
        .order_by("next_review_on", "number")
    )


def record_review(document: Document, *, actor, conclusion: str, notes: str = "") -> DocumentReview:
    """Record a periodic review's conclusion and start what it says: 继续有效 moves the next
    review date on, 需修订 starts a revision, 废止 obsoletes the document."""
    C = DocumentReview.Conclusion
    _ensure_document_visible(document, actor)
    if not is_admin(actor, document):
        raise PermissionDenied(_("Only a document administrator records periodic reviews."))
    if conclusion not in C.values:
        raise ValidationError({"conclusion": _("Choose the conclusion.")})
    notes = (notes or "").strip()
    if conclusion != C.CONTINUE and not notes:
        raise ValidationError({"notes": _("Say what needs to change, or why.")})
    with transaction.atomic():
        document = Document.objects.select_for_update().get(pk=document.pk)
        if document.status != Document.Status.EFFECTIVE:
            raise workflow.TransitionNotAllowed(_("Only an effective document is reviewed."))
        review_row = DocumentReview.objects.create(
            document=document,
            document_version_id=document.effective_version_id,
            due=document.next_review_on,
            done_at=timezone.now(),
            reviewer=actor,
            conclusion=conclusion,
            notes=notes,
        )
        if conclusion == C.OBSOLETE:
            obsolete_document(document, actor=actor, reason=notes)
            return review_row
        document.next_review_on = add_months(timezone.localdate(), document.review_interval_months)
        document.save(update_fields=["next_review_on"])
        if conclusion == C.REVISE:
            start_revision(document, actor=actor, reason=notes)
    return review_row


# ---------------------------------------------------------------- signatures on a page


def signature_rows(version: DocumentVersion) -> list[dict[str, Any]]:
    current = version.content_hash
    return [
        {"signature": sig, "valid": signatures.is_valid(sig, current)}
        for sig in signatures.signatures_for(version)
    ]


MEANING_ORDER = [
    Signature.Meaning.PREPARED,
    Signature.Meaning.REVIEWED,
    Signature.Meaning.APPROVED,
]
