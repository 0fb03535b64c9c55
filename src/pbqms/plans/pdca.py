"""The PDCA cycle of a plan period (a year) for a unit: 计划 (plan tasks), 实施 (records),
检查 (conformity results), 改进 (nonconformities and corrective actions) — each phase
with counts and a status, for the unit with its subtree and, for a parent unit, for each
of its direct sub-units.

Each phase is one grouped query over the unit's subtree (rows per unit), rolled up in
Python to the sub-units by their tree path: the page costs the same few queries whatever
the number of units. Every count goes through ``visible_to`` of its own area, so a phase
the user may not see shows as unavailable rather than leaking figures."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from pbqms.core import roles, scope
from pbqms.orgs.models import Organization

PHASES = ("plan", "do", "check", "act")
PHASE_LABELS = {
    "plan": _("Plan"),  # 计划
    "do": _("Do"),  # 实施
    "check": _("Check"),  # 检查
    "act": _("Act"),  # 改进
}
# status code → (label, Tabler colour)
STATUS = {
    "na": (_("Not available"), "secondary"),
    "none": (_("Nothing yet"), "secondary"),
    "behind": (_("Behind schedule"), "red"),
    "on_track": (_("On track"), "blue"),
    "done": (_("Complete"), "green"),
    "active": (_("Under way"), "green"),
    "good": (_("Good"), "green"),
    "fair": (_("Fair"), "yellow"),
    "poor": (_("Poor"), "red"),
    "open": (_("Actions open"), "yellow"),
    "closed": (_("All closed"), "green"),
    "none_raised": (_("None raised"), "secondary"),
}


@dataclass
class Figures:
    tasks: int = 0
    tasks_done: int = 0
    tasks_overdue: int = 0
    records: int = 0
    met: int = 0
    late: int = 0
    missing: int = 0
    upcoming: int = 0
    excepted: int = 0
    ncs: int = 0
    ncs_open: int = 0
    actions: int = 0
    actions_open: int = 0
    available: dict = field(default_factory=dict)

    def add(self, other: Figures) -> None:
        for name in self.__dataclass_fields__:
            if name != "available":
                setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def task_percent(self) -> int | None:
        return round(100 * self.tasks_done / self.tasks) if self.tasks else None

    @property
    def rate(self) -> float | None:
        due = self.met + self.late + self.missing
        if not due:
            return None
        from pbqms.system.engine import LATE_WEIGHT

        return (self.met + LATE_WEIGHT * self.late) / due

    @property
    def rate_percent(self) -> int | None:
        r = self.rate
        return None if r is None else round(100 * r)

    def phase_status(self, phase: str) -> str:
        if not self.available.get(phase):
            return "na"
        if phase == "plan":
            if not self.tasks:
                return "none"
            if self.tasks_overdue:
                return "behind"
            return "done" if self.tasks_done == self.tasks else "on_track"
        if phase == "do":
            return "active" if self.records else "none"
        if phase == "check":
            r = self.rate
            if r is None:
                return "none"
            return "good" if r >= 0.9 else "fair" if r >= 0.6 else "poor"
        if not self.ncs:
            return "none_raised"
        return "open" if self.ncs_open or self.actions_open else "closed"

    def phases(self) -> list[dict]:
        out = []
        for phase in PHASES:
            code = self.phase_status(phase)
            label, colour = STATUS[code]
            out.append(
                {
                    "key": phase,
                    "label": PHASE_LABELS[phase],
                    "status": code,
                    "status_label": label,
                    "colour": colour,
                }
            )
        return out


def _year_bounds(year: int) -> tuple[dt.date, dt.date]:
    return dt.date(year, 1, 1), dt.date(year, 12, 31)


def _aware(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _per_unit(user, org: Organization, year: int) -> tuple[dict[int, Figures], dict]:
    """Figures per unit id of ``org``'s subtree (only units with something)."""
    from pbqms.improvement.models import CorrectiveAction, Nonconformity
    from pbqms.plans.models import Task
    from pbqms.records.models import Record
    from pbqms.records.services import visible_records
    from pbqms.system.models import ConformityResult
    from pbqms.system.models import ConformityStatus as CS

    start, end = _year_bounds(year)
    today = timezone.localdate()
    in_tree = {"org__path__startswith": org.path}
    figures: dict[int, Figures] = defaultdict(Figures)
    available = {
        "plan": scope.has_perm(user, roles.TASK_VIEW, org),
        "do": scope.has_perm(user, roles.RECORD_VIEW, org),
        "check": scope.has_perm(user, roles.CONFORMITY_VIEW, org),
        "act": scope.has_perm(user, roles.NC_VIEW, org),
    }
    if available["plan"]:
        rows = (
            Task.objects.visible_to(user, roles.TASK_VIEW)
            .filter(due_on__range=(start, end), **in_tree)
            .values("org_id")
            .annotate(
                n=Count("id"),
                done=Count("id", filter=Q(status=Task.Status.DONE)),
                overdue=Count("id", filter=Q(status=Task.Status.OPEN, due_on__lt=today)),
            )
            .order_by()
        )
        for r in rows:
            f = figures[r["org_id"]]
            f.tasks, f.tasks_done, f.tasks_overdue = r["n"], r["done"], r["overdue"]
    if available["do"]:
        rows = (
            visible_records(user)
            .filter(
                status=Record.Status.SUBMITTED,
                occurred_at__gte=_aware(start),
                occurred_at__lt=_aware(end + dt.timedelta(days=1)),
                **in_tree,
            )
            .values("org_id")
            .annotate(n=Count("id"))
            .order_by()
        )
        for r in rows:
            figures[r["org_id"]].records = r["n"]
    if available["check"]:
        passed = Q(due_on__lt=today)
        rows = (
            ConformityResult.objects.visible_to(user, roles.CONFORMITY_VIEW)
            .filter(due_on__range=(start, end), **in_tree)
            .values("org_id")
            .annotate(
                met=Count("id", filter=Q(status=CS.MET)),
                late=Count("id", filter=Q(status=CS.LATE)),
                missing=Count("id", filter=Q(status=CS.MISSING) | (Q(status=CS.UPCOMING) & passed)),
                upcoming=Count("id", filter=Q(status=CS.UPCOMING) & ~passed),
                excepted=Count("id", filter=Q(status=CS.EXCEPTED)),
            )
            .order_by()
        )
        for r in rows:
            f = figures[r["org_id"]]
            f.met, f.late, f.missing = r["met"], r["late"], r["missing"]
            f.upcoming, f.excepted = r["upcoming"], r["excepted"]
    if available["act"]:
        rows = (
            Nonconformity.objects.visible_to(user, roles.NC_VIEW)
            .filter(raised_on__range=(start, end), **in_tree)
            .values("org_id")
            .annotate(
                n=Count("id"),
                open=Count("id", filter=~Q(status__in=Nonconformity.FINISHED)),
            )
            .order_by()
        )
        for r in rows:
            f = figures[r["org_id"]]
            f.ncs, f.ncs_open = r["n"], r["open"]
        rows = (
            CorrectiveAction.objects.visible_to(user, roles.NC_VIEW)
            .filter(nonconformity__raised_on__range=(start, end), **in_tree)
            .values("org_id")
            .annotate(
                n=Count("id"),
                open=Count(
                    "id",
                    filter=Q(status__in=CorrectiveAction.LIVE)
                    & ~Q(nonconformity__status__in=Nonconformity.FINISHED),
                ),
            )
            .order_by()
        )
        for r in rows:
            f = figures[r["org_id"]]
            f.actions, f.actions_open = r["n"], r["open"]
    return figures, available


def cycle(user, org: Organization, year: int) -> dict:
    """The unit's PDCA (with its subtree) and one row per direct sub-unit."""
    per_unit, available = _per_unit(user, org, year)
    children = list(
        Organization.objects.filter(path__startswith=org.path, depth=org.depth + 1)
        .visible_to(user, roles.PLAN_VIEW)
        .order_by("path")
        .only("id", "name", "path", "kind", "dissolved_on")
    )
    paths = (
        dict(Organization.objects.filter(pk__in=list(per_unit)).values_list("id", "path"))
        if per_unit
        else {}
    )
    total = Figures(available=available)
    own = Figures(available=available)
    rows = {c.pk: Figures(available=available) for c in children}
    child_by_path = [(c.path, c.pk) for c in children]
    for org_id, f in per_unit.items():
        total.add(f)
        if org_id == org.pk:
            own.add(f)
            continue
        path = paths.get(org_id, "")
        for child_path, child_id in child_by_path:
            if path.startswith(child_path):
                rows[child_id].add(f)
                break
    return {
        "org": org,
        "year": year,
        "total": total,
        "own": own,
        "children": [{"org": c, "figures": rows[c.pk]} for c in children],
        "available": available,
    }
