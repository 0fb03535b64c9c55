"""体系概况 — the quality system of the user's top unit at a glance, for a year: the PDCA
cycle's four phases (from ``pbqms.plans.pdca``) and one card per element of the system
(policy and objectives, processes, documents, obligations, coverage, audits, management
review, improvement), each with its key figure and a link to the page behind it.

Each card is shown only to users who may see that area, is computed through that area's
own scoped querysets, and costs a fixed number of queries whatever the data size."""

from __future__ import annotations

from django.apps import apps
from django.db.models import Count, Q
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

from pbqms.core import roles, scope


def _url(name: str, *args, query: str = "") -> str:
    try:
        return reverse(name, args=args) + (f"?{query}" if query else "")
    except NoReverseMatch:
        return ""


def top_unit(user):
    """The highest unit the user may see (their committee or branch)."""
    from pbqms.orgs.models import Organization

    return Organization.objects.visible_to(user, roles.ORG_VIEW).order_by("depth", "path").first()


def pdca(user, org, year: int) -> dict | None:
    if not apps.is_installed("pbqms.plans") or not scope.has_perm(user, roles.PLAN_VIEW, org):
        return None
    from pbqms.plans import pdca as plans_pdca

    data = plans_pdca.cycle(user, org, year)
    total = data["total"]
    figures = {
        "plan": _("%(done)s of %(all)s tasks done")
        % {"done": total.tasks_done, "all": total.tasks},
        "do": _("%(n)s records submitted") % {"n": total.records},
        "check": (
            _("Conformity rate %(rate)s%%") % {"rate": total.rate_percent}
            if total.rate_percent is not None
            else _("No results yet")
        ),
        "act": _("%(open)s of %(all)s nonconformities open")
        % {"open": total.ncs_open, "all": total.ncs},
    }
    phases = total.phases()
    for phase in phases:
        phase["figure"] = figures[phase["key"]]
    return {"phases": phases, "url": _url("plans:pdca", query=f"org={org.pk}&year={year}")}


def _card(label, value, note, url, icon):
    return {"label": label, "value": value, "note": note, "url": url, "icon": icon}


def cards(user, org, year: int) -> list[dict]:
    out: list[dict] = []
    if apps.is_installed("pbqms.objectives") and scope.has_perm(user, roles.OBJECTIVE_VIEW, org):
        from pbqms.objectives import services as objectives

        rows = objectives.attainment(org, year)
        measured = [r for r in rows if r.attained is not None]
        attained = sum(1 for r in measured if r.attained)
        out.append(
            _card(
                _("Policy and objectives"),
                f"{attained}/{len(rows)}" if rows else "—",
                _("indicators attained") if rows else _("No objectives for this year"),
                _url("objectives:index", query=f"org={org.pk}&year={year}"),
                "target-arrow",
            )
        )
    if apps.is_installed("pbqms.processes") and scope.has_perm(user, roles.PROCESS_VIEW):
        from pbqms.processes.models import Process

        n = Process.objects.visible_to(user, roles.PROCESS_VIEW).filter(is_active=True).count()
        out.append(
            _card(_("Processes"), n, _("in the process map"), _url("processes:map"), "route")
        )
    if scope.has_perm(user, roles.DOC_VIEW):
        from pbqms.documents.models import Document
        from pbqms.system.coverage import visible_documents

        counts = visible_documents(user).aggregate(
            effective=Count("pk", filter=Q(status=Document.Status.EFFECTIVE)),
            review_due=Count(
                "pk",
                filter=Q(status=Document.Status.EFFECTIVE, next_review_on__lte=_today()),
            ),
        )
        note = _("effective")
        if counts["review_due"]:
            note += " · " + _("%(n)s due for periodic review") % {"n": counts["review_due"]}
        out.append(
            _card(
                _("Controlled documents"),
                counts["effective"],
                note,
                _url("documents:list"),
                "files",
            )
        )
    if scope.has_perm(user, roles.OBLIGATION_VIEW):
        from pbqms.system.models import Obligation

        n = Obligation.objects.visible_to(user).filter(is_active=True).count()
        out.append(
            _card(_("Obligations"), n, _("in force"), _url("system:obligation_list"), "repeat")
        )
    if scope.has_perm(user, roles.REQUIREMENT_VIEW):
        from pbqms.system import coverage

        summary = coverage.summary(coverage.matrix(user))
        out.append(
            _card(
                _("Requirement coverage"),
                f"{summary['covered']}/{summary['total']}",
                _("requirements addressed · %(gaps)s gaps") % {"gaps": summary["gaps"]},
                _url("system:coverage"),
                "checklist",
            )
        )
    if apps.is_installed("pbqms.audits") and scope.has_perm(user, roles.AUDIT_VIEW):
        from pbqms.audits.models import Audit

        counts = (
            Audit.objects.visible_to(user, roles.AUDIT_VIEW)
            .filter(programme__year=year)
            .aggregate(all=Count("pk"), closed=Count("pk", filter=Q(status=Audit.Status.CLOSED)))
        )
        out.append(
            _card(
                _("Internal audits"),
                f"{counts['closed']}/{counts['all']}",
                _("audits of the year closed"),
                _url("audits:programme_list"),
                "clipboard-check",
            )
        )
    if scope.has_perm(user, roles.NC_VIEW):
        from pbqms.improvement.models import Nonconformity

        qs = Nonconformity.objects.visible_to(user, roles.NC_VIEW)
        counts = qs.aggregate(
            open=Count("pk", filter=~Q(status__in=Nonconformity.FINISHED)),
            year=Count("pk", filter=Q(raised_on__year=year)),
        )
        out.append(
            _card(
                _("Nonconformities"),
                counts["open"],
                _("open · %(n)s raised this year") % {"n": counts["year"]},
                _url("improvement:nc_list"),
                "alert-triangle",
            )
        )
    if apps.is_installed("pbqms.reviews") and scope.has_perm(user, roles.REVIEW_VIEW):
        from pbqms.reviews.models import ManagementReview

        last = (
            ManagementReview.objects.visible_to(user, roles.REVIEW_VIEW)
            .order_by("-planned_on", "-pk")
            .only("pk", "number", "planned_on", "status")
            .first()
        )
        out.append(
            _card(
                _("Management review"),
                last.number if last else "—",
                (
                    f"{last.planned_on:%Y-%m-%d} · {last.get_status_display()}"
                    if last
                    else _("None yet")
                ),
                _url("reviews:detail", last.pk) if last else _url("reviews:list"),
                "presentation-analytics",
            )
        )
    return out


def _today():
    from django.utils import timezone

    return timezone.localdate()
