"""Compiling the inputs of a management review (ISO 9001 9.3.2, as party-building work reads
it) into one JSON document that is then frozen (:class:`~pbqms.reviews.models.InputSnapshot`).

Each section is a dict with ``available`` (false, with a ``note``, when the area is not in
this installation or has nothing usable yet). Codes are stored, not translated labels: the
page labels them in the reader's language. The data are those of the review's unit and
every unit below it, over the review's period; every query is bounded (aggregates, and lists
capped at ``LIST_LIMIT`` rows).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from django.apps import apps
from django.db import DatabaseError, transaction
from django.db.models import Count, F, Q
from django.utils import timezone

LIST_LIMIT = 50
SNAPSHOT_FORMAT = 1


def _iso(day) -> str | None:
    return day.isoformat() if day else None


def _number(value) -> str | None:
    """A decimal as people write it: 95, 87.4 (not 95.00, 87.40)."""
    if value is None:
        return None
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _in_subtree(path: str, prefix: str = "org__") -> Q:
    return Q(**{f"{prefix}path__startswith": path})


def _not_installed(app: str) -> dict[str, Any]:
    return {"available": False, "reason": "not_installed", "app": app}


# ---------------------------------------------------------------- audits


def audit_section(review) -> dict[str, Any]:
    if not apps.is_installed("pbqms.audits"):
        return _not_installed("audits")
    from pbqms.audits.models import Audit, ChecklistItem

    org = review.org
    start, end = review.period_start, review.period_end
    through = Audit.audited_units.through
    audit_ids = through.objects.filter(organization__path__startswith=org.path).values("audit_id")
    candidates = (
        Audit.objects.filter(pk__in=audit_ids)
        .filter(programme__year__gte=start.year, programme__year__lte=end.year)
        .select_related("programme", "lead_auditor")
        .prefetch_related("audited_units")
        .order_by("programme__year", "planned_month", "number")
    )
    audits = [a for a in candidates if start <= a.audit_date <= end]
    ids = [a.pk for a in audits]
    by_status = Counter(a.status for a in audits)
    results = dict(
        ChecklistItem.objects.filter(audit_id__in=ids)
        .exclude(result="")
        .values("result")
        .annotate(n=Count("pk"))
        .values_list("result", "n")
    )
    per_audit: dict[int, Counter] = {}
    for audit_id, result, n in (
        ChecklistItem.objects.filter(audit_id__in=ids)
        .exclude(result="")
        .values("audit_id", "result")
        .annotate(n=Count("pk"))
        .values_list("audit_id", "result", "n")
    ):
        per_audit.setdefault(audit_id, Counter())[result] += n
    rows = []
    for a in audits[:LIST_LIMIT]:
        counts = per_audit.get(a.pk, Counter())
        rows.append(
            {
                "id": a.pk,
                "number": a.number,
                "programme": a.programme.title,
                "units": [u.name for u in a.audited_units.all()],
                "date": _iso(a.audit_date),
                "lead": a.lead_auditor.name if a.lead_auditor else "",
                "status": a.status,
                "results": dict(counts),
            }
        )
    return {
        "available": True,
        "total": len(audits),
        "by_status": dict(by_status),
        "results": results,
        "rows": rows,
        "truncated": len(audits) > LIST_LIMIT,
    }


# ---------------------------------------------------------------- nonconformities


def nonconformity_section(review, today: dt.date) -> dict[str, Any]:
    if not apps.is_installed("pbqms.improvement"):
        return _not_installed("improvement")
    from pbqms.improvement.models import CorrectiveAction, Nonconformity

    org = review.org
    start, end = review.period_start, review.period_end
    unit = Nonconformity.objects.filter(_in_subtree(org.path))
    raised = unit.filter(raised_on__gte=start, raised_on__lte=end)

    def counts(qs, field):
        return dict(qs.order_by().values(field).annotate(n=Count("pk")).values_list(field, "n"))

    open_now = unit.exclude(status__in=Nonconformity.FINISHED)
    rows = [
        {
            "id": nc.pk,
            "number": nc.number,
            "title": nc.title,
            "unit": nc.org.name,
            "source": nc.source_kind,
            "severity": nc.severity,
            "status": nc.status,
            "raised_on": _iso(nc.raised_on),
            "closed_on": _iso(nc.closed_on),
            "overdue": nc.status not in Nonconformity.FINISHED and nc.correction_due < today,
        }
        for nc in raised.select_related("org").order_by("raised_on", "number")[:LIST_LIMIT]
    ]
    closed = unit.filter(closed_on__gte=start, closed_on__lte=end)
    days = list(closed.exclude(days_to_close=None).values_list("days_to_close", flat=True))
    actions = CorrectiveAction.objects.filter(_in_subtree(org.path, "nonconformity__org__"))
    raised_total = raised.count()
    return {
        "available": True,
        "raised": raised_total,
        "by_status": counts(raised, "status"),
        "by_severity": counts(raised, "severity"),
        "by_source": counts(raised, "source_kind"),
        "closed_in_period": len(days) + closed.filter(days_to_close=None).count(),
        "mean_days_to_close": round(sum(days) / len(days), 1) if days else None,
        "open_now": open_now.count(),
        "overdue_now": open_now.filter(correction_due__lt=today).count(),
        "repeats": raised.exclude(repeat_of=None).count(),
        "actions_by_status": counts(actions, "status"),
        "actions_overdue": actions.filter(
            status=CorrectiveAction.Status.PLANNED, due_on__lt=today
        ).count(),
        "rows": rows,
        "truncated": raised_total > LIST_LIMIT,
    }


# ---------------------------------------------------------------- objectives


def objective_section(review) -> dict[str, Any]:
    if not apps.is_installed("pbqms.objectives"):
        return _not_installed("objectives")
    try:
        with transaction.atomic():
            Indicator = apps.get_model("objectives", "Indicator")
            Measurement = apps.get_model("objectives", "Measurement")
            years = range(review.period_start.year, review.period_end.year + 1)
            indicators = list(
                Indicator.objects.filter(org=review.org, objective__policy__year__in=years)
                .select_related("objective", "objective__policy")
                .order_by("objective__policy__year", "objective__sort_order", "sort_order", "pk")[
                    :LIST_LIMIT
                ]
            )
            values = dict(
                Measurement.objects.filter(indicator__in=indicators, org=review.org).values_list(
                    "indicator_id", "value"
                )
            )
            rows = []
            for ind in indicators:
                value = values.get(ind.pk)
                attained = ind.attained(value, ind.target)
                rows.append(
                    {
                        "code": ind.code,
                        "name": ind.name,
                        "objective": str(ind.objective),
                        "year": ind.objective.policy.year,
                        "unit_of_measure": ind.unit_of_measure,
                        "target": _number(ind.target),
                        "value": _number(value),
                        "attained": attained,
                        "attainment": ind.attainment(value, ind.target),
                    }
                )
    except (LookupError, AttributeError, TypeError, ValueError, DatabaseError) as exc:
        return {"available": False, "reason": "unusable", "detail": exc.__class__.__name__}
    if not rows:
        return {"available": False, "reason": "empty"}
    return {
        "available": True,
        "total": len(rows),
        "attained": sum(1 for r in rows if r["attained"] is True),
        "not_attained": sum(1 for r in rows if r["attained"] is False),
        "no_value": sum(1 for r in rows if r["attained"] is None),
        "rows": rows,
    }


# ---------------------------------------------------------------- conformity


def conformity_section(review, today: dt.date) -> dict[str, Any]:
    if not apps.is_installed("pbqms.system"):
        return _not_installed("system")
    from pbqms.orgs.models import Organization
    from pbqms.system import engine
    from pbqms.system.models import ConformityResult
    from pbqms.system.models import ConformityStatus as S

    org = review.org
    end = min(review.period_end, today)
    cells = ConformityResult.objects.filter(
        _in_subtree(org.path), due_on__gte=review.period_start, due_on__lte=end
    )
    # stored "upcoming" cells whose due date has passed count as missing (engine rule)
    per_org: dict[int, Counter] = {}
    for org_id, status, n in (
        cells.order_by()
        .values("org_id", "status")
        .annotate(n=Count("pk"))
        .values_list("org_id", "status", "n")
    ):
        if status == S.UPCOMING:
            status = S.MISSING
        per_org.setdefault(org_id, Counter())[status] += n
    total: Counter = Counter()
    for c in per_org.values():
        total.update(c)
    if not total:
        return {"available": False, "reason": "empty"}

    def rate(counter: Counter) -> float | None:
        due = sum(counter.get(k, 0) for k in (S.MET, S.LATE, S.MISSING))
        if not due:
            return None
        done = counter.get(S.MET, 0) + engine.LATE_WEIGHT * counter.get(S.LATE, 0)
        return round(done / due * 100, 1)

    children = list(
        Organization.objects.filter(path__startswith=org.path, depth=org.depth + 1)
        .filter(Q(dissolved_on__isnull=True) | Q(dissolved_on__gte=review.period_start))
        .order_by("path")
        .values_list("pk", "name", "path")[:LIST_LIMIT]
    )
    paths = dict(Organization.objects.filter(pk__in=per_org).values_list("pk", "path"))
    units = []
    for pk, name, path in children:
        c: Counter = Counter()
        for org_id, counter in per_org.items():
            if paths.get(org_id, "").startswith(path):
                c.update(counter)
        if c:
            units.append({"id": pk, "name": name, "rate": rate(c), "counts": dict(c)})
    own = per_org.get(org.pk)
    return {
        "available": True,
        "rate": rate(total),
        "counts": dict(total),
        "own_rate": rate(own) if own else None,
        "units": units,
    }


# ---------------------------------------------------------------- work plans


def plan_section(review, today: dt.date) -> dict[str, Any]:
    """The annual work plans' tasks of the subtree due in the period (process performance)."""
    if not apps.is_installed("pbqms.plans"):
        return _not_installed("plans")
    try:
        with transaction.atomic():
            Task = apps.get_model("plans", "Task")
            tasks = Task.objects.filter(
                _in_subtree(review.org.path),
                due_on__gte=review.period_start,
                due_on__lte=review.period_end,
            )
            done = Task.Status.DONE
            figures = tasks.aggregate(
                total=Count("pk"),
                done=Count("pk", filter=Q(status=done)),
                on_time=Count("pk", filter=Q(status=done, completed_on__lte=F("due_on"))),
                overdue=Count("pk", filter=~Q(status=done) & Q(due_on__lt=today)),
            )
    except (LookupError, AttributeError, DatabaseError) as exc:
        return {"available": False, "reason": "unusable", "detail": exc.__class__.__name__}
    if not figures["total"]:
        return {"available": False, "reason": "empty"}
    rate = round(figures["done"] / figures["total"] * 100, 1)
    return {"available": True, **figures, "rate": rate}


# ---------------------------------------------------------------- changes


def change_section(review) -> dict[str, Any]:
    org = review.org
    start, end = review.period_start, review.period_end
    out: dict[str, Any] = {"available": True}
    if apps.is_installed("pbqms.documents"):
        from pbqms.documents.models import Document, DocumentVersion

        effective = (
            DocumentVersion.objects.filter(
                _in_subtree(org.path, "document__org__"),
                effective_on__gte=start,
                effective_on__lte=end,
                effective_at__isnull=False,
            )
            .select_related("document")
            .order_by("effective_on", "pk")
        )
        out["documents_effective_total"] = effective.count()
        out["documents_effective"] = [
            {
                "number": v.document.number,
                "title": v.title,
                "version": v.label,
                "date": _iso(v.effective_on),
                "reason": (v.change_reason or "")[:200],
            }
            for v in effective[:LIST_LIMIT]
        ]
        obsolete = Document.objects.filter(
            _in_subtree(org.path), obsoleted_on__gte=start, obsoleted_on__lte=end
        ).order_by("obsoleted_on", "pk")
        out["documents_obsolete_total"] = obsolete.count()
        out["documents_obsolete"] = [
            {"number": d.number, "title": d.title, "date": _iso(d.obsoleted_on)}
            for d in obsolete[:LIST_LIMIT]
        ]
    from pbqms.orgs.models import Organization

    below = Organization.objects.filter(path__startswith=org.path)
    founded = below.filter(founded_on__gte=start, founded_on__lte=end).order_by("founded_on")
    dissolved = below.filter(dissolved_on__gte=start, dissolved_on__lte=end).order_by(
        "dissolved_on"
    )
    out["units_founded"] = [
        {"name": u.name, "date": _iso(u.founded_on)} for u in founded[:LIST_LIMIT]
    ]
    out["units_dissolved"] = [
        {"name": u.name, "date": _iso(u.dissolved_on)} for u in dissolved[:LIST_LIMIT]
    ]
    return out


# ---------------------------------------------------------------- previous review


def previous_section(review, today: dt.date) -> dict[str, Any]:
    from pbqms.reviews.models import ManagementReview, ReviewOutput

    previous = (
        ManagementReview.objects.filter(org=review.org, planned_on__lt=review.planned_on)
        .exclude(pk=review.pk)
        .exclude(status=ManagementReview.Status.PLANNED)
        .order_by("-planned_on", "-pk")
        .first()
    )
    if previous is None:
        return {"available": False, "reason": "none"}
    outputs = list(
        ReviewOutput.objects.filter(review=previous)
        .select_related("owner")
        .order_by("due_on", "pk")
    )
    return {
        "available": True,
        "review": {
            "id": previous.pk,
            "number": previous.number,
            "title": previous.title,
            "held_on": _iso(previous.held_on),
        },
        "by_status": dict(Counter(o.status for o in outputs)),
        "overdue": sum(1 for o in outputs if o.is_overdue(today)),
        "rows": [
            {
                "description": o.description[:300],
                "owner": o.owner.name,
                "due_on": _iso(o.due_on),
                "status": o.status,
                "done_on": _iso(o.done_on),
                "overdue": o.is_overdue(today),
            }
            for o in outputs[:LIST_LIMIT]
        ],
    }


# ---------------------------------------------------------------- all of it


def compile_inputs(review, today: dt.date | None = None) -> dict[str, Any]:
    today = today or timezone.localdate()
    return {
        "format": SNAPSHOT_FORMAT,
        "unit": {"id": review.org_id, "name": review.org.name},
        "period": {"start": _iso(review.period_start), "end": _iso(review.period_end)},
        "compiled_on": _iso(today),
        "audits": audit_section(review),
        "nonconformities": nonconformity_section(review, today),
        "objectives": objective_section(review),
        "conformity": conformity_section(review, today),
        "plans": plan_section(review, today),
        "satisfaction": {"available": False, "reason": "not_built"},
        "changes": change_section(review),
        "previous": previous_section(review, today),
    }
