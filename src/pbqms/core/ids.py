"""Telling a usable object id from anything else a request may carry.

``str.isdigit`` is not enough: it accepts "²" and "١" (which ``int`` or the database then
refuse) and digits beyond what a 64-bit key can hold (an overflow on SQLite)."""

from __future__ import annotations

import re

MAX_ID = 2**63 - 1
_DIGITS = re.compile(r"[0-9]{1,19}")


def is_id(value) -> bool:
    """True for a positive id (int or ASCII-digit string) a database key can hold."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return 0 < value <= MAX_ID
    return isinstance(value, str) and bool(_DIGITS.fullmatch(value)) and 0 < int(value) <= MAX_ID
