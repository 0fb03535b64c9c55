"""Pages of work plans and tasks: plan list, plan page (items, completion per unit),
plan and item forms, publishing; task list and task page (completion with records,
reopening); the calendar of what is due; the PDCA cycle of a unit's year."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Prefetch, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from pbqms.core import roles, scope
from pbqms.core.history import history_for
from pbqms.core.listing import (
    PER_PAGE_CHOICES,
    apply_sort,
    is_htmx,
    paginate,
    pick_template,
    querystring_without,
    vary_on_htmx,
)
from pbqms.core.scope import get_visible_or_404
from pbqms.orgs.forms import add_service_errors
from pbqms.orgs.models import Organization
from pbqms.plans import pdca, services
from pbqms.plans.filters import TaskFilterSet, WorkPlanFilterSet, unit_options
from pbqms.plans.forms import CompleteForm, ItemForm, PlanForm, ReopenForm
from pbqms.plans.models import PlanItem, Task, TaskEvidence, WorkPlan

PLAN_SORTS = {"year": "year", "title": "title", "unit": "org__path", "status": "status"}
TASK_SORTS = {"due": "due_on", "title": "title", "unit": "org__path", "status": "status"}


def _require(user, perm):
    if not scope.has_perm(user, perm):
        raise PermissionDenied


def _list_context(request, filterset, page, sort):
    return {
        "filter": filterset,
        "form": filterset.form,
        "page": page,
        "sort": sort,
        "qs": querystring_without(request, "page"),
        "filtered": any(request.GET.get(k) for k in filterset.form.fields),
        "per_page_choices": PER_PAGE_CHOICES,
        "per_page": page.paginator.per_page,
        "today": timezone.localdate(),
        "is_htmx": is_htmx(request),
    }


# ---------------------------------------------------------------- plans


@login_required
def plan_list(request):
    user = request.user
    _require(user, roles.PLAN_VIEW)
    today = timezone.localdate()
    base = (
        services.visible_plans(user)
        .select_related("org")
        .annotate(
            n_items=Count("items", distinct=True),
            n_tasks=Count("items__tasks", distinct=True),
            n_done=Count(
                "items__tasks", filter=Q(items__tasks__status=Task.Status.DONE), distinct=True
            ),
            n_overdue=Count(
                "items__tasks",
                filter=Q(items__tasks__status=Task.Status.OPEN, items__tasks__due_on__lt=today),
                distinct=True,
            ),
        )
    )
    filterset = WorkPlanFilterSet(request.GET or None, queryset=base, request=request)
    invalid = filterset.is_bound and not filterset.is_valid()
    queryset = base.none() if invalid else filterset.qs
    queryset, sort = apply_sort(request, queryset, PLAN_SORTS, "-year")
    page = paginate(request, queryset)
    for plan in page.object_list:
        plan.percent = round(100 * plan.n_done / plan.n_tasks) if plan.n_tasks else None
    context = _list_context(request, filterset, page, sort)
    context.update({"plans": page.object_list, "can_add": scope.has_perm(user, roles.PLAN_MANAGE)})
    template = pick_template(request, "plans/plan_list.html", "plans/_plan_table.html")
    return vary_on_htmx(render(request, template, context))


@login_required
def plan_create(request):
    user = request.user
    _require(user, roles.PLAN_MANAGE)
    form = PlanForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            plan = services.create_plan(
                actor=user,
                org=data["org"],
                year=data["year"],
                title=data["title"],
                description=data["description"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Work plan created. Now add its items."))
            return redirect("plans:plan_detail", pk=plan.pk)
    return render(
        request,
        "plans/plan_form.html",
        {"form": form, "title": _("New work plan"), "cancel_url": reverse("plans:plan_list")},
    )


@login_required
def plan_edit(request, pk):
    user = request.user
    plan = get_visible_or_404(WorkPlan.objects.select_related("org"), user, roles.PLAN_VIEW, pk=pk)
    if not services.may_manage(user, plan):
        raise PermissionDenied
    form = PlanForm(request.POST or None, user=user, plan=plan)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.update_plan(
                plan,
                actor=user,
                title=data["title"],
                description=data["description"],
                version=data.get("version"),
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Work plan saved."))
            return redirect("plans:plan_detail", pk=plan.pk)
    return render(
        request,
        "plans/plan_form.html",
        {
            "form": form,
            "plan": plan,
            "title": _("Edit work plan"),
            "cancel_url": reverse("plans:plan_detail", args=[plan.pk]),
        },
    )


@login_required
def plan_detail(request, pk):
    user = request.user
    plan = get_visible_or_404(
        WorkPlan.objects.select_related("org", "published_by"), user, roles.PLAN_VIEW, pk=pk
    )
    today = timezone.localdate()
    items = list(
        plan.items.select_related("obligation", "record_template")
        .prefetch_related(Prefetch("target_orgs", queryset=Organization.objects.only("id", "name")))
        .annotate(
            n_tasks=Count("tasks", distinct=True),
            n_done=Count("tasks", filter=Q(tasks__status=Task.Status.DONE), distinct=True),
            n_overdue=Count(
                "tasks",
                filter=Q(tasks__status=Task.Status.OPEN, tasks__due_on__lt=today),
                distinct=True,
            ),
        )
        .order_by("due_on", "sort_order", "id")
    )
    kind_labels = dict(Organization.Kind.choices)
    for item in items:
        item.kind_labels = [kind_labels.get(k, k) for k in item.target_kinds]
        item.percent = round(100 * item.n_done / item.n_tasks) if item.n_tasks else None
    completion = services.completion_by_unit(user, plan)
    tab = request.GET.get("tab") or "items"
    context = {
        "plan": plan,
        "items": items,
        "completion": completion,
        "summary": services.summarise(completion),
        "chart": {
            "units": [r["org_name"] for r in completion],
            "done": [r["done"] for r in completion],
            "open": [r["total"] - r["done"] - r["overdue"] for r in completion],
            "overdue": [r["overdue"] for r in completion],
            "labels": [_("Done"), _("Open"), _("Overdue")],
        },
        "can_manage": services.may_manage(user, plan),
        "is_draft": plan.status == WorkPlan.Status.DRAFT,
        "tab": tab,
        "history": history_for(plan) if tab == "history" else [],
    }
    return render(request, "plans/plan_detail.html", context)


@login_required
@require_POST
def plan_publish(request, pk):
    user = request.user
    plan = get_visible_or_404(WorkPlan.objects.select_related("org"), user, roles.PLAN_VIEW, pk=pk)
    try:
        created = services.publish_plan(plan, actor=user)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(
            request, _("Plan published: %(n)s tasks given to the units.") % {"n": created}
        )
    return redirect("plans:plan_detail", pk=plan.pk)


def _item_form_page(request, plan, item=None):
    user = request.user
    if not services.may_manage(user, plan):
        raise PermissionDenied
    if plan.status != WorkPlan.Status.DRAFT:
        messages.error(request, _("The plan is published: its items can no longer be changed."))
        return redirect("plans:plan_detail", pk=plan.pk)
    form = ItemForm(request.POST or None, user=user, plan=plan, item=item)
    if request.method == "POST" and form.is_valid():
        try:
            if item is None:
                services.add_item(plan, actor=user, **form.service_data())
            else:
                services.update_item(
                    item,
                    actor=user,
                    version=form.cleaned_data.get("version"),
                    **form.service_data(),
                )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Plan item saved."))
            return redirect("plans:plan_detail", pk=plan.pk)
    return render(
        request,
        "plans/item_form.html",
        {
            "form": form,
            "plan": plan,
            "item": item,
            "title": _("New plan item") if item is None else _("Edit plan item"),
            "cancel_url": reverse("plans:plan_detail", args=[plan.pk]),
        },
    )


@login_required
def item_create(request, pk):
    plan = get_visible_or_404(
        WorkPlan.objects.select_related("org"), request.user, roles.PLAN_VIEW, pk=pk
    )
    return _item_form_page(request, plan)


@login_required
def item_edit(request, pk, item_pk):
    plan = get_visible_or_404(
        WorkPlan.objects.select_related("org"), request.user, roles.PLAN_VIEW, pk=pk
    )
    try:
        item = plan.items.get(pk=item_pk)
    except PlanItem.DoesNotExist:
        raise Http404 from None
    return _item_form_page(request, plan, item)


@login_required
@require_POST
def item_delete(request, pk, item_pk):
    user = request.user
    plan = get_visible_or_404(WorkPlan.objects.select_related("org"), user, roles.PLAN_VIEW, pk=pk)
    try:
        item = plan.items.get(pk=item_pk)
    except PlanItem.DoesNotExist:
        raise Http404 from None
    try:
        services.delete_item(item, actor=user)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("Plan item deleted."))
    return redirect("plans:plan_detail", pk=plan.pk)


# ---------------------------------------------------------------- tasks


@login_required
def task_list(request):
    user = request.user
    _require(user, roles.TASK_VIEW)
    base = services.visible_tasks(user).select_related("org", "item__plan")
    filterset = TaskFilterSet(request.GET or None, queryset=base, request=request)
    invalid = filterset.is_bound and not filterset.is_valid()
    queryset = base.none() if invalid else filterset.qs
    queryset, sort = apply_sort(request, queryset, TASK_SORTS, "due")
    page = paginate(request, queryset)
    context = _list_context(request, filterset, page, sort)
    context["tasks"] = page.object_list
    template = pick_template(request, "plans/task_list.html", "plans/_task_table.html")
    return vary_on_htmx(render(request, template, context))


def _task_or_404(user, pk) -> Task:
    return get_visible_or_404(
        Task.objects.select_related(
            "org", "item__plan__org", "item__record_template", "item__obligation", "completed_by"
        ),
        user,
        roles.TASK_VIEW,
        pk=pk,
    )


@login_required
def task_detail(request, pk):
    user = request.user
    task = _task_or_404(user, pk)
    may_complete = services.may_complete(user, task)
    complete_form = reopen_form = None
    if may_complete and task.status == Task.Status.OPEN:
        complete_form = CompleteForm(request.POST or None, user=user, task=task)
        if request.method == "POST" and complete_form.is_valid():
            data = complete_form.cleaned_data
            try:
                services.complete_task(
                    task,
                    actor=user,
                    records=list(data["records"]),
                    note=data["note"],
                    completed_on=data["completed_on"],
                )
            except ValidationError as exc:
                add_service_errors(complete_form, exc)
            else:
                messages.success(request, _("Task completed."))
                return redirect("plans:task_detail", pk=task.pk)
    elif may_complete:
        reopen_form = ReopenForm(request.POST or None)
        if request.method == "POST" and reopen_form.is_valid():
            try:
                services.reopen_task(task, actor=user, reason=reopen_form.cleaned_data["reason"])
            except ValidationError as exc:
                add_service_errors(reopen_form, exc)
            else:
                messages.success(request, _("Task reopened."))
                return redirect("plans:task_detail", pk=task.pk)
    elif request.method == "POST":
        raise PermissionDenied
    evidence = list(
        TaskEvidence.objects.filter(task=task)
        .select_related("record__template", "linked_by")
        .order_by("id")
    )
    tab = request.GET.get("tab") or "task"
    context = {
        "task": task,
        "evidence": evidence,
        "complete_form": complete_form,
        "reopen_form": reopen_form,
        "may_see_plan": scope.has_perm(user, roles.PLAN_VIEW, task.item.plan.org),
        "tab": tab,
        "history": history_for(task) if tab == "history" else [],
        "today": timezone.localdate(),
    }
    return render(request, "plans/task_detail.html", context)


# ---------------------------------------------------------------- calendar


def _month_from(request) -> tuple[int, int]:
    today = timezone.localdate()
    try:
        year = int(request.GET.get("year") or today.year)
        month = int(request.GET.get("month") or today.month)
        dt.date(year, month, 1)
        if not 2000 <= year <= 2100:
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        return today.year, today.month
    return year, month


@login_required
def calendar(request):
    user = request.user
    if not (scope.has_perm(user, roles.TASK_VIEW) or scope.has_perm(user, roles.CONFORMITY_VIEW)):
        raise PermissionDenied
    year, month = _month_from(request)
    start, end = services.month_range(year, month)
    entries = services.calendar_entries(user, start, end)
    prev_month = start - dt.timedelta(days=1)
    next_month = end + dt.timedelta(days=1)
    today = timezone.localdate()
    days = [{"date": day, "today": day == today, **entries[day]} for day in sorted(entries)]
    context = {
        "year": year,
        "month": month,
        "month_start": start,
        "weeks": services.month_grid(year, month, entries),
        "days": days,
        "prev": {"year": prev_month.year, "month": prev_month.month},
        "next": {"year": next_month.year, "month": next_month.month},
        "this": {"year": today.year, "month": today.month},
        "weekdays": [_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun")],
        "is_htmx": is_htmx(request),
    }
    template = pick_template(request, "plans/calendar.html", "plans/_calendar.html")
    return vary_on_htmx(render(request, template, context))


# ---------------------------------------------------------------- PDCA


@login_required
def pdca_view(request):
    user = request.user
    _require(user, roles.PLAN_VIEW)
    today = timezone.localdate()
    try:
        year = int(request.GET.get("year") or today.year)
        if not 2000 <= year <= 2100:
            raise ValueError
    except (TypeError, ValueError):
        year = today.year
    org = None
    org_id = request.GET.get("org")
    if org_id:
        org = get_visible_or_404(Organization.objects.all(), user, roles.PLAN_VIEW, pk=org_id)
    else:
        org = (
            Organization.objects.visible_to(user, roles.PLAN_VIEW).order_by("depth", "path").first()
        )
    if org is None:
        raise Http404
    data = pdca.cycle(user, org, year)
    units = unit_options(user, roles.PLAN_VIEW, org)
    base_depth = min((u.depth for u in units), default=1)
    context = {
        **data,
        "phases": data["total"].phases(),
        "units": [(u.pk, "\u3000" * (u.depth - base_depth) + u.name) for u in units],
        "years": list(range(today.year - 4, today.year + 2)),
        "plans": list(
            services.visible_plans(user).filter(org=org, year=year).only("id", "title", "status")
        ),
    }
    return render(request, "plans/pdca.html", context)
