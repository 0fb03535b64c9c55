"""Configurable, gap-free numbering (ARCHITECTURE.md "Numbering").

``next_number("orgs.organization")`` locks the sequence row, increments it and formats the
pattern (default from ``settings.PBQMS_NUMBERING_DEFAULTS``; editable per installation).
It runs inside the caller's transaction: if that rolls back, so does the number, so numbers
have no gaps; they are never decremented, so they are never reused.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone


def format_number(pattern: str, seq: int, **ctx: Any) -> str:
    return pattern.format(seq=seq, year=ctx.pop("year", timezone.localdate().year), **ctx)


def next_number(key: str, *, pattern: str | None = None, **ctx: Any) -> str:
    from pbqms.core.models import NumberSequence

    default_pattern = pattern or settings.PBQMS_NUMBERING_DEFAULTS.get(key, key + "-{seq:04d}")
    with transaction.atomic():
        NumberSequence.objects.get_or_create(key=key, defaults={"pattern": default_pattern})
        seq = NumberSequence.objects.select_for_update().get(key=key)
        seq.last_value += 1
        seq.save(update_fields=["last_value"])
        return format_number(seq.pattern, seq.last_value, **ctx)
