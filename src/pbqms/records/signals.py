"""Signals of the records area.

``record_submitted`` is sent (``sender=Record``, ``record=<Record>``, ``amendment=<RecordAmendment
or None>``) when a record is submitted and when a submitted record is amended, inside the
transaction that changes it (a receiver's writes commit or roll back with the change), so the
conformity engine can update incrementally."""

from django.dispatch import Signal

record_submitted = Signal()
