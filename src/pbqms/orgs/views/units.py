"""Organisation tree and unit pages. Reads go through ``visible_to``/``get_visible_or_404``;
writes through ``pbqms.orgs.services``."""

from __future__ import annotations

import datetime
from functools import reduce
from operator import or_

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from pbqms.core import roles, scope
from pbqms.core.history import history_for
from pbqms.core.listing import is_htmx, vary_on_htmx
from pbqms.core.scope import get_visible_or_404
from pbqms.orgs import services
from pbqms.orgs.forms import UnitDissolveForm, UnitForm, UnitMoveForm, add_service_errors
from pbqms.orgs.models import Organization, Person, Post

K = Organization.Kind
# roots of the scope up to this many are opened one level on the tree page
AUTO_EXPAND_ROOTS = 3
# rows of one level shown at most; beyond that the search box finds the unit
CHILDREN_LIMIT = 500
SEARCH_LIMIT = 50
REELECTION_WARNING_MONTHS = 6  # REFERENCE.md: remind 6 months before the term ends
DETAIL_CHILDREN_LIMIT = 200
DETAIL_PEOPLE_LIMIT = 20


def _units(user):
    return Organization.objects.visible_to(user, roles.ORG_VIEW)


def _get_unit(request, pk) -> Organization:
    return get_visible_or_404(Organization.objects.all(), request.user, roles.ORG_VIEW, pk=pk)


def _require(user, perm: str, unit: Organization | None = None) -> None:
    if not scope.has_perm(user, perm, unit):
        raise PermissionDenied


def _show_dissolved(request) -> bool:
    return request.GET.get("dissolved") == "1"


def _add_months(day: datetime.date, months: int) -> datetime.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return day.replace(year=year, month=month, day=min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)  # pragma: no cover


def reelection_status(unit: Organization, today: datetime.date | None = None) -> str | None:
    """ "overdue" when the term has ended, "due" within the warning period, else None."""
    ends = unit.term_ends_on
    if ends is None or unit.dissolved_on:
        return None
    today = today or timezone.localdate()
    if ends < today:
        return "overdue"
    if ends <= _add_months(today, REELECTION_WARNING_MONTHS):
        return "due"
    return None


def scope_roots(user):
    """The top units of the user's scope: units they see whose superior they do not see."""
    grants = scope.grants_for(user, roles.ORG_VIEW)
    roots: list[str] = []
    for path in sorted({g.path for g in grants if g.subtree}):
        if not any(path.startswith(r) for r in roots):
            roots.append(path)
    singles = {g.path for g in grants if not g.subtree}
    paths = roots + [p for p in singles if not any(p.startswith(r) for r in roots)]
    return _units(user).filter(path__in=paths).order_by("path")


def _decorate(user, nodes: list[Organization]) -> list[Organization]:
    """Direct people counts (one aggregate query) and whether each row can be opened."""
    if not nodes:
        return nodes
    counts = dict(
        Person.objects.filter(org_id__in=[n.pk for n in nodes])
        .order_by()
        .values("org_id")
        .annotate(n=Count("id"))
        .values_list("org_id", "n")
    )
    subtree_paths = [g.path for g in scope.grants_for(user, roles.ORG_VIEW) if g.subtree]
    for node in nodes:
        # set every attribute the row templates read: a failed template lookup is slow
        node.is_open = False
        node.loaded_children = []
        node.people_count = counts.get(node.pk, 0)
        # the children of a unit granted without its subtree are not visible
        node.expandable = node.numchild > 0 and any(node.path.startswith(p) for p in subtree_paths)
    return nodes


def _children_of(user, parents: list[Organization], show_dissolved: bool):
    if not parents:
        return Organization.objects.none()
    q = reduce(or_, [Q(path__startswith=p.path, depth=p.depth + 1) for p in parents])
    qs = _units(user).filter(q)
    if not show_dissolved:
        qs = qs.filter(dissolved_on__isnull=True)
    return qs.order_by("path")


def _ancestor_names(user, units: list[Organization]) -> dict[str, str]:
    """Names of the visible ancestors of ``units``, by path (one query)."""
    steplen = Organization.steplen
    paths = {u.path[:i] for u in units for i in range(steplen, len(u.path), steplen)}
    if not paths:
        return {}
    return dict(_units(user).filter(path__in=paths).values_list("path", "name"))


def _search(user, q: str, show_dissolved: bool):
    qs = _units(user).filter(Q(name__icontains=q) | Q(code__icontains=q) | Q(short_name=q))
    if not show_dissolved:
        qs = qs.filter(dissolved_on__isnull=True)
    results = list(qs.order_by("path")[: SEARCH_LIMIT + 1])
    more = len(results) > SEARCH_LIMIT
    results = results[:SEARCH_LIMIT]
    names = _ancestor_names(user, results)
    steplen = Organization.steplen
    for unit in results:
        unit.ancestor_names = [
            names[unit.path[:i]]
            for i in range(steplen, len(unit.path), steplen)
            if unit.path[:i] in names
        ]
    return _decorate(user, results), more


@login_required
def tree(request):
    user = request.user
    _require(user, roles.ORG_VIEW)
    show_dissolved = _show_dissolved(request)
    q = (request.GET.get("q") or "").strip()[:100]
    context = {"q": q, "show_dissolved": show_dissolved, "children_limit": CHILDREN_LIMIT}
    if q:
        context["results"], context["more_results"] = _search(user, q, show_dissolved)
    else:
        roots = list(scope_roots(user))
        open_roots = roots if len(roots) <= AUTO_EXPAND_ROOTS else []
        children = list(_children_of(user, open_roots, show_dissolved)[: CHILDREN_LIMIT + 1])
        _decorate(user, roots + children)
        by_parent: dict[str, list[Organization]] = {}
        for child in children[:CHILDREN_LIMIT]:
            by_parent.setdefault(child.path[: -Organization.steplen], []).append(child)
        for root in roots:
            root.is_open = root in open_roots and root.expandable
            root.loaded_children = by_parent.get(root.path, [])
        context["roots"] = roots
    context["can_add_top"] = services.can_add_top_level(user) if not q else False
    template = "orgs/_tree_panel.html" if is_htmx(request) else "orgs/tree.html"
    return vary_on_htmx(render(request, template, context))


@login_required
def tree_children(request, pk):
    """The rows of one unit's visible subordinate units (loaded when a row is opened)."""
    user = request.user
    parent = _get_unit(request, pk)
    show_dissolved = _show_dissolved(request)
    children = list(_children_of(user, [parent], show_dissolved)[: CHILDREN_LIMIT + 1])
    more = len(children) > CHILDREN_LIMIT
    nodes = _decorate(user, children[:CHILDREN_LIMIT])
    context = {"nodes": nodes, "more": more, "show_dissolved": show_dissolved}
    return vary_on_htmx(render(request, "orgs/_tree_rows.html", context))


@login_required
def unit_detail(request, pk):
    user = request.user
    unit = _get_unit(request, pk)
    today = timezone.localdate()
    step = Organization.steplen
    ancestors = list(
        _units(user)
        .filter(path__in=[unit.path[:i] for i in range(step, len(unit.path), step)])
        .order_by("path")
    )
    children = _decorate(
        user,
        list(
            _units(user)
            .filter(path__startswith=unit.path, depth=unit.depth + 1)
            .order_by("path")[:DETAIL_CHILDREN_LIMIT]
        ),
    )
    can = {
        "edit": scope.has_perm(user, roles.ORG_CHANGE, unit),
        "add_child": (
            scope.has_perm(user, roles.ORG_ADD, unit)
            and not unit.dissolved_on
            and bool(Organization.ALLOWED_CHILDREN.get(unit.kind))
        ),
        "move": scope.has_perm(user, roles.ORG_MOVE, unit) and not unit.is_root(),
        "dissolve": scope.has_perm(user, roles.ORG_DISSOLVE, unit) and not unit.dissolved_on,
        "view_people": scope.has_perm(user, roles.PERSON_VIEW, unit),
        "add_person": scope.has_perm(user, roles.PERSON_ADD, unit) and not unit.dissolved_on,
    }
    people, people_count = [], 0
    if can["view_people"]:
        direct = Person.objects.visible_to(user, roles.PERSON_VIEW).filter(org=unit)
        people_count = direct.count()
        people = list(direct.order_by("name", "pk")[:DETAIL_PEOPLE_LIMIT])
    posts = list(
        Post.objects.filter(org=unit, ended_on__isnull=True)
        .select_related("person")
        .order_by("title", "started_on", "pk")
    )
    title_order = {value: i for i, value in enumerate(Post.Title.values)}
    posts.sort(key=lambda p: (title_order.get(p.title, 99), p.started_on))
    context = {
        "unit": unit,
        "ancestors": ancestors,
        "children": children,
        "children_more": unit.numchild > len(children) and len(children) >= DETAIL_CHILDREN_LIMIT,
        "can": can,
        "people": people,
        "people_count": people_count,
        "posts": posts,
        "reelection": reelection_status(unit, today),
        "scheduled_dissolution": bool(unit.dissolved_on and unit.dissolved_on > today),
        "history": history_for(unit),
    }
    return render(request, "orgs/unit_detail.html", context)


def _unit_form_data(form) -> dict:
    return {k: v for k, v in form.cleaned_data.items() if k != "version"}


@login_required
def unit_create(request):
    user = request.user
    parent = None
    parent_id = request.GET.get("parent")
    if parent_id:
        parent = _get_unit(request, parent_id)
        _require(user, roles.ORG_ADD, parent)
        kinds = Organization.ALLOWED_CHILDREN.get(parent.kind, set())
    else:
        if not services.can_add_top_level(user):
            raise PermissionDenied
        kinds = {K.COMMITTEE}
    # the kind most often added at this place: a branch under a committee, a group under a branch
    usual = next((k for k in (K.BRANCH, K.GROUP, K.COMMITTEE) if k in kinds), None)
    form = UnitForm(request.POST or None, kinds=kinds, initial={"kind": usual})
    if request.method == "POST" and form.is_valid():
        try:
            unit = services.create_unit(actor=user, parent=parent, data=_unit_form_data(form))
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Unit “%(name)s” added.") % {"name": unit.name})
            return redirect("orgs:unit_detail", pk=unit.pk)
    context = {"form": form, "parent": parent, "unit": None, "no_kinds": not kinds}
    return render(request, "orgs/unit_form.html", context)


@login_required
def unit_edit(request, pk):
    user = request.user
    unit = _get_unit(request, pk)
    _require(user, roles.ORG_CHANGE, unit)
    parent = Organization.objects.get_parent(unit)
    kinds = set(Organization.ALLOWED_CHILDREN.get(parent.kind, set())) if parent else {K.COMMITTEE}
    kinds.add(unit.kind)
    form = UnitForm(request.POST or None, initial=UnitForm.initial_for(unit), kinds=kinds)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_unit(
                actor=user,
                unit=unit,
                data=_unit_form_data(form),
                version=form.cleaned_data.get("version"),
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Changes saved."))
            return redirect("orgs:unit_detail", pk=unit.pk)
    return render(request, "orgs/unit_form.html", {"form": form, "parent": parent, "unit": unit})


def move_targets(user, unit: Organization):
    """Units the user may move ``unit`` under: active, of a kind that can take it, not the
    unit itself, its subordinates or its current superior."""
    parent_kinds = [k for k, kids in Organization.ALLOWED_CHILDREN.items() if unit.kind in kids]
    current_parent_path = unit.path[: -Organization.steplen]
    return (
        Organization.objects.visible_to(user, roles.ORG_MOVE)
        .filter(dissolved_on__isnull=True, kind__in=parent_kinds)
        .exclude(path__startswith=unit.path)
        .exclude(path=current_parent_path)
        .order_by("path")
    )


@login_required
def unit_move(request, pk):
    user = request.user
    unit = _get_unit(request, pk)
    _require(user, roles.ORG_MOVE, unit)
    form = UnitMoveForm(
        request.POST or None, parents=move_targets(user, unit), initial={"version": unit.version}
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.move_unit(
                actor=user,
                unit=unit,
                new_parent=form.cleaned_data["parent"],
                reason=form.cleaned_data["reason"].strip(),
                version=form.cleaned_data.get("version"),
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Unit moved."))
            return redirect("orgs:unit_detail", pk=unit.pk)
    context = {
        "form": form,
        "unit": unit,
        "action": "move",
        "is_root": unit.is_root(),
        "cancel_url": reverse("orgs:unit_detail", args=[unit.pk]),
    }
    return render(request, "orgs/unit_action.html", context)


@login_required
def unit_dissolve(request, pk):
    user = request.user
    unit = _get_unit(request, pk)
    _require(user, roles.ORG_DISSOLVE, unit)
    form = UnitDissolveForm(request.POST or None, initial={"version": unit.version})
    if request.method == "POST" and form.is_valid():
        try:
            services.dissolve_unit(
                actor=user,
                unit=unit,
                on=form.cleaned_data["on"],
                reason=form.cleaned_data["reason"],
                version=form.cleaned_data.get("version"),
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Unit dissolved."))
            return redirect("orgs:unit_detail", pk=unit.pk)
    context = {
        "form": form,
        "unit": unit,
        "action": "dissolve",
        "cancel_url": reverse("orgs:unit_detail", args=[unit.pk]),
    }
    return render(request, "orgs/unit_action.html", context)
