"""People list, person pages and forms. Reads go through ``visible_to``/``get_visible_or_404``;
writes through ``pbqms.orgs.services``."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Case, F, IntegerField, Prefetch, Value, When
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from pbqms.core import roles, scope
from pbqms.core.history import history_for
from pbqms.core.listing import (
    PER_PAGE_CHOICES,
    is_htmx,
    paginate,
    pick_template,
    querystring_without,
    vary_on_htmx,
)
from pbqms.core.scope import get_visible_or_404
from pbqms.orgs import services
from pbqms.orgs.filters import PersonFilterSet
from pbqms.orgs.forms import (
    PersonForm,
    PersonTransferForm,
    add_rule_errors,
    add_service_errors,
)
from pbqms.orgs.models import MembershipHistory, Organization, Person, Post

_STATUS_ORDER = Case(
    *[When(member_status=v, then=Value(i)) for i, v in enumerate(Person.MemberStatus.values)],
    output_field=IntegerField(),
)
# public sort key → order_by terms (the name breaks ties, then the id). "unit" groups people
# by unit in the order of the (org, name) index, so the first page of a large scope needs no
# sort of the whole list (ordering by the unit's tree path would join and sort every row).
SORTS = {
    "name": (F("name").asc(),),
    "unit": (F("org_id").asc(), F("name").asc()),
    "status": (_STATUS_ORDER.asc(), F("name").asc()),
    "joined": (F("joined_on").asc(nulls_last=True), F("name").asc()),
}
SORT_DESC = {
    "name": (F("name").desc(),),
    "unit": (F("org_id").desc(), F("name").desc()),
    "status": (_STATUS_ORDER.desc(), F("name").asc()),
    "joined": (F("joined_on").desc(nulls_last=True), F("name").asc()),
}
DEFAULT_SORT = "unit"
COLUMNS = (
    ("name", pgettext_lazy("person", "Name")),
    ("unit", gettext_lazy("Unit")),
    ("status", gettext_lazy("Member status")),
    ("joined", gettext_lazy("Joined the party")),
)
# what a unit select needs (a large enterprise has thousands of units)
UNIT_CHOICE_FIELDS = ("pk", "name", "code", "kind", "path", "depth", "dissolved_on")
FILTER_KEYS = ("q", "org", "member_status", "gender", "post")


def _people(user):
    return Person.objects.visible_to(user, roles.PERSON_VIEW)


def _get_person(request, pk) -> Person:
    return get_visible_or_404(
        Person.objects.select_related("org"), request.user, roles.PERSON_VIEW, pk=pk
    )


def _sorted(request, queryset):
    key = request.GET.get("sort") or DEFAULT_SORT
    name = key.lstrip("-")
    if name not in SORTS:
        key = name = DEFAULT_SORT
    terms = SORT_DESC[name] if key.startswith("-") else SORTS[name]
    return queryset.order_by(*terms, "pk"), key


def export_url(user) -> str | None:
    """The Excel export of the filtered list, once that route exists (import/export)."""
    if not scope.has_perm(user, roles.PERSON_EXPORT):
        return None
    try:
        return reverse("orgs:person_export")
    except NoReverseMatch:
        return None


@login_required
def person_list(request):
    user = request.user
    if not scope.has_perm(user, roles.PERSON_VIEW):
        raise PermissionDenied
    base = _people(user).select_related("org")
    filterset = PersonFilterSet(request.GET or None, queryset=base, request=request)
    # an invalid filter (e.g. a unit outside the scope) shows its error and no rows
    invalid = filterset.is_bound and not filterset.is_valid()
    queryset = base.none() if invalid else filterset.qs
    queryset, sort = _sorted(request, queryset)
    queryset = queryset.prefetch_related(
        Prefetch(
            "posts",
            queryset=Post.objects.filter(ended_on__isnull=True).order_by("title"),
            to_attr="current_post_list",
        )
    )
    page = paginate(request, queryset)
    filtered = any(request.GET.get(k) for k in FILTER_KEYS)
    base_qs = querystring_without(request, "page", "sort")
    columns = []
    for name, label in COLUMNS:
        current = sort.lstrip("-") == name
        descending = current and sort.startswith("-")
        next_sort = name if (not current or descending) else f"-{name}"
        columns.append(
            {
                "label": label,
                "sorted": current,
                "descending": descending,
                "qs": (base_qs + "&" if base_qs else "") + f"sort={next_sort}",
            }
        )
    filter_qs = querystring_without(request, "page", "per_page")
    context = {
        "filter": filterset,
        "form": filterset.form,
        "page": page,
        "people": page.object_list,
        "columns": columns,
        "sort": sort,
        "qs": querystring_without(request, "page"),
        "filtered": filtered,
        "per_page_choices": PER_PAGE_CHOICES,
        "per_page": page.paginator.per_page,
        "export_url": export_url(user),
        "filter_qs": filter_qs,
        "can_add": scope.has_perm(user, roles.PERSON_ADD),
        "is_htmx": is_htmx(request),
    }
    template = pick_template(request, "orgs/person_list.html", "orgs/_person_table.html")
    return vary_on_htmx(render(request, template, context))


@login_required
def person_detail(request, pk):
    user = request.user
    person = _get_person(request, pk)
    can_edit = scope.has_perm(user, roles.PERSON_CHANGE, person.org)
    own = person.user_id is not None and person.user_id == user.pk
    context = {
        "person": person,
        "own": own,
        "can_edit": can_edit,
        "can_transfer": scope.has_perm(user, roles.PERSON_TRANSFER, person.org),
        "show_phone": can_edit or own,
        "unit_visible": scope.has_perm(user, roles.ORG_VIEW, person.org),
        "posts": list(person.posts.select_related("org").order_by("ended_on", "-started_on")),
        "memberships": list(
            MembershipHistory.objects.filter(person=person)
            .select_related("org")
            .order_by("-started_on", "-id")
        ),
        "history": history_for(person),
    }
    if not context["show_phone"]:
        _mask_phone_changes(context["history"])
    return render(request, "orgs/person_detail.html", context)


def _mask_phone_changes(entries) -> None:
    """Who sees only the masked phone on the page must not read it in the history either
    (the entries are changed in memory only)."""
    for entry in entries:
        pair = (entry.changes or {}).get("phone")
        if pair:
            masked = [Person(phone=v).masked_phone if v else v for v in pair]
            entry.changes = {**entry.changes, "phone": masked}


@login_required
def person_create(request):
    user = request.user
    if not scope.has_perm(user, roles.PERSON_ADD):
        raise PermissionDenied
    units = (
        Organization.objects.visible_to(user, roles.PERSON_ADD)
        .filter(dissolved_on__isnull=True)
        .only(*UNIT_CHOICE_FIELDS)
    )
    initial = {}
    if request.GET.get("org"):
        initial["org"] = get_visible_or_404(
            Organization.objects.all(), user, roles.PERSON_ADD, pk=request.GET["org"]
        )
    form = PersonForm(request.POST or None, units=units, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            person = services.create_person(
                actor=user,
                org=form.cleaned_data["org"],
                data=form.service_data(),
                posts=form.cleaned_data["posts"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("%(name)s added.") % {"name": person.name})
            if "add_another" in request.POST:
                return redirect(f"{reverse('orgs:person_create')}?org={person.org_id}")
            return redirect("orgs:person_detail", pk=person.pk)
    elif request.method == "POST":
        add_rule_errors(form, services.validate_person_data)
    return render(request, "orgs/person_form.html", {"form": form, "person": None})


@login_required
def person_edit(request, pk):
    user = request.user
    person = _get_person(request, pk)
    if not scope.has_perm(user, roles.PERSON_CHANGE, person.org):
        raise PermissionDenied
    form = PersonForm(request.POST or None, initial=PersonForm.initial_for(person))
    if request.method == "POST" and form.is_valid():
        try:
            services.update_person(
                actor=user,
                person=person,
                data=form.service_data(),
                posts=form.cleaned_data["posts"],
                version=form.cleaned_data.get("version"),
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Changes saved."))
            return redirect("orgs:person_detail", pk=person.pk)
    elif request.method == "POST":
        add_rule_errors(form, services.validate_person_data)
    return render(request, "orgs/person_form.html", {"form": form, "person": person})


@login_required
def person_transfer(request, pk):
    user = request.user
    person = _get_person(request, pk)
    if not scope.has_perm(user, roles.PERSON_TRANSFER, person.org):
        raise PermissionDenied
    units = (
        Organization.objects.visible_to(user, roles.ORG_VIEW)
        .filter(dissolved_on__isnull=True)
        .exclude(pk=person.org_id)
        .only(*UNIT_CHOICE_FIELDS)
    )
    initial = {"version": person.version}
    form = PersonTransferForm(request.POST or None, units=units, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.transfer_person(
                actor=user,
                person=person,
                to_org=form.cleaned_data["to_org"],
                on=form.cleaned_data["on"],
                reason=form.cleaned_data["reason"],
                version=form.cleaned_data.get("version"),
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request,
                _("%(name)s transferred to %(unit)s.")
                % {"name": person.name, "unit": person.org.name},
            )
            return redirect("orgs:person_detail", pk=person.pk)
    return render(request, "orgs/person_transfer.html", {"form": form, "person": person})
