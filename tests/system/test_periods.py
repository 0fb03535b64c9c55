"""Period arithmetic: frequencies, due dates, units created mid-period and dissolved,
custom intervals, leap years, year ends and the Asia/Shanghai calendar."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pbqms.system import periods as P
from pbqms.system.periods import Period

D = dt.date


@pytest.mark.parametrize(
    ("day", "freq", "expected"),
    [
        (D(2026, 1, 1), P.MONTHLY, Period(D(2026, 1, 1), D(2026, 1, 31))),
        (D(2026, 2, 14), P.MONTHLY, Period(D(2026, 2, 1), D(2026, 2, 28))),
        (D(2028, 2, 29), P.MONTHLY, Period(D(2028, 2, 1), D(2028, 2, 29))),  # leap year
        (D(2026, 12, 31), P.MONTHLY, Period(D(2026, 12, 1), D(2026, 12, 31))),
        (D(2026, 5, 5), P.QUARTERLY, Period(D(2026, 4, 1), D(2026, 6, 30))),
        (D(2026, 12, 31), P.QUARTERLY, Period(D(2026, 10, 1), D(2026, 12, 31))),
        (D(2026, 1, 1), P.QUARTERLY, Period(D(2026, 1, 1), D(2026, 3, 31))),
        (D(2026, 6, 30), P.HALF_YEARLY, Period(D(2026, 1, 1), D(2026, 6, 30))),
        (D(2026, 7, 1), P.HALF_YEARLY, Period(D(2026, 7, 1), D(2026, 12, 31))),
        (D(2026, 7, 1), P.YEARLY, Period(D(2026, 1, 1), D(2026, 12, 31))),
    ],
)
def test_period_containing(day, freq, expected):
    assert P.period_containing(day, freq) == expected


def test_custom_interval_counts_from_the_anchor_month_both_ways():
    anchor = D(2026, 2, 17)  # anchor month February; every 2 months
    assert P.period_containing(D(2026, 2, 1), P.CUSTOM, 2, anchor) == Period(
        D(2026, 2, 1), D(2026, 3, 31)
    )
    assert P.period_containing(D(2026, 4, 30), P.CUSTOM, 2, anchor) == Period(
        D(2026, 4, 1), D(2026, 5, 31)
    )
    # before the anchor: periods continue backwards across the year end
    assert P.period_containing(D(2026, 1, 15), P.CUSTOM, 2, anchor) == Period(
        D(2025, 12, 1), D(2026, 1, 31)
    )
    # every 4 months from November crosses the year end
    assert P.period_containing(D(2027, 1, 3), P.CUSTOM, 4, D(2026, 11, 1)) == Period(
        D(2026, 11, 1), D(2027, 2, 28)
    )
    # 18 months, leap day inside
    p = P.period_containing(D(2028, 2, 29), P.CUSTOM, 18, D(2027, 1, 1))
    assert p == Period(D(2027, 1, 1), D(2028, 6, 30))


@pytest.mark.parametrize("bad", [None, 0, -1])
def test_custom_needs_a_positive_interval(bad):
    with pytest.raises(ValueError):
        P.period_containing(D(2026, 1, 1), P.CUSTOM, bad)


def test_unknown_frequency():
    with pytest.raises(ValueError):
        P.step_months("weekly")


def test_periods_between_cover_the_range_without_gaps():
    ps = list(P.periods_between(D(2025, 11, 15), D(2026, 2, 1), P.MONTHLY))
    assert [p.start for p in ps] == [D(2025, 11, 1), D(2025, 12, 1), D(2026, 1, 1), D(2026, 2, 1)]
    assert len(P.month_periods(2028)) == 12
    assert list(P.periods_between(D(2026, 2, 1), D(2026, 1, 1), P.MONTHLY)) == []
    quarters = list(P.periods_between(D(2026, 1, 1), D(2026, 12, 31), P.QUARTERLY))
    assert [q.end for q in quarters] == [
        D(2026, 3, 31),
        D(2026, 6, 30),
        D(2026, 9, 30),
        D(2026, 12, 31),
    ]


@given(
    st.dates(min_value=D(1990, 1, 1), max_value=D(2100, 12, 31)),
    st.sampled_from([P.MONTHLY, P.QUARTERLY, P.HALF_YEARLY, P.YEARLY, P.CUSTOM]),
    st.integers(min_value=1, max_value=30),
    st.dates(min_value=D(1990, 1, 1), max_value=D(2100, 12, 31)),
)
def test_period_properties(day, freq, interval, anchor):
    p = P.period_containing(day, freq, interval, anchor)
    assert p.contains(day)
    assert p.start.day == 1
    assert (p.end + dt.timedelta(days=1)).day == 1  # ends on a month's last day
    nxt = P.period_containing(p.end + dt.timedelta(days=1), freq, interval, anchor)
    assert nxt.start == p.end + dt.timedelta(days=1)  # contiguous
    months = (nxt.start.year - p.start.year) * 12 + nxt.start.month - p.start.month
    assert months == P.step_months(freq, interval)


def test_due_dates():
    feb = Period(D(2026, 2, 1), D(2026, 2, 28))
    assert feb.due_on(None) == D(2026, 2, 28)
    assert feb.due_on(0) == D(2026, 2, 1)
    assert feb.due_on(24) == D(2026, 2, 25)
    assert feb.due_on(30) == D(2026, 2, 28)  # clamped to the period's end
    leap = Period(D(2028, 2, 1), D(2028, 2, 29))
    assert leap.due_on(40) == D(2028, 2, 29)
    q4 = P.period_containing(D(2026, 11, 1), P.QUARTERLY)
    assert q4.due_on(None) == D(2026, 12, 31)
    assert q4.due_on(60) == D(2026, 11, 30)


def test_local_date_is_the_shanghai_calendar_day():
    sh = ZoneInfo("Asia/Shanghai")
    late_march = dt.datetime(2026, 3, 31, 23, 30, tzinfo=sh)
    assert late_march.astimezone(dt.UTC).date() == D(2026, 3, 31)
    assert P.local_date(late_march.astimezone(dt.UTC)) == D(2026, 3, 31)
    # 2026-04-01 00:30 Shanghai is still 31 March in UTC: it belongs to April
    early_april_utc = dt.datetime(2026, 3, 31, 16, 30, tzinfo=dt.UTC)
    assert P.local_date(early_april_utc) == D(2026, 4, 1)
    assert P.period_containing(P.local_date(early_april_utc), P.MONTHLY).start == D(2026, 4, 1)
    # new year's eve 23:59 Shanghai = 15:59 UTC: still 2026
    nye = dt.datetime(2026, 12, 31, 15, 59, tzinfo=dt.UTC)
    assert P.local_date(nye) == D(2026, 12, 31)
    assert P.local_date(dt.datetime(2026, 12, 31, 16, 0, tzinfo=dt.UTC)) == D(2027, 1, 1)
    assert P.local_date(D(2026, 5, 1)) == D(2026, 5, 1)
    assert P.local_date(dt.datetime(2026, 5, 1, 23, 0)) == D(2026, 5, 1)  # naive = local


class TestApplicability:
    march = Period(D(2026, 3, 1), D(2026, 3, 31))
    due = D(2026, 3, 25)

    def test_existing_unit(self):
        assert P.applies_to_unit(self.march, self.due, None, None)
        assert P.applies_to_unit(self.march, self.due, D(2020, 1, 1), None)

    def test_founded_mid_period(self):
        assert P.applies_to_unit(self.march, self.due, D(2026, 3, 18), None)  # 7 days before
        assert not P.applies_to_unit(self.march, self.due, D(2026, 3, 19), None)
        assert not P.applies_to_unit(self.march, self.due, D(2026, 4, 2), None)

    def test_dissolved(self):
        assert P.applies_to_unit(self.march, self.due, None, D(2026, 3, 25))
        assert not P.applies_to_unit(self.march, self.due, None, D(2026, 3, 24))
        assert not P.applies_to_unit(self.march, self.due, None, D(2026, 1, 1))
        assert P.applies_to_unit(self.march, self.due, None, D(2026, 6, 1))

    def test_founded_across_year_end(self):
        jan = Period(D(2027, 1, 1), D(2027, 1, 31))
        assert P.applies_to_unit(jan, D(2027, 1, 5), D(2026, 12, 29), None)
        assert not P.applies_to_unit(jan, D(2027, 1, 5), D(2026, 12, 30), None)
