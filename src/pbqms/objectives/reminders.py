"""Reminders of policy and objectives, computed daily by ``manage.py send_reminders``:

``objectives.values_due`` — in December (the year's values) and in January (last year's
values, still missing), the branch secretaries and party affairs workers whose grant covers
a unit that owns or has a share of an indicator entered by hand, without a value yet, get
one message a month with how many values are missing, linking to the unit's attainment
page. Two grouped queries (missing values per unit, grants of the two roles), whatever the
number of indicators."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db.models import Count, Exists, OuterRef, Q
from django.urls import reverse
from django.utils.translation import gettext as _

from pbqms.core import reminders
from pbqms.core.roles import Role
from pbqms.objectives.models import Indicator, IndicatorTarget, Measurement
from pbqms.orgs.models import RoleAssignment

REMINDED_ROLES = (Role.BRANCH_SECRETARY, Role.PARTY_WORKER)
STEP = 4


def year_due(today: dt.date) -> int | None:
    if today.month == 12:
        return today.year
    if today.month == 1:
        return today.year - 1
    return None


def missing_by_unit(year: int) -> dict[tuple[int, str], int]:
    """{(unit id, unit path): manual indicator values of ``year`` still missing}."""
    manual = Q(source=Indicator.Source.MANUAL, objective__policy__year=year)
    value = Measurement.objects.filter(
        indicator_id=OuterRef("indicator_id"), org_id=OuterRef("org_id"), value__isnull=False
    )
    out: dict[tuple[int, str], int] = defaultdict(int)
    shares = (
        IndicatorTarget.objects.filter(
            indicator__source=Indicator.Source.MANUAL, indicator__objective__policy__year=year
        )
        .exclude(Exists(value))
        .values("org_id", "org__path")
        .annotate(n=Count("pk"))
        .order_by()
    )
    own_value = Measurement.objects.filter(
        indicator_id=OuterRef("pk"), org_id=OuterRef("org_id"), value__isnull=False
    )
    own = (
        Indicator.objects.filter(manual)
        .exclude(Exists(own_value))
        .values("org_id", "org__path")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in [*shares, *own]:
        out[(row["org_id"], row["org__path"])] += row["n"]
    return out


@reminders.provider("objectives.values_due")
def value_reminders(today: dt.date):
    year = year_due(today)
    if year is None:
        return
    missing = missing_by_unit(year)
    if not missing:
        return
    grants = (
        RoleAssignment.objects.filter(role__in=REMINDED_ROLES, user__is_active=True)
        .filter(Q(valid_from__isnull=True) | Q(valid_from__lte=today))
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=today))
        .values_list("user_id", "org__path", "include_subtree")
    )
    exact: dict[str, set[int]] = defaultdict(set)
    subtree: dict[str, set[int]] = defaultdict(set)
    for user_id, path, include_subtree in grants:
        (subtree if include_subtree else exact)[path].add(user_id)
    totals: dict[int, dict] = {}
    for (org_id, path), n in sorted(missing.items(), key=lambda kv: kv[0][1]):
        users = set(exact.get(path, ()))
        for end in range(STEP, len(path) + 1, STEP):
            users |= subtree.get(path[:end], set())
        for user_id in users:
            t = totals.setdefault(user_id, {"n": 0, "org_id": org_id})
            t["n"] += n
    if not totals:
        return
    from pbqms.accounts.models import User

    people = User.objects.in_bulk(list(totals))
    base = reverse("objectives:attainment")
    for user_id, t in sorted(totals.items()):
        user = people.get(user_id)
        if user is None:
            continue
        yield reminders.Reminder(
            user=user,
            subject=_("Enter the indicator values of %(year)d (%(n)d missing)")
            % {"year": year, "n": t["n"]},
            body=_(
                "Your units own or have a share of indicators entered by hand; their values "
                "of %(year)d are still missing."
            )
            % {"year": year},
            url=f"{base}?org={t['org_id']}&year={year}&view=table",
            dedupe_key=f"objectives.values:{year}:{today:%Y-%m}",
        )
