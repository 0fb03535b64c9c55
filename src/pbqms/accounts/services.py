"""Account writes: user administration, password changes and resets, TOTP set-up, unlocks.

Every rule lives here (views, commands and tests call these functions). Permission checks
follow the rest of pbqms: ``PermissionDenied`` (403) when the actor lacks the right.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from pbqms.accounts.models import User
from pbqms.core import roles, scope
from pbqms.core.changelog import log_security_event, write_entry
from pbqms.core.context import action_context

USERNAME_MAX = 150
KEEP_PERSON = object()  # update_user: leave the account's person link unchanged


# ---------------------------------------------------------------- own password


@transaction.atomic
def change_password(*, user: User, new_password: str) -> None:
    """Set a new (already validated) password; the old hash goes to the history."""
    user.set_password(new_password)
    user.must_change_password = False
    user.save()
    log_security_event("password_change", user=user)


# ---------------------------------------------------------------- TOTP


def totp_device(user: User, *, confirmed: bool | None = None) -> TOTPDevice | None:
    qs = TOTPDevice.objects.filter(user=user)
    if confirmed is not None:
        qs = qs.filter(confirmed=confirmed)
    return qs.order_by("-id").first()


@transaction.atomic
def start_totp_setup(user: User) -> TOTPDevice:
    """The unconfirmed device being set up (one per user; a fresh key each set-up)."""
    device = totp_device(user, confirmed=False)
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="pbqms", confirmed=False)
    return device


def totp_wait_seconds(device: TOTPDevice) -> int:
    """Seconds until django-otp accepts another code after wrong ones (0: now)."""
    from django.utils import timezone

    allowed, data = device.verify_is_allowed()
    if allowed:
        return 0
    until = (data or {}).get("locked_until")
    if until is None:
        return 1
    return max(1, int((until - timezone.now()).total_seconds()) + 1)


@transaction.atomic
def confirm_totp(user: User, device: TOTPDevice, token: str) -> bool:
    """Confirm a device being set up with a code it produced; it replaces older devices."""
    if not device.verify_token(token):
        log_security_event("otp_failed", user=user, outcome="failure", details={"step": "setup"})
        return False
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save()
    log_security_event("otp_setup", user=user)
    return True


def verify_totp(user: User, device: TOTPDevice, token: str) -> bool:
    ok = device.verify_token(token)
    if ok:
        log_security_event("login", user=user, details={"factor": "totp"})
    else:
        log_security_event("otp_failed", user=user, outcome="failure", details={"step": "verify"})
    return ok


# ---------------------------------------------------------------- user administration


def require_user_manager(actor) -> None:
    if not scope.has_perm(actor, roles.USER_MANAGE):
        raise PermissionDenied(_("Only the system administrator manages user accounts."))


def require_security_manager(actor) -> None:
    if not scope.has_perm(actor, roles.SECURITY_MANAGE):
        raise PermissionDenied(_("Only the security administrator manages security settings."))


def manageable_users(actor):
    """The accounts ``actor`` may see and manage (SECURITY.md item 7): those whose person or
    any of whose role assignments lies in a unit of the actor's user-management scope. A
    whole-tree manager also sees accounts attached to no unit. Superusers never appear."""
    from django.db.models import Exists, OuterRef

    from pbqms.orgs.models import RoleAssignment

    users = User.objects.filter(is_superuser=False)
    grants = scope.grants_for(actor, roles.USER_MANAGE)
    if not grants:
        return users.none()
    if _manages_whole_tree(grants):
        return users
    in_scope_role = RoleAssignment.objects.filter(user_id=OuterRef("pk")).filter(
        scope.scope_q(actor, roles.USER_MANAGE, "org")
    )
    return users.filter(
        scope.scope_q(actor, roles.USER_MANAGE, "person__org") | Exists(in_scope_role)
    )


def _require_manageable(actor, user: User) -> None:
    require_user_manager(actor)
    if user.is_superuser:
        # a superuser can only come from the command line; the application never touches one
        raise PermissionDenied(_("This account is managed outside pbqms and cannot be changed."))
    if not manageable_users(actor).filter(pk=user.pk).exists():
        raise Http404
    if not _manages_whole_tree(scope.grants_for(actor, roles.USER_MANAGE)):
        _require_wholly_in_scope(actor, user)


def _manages_whole_tree(grants) -> bool:
    return any(g.subtree and len(g.path) <= scope._ROOT_PATH_LENGTH for g in grants)


def _require_wholly_in_scope(actor, user: User) -> None:
    """Changing an account (password, activation, details) needs every one of its roles
    inside the actor's units: otherwise a unit's administrator could take over an account
    that acts for units above or beside theirs."""
    from pbqms.orgs.models import RoleAssignment

    in_scope = scope.scope_q(actor, roles.USER_MANAGE, "org")
    if RoleAssignment.objects.filter(user=user).exclude(in_scope).exists():
        raise PermissionDenied(
            _("This account holds roles outside your units; an administrator above you manages it.")
        )


def _validate_person(actor, person, user: User | None) -> None:
    if person is None:
        return
    from pbqms.orgs.models import Person

    if not Person.objects.visible_to(actor, roles.PERSON_VIEW).filter(pk=person.pk).exists():
        raise ValidationError({"person": _("Choose a person in a unit you can see.")})
    if person.user_id and (user is None or person.user_id != user.pk):
        raise ValidationError({"person": _("This person already has another login account.")})


def _link_person(user: User, person) -> None:
    from pbqms.orgs.models import Person

    current = Person.objects.filter(user=user).first()
    if current is not None and (person is None or current.pk != person.pk):
        current.user = None
        current.save()
    if person is not None and person.user_id != user.pk:
        person.user = user
        person.save()


def validate_new_password(password: str, user: User) -> None:
    """The password rules of SECURITY.md item 2, as field errors on ``password``."""
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc


@transaction.atomic
def create_user(
    *,
    actor,
    username: str,
    display_name: str,
    password: str,
    person=None,
    language: str | None = None,
) -> User:
    """A new account with an initial password the user must change at first login. No
    path in pbqms creates staff or superuser accounts."""
    require_user_manager(actor)
    username = (username or "").strip()
    errors: dict[str, Any] = {}
    if not username:
        errors["username"] = _("Enter a user name.")
    elif User.objects.filter(username__iexact=username).exists():
        errors["username"] = _("This user name is already taken.")
    else:
        try:
            User.username_validator(username)
        except ValidationError as exc:
            errors["username"] = exc.messages
    if language and language not in dict(settings.LANGUAGES):
        errors["language"] = _("Choose a language.")
    if errors:
        raise ValidationError(errors)
    user = User(
        username=username,
        display_name=(display_name or "").strip(),
        must_change_password=True,
        is_staff=False,
        is_superuser=False,
        language=language or settings.LANGUAGE_CODE,
    )
    validate_new_password(password, user)
    _validate_person(actor, person, None)
    user.set_password(password)
    user.save()
    _link_person(user, person)
    return user


@transaction.atomic
def update_user(*, actor, user: User, display_name: str, person=KEEP_PERSON, language=None) -> User:
    """Change an account; ``person`` links it to a person in the actor's scope, ``None``
    unlinks it, ``KEEP_PERSON`` (the default) leaves the link as it is — the only choice
    when the linked person is outside the actor's scope."""
    _require_manageable(actor, user)
    if language and language not in dict(settings.LANGUAGES):
        raise ValidationError({"language": _("Choose a language.")})
    if person is not KEEP_PERSON:
        _validate_person(actor, person, user)
        current = user_person(user)
        if current is not None and not person_in_scope(actor, current):
            raise ValidationError(
                {"person": _("The linked person is in a unit you cannot see; it stays linked.")}
            )
    user.display_name = (display_name or "").strip()
    if language:
        user.language = language
    user.save()
    if person is not KEEP_PERSON:
        _link_person(user, person)
    return user


def user_person(user: User):
    from pbqms.orgs.models import Person

    return Person.objects.filter(user=user).select_related("org").first()


def person_in_scope(actor, person) -> bool:
    from pbqms.orgs.models import Person

    return Person.objects.visible_to(actor, roles.PERSON_VIEW).filter(pk=person.pk).exists()


@transaction.atomic
def set_active(*, actor, user: User, active: bool, reason: str = "") -> User:
    """Deactivate (the account can no longer sign in and its open sessions are deleted
    server-side) or reactivate an account."""
    _require_manageable(actor, user)
    if not active and user.pk == getattr(actor, "pk", None):
        raise ValidationError({"reason": _("You cannot deactivate your own account.")})
    if not active and not (reason or "").strip():
        raise ValidationError({"reason": _("Give the reason for deactivating the account.")})
    if user.is_active == active:
        return user
    with action_context(reason=(reason or "").strip()):
        user.is_active = active
        user.save()
    if not active:
        end_sessions(user)
    return user


def end_sessions(user: User) -> int:
    """Delete every open session of ``user`` (database sessions); returns how many."""
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    ids = []
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if str(session.get_decoded().get("_auth_user_id")) == str(user.pk):
            ids.append(session.pk)
    Session.objects.filter(pk__in=ids).delete()
    return len(ids)


@transaction.atomic
def reset_password(*, actor, user: User, password: str) -> User:
    """An administrator sets a new initial password; the user must change it at the next
    sign-in. Other sessions of the user end (Django's session hash changes)."""
    _require_manageable(actor, user)
    if user.pk == getattr(actor, "pk", None):
        raise ValidationError({"password": _("Use “Change password” for your own account.")})
    validate_new_password(password, user)
    user.set_password(password)
    user.must_change_password = True
    user.save()
    with action_context(actor=actor):
        _log_admin_event("password_change", user, user.username, {"reset": True})
    return user


# ---------------------------------------------------------------- lockouts (django-axes)


def lockout_minutes() -> int:
    from axes.helpers import get_cool_off

    cool_off = get_cool_off(None)
    return round(cool_off.total_seconds() / 60) if cool_off else 0


def _recent_attempts():
    from axes.helpers import get_cool_off
    from axes.models import AccessAttempt
    from django.utils import timezone

    qs = AccessAttempt.objects.all()
    cool_off = get_cool_off(None)
    if cool_off is not None:
        qs = qs.filter(attempt_time__gte=timezone.now() - cool_off)
    return qs


def lockouts() -> dict[str, list[dict]]:
    """User names and addresses locked now: as django-axes counts, the failures within the
    cool-off window summed per user name and per address."""
    from django.db.models import Max, Sum

    limit = settings.AXES_FAILURE_LIMIT
    result = {}
    for key, field in (("usernames", "username"), ("ips", "ip_address")):
        recent = _recent_attempts().exclude(**{f"{field}__isnull": True})
        if field == "username":
            recent = recent.exclude(username="")
        rows = (
            recent.values(field)
            .annotate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
            .filter(failures__gte=limit)
            .order_by("-last")[:100]
        )
        result[key] = [
            {"value": r[field], "failures": r["failures"], "last": r["last"]} for r in rows
        ]
    return result


def _log_admin_event(action: str, target: User | None, username: str, details: dict) -> None:
    """A security event done by the acting administrator (the actor comes from the action
    context) to an account (the object)."""
    write_entry(
        action,
        object_type="accounts.user",
        object_id=str(target.pk) if target is not None else "",
        object_repr=username or (target.username if target is not None else ""),
        changes=details,
    )


@transaction.atomic
def unlock(*, actor, username: str = "", ip: str = "") -> int:
    """Release a lockout by user name or by address before the cool-off ends."""
    from axes.utils import reset

    require_security_manager(actor)
    username, ip = (username or "").strip(), (ip or "").strip()
    if not username and not ip:
        raise ValidationError({"username": _("Give a user name or an address to unlock.")})
    count = reset(username=username or None, ip=ip or None)
    target = User.objects.filter(username=username).first() if username else None
    with action_context(actor=actor):
        _log_admin_event(
            "unlock", target, username, {"username": username, "ip": ip, "cleared": count}
        )
    return count
