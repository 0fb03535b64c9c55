"""Period arithmetic for obligations (pure functions over dates; no database).

Frequencies are calendar-aligned in Asia/Shanghai (the project's TIME_ZONE):

- monthly: each calendar month; quarterly: Jan–Mar, Apr–Jun, …; half-yearly: Jan–Jun and
  Jul–Dec; yearly: the calendar year;
- custom: every ``interval_months`` months counted from ``anchor`` (the first day of the
  anchor's month), forwards and backwards.

A period is ``[start, end]`` with both ends inclusive local dates. Its due date is
``start + due_offset_days`` (offset 0 = the first day), or the period's last day when the
offset is ``None``; a due date never lies after the period's end (it is clamped), so
every period has an on-time part and possibly a late part.

Applicability of a period to a unit (``applies_to_unit``):

- a unit founded during a period owes that period only if it existed at least
  ``MIN_EXISTENCE_DAYS`` (7) days before the due date (``founded_on <= due - 7``); a
  unit founded on the 28th does not owe a meeting due on the 31st;
- a dissolved unit owes no period that starts after its dissolution date; it still owes a
  period whose due date is on or before its dissolution (it existed for the whole on-time
  part); a period in which it was dissolved before the due date is not applicable.
  In short: applicable iff ``founded_on <= due - 7`` and ``dissolved_on >= due``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings

MONTHLY = "monthly"
QUARTERLY = "quarterly"
HALF_YEARLY = "half_yearly"
YEARLY = "yearly"
CUSTOM = "custom"

MONTHS = {MONTHLY: 1, QUARTERLY: 3, HALF_YEARLY: 6, YEARLY: 12}
MIN_EXISTENCE_DAYS = 7
DEFAULT_ANCHOR = dt.date(2000, 1, 1)


@dataclass(frozen=True, order=True)
class Period:
    start: dt.date
    end: dt.date  # inclusive

    def contains(self, day: dt.date) -> bool:
        return self.start <= day <= self.end

    def due_on(self, due_offset_days: int | None) -> dt.date:
        if due_offset_days is None:
            return self.end
        due = self.start + dt.timedelta(days=max(0, due_offset_days))
        return min(due, self.end)


def tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def local_date(moment: dt.datetime | dt.date) -> dt.date:
    """The Shanghai calendar date of an aware datetime (a naive one is taken as local)."""
    if isinstance(moment, dt.datetime):
        if moment.tzinfo is None:
            return moment.date()
        return moment.astimezone(tz()).date()
    return moment


def _month_index(day: dt.date) -> int:
    return day.year * 12 + (day.month - 1)


def _from_index(index: int) -> dt.date:
    return dt.date(index // 12, index % 12 + 1, 1)


def step_months(frequency: str, interval_months: int | None = None) -> int:
    if frequency == CUSTOM:
        if not interval_months or interval_months < 1:
            raise ValueError("a custom frequency needs interval_months >= 1")
        return interval_months
    try:
        return MONTHS[frequency]
    except KeyError:
        raise ValueError(f"unknown frequency {frequency!r}") from None


def _base_index(frequency: str, anchor: dt.date | None) -> int:
    if frequency == CUSTOM:
        return _month_index(anchor or DEFAULT_ANCHOR)
    return _month_index(DEFAULT_ANCHOR)  # January: calendar-aligned quarters/halves/years


def _period_at(first_index: int, step: int) -> Period:
    start = _from_index(first_index)
    end = _from_index(first_index + step) - dt.timedelta(days=1)
    return Period(start, end)


def period_containing(
    day: dt.date, frequency: str, interval_months: int | None = None, anchor: dt.date | None = None
) -> Period:
    step = step_months(frequency, interval_months)
    base = _base_index(frequency, anchor)
    offset = (_month_index(day) - base) // step  # floor division: works before the anchor too
    return _period_at(base + offset * step, step)


def periods_between(
    start: dt.date,
    end: dt.date,
    frequency: str,
    interval_months: int | None = None,
    anchor: dt.date | None = None,
) -> Iterator[Period]:
    """Every period that overlaps ``[start, end]``, in order."""
    if end < start:
        return
    step = step_months(frequency, interval_months)
    period = period_containing(start, frequency, interval_months, anchor)
    index = _month_index(period.start)
    while True:
        period = _period_at(index, step)
        if period.start > end:
            return
        yield period
        index += step


def applies_to_unit(
    period: Period,
    due_on: dt.date,
    founded_on: dt.date | None,
    dissolved_on: dt.date | None,
) -> bool:
    """Does a unit with these dates owe this period? (rule in the module docstring)"""
    if founded_on is not None and founded_on > due_on - dt.timedelta(days=MIN_EXISTENCE_DAYS):
        return False
    return not (dissolved_on is not None and dissolved_on < due_on)


def month_periods(year: int) -> list[Period]:
    return list(periods_between(dt.date(year, 1, 1), dt.date(year, 12, 31), MONTHLY))
