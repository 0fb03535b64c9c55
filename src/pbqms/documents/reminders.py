"""Reminders of the document area, computed daily by ``manage.py send_reminders``:

* ``documents.acknowledgements`` — a person with read-and-acknowledge tasks (学习确认) due
  within a week or overdue gets one message a week listing how many, linking to their tasks;
* ``documents.reviews`` — the document administrators of units whose documents' periodic
  reviews are due within the period or overdue get one message a week, linking to the list.

One message per person and week (not per document): a group-wide document reaches
thousands of people, and a reminder per document a day would drown the inbox."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db.models import Count, Min, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from pbqms.accounts.models import User
from pbqms.core import reminders, roles
from pbqms.core.roles import Role
from pbqms.documents.models import Acknowledgement, Document, DocumentVersion
from pbqms.orgs.models import RoleAssignment

ACK_DUE_SOON_DAYS = 7
REVIEW_DUE_SOON_DAYS = 30


def _week(today: dt.date) -> str:
    year, week, _day = today.isocalendar()
    return f"{year}-W{week:02d}"


@reminders.provider("documents.acknowledgements")
def acknowledgement_reminders(today: dt.date):
    soon = today + dt.timedelta(days=ACK_DUE_SOON_DAYS)
    rows = (
        Acknowledgement.objects.filter(
            done_at__isnull=True,
            due__lte=soon,
            document_version__status=DocumentVersion.Status.EFFECTIVE,
            person__user__is_active=True,
        )
        .values("person__user_id")
        .annotate(
            total=Count("id"),
            overdue=Count("id", filter=Q(due__lt=today)),
            first_due=Min("due"),
        )
        .order_by("person__user_id")
    )
    url = reverse("documents:tasks")
    week = _week(today)
    rows = list(rows)
    users = User.objects.in_bulk([r["person__user_id"] for r in rows])
    for r in rows:
        user = users.get(r["person__user_id"])
        if user is None:
            continue
        params = {"n": r["total"], "overdue": r["overdue"], "due": r["first_due"].isoformat()}
        if r["overdue"]:
            subject = _("%(n)d documents to read and acknowledge (%(overdue)d overdue)") % params
        else:
            subject = _("%(n)d documents to read and acknowledge by %(due)s") % params
        body = (
            _(
                "Please read the documents on your task list and confirm that you have read and "
                "understood them. The earliest is due %(due)s."
            )
            % params
        )
        yield reminders.Reminder(user, subject, body, url, f"documents.ack.{user.pk}.{week}")


def _doc_admin_grants(today: dt.date):
    """(user id, unit path, subtree) of the current grants that administer documents."""
    admin_roles = [r for r in Role.values if roles.DOC_MANAGE in roles.permissions_of(r)]
    return list(
        RoleAssignment.objects.filter(role__in=admin_roles, user__is_active=True)
        .filter(Q(valid_from__isnull=True) | Q(valid_from__lte=today))
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=today))
        .values_list("user_id", "org__path", "include_subtree")
    )


@reminders.provider("documents.reviews")
def review_reminders(today: dt.date):
    limit = today + dt.timedelta(days=REVIEW_DUE_SOON_DAYS)
    per_unit = list(
        Document.objects.filter(status=Document.Status.EFFECTIVE, next_review_on__lte=limit)
        .values("org__path")
        .annotate(total=Count("id"), overdue=Count("id", filter=Q(next_review_on__lt=today)))
        .order_by()
    )
    if not per_unit:
        return
    grants = _doc_admin_grants(today)
    counts: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for unit in per_unit:
        path = unit["org__path"]
        admins = {
            uid
            for uid, gpath, subtree in grants
            if path == gpath or (subtree and path.startswith(gpath))
        }
        for uid in admins:
            counts[uid][0] += unit["total"]
            counts[uid][1] += unit["overdue"]
    url = reverse("documents:reviews")
    week = _week(today)
    users = User.objects.in_bulk(list(counts))
    for uid, (total, overdue) in sorted(counts.items()):
        user = users.get(uid)
        if user is None:
            continue
        params = {"n": total, "overdue": overdue}
        subject = _("%(n)d periodic document reviews due (%(overdue)d overdue)") % params
        body = _(
            "Review whether these documents remain valid, need revision or should be "
            "obsoleted, and record the conclusion."
        )
        yield reminders.Reminder(user, subject, body, url, f"documents.reviews.{uid}.{week}")


def remind_version_laggards(version: DocumentVersion, *, today: dt.date | None = None) -> int:
    """The "remind" button: a message to each person who has not acknowledged the version
    (once per version and day). Returns how many messages were sent."""
    from pbqms.core.notify import notify

    today = today or timezone.localdate()
    document = version.document
    user_ids = Acknowledgement.objects.filter(
        document_version=version, done_at__isnull=True, person__user__is_active=True
    ).values("person__user_id")
    recipients = User.objects.filter(pk__in=user_ids)
    params = {"number": document.number, "title": document.title, "label": version.label}
    return notify(
        recipients.iterator(chunk_size=500),
        subject=_("Please read and acknowledge %(number)s %(title)s") % params,
        body=_(
            "Version %(label)s of %(number)s %(title)s is in force. Please read it and confirm "
            "on its page that you have read and understood it."
        )
        % params,
        url=reverse("documents:detail", args=[document.pk]),
        kind="documents.acknowledgements",
        dedupe_key=f"documents.ack-remind.{version.pk}.{today.isoformat()}",
    )
