"""Improvement at a glance (持续改进概览): figures for one unit and its subtree, or for the
whole scope of a user. Every figure is one aggregate query, whatever the number of rows:

* open nonconformities by age (days since raised) and severity;
* overdue nonconformities and overdue actions;
* closure rate and mean days to close of the nonconformities raised in a year;
* repeat nonconformities;
* the same per unit one level down (one grouped query per depth of the rows).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.db.models import Avg, Count, Q
from django.db.models.functions import Substr
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from pbqms.core import roles, scope
from pbqms.improvement.models import CorrectiveAction, Nonconformity
from pbqms.orgs.models import Organization

NC = Nonconformity
# age buckets of open nonconformities: (key, label, lower bound in days, upper bound)
AGE_BUCKETS = (
    ("age_30", _("Up to 30 days"), 0, 30),
    ("age_60", _("31–60 days"), 31, 60),
    ("age_90", _("61–90 days"), 61, 90),
    ("age_older", _("Over 90 days"), 91, None),
)
UNIT_ROWS_LIMIT = 300
LIST_LIMIT = 10


@dataclass
class Glance:
    org: Organization | None
    year: int
    today: datetime.date
    age: list[dict] = field(default_factory=list)
    open_total: int = 0
    open_major: int = 0
    overdue_ncs: int = 0
    overdue_actions: int = 0
    verification_due: int = 0
    raised: int = 0
    closed: int = 0
    closure_rate: int | None = None
    mean_days_to_close: float | None = None
    repeats: int = 0
    repeat_list: list = field(default_factory=list)
    overdue_action_list: list = field(default_factory=list)
    units: list[dict] = field(default_factory=list)

    @property
    def open_minor(self) -> int:
        return self.open_total - self.open_major

    def chart(self) -> dict:
        """What the bar chart draws (the page also shows it as a table)."""
        return {
            "categories": [str(b["label"]) for b in self.age],
            "series": [
                {"name": str(NC.Severity.MINOR.label), "data": [b["minor"] for b in self.age]},
                {"name": str(NC.Severity.MAJOR.label), "data": [b["major"] for b in self.age]},
            ],
        }


def _age_q(today: datetime.date, low: int, high: int | None) -> Q:
    q = Q(raised_on__lte=today - datetime.timedelta(days=low))
    if high is not None:
        q &= Q(raised_on__gte=today - datetime.timedelta(days=high))
    return q


def _open_counts(qs, today: datetime.date) -> dict[str, int]:
    open_q = ~Q(status__in=NC.FINISHED)
    aggregates = {
        "open_total": Count("pk", filter=open_q),
        "open_major": Count("pk", filter=open_q & Q(severity=NC.Severity.MAJOR)),
        "overdue": Count("pk", filter=open_q & Q(correction_due__lt=today)),
    }
    for key, _label, low, high in AGE_BUCKETS:
        for severity in NC.Severity.values:
            aggregates[f"{key}_{severity}"] = Count(
                "pk", filter=open_q & Q(severity=severity) & _age_q(today, low, high)
            )
    return qs.aggregate(**aggregates)


def _year_counts(qs, year: int) -> dict:
    in_year = Q(raised_on__year=year) & ~Q(status=NC.Status.CANCELLED)
    closed_in_year = Q(status=NC.Status.CLOSED, closed_on__year=year)
    return qs.aggregate(
        raised=Count("pk", filter=in_year),
        closed=Count("pk", filter=in_year & Q(status=NC.Status.CLOSED)),
        mean_days=Avg("days_to_close", filter=closed_in_year),
        repeats=Count("pk", filter=Q(raised_on__year=year, repeat_of__isnull=False)),
    )


def scope_roots(user) -> list[Organization]:
    """The top units of the user's nonconformity scope."""
    grants = scope.grants_for(user, roles.NC_VIEW)
    paths: list[str] = []
    for path in sorted({g.path for g in grants}):
        if not any(path.startswith(p) for p in paths):
            paths.append(path)
    return list(Organization.objects.filter(path__in=paths).order_by("path"))


def _unit_rows(qs, units: list[Organization], today: datetime.date, year: int) -> list[dict]:
    """Per unit (with its subtree): open, major open, overdue, raised and closed in the
    year. One grouped query per distinct depth of ``units``."""
    rows = {
        u.path: {"unit": u, "open": 0, "major": 0, "overdue": 0, "raised": 0, "closed": 0}
        for u in units
    }
    open_q = ~Q(status__in=NC.FINISHED)
    in_year = Q(raised_on__year=year) & ~Q(status=NC.Status.CANCELLED)
    for depth in sorted({u.depth for u in units}):
        length = depth * Organization.steplen
        paths = [u.path for u in units if u.depth == depth]
        grouped = (
            qs.annotate(prefix=Substr("org__path", 1, length))
            .filter(prefix__in=paths)
            .values("prefix")
            .annotate(
                open=Count("pk", filter=open_q),
                major=Count("pk", filter=open_q & Q(severity=NC.Severity.MAJOR)),
                overdue=Count("pk", filter=open_q & Q(correction_due__lt=today)),
                raised=Count("pk", filter=in_year),
                closed=Count("pk", filter=in_year & Q(status=NC.Status.CLOSED)),
            )
            .order_by()
        )
        for row in grouped:
            rows[row["prefix"]].update({k: row[k] for k in row if k != "prefix"})
    result = list(rows.values())
    for row in result:
        row["closure_rate"] = round(100 * row["closed"] / row["raised"]) if row["raised"] else None
    return result


def glance(user, org: Organization | None = None, year: int | None = None) -> Glance:
    today = timezone.localdate()
    year = year or today.year
    ncs = NC.objects.visible_to(user, roles.NC_VIEW)
    actions = CorrectiveAction.objects.visible_to(user, roles.NC_VIEW)
    if org is not None:
        ncs = ncs.in_unit(org)
        actions = actions.in_unit(org)
    result = Glance(org=org, year=year, today=today)
    counts = _open_counts(ncs, today)
    result.open_total = counts["open_total"]
    result.open_major = counts["open_major"]
    result.overdue_ncs = counts["overdue"]
    for key, label, _low, _high in AGE_BUCKETS:
        minor, major = counts[f"{key}_minor"], counts[f"{key}_major"]
        result.age.append(
            {"key": key, "label": label, "minor": minor, "major": major, "total": minor + major}
        )
    action_counts = actions.aggregate(
        overdue=Count(
            "pk",
            filter=Q(status=CorrectiveAction.Status.PLANNED, due_on__lt=today)
            & ~Q(nonconformity__status__in=NC.FINISHED),
        ),
        verification_due=Count(
            "pk",
            filter=Q(
                status=CorrectiveAction.Status.DONE,
                verify_on__lte=today,
                nonconformity__status=NC.Status.VERIFICATION,
            ),
        ),
    )
    result.overdue_actions = action_counts["overdue"]
    result.verification_due = action_counts["verification_due"]
    year_counts = _year_counts(ncs, year)
    result.raised = year_counts["raised"]
    result.closed = year_counts["closed"]
    result.closure_rate = round(100 * result.closed / result.raised) if result.raised else None
    mean = year_counts["mean_days"]
    result.mean_days_to_close = round(float(mean), 1) if mean is not None else None
    result.repeats = year_counts["repeats"]
    result.repeat_list = list(
        ncs.filter(raised_on__year=year, repeat_of__isnull=False)
        .select_related("org", "repeat_of")
        .order_by("-raised_on", "-pk")[:LIST_LIMIT]
    )
    result.overdue_action_list = list(
        actions.overdue(today)
        .select_related("nonconformity", "owner", "org")
        .order_by("due_on", "pk")[:LIST_LIMIT]
    )
    # one level down: the unit's children, with a row for the unit's own nonconformities;
    # with no unit chosen, below the top of the scope (or its top units when several)
    roots = scope_roots(user) if org is None else []
    breakdown = org if org is not None else (roots[0] if len(roots) == 1 else None)
    if breakdown is not None:
        children = list(
            scope_units_below(user, breakdown).filter(depth=breakdown.depth + 1)[:UNIT_ROWS_LIMIT]
        )
        own = _unit_rows(ncs.filter(org=breakdown), [breakdown], today, year)[0]
        own["own"] = True
        result.units = [own, *_unit_rows(ncs, children, today, year)]
    else:
        result.units = _unit_rows(ncs, roots[:UNIT_ROWS_LIMIT], today, year)
    return result


def scope_units_below(user, org: Organization):
    return (
        Organization.objects.visible_to(user, roles.NC_VIEW)
        .filter(path__startswith=org.path)
        .only("pk", "name", "path", "depth", "kind", "dissolved_on")
        .order_by("path")
    )
