"""Notifications: an in-app inbox plus e-mail (ARCHITECTURE.md "Notifications").

Every area calls ``notify``; nothing else writes ``core.Notification``. Reminders are not
hand-entered: they are computed by providers registered in ``pbqms.core.reminders`` and
delivered through this function by ``manage.py send_reminders``."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings
from django.core.mail import send_mass_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from pbqms.core.models import Notification

logger = logging.getLogger(__name__)


def notify(
    recipients: Iterable,
    *,
    subject: str,
    body: str = "",
    url: str = "",
    kind: str = "",
    dedupe_key: str = "",
    email: bool = True,
) -> int:
    """Put a message in each recipient's inbox and e-mail those with an address.

    Inactive users are skipped. With ``dedupe_key`` a recipient who already has a message
    with that key gets nothing new. Returns the number of messages created."""
    users = {u.pk: u for u in recipients if u is not None and getattr(u, "is_active", True)}
    if not users:
        return 0
    subject = str(subject)[:200]
    if dedupe_key:
        existing = set(
            Notification.objects.filter(recipient_id__in=users, dedupe_key=dedupe_key).values_list(
                "recipient_id", flat=True
            )
        )
        users = {pk: u for pk, u in users.items() if pk not in existing}
    created = []
    for user in users.values():
        note = Notification(
            recipient=user,
            subject=subject,
            body=str(body),
            url=url,
            kind=kind,
            dedupe_key=dedupe_key,
        )
        try:
            with transaction.atomic():
                note.save()
        except IntegrityError:  # a concurrent run delivered the same reminder
            continue
        created.append(note)
    if email and created:
        _email(created)
    return len(created)


def _email(notes: list[Notification]) -> None:
    base = getattr(settings, "PBQMS_BASE_URL", "").rstrip("/")
    messages = []
    sent = []
    for note in notes:
        address = getattr(note.recipient, "email", "")
        if not address:
            continue
        text = note.body
        if note.url:
            text = f"{text}\n\n{base}{note.url}".strip()
        messages.append((f"[pbqms] {note.subject}", text, None, [address]))
        sent.append(note.pk)
    if not messages:
        return
    try:
        send_mass_mail(messages, fail_silently=False)
    except Exception:  # the inbox still has it; mail is best effort
        logger.warning("notification e-mail failed for %d messages", len(messages), exc_info=True)
        return
    Notification.objects.filter(pk__in=sent).update(emailed_at=timezone.now())


def unread_count(user) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def mark_read(user, ids: Iterable[int] | None = None) -> int:
    qs = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=list(ids))
    return qs.update(read_at=timezone.now())
