"""Signals of the records area.

``record_submitted`` is sent (``sender=Record``, ``record=<Record>``, ``amendment=<RecordAmendment
or None>``) after a record is submitted and after each amendment of a submitted record, once
the transaction commits, so the conformity engine can update incrementally."""

from django.dispatch import Signal

record_submitted = Signal()
