"""Write rules and read helpers of the quality-system area (views and API call these)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from pbqms.core import roles, scope
from pbqms.orgs.models import Organization
from pbqms.system import engine
from pbqms.system.models import (
    ConformityException,
    ConformityResult,
    ConformityStatus,
    Obligation,
)

S = ConformityStatus
_MAX_IDS = 500
# worst first: the colour of an aggregated cell is its worst status
SEVERITY = [S.MISSING, S.LATE, S.UPCOMING, S.EXCEPTED, S.MET, S.NOT_APPLICABLE]


def worst(statuses) -> str | None:
    present = set(statuses)
    for status in SEVERITY:
        if status in present:
            return status
    return None


def aggregate_status(statuses: list[str]) -> str:
    """The colour of a board cell that sums up several obligations (one unit, one month):
    met when everything due was done on time; late when at least half of what is due was
    done (some late or missing); missing when less than half; otherwise upcoming,
    excepted or not applicable (whichever is present, in that order)."""
    due = [s for s in statuses if s in (S.MET, S.LATE, S.MISSING)]
    if due:
        if all(s == S.MET for s in due):
            return S.MET
        done = sum(1 for s in due if s != S.MISSING)
        return S.LATE if done * 2 >= len(due) else S.MISSING
    for status in (S.UPCOMING, S.EXCEPTED, S.NOT_APPLICABLE):
        if status in statuses:
            return status
    return S.NOT_APPLICABLE


# ---------------------------------------------------------------- obligations


def save_obligation(*, actor, obligation: Obligation, orgs=None) -> Obligation:
    """Create or update an obligation (party committee administrator of its owner unit).
    Raises ``PermissionDenied`` or ``ValidationError({field: msg})``."""
    if not scope.has_perm(actor, roles.OBLIGATION_MANAGE, obligation.owner):
        raise PermissionDenied
    obligation.full_clean()
    if orgs is not None:
        outside = [o for o in orgs if not o.path.startswith(obligation.owner.path)]
        if outside:
            raise ValidationError(
                {
                    "orgs": _("Units outside the setting committee's tree: %(names)s")
                    % {"names": "、".join(o.name for o in outside)}
                }
            )
    with transaction.atomic():
        with engine.suspended():
            obligation.save()
            if orgs is not None:
                obligation.orgs.set(orgs)
        engine.recompute_obligation(obligation)
    return obligation


# ---------------------------------------------------------------- exceptions


def note_exception(*, actor, org, obligation, period_start: dt.date, reason: str):
    """Note a justified exception for a unit's gap in one period."""
    if not scope.has_perm(actor, roles.CONFORMITY_EXCEPT, org):
        raise PermissionDenied
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Give the reason for the exception.")})
    period = obligation.period_containing(period_start)
    try:
        with transaction.atomic():
            return ConformityException.objects.create(
                org=org,
                obligation=obligation,
                period_start=period.start,
                period_end=period.end,
                reason=reason,
                created_by=actor,
            )
    except IntegrityError as exc:
        raise ValidationError(
            {"reason": _("An exception is already noted for this period.")}
        ) from exc


# ---------------------------------------------------------------- reads


def results_for(user):
    return ConformityResult.objects.visible_to(user, roles.CONFORMITY_VIEW)


def month_bounds(today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    today = today or timezone.localdate()
    start = today.replace(day=1)
    end = (start + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    return start, end


def due_items(user, org=None, today: dt.date | None = None, limit: int = 200) -> list[dict]:
    """The cells due this month (and earlier gaps of the current periods) for the units in
    ``user``'s scope, or for ``org`` only: open ones first."""
    today = today or timezone.localdate()
    start, end = month_bounds(today)
    base = ConformityResult.objects.all()
    if org is not None:
        base = base.filter(org=org)
    else:
        # the units in scope as ids (one indexed lookup per unit) rather than a join on the
        # unit path that makes the database walk every unit's cells of the month
        ids = list(
            Organization.objects.visible_to(user, roles.CONFORMITY_VIEW)
            .order_by()
            .values_list("id", flat=True)[: _MAX_IDS + 1]
        )
        base = base.filter(org_id__in=ids) if len(ids) <= _MAX_IDS else results_for(user)
    related = ("org", "obligation", "obligation__activity")
    this_month = list(
        base.filter(due_on__range=(start, end))
        .exclude(status=S.NOT_APPLICABLE)
        .select_related(*related)
        .order_by("due_on", "obligation__name")[:limit]
    )
    earlier_open = list(
        base.filter(period_end__gte=today, due_on__lt=start, status__in=[S.MISSING, S.UPCOMING])
        .select_related(*related)
        .order_by("due_on", "obligation__name")[:limit]
    )
    rows = (this_month + earlier_open)[:limit]
    items = []
    for r in rows:
        status = engine.effective_status(r.status, r.due_on, today)
        items.append(
            {
                "result": r,
                "status": status,
                "open": status in (S.MISSING, S.UPCOMING, S.LATE) and not r.record_ids,
                "days_left": (r.due_on - today).days,
            }
        )
    items.sort(key=lambda i: (not i["open"], i["result"].due_on))
    return items


def due_this_month(user, limit: int = 20) -> list[dict]:
    """For the workbench: what the user's units must still do this month (open items
    first). Each item: ``result`` (ConformityResult with org/obligation), ``status``
    (effective), ``open``, ``days_left``."""
    return due_items(user, limit=limit)


def rates_by_org(results) -> dict[int, float | None]:
    by_org = defaultdict(list)
    today = timezone.localdate()
    for org_id, status, due in results:
        by_org[org_id].append(engine.effective_status(status, due, today))
    return {org_id: engine.rate(statuses) for org_id, statuses in by_org.items()}


def org_rate(org, year: int | None = None) -> float | None:
    """Summary rate of a unit over a year (default: this year), usable as an indicator."""
    year = year or timezone.localdate().year
    rows = ConformityResult.objects.filter(org=org, due_on__year=year).values_list(
        "status", "due_on"
    )
    today = timezone.localdate()
    return engine.rate(engine.effective_status(s, d, today) for s, d in rows)


def units_in_board(user, under: Organization | None = None):
    """Units in scope that have conformity cells (the board's rows), in tree order."""
    from django.db.models import Exists, OuterRef

    qs = Organization.objects.visible_to(user, roles.CONFORMITY_VIEW)
    if under is not None:
        qs = qs.filter(path__startswith=under.path)
    return qs.filter(Exists(ConformityResult.objects.filter(org_id=OuterRef("pk")))).order_by(
        "path"
    )


# ---------------------------------------------------------------- nonconformities from gaps


def nonconformities_enabled() -> bool:
    from django.apps import apps

    return apps.is_installed("pbqms.improvement")


def gap_status(result: ConformityResult, today: dt.date | None = None) -> str:
    return engine.effective_status(result.status, result.due_on, today or timezone.localdate())


def may_raise_from(user, result: ConformityResult) -> bool:
    """Can ``user`` raise a nonconformity about this cell (a late or missing one)?"""
    if not nonconformities_enabled():
        return False
    from pbqms.improvement import services as improvement

    return gap_status(result) in (S.MISSING, S.LATE) and improvement.may_raise(user, result.org)


def nonconformities_for(user, result: ConformityResult):
    """The nonconformities raised from this cell that ``user`` may see."""
    if not nonconformities_enabled():
        return []
    from django.contrib.contenttypes.models import ContentType

    from pbqms.improvement.models import Nonconformity

    return list(
        Nonconformity.objects.visible_to(user, roles.NC_VIEW)
        .filter(
            source_type=ContentType.objects.get_for_model(ConformityResult),
            source_id=str(result.pk),
        )
        .order_by("raised_on", "id")
    )


def gap_description(result: ConformityResult) -> tuple[str, str]:
    """Suggested title and description of a nonconformity raised from a gap."""
    status = gap_status(result)
    ob, org = result.obligation, result.org
    period = f"{result.period_start:%Y-%m-%d} – {result.period_end:%Y-%m-%d}"
    if status == S.LATE:
        title = _("%(unit)s: %(activity)s held late") % {"unit": org.name, "activity": ob.name}
        text = _(
            "%(activity)s of the period %(period)s was due on %(due)s and was held only after "
            "the due date (conformity board)."
        )
    else:
        title = _("%(unit)s: %(activity)s not held") % {"unit": org.name, "activity": ob.name}
        text = _(
            "No record of %(activity)s for the period %(period)s (due on %(due)s) that meets "
            "the obligation (conformity board)."
        )
    return title[:200], text % {"activity": ob.name, "period": period, "due": result.due_on}


def raise_nonconformity_from_gap(
    *, actor, result: ConformityResult, title: str, description: str, severity: str, correction_due
):
    """Raise an improvement nonconformity about a late or missing cell, linked back to it
    (source object = the cell). Source "conformity gap" for auditors and the committee; a
    unit's own secretary raises it from its self-inspection. A cell with a justified
    exception, a met or an upcoming cell is refused."""
    if not nonconformities_enabled():
        raise ValidationError({"title": _("Nonconformities are not available.")})
    from pbqms.improvement import services as improvement
    from pbqms.improvement.models import Nonconformity

    org, ob = result.org, result.obligation
    if not improvement.may_raise(actor, org):
        raise PermissionDenied
    if ConformityException.objects.filter(
        org=org, obligation=ob, period_start=result.period_start
    ).exists():
        raise ValidationError(
            {"title": _("This gap has a justified exception: there is nothing to raise.")}
        )
    if gap_status(result) not in (S.MISSING, S.LATE):
        raise ValidationError(
            {"title": _("Only a missing or late activity can be raised as a nonconformity.")}
        )
    kind = (
        Nonconformity.Source.CONFORMITY_GAP
        if scope.has_perm(actor, roles.NC_ADD, org)
        else Nonconformity.Source.SELF_INSPECTION
    )
    return improvement.raise_nonconformity(
        actor=actor,
        org=org,
        title=title,
        source_kind=kind,
        requirement=str(ob.requirement),
        requirement_object=ob.requirement,
        description=description,
        severity=severity,
        correction_due=correction_due,
        source=result,
        source_ref=_("Conformity board: %(unit)s · %(activity)s · %(start)s – %(end)s")
        % {
            "unit": org.name,
            "activity": ob.name,
            "start": result.period_start,
            "end": result.period_end,
        },
    )
