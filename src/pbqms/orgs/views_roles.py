"""Role assignments (角色授权): who holds which role on which unit.

Seeing the list needs ROLE_VIEW; granting and revoking need ROLE_MANAGE (the 安全管理员).
The rules (三员分立, no self-grant of an administrator role, one grant per user/role/unit)
live in ``pbqms.orgs.services.assign_role`` / ``revoke_role``; both write a
``permission_change`` security event.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from pbqms.accounts.forms import SearchSelect, StyledFormMixin, limit_search_choices
from pbqms.accounts.models import User
from pbqms.core import roles, scope
from pbqms.core.listing import (
    apply_sort,
    paginate,
    pick_template,
    querystring_without,
    vary_on_htmx,
)
from pbqms.core.scope import get_visible_or_404
from pbqms.orgs import services
from pbqms.orgs.models import Organization, RoleAssignment

OPTIONS_LIMIT = 20
DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.display_name} ({obj.username})" if obj.display_name else obj.username


class UnitChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.name} · {obj.code}"


class GrantForm(StyledFormMixin, forms.Form):
    user = UserChoiceField(
        label=gettext_lazy("User"),
        queryset=User.objects.filter(is_active=True, is_superuser=False),
        help_text=gettext_lazy("Type part of the user name or display name to search."),
    )
    role = forms.ChoiceField(label=gettext_lazy("Role"), choices=roles.Role.choices)
    org = UnitChoiceField(
        label=gettext_lazy("Unit"),
        queryset=Organization.objects.none(),
        help_text=gettext_lazy("Type part of the unit's name or code to search."),
    )
    include_subtree = forms.BooleanField(
        label=gettext_lazy("Including subordinate units"),
        required=False,
        initial=True,
        help_text=gettext_lazy("Grant the role on the unit and every unit below it."),
    )
    valid_from = forms.DateField(
        label=gettext_lazy("Valid from"), required=False, widget=DATE_WIDGET
    )
    valid_to = forms.DateField(label=gettext_lazy("Valid to"), required=False, widget=DATE_WIDGET)
    note = forms.CharField(label=gettext_lazy("Note"), max_length=200, required=False)

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["org"].queryset = Organization.objects.visible_to(
            actor, roles.ROLE_MANAGE
        ).active()
        self.fields["user"].widget = SearchSelect(
            search_url=reverse("orgs:role_user_options"),
            placeholder=_("Search users…"),
        )
        self.fields["org"].widget = SearchSelect(
            search_url=reverse("orgs:role_unit_options"),
            placeholder=_("Search units by name or code…"),
        )
        self.fields["role"].choices = [("", "—"), *roles.Role.choices]
        limit_search_choices(self, "user")
        limit_search_choices(self, "org")


class RevokeForm(StyledFormMixin, forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        max_length=500,
        help_text=gettext_lazy("Why the role is withdrawn; kept in the change log."),
    )


def _add_service_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _require(request, perm: str) -> None:
    if not scope.has_perm(request.user, perm):
        raise PermissionDenied


SORTS = {
    "user": "user__username",
    "role": "role",
    "unit": "org__path",
    "from": "valid_from",
    "to": "valid_to",
    "granted": "created_at",
}


@login_required
@require_GET
def role_list(request):
    _require(request, roles.ROLE_VIEW)
    user = request.user
    qs = RoleAssignment.objects.visible_to(user, roles.ROLE_VIEW).select_related("user", "org")
    q = (request.GET.get("q") or "").strip()
    role = request.GET.get("role") or ""
    unit_q = (request.GET.get("unit") or "").strip()
    org_id = request.GET.get("org") or ""
    state = request.GET.get("state") or ""
    filter_org = None
    if q:
        qs = qs.filter(Q(user__username__icontains=q) | Q(user__display_name__icontains=q))
    if role in roles.Role.values:
        qs = qs.filter(role=role)
    if unit_q:
        qs = qs.filter(Q(org__name__icontains=unit_q) | Q(org__code__icontains=unit_q))
    if org_id:
        filter_org = get_visible_or_404(
            Organization.objects.all(), user, roles.ROLE_VIEW, pk=org_id
        )
        qs = qs.filter(org=filter_org)
    today = timezone.localdate()
    if state == "current":
        qs = qs.filter(Q(valid_from__isnull=True) | Q(valid_from__lte=today)).filter(
            Q(valid_to__isnull=True) | Q(valid_to__gte=today)
        )
    elif state == "ended":
        qs = qs.filter(valid_to__lt=today)
    elif state == "future":
        qs = qs.filter(valid_from__gt=today)
    qs, sort = apply_sort(request, qs, SORTS, "user")
    page = paginate(request, qs)
    context = {
        "page": page,
        "q": q,
        "role": role,
        "unit": unit_q,
        "state": state,
        "filter_org": filter_org,
        "sort": sort,
        "today": today,
        "roles": roles.Role.choices,
        "admin_roles": roles.ADMIN_ROLES,
        "can_manage": scope.has_perm(user, roles.ROLE_MANAGE),
        "manageable_org_ids": _manageable(user, page.object_list),
        "qs": querystring_without(request, "page"),
        "sort_qs": querystring_without(request, "page", "sort"),
        "states": [
            ("current", _("In force")),
            ("future", _("Not yet in force")),
            ("ended", _("Ended")),
        ],
    }
    template = pick_template(request, "orgs/roles/role_list.html", "orgs/roles/_role_table.html")
    return vary_on_htmx(render(request, template, context))


def _manageable(user, assignments) -> set[int]:
    """Ids of the listed assignments the user may revoke (no query: grants are cached)."""
    return {a.pk for a in assignments if scope.has_perm(user, roles.ROLE_MANAGE, a.org)}


@login_required
def role_grant(request):
    _require(request, roles.ROLE_MANAGE)
    initial = {}
    if request.method == "GET":
        for key in ("user", "org", "role"):
            if request.GET.get(key):
                initial[key] = request.GET[key]
    form = GrantForm(request.POST or None, actor=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            assignment = services.assign_role(
                actor=request.user,
                user=data["user"],
                role=data["role"],
                org=data["org"],
                include_subtree=data["include_subtree"],
                valid_from=data["valid_from"],
                valid_to=data["valid_to"],
                note=data["note"].strip(),
            )
        except ValidationError as exc:
            _add_service_errors(form, exc)
        else:
            messages.success(
                request,
                _("%(user)s now holds the role %(role)s on %(unit)s.")
                % {
                    "user": assignment.user,
                    "role": assignment.get_role_display(),
                    "unit": assignment.org.name,
                },
            )
            return redirect(reverse("orgs:role_list") + f"?q={assignment.user.username}")
    return render(request, "orgs/roles/role_grant.html", {"form": form})


@login_required
def role_revoke(request, pk: int):
    _require(request, roles.ROLE_VIEW)
    assignment = get_visible_or_404(
        RoleAssignment.objects.select_related("user", "org"), request.user, roles.ROLE_VIEW, pk=pk
    )
    if not scope.has_perm(request.user, roles.ROLE_MANAGE, assignment.org):
        raise PermissionDenied
    form = RevokeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.revoke_role(
                actor=request.user,
                assignment=assignment,
                reason=form.cleaned_data["reason"].strip(),
            )
        except ValidationError as exc:
            _add_service_errors(form, exc)
        else:
            messages.success(
                request,
                _("The role %(role)s of %(user)s on %(unit)s has been withdrawn.")
                % {
                    "role": assignment.get_role_display(),
                    "user": assignment.user,
                    "unit": assignment.org.name,
                },
            )
            return redirect("orgs:role_list")
    return render(request, "orgs/roles/role_revoke.html", {"form": form, "assignment": assignment})


@login_required
@require_GET
def user_options(request):
    """htmx: ``<option>``s of active accounts matching ``user_q``."""
    _require(request, roles.ROLE_MANAGE)
    q = (request.GET.get("user_q") or "").strip()
    rows = []
    if q:
        rows = list(
            User.objects.filter(is_active=True, is_superuser=False)
            .filter(Q(username__icontains=q) | Q(display_name__icontains=q))
            .order_by("username")[:OPTIONS_LIMIT]
        )
    field = UserChoiceField(queryset=User.objects.none())
    return _options(q, [(u.pk, field.label_from_instance(u)) for u in rows])


@login_required
@require_GET
def unit_options(request):
    """htmx: ``<option>``s of active units the actor may grant roles on matching ``org_q``."""
    _require(request, roles.ROLE_MANAGE)
    q = (request.GET.get("org_q") or "").strip()
    rows = []
    if q:
        rows = list(
            Organization.objects.visible_to(request.user, roles.ROLE_MANAGE)
            .active()
            .filter(Q(name__icontains=q) | Q(code__icontains=q))
            .order_by("path")[:OPTIONS_LIMIT]
        )
    return _options(q, [(o.pk, f"{o.name} · {o.code}") for o in rows])


def _options(q: str, rows: list[tuple[int, str]]) -> HttpResponse:
    empty = _("— choose from %(n)d matches —") % {"n": len(rows)} if q else "—"
    html = format_html('<option value="">{}</option>', empty) + format_html_join(
        "", '<option value="{}">{}</option>', rows
    )
    return vary_on_htmx(HttpResponse(html))
