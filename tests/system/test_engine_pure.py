"""The engine's pure layer: one cell's status, counting conditions, the summary rate, and
the monotonicity properties of the rate (hypothesis)."""

from __future__ import annotations

import datetime as dt

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pbqms.system import engine as E
from pbqms.system.models import ConformityStatus as S
from pbqms.system.periods import Period

D = dt.date
MARCH = Period(D(2026, 3, 1), D(2026, 3, 31))
DUE = D(2026, 3, 25)
UNIT = E.UnitFacts(1, "0001", "branch")


def rec(day, rid=1, present=(), total=0):
    return E.RecordFacts(day, rid, frozenset(present), total)


APRIL_10 = D(2026, 4, 10)


def cell(records, today=APRIL_10, unit=UNIT, excepted=False):
    return E.compute(unit, MARCH, DUE, [(r, True) for r in records], excepted=excepted, today=today)


def test_on_time_late_missing_upcoming():
    assert cell([rec(D(2026, 3, 25))]).status == S.MET  # on the due date is on time
    assert cell([rec(D(2026, 3, 26))]).status == S.LATE
    assert cell([]).status == S.MISSING
    assert cell([], today=D(2026, 3, 25)).status == S.UPCOMING  # due today: not yet missing
    assert cell([], today=D(2026, 3, 26)).status == S.MISSING
    # a record in the next month does not satisfy March
    assert cell([rec(D(2026, 4, 1))]).status == S.MISSING
    both = cell([rec(D(2026, 3, 28), 2), rec(D(2026, 3, 3), 1)])
    assert both.status == S.MET and both.record_ids == (1, 2)


def test_flagged_records_do_not_count():
    c = E.compute(UNIT, MARCH, DUE, [(rec(D(2026, 3, 5), 7), False)], today=D(2026, 4, 1))
    assert c.status == S.MISSING
    assert c.flagged_ids == (7,) and c.record_ids == ()


def test_exception_covers_gaps_not_met_cells():
    assert cell([], excepted=True).status == S.EXCEPTED
    assert cell([rec(D(2026, 3, 28))], excepted=True).status == S.EXCEPTED
    assert cell([rec(D(2026, 3, 2))], excepted=True).status == S.MET


def test_not_applicable_for_new_and_dissolved_units():
    new = E.UnitFacts(1, "0001", "branch", founded_on=D(2026, 3, 20))
    assert cell([], unit=new).status == S.NOT_APPLICABLE
    gone = E.UnitFacts(1, "0001", "branch", dissolved_on=D(2026, 2, 10))
    assert cell([], unit=gone).status == S.NOT_APPLICABLE
    old = E.UnitFacts(1, "0001", "branch", founded_on=D(2026, 3, 1))
    assert cell([], unit=old).status == S.MISSING


def test_counting_conditions():
    quorum = E.ObligationFacts(1, 1, "monthly", counting="quorum")
    committee = frozenset({1, 2, 3})
    assert E.record_counts(quorum, rec(DUE, present={1, 2}), committee)
    assert not E.record_counts(quorum, rec(DUE, present={1, 9, 8}), committee)
    assert not E.record_counts(quorum, rec(DUE, present={1, 2}), frozenset())
    four = frozenset({1, 2, 3, 4})
    assert not E.record_counts(quorum, rec(DUE, present={1, 2}), four)  # half is not more
    att = E.ObligationFacts(1, 1, "monthly", counting="attendance", min_attendance_ratio=0.8)
    assert E.record_counts(att, rec(DUE, present={1, 2, 3, 4}, total=5))
    assert not E.record_counts(att, rec(DUE, present={1, 2, 3}, total=5))
    assert not E.record_counts(att, rec(DUE, total=0))
    assert E.record_counts(E.ObligationFacts(1, 1, "monthly"), rec(DUE))


def test_applies_to_kinds_chosen_units_and_owner_subtree():
    ob = E.ObligationFacts(1, 1, "monthly", owner_path="0001", kinds=frozenset({"branch"}))
    assert ob.applies_to(E.UnitFacts(5, "00010002", "branch"))
    assert not ob.applies_to(E.UnitFacts(5, "00010002", "group"))
    assert not ob.applies_to(E.UnitFacts(5, "00020002", "branch"))  # outside the owner
    chosen = E.ObligationFacts(1, 1, "monthly", owner_path="0001", org_ids=frozenset({9}))
    assert chosen.applies_to(E.UnitFacts(9, "00010003", "group"))


def test_obligation_periods_respect_active_range():
    ob = E.ObligationFacts(
        1, 1, "monthly", due_offset_days=24, active_from=D(2026, 3, 20), active_to=D(2026, 6, 5)
    )
    starts = [p.start.month for p, _ in ob.periods(D(2026, 1, 1), D(2026, 12, 31))]
    assert starts == [3, 4, 5, 6]
    late_start = E.ObligationFacts(1, 1, "monthly", due_offset_days=24, active_from=D(2026, 3, 26))
    assert [p.start.month for p, _ in late_start.periods(D(2026, 3, 1), D(2026, 4, 30))] == [4]
    assert E.ObligationFacts(1, 1, "monthly", is_active=False).periods(MARCH.start, MARCH.end) == []


def test_rate():
    assert E.rate([]) is None
    assert E.rate([S.UPCOMING, S.NOT_APPLICABLE, S.EXCEPTED]) is None
    assert E.rate([S.MET, S.MISSING]) == 0.5
    assert E.rate([S.MET, S.LATE, S.MISSING, S.EXCEPTED, S.UPCOMING]) == 0.5
    assert E.rate([S.LATE]) == E.LATE_WEIGHT


def test_effective_status():
    assert E.effective_status(S.UPCOMING, D(2026, 3, 25), D(2026, 3, 26)) == S.MISSING
    assert E.effective_status(S.UPCOMING, D(2026, 3, 25), D(2026, 3, 25)) == S.UPCOMING
    assert E.effective_status(S.MET, D(2026, 3, 25), D(2027, 1, 1)) == S.MET


# ---------------------------------------------------------------- properties

YEAR = [
    Period(D(2026, m, 1), (D(2026, m + 1, 1) if m < 12 else D(2027, 1, 1)) - dt.timedelta(1))
    for m in range(1, 13)
]
days = st.dates(min_value=D(2025, 12, 1), max_value=D(2027, 1, 31))
record_sets = st.lists(st.tuples(days, st.booleans()), max_size=25)
units = st.builds(
    E.UnitFacts,
    st.just(1),
    st.just("0001"),
    st.just("branch"),
    st.one_of(st.none(), st.dates(min_value=D(2025, 6, 1), max_value=D(2026, 12, 31))),
    st.one_of(st.none(), st.dates(min_value=D(2026, 1, 1), max_value=D(2027, 6, 1))),
)


def unit_rate(unit, facts, offset, today, excepted_months):
    # records describe what took place: none is dated after today
    facts = [f for f in facts if f[0] <= today]
    statuses = []
    for i, period in enumerate(YEAR):
        due = period.due_on(offset)
        pairs = [(E.RecordFacts(day, n), counts) for n, (day, counts) in enumerate(facts)]
        c = E.compute(unit, period, due, pairs, excepted=(i + 1) in excepted_months, today=today)
        statuses.append(c.status)
    return E.rate(statuses)


@settings(max_examples=300, deadline=None)
@given(
    units,
    record_sets,
    st.tuples(days, st.booleans()),
    st.one_of(st.none(), st.integers(0, 40)),
    st.dates(min_value=D(2026, 1, 1), max_value=D(2027, 2, 1)),
    st.sets(st.integers(1, 12), max_size=4),
)
def test_adding_a_record_never_lowers_and_removing_never_raises_the_rate(
    unit, facts, extra, offset, today, excepted
):
    assume(extra[0] <= today)
    before = unit_rate(unit, facts, offset, today, excepted)
    after = unit_rate(unit, [*facts, extra], offset, today, excepted)
    if before is not None and after is not None:
        assert after >= before - 1e-12
    # removing it again gives back the rate before (never higher)
    assert unit_rate(unit, facts, offset, today, excepted) == before
    if before is None:
        assert after is None or after >= 0


def test_aggregate_status_of_a_board_cell():
    from pbqms.system.services import aggregate_status

    assert aggregate_status([S.MET, S.MET, S.NOT_APPLICABLE]) == S.MET
    assert aggregate_status([S.MET, S.LATE]) == S.LATE
    assert aggregate_status([S.MET, S.MISSING]) == S.LATE  # half done
    assert aggregate_status([S.MET, S.MISSING, S.MISSING]) == S.MISSING
    assert aggregate_status([S.UPCOMING, S.EXCEPTED]) == S.UPCOMING
    assert aggregate_status([S.EXCEPTED, S.NOT_APPLICABLE]) == S.EXCEPTED
    assert aggregate_status([S.NOT_APPLICABLE]) == S.NOT_APPLICABLE
