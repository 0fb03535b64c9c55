"""The "change history" tab of every detail page: the change-log entries of one object.

Visible to whoever may see the object itself (the caller checks that); the full log with
security events stays with the audit administrator."""

from __future__ import annotations

from pbqms.core.changelog import object_type_of
from pbqms.core.models import ChangeLogEntry


def history_for(instance, limit: int = 50):
    return list(
        ChangeLogEntry.objects.filter(
            object_type=object_type_of(instance), object_id=str(instance.pk)
        ).order_by("-id")[:limit]
    )
