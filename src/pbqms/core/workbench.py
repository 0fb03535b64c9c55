"""The workbench (工作台, UI.md): one number per card with a link to the list behind it, and
the items a user must act on — what is due this month, what awaits their signature or
acknowledgement, open nonconformities. Each area contributes only when the user may see
it; every card is one COUNT (or one short list) query, whatever the data size."""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from pbqms.core import roles, scope


def _url(name: str, query: str = "") -> str:
    try:
        return reverse(name) + (f"?{query}" if query else "")
    except NoReverseMatch:
        return ""


def cards(user) -> list[dict]:
    from pbqms.orgs.models import Organization, Person

    out: list[dict] = []
    if scope.has_perm(user, roles.ORG_VIEW):
        out.append(
            {
                "label": _("Active units"),
                "count": Organization.objects.visible_to(user).active().count(),
                "url": _url("orgs:tree"),
                "icon": "sitemap",
            }
        )
    if scope.has_perm(user, roles.PERSON_VIEW):
        out.append(
            {
                "label": _("People"),
                "count": Person.objects.visible_to(user).count(),
                "url": _url("orgs:person_list"),
                "icon": "users",
            }
        )
    if scope.has_perm(user, roles.NC_VIEW):
        from pbqms.improvement.models import Nonconformity

        visible = Nonconformity.objects.visible_to(user, roles.NC_VIEW)
        out.append(
            {
                "label": _("Open nonconformities"),
                "count": visible.open().count(),
                "url": _url("improvement:nc_list"),
                "icon": "alert-triangle",
            }
        )
        overdue = visible.overdue(timezone.localdate()).count()
        out.append(
            {
                "label": _("Overdue nonconformities"),
                "count": overdue,
                "url": _url("improvement:nc_list", "overdue=1"),
                "icon": "clock-exclamation",
                "danger": overdue > 0,
            }
        )
    if scope.has_perm(user, roles.TASK_VIEW):
        from pbqms.plans.models import Task

        tasks = Task.objects.visible_to(user, roles.TASK_VIEW)
        today = timezone.localdate()
        overdue_tasks = tasks.overdue(today).count()
        out.append(
            {
                "label": _("Overdue plan tasks"),
                "count": overdue_tasks,
                "url": _url("plans:task_list", "overdue=1"),
                "icon": "calendar-exclamation",
                "danger": overdue_tasks > 0,
            }
        )
        out.append(
            {
                "label": _("Plan tasks due within 7 days"),
                "count": tasks.due_soon(today).count(),
                "url": _url("plans:calendar"),
                "icon": "calendar-due",
            }
        )
    from pbqms.reviews.models import ReviewOutput

    # output actions of management reviews this user owns (whatever their grants)
    mine = ReviewOutput.objects.open().filter(owner__user_id=user.pk)
    n_mine = mine.count()
    if n_mine:
        late = mine.overdue(timezone.localdate()).exists()
        out.append(
            {
                "label": _("My management review actions"),
                "count": n_mine,
                "url": _url("reviews:list"),
                "icon": "presentation",
                "danger": late,
            }
        )
    return out


def document_tasks(user) -> dict:
    """Counts of the documents waiting for this user: review, approval, acknowledgement."""
    from pbqms.documents.models import Acknowledgement, DocumentVersion, VersionAssignment

    status = DocumentVersion.Status
    pending = VersionAssignment.objects.filter(user_id=user.pk, signed_at__isnull=True)
    counts = {
        "review": pending.filter(
            role="reviewer", document_version__status=status.IN_REVIEW
        ).count(),
        "approve": pending.filter(
            role="approver", document_version__status=status.AWAITING_APPROVAL
        ).count(),
        "acknowledge": Acknowledgement.objects.filter(
            person__user_id=user.pk, done_at__isnull=True, document_version__status=status.EFFECTIVE
        ).count(),
    }
    counts["total"] = sum(counts.values())
    counts["url"] = _url("documents:tasks")
    return counts


def due_this_month(user, limit: int = 10) -> list[dict]:
    if not scope.has_perm(user, roles.CONFORMITY_VIEW):
        return []
    from pbqms.system.models import ConformityStatus
    from pbqms.system.services import due_this_month as due

    items = due(user, limit=limit)
    for item in items:
        item["label"] = ConformityStatus(item["status"]).label
    return items
