"""Writes for the organisation area. Every rule lives here; views, API, import and commands
call these functions (one transaction each) and never write models directly.

Permission checks follow the scope rule: an object outside the actor's scope is "not
found" (``Http404``); inside the scope but without the right is ``PermissionDenied``.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from pbqms.core import changelog, roles, scope
from pbqms.core.context import action_context
from pbqms.core.locking import check_version
from pbqms.core.numbering import next_number
from pbqms.orgs.models import MembershipHistory, Organization, Person, Post, RoleAssignment

ORG_FIELDS = (
    "name",
    "short_name",
    "code",
    "kind",
    "founded_on",
    "term_years",
    "term_started_on",
)
PERSON_FIELDS = (
    "name",
    "gender",
    "birth_date",
    "phone",
    "member_status",
    "joined_on",
    "probation_until",
)


def require(actor, perm: str, org: Organization) -> None:
    """404 if ``org`` is outside everything the actor may see, 403 if visible but ``perm``
    is not granted there."""
    if scope.has_perm(actor, perm, org):
        return
    if not Organization.objects.visible_to(actor).filter(pk=org.pk).exists():
        raise Http404
    raise PermissionDenied(_("You do not have permission to do this in %(unit)s.") % {"unit": org})


# ---------------------------------------------------------------- units


def _validate_parent(kind: str, parent: Organization | None) -> None:
    if parent is None:
        if kind != Organization.Kind.COMMITTEE:
            raise ValidationError({"parent": _("Only a party committee can be a top-level unit.")})
        return
    if parent.is_dissolved:
        raise ValidationError({"parent": _("A dissolved unit cannot take new subordinate units.")})
    allowed = Organization.ALLOWED_CHILDREN.get(parent.kind, set())
    if kind not in allowed:
        raise ValidationError(
            {
                "kind": _("A %(kind)s cannot be placed under a %(parent)s.")
                % {
                    "kind": Organization.Kind(kind).label,
                    "parent": Organization.Kind(parent.kind).label,
                }
            }
        )


def _validate_org_data(data: dict[str, Any], instance: Organization | None = None) -> None:
    errors: dict[str, str] = {}
    if not (data.get("name") or "").strip():
        errors["name"] = _("Enter the unit's name.")
    code = (data.get("code") or "").strip()
    if code:
        clash = Organization.objects.filter(code=code)
        if instance is not None:
            clash = clash.exclude(pk=instance.pk)
        if clash.exists():
            errors["code"] = _("Another unit already uses this code.")
    founded, term_start = data.get("founded_on"), data.get("term_started_on")
    if founded and founded > timezone.localdate():
        errors["founded_on"] = _("The founding date cannot be in the future.")
    if founded and term_start and term_start < founded:
        errors["term_started_on"] = _("The term cannot start before the unit was founded.")
    if errors:
        raise ValidationError(errors)


def can_add_top_level(actor) -> bool:
    """A top-level unit may be added by a system administrator, or by anyone allowed to add
    units while the tree is still empty (first set-up)."""
    if roles.Role.SYSTEM_ADMIN in scope.roles_of(actor):
        return True
    return scope.has_perm(actor, roles.ORG_ADD) and not Organization.objects.exists()


@transaction.atomic
def create_unit(*, actor, parent: Organization | None, data: dict[str, Any]) -> Organization:
    if parent is None:
        if not can_add_top_level(actor):
            raise PermissionDenied(_("Only the system administrator can add a top-level unit."))
    else:
        require(actor, roles.ORG_ADD, parent)
    data = {k: data.get(k) for k in ORG_FIELDS if k in data}
    data["kind"] = data.get("kind") or ""
    if data["kind"] not in Organization.Kind.values:
        raise ValidationError({"kind": _("Choose the kind of unit.")})
    _validate_parent(data["kind"], parent)
    _validate_org_data(data)
    data["name"] = data["name"].strip()
    data["code"] = (data.get("code") or "").strip() or next_number("orgs.organization")
    if not data.get("term_years"):
        data["term_years"] = Organization.DEFAULT_TERM_YEARS.get(data["kind"])
    unit = (
        Organization.objects.add_root(data)
        if parent is None
        else Organization.objects.add_child(parent, data)
    )
    return unit


@transaction.atomic
def update_unit(*, actor, unit: Organization, data: dict[str, Any], version=None) -> Organization:
    require(actor, roles.ORG_CHANGE, unit)
    check_version(unit, version)
    data = {k: data[k] for k in ORG_FIELDS if k in data}
    merged = {**{k: getattr(unit, k) for k in ORG_FIELDS}, **data}
    _validate_org_data(merged, instance=unit)
    if merged["kind"] != unit.kind:
        parent = Organization.objects.get_parent(unit)
        _validate_parent(merged["kind"], parent)
        for child in Organization.objects.get_children(unit):
            if child.kind not in Organization.ALLOWED_CHILDREN.get(merged["kind"], set()):
                raise ValidationError(
                    {"kind": _("The unit's subordinate units do not fit under this kind.")}
                )
    for key, value in merged.items():
        setattr(unit, key, value.strip() if isinstance(value, str) else value)
    if not unit.code:
        unit.code = next_number("orgs.organization")
    unit.save()
    return unit


@transaction.atomic
def move_unit(
    *, actor, unit: Organization, new_parent: Organization, reason: str = "", version=None
) -> Organization:
    require(actor, roles.ORG_MOVE, unit)
    require(actor, roles.ORG_MOVE, new_parent)
    check_version(unit, version)
    if unit.is_root():
        raise ValidationError({"parent": _("The top-level unit cannot be moved.")})
    if new_parent.pk == unit.pk or new_parent.path.startswith(unit.path):
        raise ValidationError(
            {"parent": _("A unit cannot be moved under itself or its own subordinates.")}
        )
    _validate_parent(unit.kind, new_parent)
    old_parent = Organization.objects.get_parent(unit)
    if old_parent and old_parent.pk == new_parent.pk:
        raise ValidationError({"parent": _("The unit is already under this parent.")})
    before = {"parent": str(old_parent) if old_parent else None, "path": unit.path}
    with action_context(reason=reason):
        Organization.objects.move(unit, new_parent, "last-child")
        unit.refresh_from_db()
        # treebeard moves by queryset updates, so the change log is written here
        Organization.objects.filter(pk=unit.pk).update(version=unit.version + 1)
        unit.refresh_from_db()
        changelog.record_change(
            unit,
            "update",
            before=before,
            after={"parent": str(new_parent), "path": unit.path},
            reason=reason,
        )
    return unit


@transaction.atomic
def dissolve_unit(
    *, actor, unit: Organization, on: datetime.date, reason: str, version=None
) -> Organization:
    require(actor, roles.ORG_DISSOLVE, unit)
    check_version(unit, version)
    errors = {}
    if not (reason or "").strip():
        errors["reason"] = _("Give the reason for dissolving the unit.")
    if not on:
        errors["on"] = _("Enter the date the unit is dissolved.")
    elif unit.dissolved_on:
        errors["on"] = _("The unit is already dissolved.")
    if on and unit.founded_on and on < unit.founded_on:
        errors["on"] = _("A unit cannot be dissolved before it was founded.")
    if errors:
        raise ValidationError(errors)
    if (
        Organization.objects.filter(path__startswith=unit.path, dissolved_on__isnull=True)
        .exclude(pk=unit.pk)
        .exists()
    ):
        raise ValidationError({"on": _("Dissolve or move its subordinate units first.")})
    if Person.objects.filter(org=unit).exists():
        raise ValidationError({"on": _("Transfer the unit's people to another unit first.")})
    with action_context(reason=reason):
        unit.dissolved_on = on
        unit.dissolution_reason = reason.strip()
        unit.save()
    return unit


# ---------------------------------------------------------------- people


def _validate_person(data: dict[str, Any]) -> None:
    errors: dict[str, str] = {}
    if not (data.get("name") or "").strip():
        errors["name"] = _("Enter the person's name.")
    if data.get("gender") not in Person.Gender.values:
        errors["gender"] = _("Choose male or female.")
    status = data.get("member_status")
    if status not in Person.MemberStatus.values:
        errors["member_status"] = _("Choose the member status.")
    today = timezone.localdate()
    birth, joined = data.get("birth_date"), data.get("joined_on")
    if birth and birth > today:
        errors["birth_date"] = _("The date of birth cannot be in the future.")
    if joined and joined > today:
        errors["joined_on"] = _("The joining date cannot be in the future.")
    if birth and joined:
        try:
            adult_on = birth.replace(year=birth.year + 18)
        except ValueError:  # born on 29 February
            adult_on = birth.replace(year=birth.year + 18, day=28)
        if joined < adult_on:
            errors["joined_on"] = _("A member joins the party at 18 or older.")
    if status in Person.PARTY_STATUSES and not joined:
        errors["joined_on"] = _("Enter the date the person joined the party.")
    phone = (data.get("phone") or "").strip()
    if phone and not (phone.isdigit() and 7 <= len(phone) <= 15):
        errors["phone"] = _("Enter digits only, 7 to 15 of them.")
    if errors:
        raise ValidationError(errors)


def validate_person_data(data: dict[str, Any]) -> None:
    """The person rules alone, without writing: a form that already has field errors calls
    this so the user sees every problem in one round."""
    _validate_person({k: data.get(k) for k in PERSON_FIELDS})


def _apply_posts(person: Person, titles: list[str] | None) -> None:
    """Make the person's current posts in their unit equal to ``titles``."""
    if titles is None:
        return
    wanted = set(titles)
    bad = wanted - set(Post.Title.values)
    if bad:
        raise ValidationError({"posts": _("Unknown post: %(p)s") % {"p": ", ".join(sorted(bad))}})
    today = timezone.localdate()
    current = {p.title: p for p in person.posts.filter(org=person.org, ended_on__isnull=True)}
    for title, post in current.items():
        if title not in wanted:
            post.ended_on = today
            post.save()
    for title in wanted - current.keys():
        Post.objects.create(person=person, org=person.org, title=title, started_on=today)


@transaction.atomic
def create_person(
    *, actor, org: Organization, data: dict[str, Any], posts: list[str] | None = None
) -> Person:
    require(actor, roles.PERSON_ADD, org)
    if org.is_dissolved:
        raise ValidationError({"org": _("A dissolved unit cannot take new people.")})
    data = {k: data.get(k) for k in PERSON_FIELDS}
    _validate_person(data)
    data["name"] = data["name"].strip()
    data["phone"] = (data.get("phone") or "").strip()
    person = Person.objects.create(org=org, **data)
    MembershipHistory.objects.create(
        person=person,
        org=org,
        started_on=data.get("joined_on") or timezone.localdate(),
        reason=MembershipHistory.Reason.JOIN,
    )
    _apply_posts(person, posts)
    return person


@transaction.atomic
def update_person(
    *, actor, person: Person, data: dict[str, Any], posts: list[str] | None = None, version=None
) -> Person:
    require(actor, roles.PERSON_CHANGE, person.org)
    check_version(person, version)
    merged = {
        **{k: getattr(person, k) for k in PERSON_FIELDS},
        **{k: data[k] for k in PERSON_FIELDS if k in data},
    }
    _validate_person(merged)
    for key, value in merged.items():
        setattr(person, key, value.strip() if isinstance(value, str) else value)
    person.save()
    _apply_posts(person, posts)
    return person


@transaction.atomic
def transfer_person(
    *,
    actor,
    person: Person,
    to_org: Organization,
    on: datetime.date | None = None,
    reason: str = "",
    version=None,
) -> Person:
    """Move a person to another unit; the stay in the old unit is closed in the history and
    their posts there end."""
    require(actor, roles.PERSON_TRANSFER, person.org)
    if not Organization.objects.visible_to(actor).filter(pk=to_org.pk).exists():
        raise ValidationError({"to_org": _("Choose a unit you can see.")})
    check_version(person, version)
    on = on or timezone.localdate()
    errors = {}
    if to_org.pk == person.org_id:
        errors["to_org"] = _("The person is already in this unit.")
    elif to_org.is_dissolved:
        errors["to_org"] = _("A dissolved unit cannot take new people.")
    if not (reason or "").strip():
        errors["reason"] = _("Give the reason for the transfer.")
    if on > timezone.localdate():
        errors["on"] = _("The transfer date cannot be in the future.")
    else:
        stay = (
            MembershipHistory.objects.filter(person=person, ended_on__isnull=True)
            .order_by("-started_on")
            .first()
        )
        if stay is not None and on < stay.started_on:
            errors["on"] = _(
                "The transfer date cannot be before the person joined the current unit (%(date)s)."
            ) % {"date": formats.date_format(stay.started_on)}
    if errors:
        raise ValidationError(errors)
    with action_context(reason=reason.strip()):
        old_org = person.org
        for stay in MembershipHistory.objects.filter(person=person, ended_on__isnull=True):
            stay.ended_on = on
            stay.save()
        for post in person.posts.filter(org=old_org, ended_on__isnull=True):
            post.ended_on = on
            post.save()
        person.org = to_org
        person.save()
        MembershipHistory.objects.create(
            person=person,
            org=to_org,
            started_on=on,
            reason=MembershipHistory.Reason.TRANSFER,
            note=reason.strip(),
        )
    return person


# ---------------------------------------------------------------- role assignments


@transaction.atomic
def assign_role(
    *,
    actor,
    user,
    role: str,
    org: Organization,
    include_subtree: bool = True,
    valid_from=None,
    valid_to=None,
    note: str = "",
) -> RoleAssignment:
    require(actor, roles.ROLE_MANAGE, org)
    errors = {}
    if role not in roles.Role.values:
        errors["role"] = _("Choose a role.")
    elif role in roles.ADMIN_ROLES:
        others = (
            RoleAssignment.objects.filter(user=user, role__in=roles.ADMIN_ROLES)
            .exclude(role=role)
            .exists()
        )
        if others:
            errors["role"] = _(
                "The system, security and audit administrator roles are kept separate: this "
                "account already holds another of them."
            )
        if user.pk == getattr(actor, "pk", None):
            errors["user"] = _("You cannot grant an administrator role to yourself.")
    if valid_from and valid_to and valid_to < valid_from:
        errors["valid_to"] = _("The end date must be after the start date.")
    if RoleAssignment.objects.filter(user=user, role=role, org=org).exists():
        errors["role"] = _("This user already has this role on this unit.")
    if errors:
        raise ValidationError(errors)
    assignment = RoleAssignment.objects.create(
        user=user,
        role=role,
        org=org,
        include_subtree=include_subtree,
        valid_from=valid_from,
        valid_to=valid_to,
        note=note,
    )
    changelog.log_security_event(
        "permission_change",
        instance=assignment,
        details={
            "granted": role,
            "org": org.code,
            "subtree": include_subtree,
            "user": user.username,
        },
    )
    scope.clear_cache(user)
    return assignment


@transaction.atomic
def revoke_role(*, actor, assignment: RoleAssignment, reason: str = "") -> None:
    require(actor, roles.ROLE_MANAGE, assignment.org)
    with action_context(reason=reason):
        changelog.log_security_event(
            "permission_change",
            instance=assignment,
            details={
                "revoked": assignment.role,
                "org": assignment.org.code,
                "user": assignment.user.username,
            },
        )
        assignment.delete()
    scope.clear_cache(assignment.user)
