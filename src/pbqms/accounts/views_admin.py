"""Administration pages: user accounts (系统管理员, USER_MANAGE) and the security page
(安全管理员, SECURITY_MANAGE). Rules live in ``pbqms.accounts.services``."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Exists, OuterRef, Prefetch, Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice

from pbqms.accounts import services
from pbqms.accounts.forms import (
    PasswordResetForm,
    ReasonForm,
    UnlockForm,
    UserCreateForm,
    UserEditForm,
)
from pbqms.accounts.models import User
from pbqms.core import roles, scope
from pbqms.core.history import history_for
from pbqms.core.listing import (
    apply_sort,
    paginate,
    pick_template,
    querystring_without,
    vary_on_htmx,
)
from pbqms.orgs.models import Person, RoleAssignment

PERSON_OPTIONS_LIMIT = 20


def _require(request, perm: str) -> None:
    if not scope.has_perm(request.user, perm):
        raise PermissionDenied


def _add_errors(form, exc: ValidationError) -> None:
    """Copy a service's ValidationError onto the form: known fields inline, the rest on top."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _confirmed_totp():
    return Exists(TOTPDevice.objects.filter(user_id=OuterRef("pk"), confirmed=True))


def _admin_role():
    return Exists(RoleAssignment.objects.filter(user_id=OuterRef("pk"), role__in=roles.ADMIN_ROLES))


# ---------------------------------------------------------------- user accounts


USER_SORTS = {
    "username": "username",
    "name": "display_name",
    "last_login": "last_login",
    "joined": "date_joined",
}
STATUS_FILTERS = {
    "active": Q(is_active=True),
    "inactive": Q(is_active=False),
    "must_change": Q(is_active=True, must_change_password=True),
}


@login_required
@require_GET
def user_list(request):
    _require(request, roles.USER_MANAGE)
    q = (request.GET.get("q") or "").strip()
    status = request.GET.get("status") or ""
    users = services.manageable_users(request.user)
    if q:
        users = users.filter(
            Q(username__icontains=q) | Q(display_name__icontains=q) | Q(person__name__icontains=q)
        )
    if status in STATUS_FILTERS:
        users = users.filter(STATUS_FILTERS[status])
    users = users.select_related("person__org").annotate(has_totp=_confirmed_totp())
    users = users.prefetch_related(
        Prefetch(
            "role_assignments",
            queryset=RoleAssignment.objects.select_related("org").order_by("role", "org__path"),
        )
    )
    users, sort = apply_sort(request, users, USER_SORTS, "username")
    page = paginate(request, users)
    context = {
        "page": page,
        "q": q,
        "status": status,
        "sort": sort,
        "qs": querystring_without(request, "page"),
        "sort_qs": querystring_without(request, "page", "sort"),
        "statuses": [
            ("active", _("Active")),
            ("inactive", _("Deactivated")),
            ("must_change", _("Must change password")),
        ],
    }
    template = pick_template(request, "accounts/user_list.html", "accounts/_user_table.html")
    return vary_on_htmx(render(request, template, context))


def _search_url() -> str:
    return reverse("accounts:person_options")


@login_required
@sensitive_post_parameters("password", "password2")
def user_create(request):
    _require(request, roles.USER_MANAGE)
    form = UserCreateForm(request.POST or None, actor=request.user, search_url=_search_url())
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = services.create_user(
                actor=request.user,
                username=data["username"],
                display_name=data["display_name"],
                password=data["password"],
                person=data.get("person"),
                language=data["language"],
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(
                request,
                _("Account %(name)s created. The user must change the password at first sign-in.")
                % {"name": user.username},
            )
            return redirect("accounts:user_edit", pk=user.pk)
    return render(request, "accounts/user_form.html", {"form": form, "creating": True})


def _manageable_user(request, pk: int) -> User:
    _require(request, roles.USER_MANAGE)
    # outside the manager's units, and superusers (command line only): not found
    return get_object_or_404(services.manageable_users(request.user), pk=pk)


@login_required
def user_edit(request, pk: int):
    user = _manageable_user(request, pk)
    person = services.user_person(user)
    # a person outside the actor's scope stays linked and is shown, not offered for change
    person_locked = person is not None and not services.person_in_scope(request.user, person)
    form = _edit_form(request, user, person, person_locked, data=request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.update_user(
                actor=request.user,
                user=user,
                display_name=data["display_name"],
                person=services.KEEP_PERSON if person_locked else data.get("person"),
                language=data["language"],
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("The account has been saved."))
            return redirect("accounts:user_edit", pk=user.pk)
    return _render_user_page(request, user, person, form=form, person_locked=person_locked)


def _edit_form(request, user, person, person_locked: bool, data=None) -> UserEditForm:
    form = UserEditForm(
        data,
        actor=request.user,
        search_url=_search_url(),
        initial={
            "display_name": user.display_name,
            "language": user.language,
            "person": person.pk if person else None,
        },
    )
    if person_locked:
        del form.fields["person"]
    return form


def _render_user_page(
    request, user, person, *, form=None, reason_form=None, reset_form=None, person_locked=None
):
    if person_locked is None:
        person_locked = person is not None and not services.person_in_scope(request.user, person)
    assignments = list(
        RoleAssignment.objects.filter(user=user).select_related("org").order_by("role")
    )
    context = {
        "account": user,
        "person": person,
        "form": form or _edit_form(request, user, person, person_locked),
        "person_locked": person_locked,
        "reason_form": reason_form or ReasonForm(),
        "reset_form": reset_form or PasswordResetForm(),
        "assignments": assignments,
        "has_totp": TOTPDevice.objects.filter(user=user, confirmed=True).exists(),
        "entries": history_for(user, limit=20),
        "creating": False,
        "is_self": user.pk == request.user.pk,
    }
    return render(request, "accounts/user_form.html", context)


@login_required
@require_POST
def user_set_active(request, pk: int):
    user = _manageable_user(request, pk)
    active = request.POST.get("active") == "1"
    reason_form = ReasonForm(request.POST)
    reason_form.is_valid()
    try:
        services.set_active(
            actor=request.user,
            user=user,
            active=active,
            reason=reason_form.cleaned_data.get("reason", ""),
        )
    except ValidationError as exc:
        _add_errors(reason_form, exc)
        return _render_user_page(request, user, services.user_person(user), reason_form=reason_form)
    if active:
        messages.success(request, _("The account is active again."))
    else:
        messages.success(request, _("The account has been deactivated."))
    return redirect("accounts:user_edit", pk=user.pk)


@login_required
@require_POST
@sensitive_post_parameters("password", "password2")
def user_reset_password(request, pk: int):
    user = _manageable_user(request, pk)
    reset_form = PasswordResetForm(request.POST)
    if reset_form.is_valid():
        try:
            services.reset_password(
                actor=request.user, user=user, password=reset_form.cleaned_data["password"]
            )
        except ValidationError as exc:
            _add_errors(reset_form, exc)
        else:
            messages.success(
                request,
                _("The password has been reset. The user must change it at the next sign-in."),
            )
            return redirect("accounts:user_edit", pk=user.pk)
    return _render_user_page(request, user, services.user_person(user), reset_form=reset_form)


@login_required
@require_GET
def person_options(request):
    """htmx: ``<option>``s of people in the actor's scope whose name matches ``person_q``."""
    _require(request, roles.USER_MANAGE)
    q = (request.GET.get("person_q") or "").strip()
    people = []
    if q:
        people = list(
            Person.objects.visible_to(request.user, roles.PERSON_VIEW)
            .filter(name__icontains=q)
            .select_related("org")
            .order_by("name", "id")[:PERSON_OPTIONS_LIMIT]
        )
    empty = _("— choose from %(n)d matches —") % {"n": len(people)} if q else "—"
    html = format_html('<option value="">{}</option>', empty) + format_html_join(
        "",
        '<option value="{}"{}>{} · {}</option>',
        ((p.pk, " disabled" if p.user_id else "", p.name, p.org.name) for p in people),
    )
    return vary_on_htmx(HttpResponse(html))


# ---------------------------------------------------------------- security page


def _policy() -> list[tuple[str, str]]:
    validators = {v["NAME"].rsplit(".", 1)[-1]: v for v in settings.AUTH_PASSWORD_VALIDATORS}
    min_length = validators.get("MinimumLengthValidator", {}).get("OPTIONS", {}).get("min_length")
    history = validators.get("PasswordHistoryValidator", {}).get("OPTIONS", {}).get("history")
    max_age = settings.PBQMS_PASSWORD_MAX_AGE_DAYS
    return [
        (_("Minimum password length"), _("%(n)s characters") % {"n": min_length or "—"}),
        (
            _("Character classes"),
            _("at least 3 of: lower case, upper case, digits, other characters")
            if "CharacterClassValidator" in validators
            else _("not checked"),
        ),
        (
            _("User name inside the password"),
            _("not allowed") if "NotContainingUsernameValidator" in validators else _("allowed"),
        ),
        (
            _("Earlier passwords that cannot be reused"),
            str(history) if history else _("not checked"),
        ),
        (
            _("Maximum password age"),
            _("%(n)s days") % {"n": max_age} if max_age else _("no limit"),
        ),
        (
            _("Lockout after failed sign-ins"),
            _("%(n)s failures, by user name and by address") % {"n": settings.AXES_FAILURE_LIMIT},
        ),
        (_("Lockout duration"), _("%(n)s minutes") % {"n": services.lockout_minutes()}),
        (
            _("Session ends when idle for"),
            _("%(n)s minutes") % {"n": settings.PBQMS_SESSION_IDLE_MINUTES},
        ),
        (
            _("Session ends at the latest after"),
            _("%(n)s hours") % {"n": settings.PBQMS_SESSION_ABSOLUTE_HOURS},
        ),
        (
            _("Two-factor authentication"),
            _("required for the system, security and audit administrators; available to all")
            if settings.PBQMS_TOTP_REQUIRED_FOR_ADMINS
            else _("available to all, required of nobody"),
        ),
    ]


@login_required
@require_GET
def security(request):
    _require(request, roles.SECURITY_MANAGE)
    locked = services.lockouts()
    without_totp = (
        User.objects.filter(is_active=True, is_superuser=False)
        .annotate(has_totp=_confirmed_totp(), is_admin=_admin_role())
        .filter(has_totp=False)
        .order_by("-is_admin", "username")
    )
    page = paginate(request, without_totp)
    context = {
        "policy": _policy(),
        "locked": locked,
        "page": page,
        "qs": querystring_without(request, "page"),
        "unlock_form": UnlockForm(),
    }
    template = pick_template(request, "accounts/security.html", "accounts/_totp_table.html")
    return vary_on_htmx(render(request, template, context))


@login_required
@require_POST
def unlock(request):
    _require(request, roles.SECURITY_MANAGE)
    form = UnlockForm(request.POST)
    if form.is_valid():
        try:
            count = services.unlock(
                actor=request.user,
                username=form.cleaned_data["username"],
                ip=form.cleaned_data["ip"] or "",
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            target = form.cleaned_data["username"] or form.cleaned_data["ip"]
            messages.success(
                request,
                _("%(target)s is unlocked (%(n)d records cleared).")
                % {"target": target, "n": count},
            )
    else:
        messages.error(request, _("The unlock request was not valid."))
    return redirect("accounts:security")
