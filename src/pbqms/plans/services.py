"""Writes and reads of work plans and tasks. Views, API and commands call these functions;
each write is one transaction.

Scope rule: a plan or task the actor cannot see is ``Http404``; visible but not allowed is
``PermissionDenied``; bad input or a step not allowed now is a ``ValidationError``."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Min, Q
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from pbqms.core import roles, scope, workflow
from pbqms.core.locking import check_version
from pbqms.orgs.models import Organization
from pbqms.plans.models import Category, PlanItem, Task, TaskEvidence, WorkPlan

P = WorkPlan.Status
T = Task.Status
MAX_EVIDENCE = 50
ITEM_FIELDS = (
    "title",
    "description",
    "category",
    "due_on",
    "owner",
    "obligation",
    "record_template",
    "target_kinds",
)


def _require(actor, perm: str, org: Organization) -> None:
    if scope.has_perm(actor, perm, org):
        return
    if not Organization.objects.visible_to(actor).filter(pk=org.pk).exists():
        raise Http404
    raise PermissionDenied(_("You do not have permission to do this in %(unit)s.") % {"unit": org})


def _require_draft(plan: WorkPlan) -> None:
    if plan.status != P.DRAFT:
        raise ValidationError(_("The plan is published: its items can no longer be changed."))


# ---------------------------------------------------------------- reads


def visible_plans(user):
    return WorkPlan.objects.visible_to(user, roles.PLAN_VIEW)


def visible_tasks(user):
    return Task.objects.visible_to(user, roles.TASK_VIEW)


def may_manage(user, plan: WorkPlan) -> bool:
    return scope.has_perm(user, roles.PLAN_MANAGE, plan.org)


def may_complete(user, task: Task) -> bool:
    return scope.has_perm(user, roles.TASK_COMPLETE, task.org)


def units_for_new_plan(user):
    return Organization.objects.visible_to(user, roles.PLAN_MANAGE).active()


def subordinate_units(org: Organization):
    """Active units below ``org`` (not ``org`` itself), in tree order."""
    return (
        Organization.objects.active()
        .filter(path__startswith=org.path, depth__gt=org.depth)
        .order_by("path")
    )


def cascade_targets(item: PlanItem) -> list[Organization]:
    """The units an item becomes a task for: chosen units and every active subordinate
    unit of the chosen kinds; the plan's own unit when neither is given."""
    plan_org = item.plan.org
    chosen = list(item.target_orgs.all()) if item.pk else []
    kinds = list(item.target_kinds or [])
    if not chosen and not kinds:
        return [plan_org]
    units = {}
    if kinds:
        for org in subordinate_units(plan_org).filter(kind__in=kinds):
            units[org.pk] = org
    for org in chosen:
        if org.dissolved_on is None:
            units[org.pk] = org
    return sorted(units.values(), key=lambda o: o.path)


def completion_by_unit(user, plan: WorkPlan) -> list[dict]:
    """Per owner unit of the plan's tasks (that ``user`` can see): total, done, overdue,
    percent done. One grouped query."""
    today = timezone.localdate()
    rows = (
        visible_tasks(user)
        .filter(item__plan=plan)
        .values("org_id", "org__name", "org__path")
        .annotate(
            total=Count("id"),
            done=Count("id", filter=Q(status=T.DONE)),
            overdue=Count("id", filter=Q(status=T.OPEN, due_on__lt=today)),
        )
        .order_by("org__path")
    )
    out = []
    for r in rows:
        out.append(
            {
                "org_id": r["org_id"],
                "org_name": r["org__name"],
                "total": r["total"],
                "done": r["done"],
                "overdue": r["overdue"],
                "percent": round(100 * r["done"] / r["total"]) if r["total"] else 0,
            }
        )
    return out


def summarise(rows: Iterable[dict]) -> dict:
    rows = list(rows)
    total = sum(r["total"] for r in rows)
    done = sum(r["done"] for r in rows)
    return {
        "total": total,
        "done": done,
        "overdue": sum(r["overdue"] for r in rows),
        "percent": round(100 * done / total) if total else 0,
    }


def candidate_records(user, task: Task):
    """Submitted records of the task's unit from the plan's year that the user can see
    (what may prove the task), those of the item's template first, newest first."""
    from django.db.models import Case, IntegerField, Value, When

    from pbqms.records.models import Record
    from pbqms.records.services import visible_records

    year = task.item.plan.year
    start = timezone.make_aware(dt.datetime(year, 1, 1))
    end = timezone.make_aware(dt.datetime(year + 1, 1, 1))
    qs = (
        visible_records(user)
        .filter(
            org_id=task.org_id,
            status=Record.Status.SUBMITTED,
            occurred_at__gte=start,
            occurred_at__lt=end,
        )
        .select_related("template")
    )
    template_id = task.item.record_template_id
    if template_id:
        qs = qs.annotate(
            fits=Case(
                When(template_id=template_id, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        ).order_by("fits", "-occurred_at", "-id")
    else:
        qs = qs.order_by("-occurred_at", "-id")
    return qs


# ---------------------------------------------------------------- plans


@transaction.atomic
def create_plan(*, actor, org: Organization, year: int, title: str, description: str = ""):
    _require(actor, roles.PLAN_MANAGE, org)
    if org.dissolved_on is not None:
        raise ValidationError({"org": _("The unit is dissolved.")})
    title = (title or "").strip()
    if not title:
        raise ValidationError({"title": _("Give the plan a title.")})
    if not 2000 <= int(year) <= 2100:
        raise ValidationError({"year": _("Give a year between 2000 and 2100.")})
    if WorkPlan.objects.filter(org=org, year=year).exists():
        raise ValidationError({"year": _("This unit already has a work plan for that year.")})
    try:
        with transaction.atomic():
            return WorkPlan.objects.create(
                org=org,
                year=year,
                title=title,
                description=description or "",
                created_by=actor,
            )
    except IntegrityError as exc:  # a concurrent create
        raise ValidationError(
            {"year": _("This unit already has a work plan for that year.")}
        ) from exc


@transaction.atomic
def update_plan(plan: WorkPlan, *, actor, title: str, description: str = "", version=None):
    _require(actor, roles.PLAN_MANAGE, plan.org)
    check_version(plan, version)
    title = (title or "").strip()
    if not title:
        raise ValidationError({"title": _("Give the plan a title.")})
    plan.title = title
    plan.description = description or ""
    plan.save()
    return plan


def _clean_item(plan: WorkPlan, data: dict, target_orgs) -> tuple[dict, list[Organization]]:
    errors: dict[str, str] = {}
    title = (data.get("title") or "").strip()
    if not title:
        errors["title"] = _("Give the item a title.")
    due_on = data.get("due_on")
    if not due_on:
        errors["due_on"] = _("Give a due date.")
    elif due_on.year != plan.year:
        errors["due_on"] = _("The due date must fall in the plan's year (%(year)s).") % {
            "year": plan.year
        }
    category = data.get("category") or ""
    if category and category not in Category.values:
        errors["category"] = _("Choose a category from the list.")
    kinds = list(dict.fromkeys(data.get("target_kinds") or []))
    if any(k not in Organization.Kind.values for k in kinds):
        errors["target_kinds"] = _("Choose unit kinds from the list.")
    orgs = list(target_orgs or [])
    bad = [
        o
        for o in orgs
        if o.pk == plan.org_id or not o.path.startswith(plan.org.path) or o.depth <= plan.org.depth
    ]
    if bad:
        errors["target_orgs"] = _("Only units below %(unit)s can be chosen.") % {"unit": plan.org}
    elif any(o.dissolved_on is not None for o in orgs):
        errors["target_orgs"] = _("A dissolved unit cannot be given a task.")
    obligation = data.get("obligation")
    if obligation is not None and not obligation.is_active:
        errors["obligation"] = _("This obligation is no longer in force; choose another.")
    if errors:
        raise ValidationError(errors)
    clean = {
        "title": title,
        "description": data.get("description") or "",
        "category": category,
        "due_on": due_on,
        "owner": (data.get("owner") or "").strip(),
        "obligation": data.get("obligation"),
        "record_template": data.get("record_template"),
        "target_kinds": kinds,
    }
    return clean, orgs


@transaction.atomic
def add_item(plan: WorkPlan, *, actor, target_orgs=(), **data) -> PlanItem:
    _require(actor, roles.PLAN_MANAGE, plan.org)
    _require_draft(plan)
    clean, orgs = _clean_item(plan, data, target_orgs)
    item = PlanItem.objects.create(plan=plan, sort_order=plan.items.count() + 1, **clean)
    if orgs:
        item.target_orgs.set(orgs)
    return item


@transaction.atomic
def update_item(item: PlanItem, *, actor, version=None, target_orgs=(), **data) -> PlanItem:
    plan = item.plan
    _require(actor, roles.PLAN_MANAGE, plan.org)
    _require_draft(plan)
    check_version(item, version)
    clean, orgs = _clean_item(plan, data, target_orgs)
    for name, value in clean.items():
        setattr(item, name, value)
    item.save()
    item.target_orgs.set(orgs)
    return item


@transaction.atomic
def delete_item(item: PlanItem, *, actor) -> None:
    _require(actor, roles.PLAN_MANAGE, item.plan.org)
    _require_draft(item.plan)
    item.target_orgs.clear()
    item.delete()


@transaction.atomic
def publish_plan(plan: WorkPlan, *, actor) -> int:
    """Publish a draft plan: every item becomes a task for each of its target units.
    Returns the number of tasks created."""
    _require(actor, roles.PLAN_MANAGE, plan.org)
    if plan.status != P.DRAFT:
        raise workflow.TransitionNotAllowed(
            _("The plan is already published."), transition="publish", state=plan.status
        )
    items = list(
        plan.items.select_related("plan__org")
        .prefetch_related("target_orgs")
        .order_by("due_on", "sort_order", "id")
    )
    if not items:
        raise ValidationError(_("Add at least one item before publishing the plan."))
    targets = {}
    empty = []
    for item in items:
        units = cascade_targets(item)
        if not units:
            empty.append(item.title)
        targets[item.pk] = units
    if empty:
        raise ValidationError(
            _("No active unit matches the cascade of: %(items)s. Choose other units or kinds.")
            % {"items": "、".join(empty)}
        )
    workflow.fire(plan, "publish", actor=actor)
    created = 0
    for item in items:
        for org in targets[item.pk]:
            Task.objects.create(item=item, org=org, title=item.title, due_on=item.due_on)
            created += 1
    return created


# ---------------------------------------------------------------- tasks


@transaction.atomic
def complete_task(
    task: Task, *, actor, records, note: str = "", completed_on: dt.date | None = None
) -> Task:
    """Complete ``task`` with the submitted records of its unit that prove it. With an
    item's record template, at least one record must be of that template."""
    from pbqms.records.models import Record
    from pbqms.records.services import visible_records

    _require(actor, roles.TASK_COMPLETE, task.org)
    if task.status != T.OPEN:
        raise workflow.TransitionNotAllowed(
            _("The task is already done."), transition="complete", state=task.status
        )
    ids = []
    for r in records or []:
        pk = getattr(r, "pk", r)
        if pk not in ids:
            ids.append(pk)
    if not ids:
        raise ValidationError({"records": _("Link at least one record that proves the task.")})
    if len(ids) > MAX_EVIDENCE:
        raise ValidationError({"records": _("Link at most %(n)s records.") % {"n": MAX_EVIDENCE}})
    found = {
        r.pk: r
        for r in visible_records(actor)
        .filter(pk__in=ids)
        .only("id", "org_id", "status", "template_id", "title")
    }
    missing = [pk for pk in ids if pk not in found]
    if missing:
        raise ValidationError({"records": _("Some of the chosen records were not found.")})
    chosen = [found[pk] for pk in ids]
    if any(r.org_id != task.org_id for r in chosen):
        raise ValidationError(
            {"records": _("Only records of %(unit)s can prove its task.") % {"unit": task.org}}
        )
    if any(r.status != Record.Status.SUBMITTED for r in chosen):
        raise ValidationError({"records": _("Only submitted records can prove a task.")})
    template_id = task.item.record_template_id
    if template_id and not any(r.template_id == template_id for r in chosen):
        raise ValidationError(
            {
                "records": _("Link at least one record of the template “%(template)s”.")
                % {"template": task.item.record_template}
            }
        )
    if completed_on and completed_on > timezone.localdate():
        raise ValidationError({"completed_on": _("The completion date cannot be in the future.")})
    existing = set(task.evidence.values_list("record_id", flat=True))
    for r in chosen:
        if r.pk not in existing:
            TaskEvidence.objects.create(task=task, record=r, linked_by=actor)
    workflow.fire(task, "complete", actor=actor, completed_on=completed_on, note=note or "")
    return task


@transaction.atomic
def reopen_task(task: Task, *, actor, reason: str) -> Task:
    _require(actor, roles.TASK_COMPLETE, task.org)
    if task.status != T.DONE:
        raise workflow.TransitionNotAllowed(
            _("Only a done task can be reopened."), transition="reopen", state=task.status
        )
    if not (reason or "").strip():
        raise ValidationError({"reason": _("Give the reason for this step.")})
    workflow.fire(task, "reopen", actor=actor, reason=reason)
    return task


# ---------------------------------------------------------------- calendar


def month_range(year: int, month: int) -> tuple[dt.date, dt.date]:
    start = dt.date(year, month, 1)
    end = (start + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    return start, end


def calendar_entries(user, start: dt.date, end: dt.date, limit: int = 500) -> dict:
    """What is due between ``start`` and ``end`` for the units in ``user``'s scope:
    tasks (one by one) and obligation due dates (one line per day and obligation, with how
    many units and how many still open). Two queries, whatever the number of units."""
    from pbqms.system import engine
    from pbqms.system.models import ConformityResult, ConformityStatus

    today = timezone.localdate()
    by_day: dict[dt.date, dict] = defaultdict(lambda: {"tasks": [], "obligations": []})
    if scope.has_perm(user, roles.TASK_VIEW):
        # one line per day and plan item: the task itself when one unit has it, else how
        # many units have it, how many are done and how many overdue
        rows = (
            visible_tasks(user)
            .filter(due_on__range=(start, end))
            .values("due_on", "item_id", "title")
            .annotate(
                units=Count("id"),
                done=Count("id", filter=Q(status=T.DONE)),
                task_id=Min("id"),
                org_name=Min("org__name"),
            )
            .order_by("due_on", "title", "item_id")[:limit]
        )
        for r in rows:
            r["overdue"] = (
                0 if r["done"] == r["units"] or r["due_on"] >= today else (r["units"] - r["done"])
            )
            r["state"] = "done" if r["done"] == r["units"] else "overdue" if r["overdue"] else ""
            by_day[r["due_on"]]["tasks"].append(r)
    if scope.has_perm(user, roles.CONFORMITY_VIEW):
        rows = (
            ConformityResult.objects.visible_to(user, roles.CONFORMITY_VIEW)
            .filter(due_on__range=(start, end))
            .exclude(status=ConformityStatus.NOT_APPLICABLE)
            .values("due_on", "obligation_id", "obligation__name", "status")
            .annotate(n=Count("id"))
            .order_by("due_on", "obligation__name")
        )
        grouped: dict[tuple, dict] = {}
        for r in rows:
            key = (r["due_on"], r["obligation_id"])
            entry = grouped.setdefault(
                key,
                {
                    "obligation_id": r["obligation_id"],
                    "name": r["obligation__name"],
                    "units": 0,
                    "open": 0,
                    "missing": 0,
                },
            )
            entry["units"] += r["n"]
            status = engine.effective_status(r["status"], r["due_on"], today)
            if status in (ConformityStatus.UPCOMING,):
                entry["open"] += r["n"]
            elif status == ConformityStatus.MISSING:
                entry["missing"] += r["n"]
        for (day, _ob), entry in grouped.items():
            by_day[day]["obligations"].append(entry)
    return dict(by_day)


def month_grid(year: int, month: int, entries: dict) -> list[list[dict]]:
    """Weeks (Monday first) of day cells for the month view."""
    start, end = month_range(year, month)
    first = start - dt.timedelta(days=start.weekday())
    last = end + dt.timedelta(days=6 - end.weekday())
    today = timezone.localdate()
    weeks, week = [], []
    day = first
    while day <= last:
        e = entries.get(day, {"tasks": [], "obligations": []})
        week.append(
            {
                "date": day,
                "in_month": day.month == month,
                "today": day == today,
                "tasks": e["tasks"],
                "obligations": e["obligations"],
            }
        )
        if len(week) == 7:
            weeks.append(week)
            week = []
        day += dt.timedelta(days=1)
    return weeks
