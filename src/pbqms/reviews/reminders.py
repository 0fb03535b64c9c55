"""Reminders of management-review output actions (管理评审输出措施): to each open action's
owner, a week before its due date and (weekly) while it is overdue; the chair hears about
overdue ones too."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse
from django.utils.translation import gettext as _

from pbqms.core import reminders
from pbqms.reviews.models import DUE_SOON_DAYS, ReviewOutput


@reminders.provider("reviews.outputs")
def output_reminders(today: dt.date):
    soon = today + dt.timedelta(days=DUE_SOON_DAYS)
    qs = (
        ReviewOutput.objects.open()
        .filter(due_on__lte=soon)
        .select_related("review", "owner__user", "review__chair__user")
        .order_by("due_on", "pk")
    )
    week = today.isocalendar()
    for output in qs:
        url = reverse("reviews:detail", args=[output.review_id]) + "?tab=outputs"
        params = {
            "review": output.review.number,
            "action": str(output)[:60],
            "due": output.due_on.isoformat(),
        }
        owner = output.owner.user
        if output.due_on >= today:
            if owner is not None and owner.is_active:
                yield reminders.Reminder(
                    owner,
                    _("Management review action due %(due)s: %(action)s") % params,
                    _("Output action of management review %(review)s, due %(due)s.") % params,
                    url,
                    f"reviews.output.{output.pk}.soon",
                )
            continue
        key = f"reviews.output.{output.pk}.overdue.{week[0]}-{week[1]}"
        subject = _("Overdue management review action: %(action)s") % params
        body = _("Output action of management review %(review)s was due %(due)s.") % params
        if owner is not None and owner.is_active:
            yield reminders.Reminder(owner, subject, body, url, key)
        chair = output.review.chair.user
        if chair is not None and chair.is_active and chair != owner:
            yield reminders.Reminder(chair, subject, body, url, key + ".chair")
