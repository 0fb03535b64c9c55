"""The cross-audit assignment (交叉互审) as a pure function: examples and properties."""

from __future__ import annotations

import datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pbqms.audits import assignment as A

DAY = datetime.date(2026, 6, 1)
VALID = ((datetime.date(2025, 1, 1), datetime.date(2027, 12, 31)),)
EXPIRED = ((datetime.date(2020, 1, 1), datetime.date(2026, 5, 31)),)


def _tree():
    # 1 root → 2 (A) → 3 (A1) → 4 (A1G1); 2 → 5 (A2); 1 → 6 (B) → 7 (B1)
    return [
        A.Unit(1, None),
        A.Unit(2, 1),
        A.Unit(3, 2),
        A.Unit(4, 3),
        A.Unit(5, 2),
        A.Unit(6, 1),
        A.Unit(7, 6),
    ]


def test_independence_excludes_own_ancestor_descendant_and_explains():
    units = _tree()
    auditors = [
        A.Auditor(10, 3, VALID),  # own unit
        A.Auditor(11, 2, VALID),  # A: above A1 (descendant conflict)
        A.Auditor(12, 4, VALID),  # group below A1 (ancestor conflict)
        A.Auditor(13, 7, VALID),  # B1: independent
        A.Auditor(14, 5, VALID),  # A2: independent (sibling)
        A.Auditor(15, 6, EXPIRED),  # B: expired
        A.Auditor(16, 1, VALID),  # root: above everything
    ]
    proposal = A.propose(units, auditors, [A.AuditSlot(100, (3,), DAY)], team_size=2)
    ap = proposal.audits[100]
    assert ap.auditor_ids == [13, 14]
    assert ap.lead_id == 13
    assert ap.excluded[A.OWN_UNIT] == [10]
    assert ap.excluded[A.DESCENDANT] == [11, 16]
    assert ap.excluded[A.ANCESTOR] == [12]
    assert ap.excluded[A.NOT_QUALIFIED] == [15]
    assert ap.shortfall is None


def test_workload_balanced_and_deterministic():
    units = [A.Unit(1, None), *[A.Unit(i, 1) for i in range(2, 8)]]
    auditors = [A.Auditor(100 + i, i, VALID) for i in range(2, 8)]
    audits = [A.AuditSlot(i, (i,), DAY) for i in range(2, 8)]
    p1 = A.propose(units, auditors, audits, team_size=2, no_reciprocal=False)
    p2 = A.propose(units, list(reversed(auditors)), audits, team_size=2, no_reciprocal=False)
    assert p1.teams() == p2.teams()
    assert max(p1.load.values()) - min(p1.load.values()) <= 1
    assert sum(p1.load.values()) == 12


def test_no_reciprocal_audits_in_a_round():
    units = [A.Unit(1, None), A.Unit(2, 1), A.Unit(3, 1)]
    auditors = [A.Auditor(20, 2, VALID), A.Auditor(30, 3, VALID)]
    audits = [A.AuditSlot(1, (3,), DAY), A.AuditSlot(2, (2,), DAY)]
    strict = A.propose(units, auditors, audits, team_size=1, no_reciprocal=True)
    # unit 2 audits unit 3, so unit 3 may not audit unit 2
    assert strict.audits[1].auditor_ids == [20]
    assert strict.audits[2].auditor_ids == []
    assert strict.audits[2].shortfall == A.NO_ELIGIBLE
    assert strict.audits[2].excluded[A.RECIPROCAL] == [30]
    relaxed = A.propose(units, auditors, audits, team_size=1, no_reciprocal=False)
    assert relaxed.audits[2].auditor_ids == [30]


def test_too_few_and_no_units_reported():
    units = [A.Unit(1, None), A.Unit(2, 1), A.Unit(3, 1)]
    auditors = [A.Auditor(20, 2, VALID)]
    proposal = A.propose(
        units, auditors, [A.AuditSlot(1, (3,), DAY), A.AuditSlot(2, (), DAY)], team_size=2
    )
    assert proposal.audits[1].auditor_ids == [20]
    assert proposal.audits[1].shortfall == A.TOO_FEW
    assert proposal.audits[2].shortfall == A.NO_UNITS
    assert proposal.unstaffed == {1: A.TOO_FEW, 2: A.NO_UNITS}


def test_max_load():
    units = [A.Unit(1, None), A.Unit(2, 1), A.Unit(3, 1), A.Unit(4, 1)]
    auditors = [A.Auditor(20, 2, VALID)]
    proposal = A.propose(
        units,
        auditors,
        [A.AuditSlot(1, (3,), DAY), A.AuditSlot(2, (4,), DAY)],
        team_size=1,
        max_load=1,
    )
    assert proposal.load[20] == 1
    assert [a.shortfall for a in proposal.audits.values()].count(A.NO_ELIGIBLE) == 1


def test_check_team_names_the_conflict():
    units = _tree()
    slot = A.AuditSlot(1, (3,), DAY)
    problems = A.check_team(
        units,
        [A.Auditor(11, 2, VALID), A.Auditor(13, 7, VALID), A.Auditor(15, 6, EXPIRED)],
        slot,
        other_pairs={(3, 7)},
    )
    assert (11, A.DESCENDANT, 3) in problems
    assert (15, A.NOT_QUALIFIED, None) in problems
    assert (13, A.RECIPROCAL, 3) in problems


def test_team_size_must_be_positive():
    import pytest

    with pytest.raises(ValueError):
        A.propose([], [], [], team_size=0)


# --- properties ------------------------------------------------------------------------


@st.composite
def scenarios(draw, plentiful=False):
    n = draw(st.integers(min_value=2, max_value=40))
    units = [A.Unit(1, None)]
    for i in range(2, n + 1):
        units.append(A.Unit(i, draw(st.integers(min_value=1, max_value=i - 1))))
    n_auditors = draw(st.integers(min_value=0, max_value=30))
    auditors = []
    for k in range(n_auditors):
        home = draw(st.integers(min_value=1, max_value=n))
        start = datetime.date(2026, 1, 1) + datetime.timedelta(days=draw(st.integers(-400, 300)))
        end = start + datetime.timedelta(days=draw(st.integers(0, 900)))
        auditors.append(A.Auditor(1000 + k, home, ((start, end),)))
    audited = draw(st.lists(st.integers(min_value=2, max_value=n), unique=True, max_size=n))
    audits = [
        A.AuditSlot(
            500 + j,
            (u,),
            datetime.date(2026, 1, 1) + datetime.timedelta(days=draw(st.integers(0, 364))),
        )
        for j, u in enumerate(audited)
    ]
    team_size = draw(st.integers(min_value=1, max_value=3))
    no_reciprocal = draw(st.booleans())
    return units, auditors, audits, team_size, no_reciprocal


def _related(tree, a, b):
    return a in tree.ancestors_or_self(b) or b in tree.ancestors_or_self(a)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_property_independent_qualified_and_deterministic(scenario):
    units, auditors, audits, team_size, no_reciprocal = scenario
    proposal = A.propose(units, auditors, audits, team_size=team_size, no_reciprocal=no_reciprocal)
    tree = A.Tree(units)
    by_id = {a.id: a for a in auditors}
    pairs = set()
    for slot in audits:
        chosen = proposal.audits[slot.id].auditor_ids
        assert len(chosen) <= team_size
        assert len(set(chosen)) == len(chosen)
        for aid in chosen:
            auditor = by_id[aid]
            assert auditor.qualified_on(slot.on), "expired or not yet valid auditor chosen"
            for unit in slot.unit_ids:
                assert not _related(tree, auditor.home_unit_id, unit), (
                    "auditor assigned to own unit, an ancestor or a descendant"
                )
                pairs.add((auditor.home_unit_id, unit))
    if no_reciprocal:
        for home, unit in pairs:
            assert (unit, home) not in pairs, "two units audit each other in one round"
    again = A.propose(
        units, list(reversed(auditors)), audits, team_size=team_size, no_reciprocal=no_reciprocal
    )
    assert again.teams() == proposal.teams()
    # every auditor not chosen is accounted for with a reason
    for slot in audits:
        ap = proposal.audits[slot.id]
        explained = set(ap.auditor_ids) | {i for ids in ap.excluded.values() for i in ids}
        if slot.unit_ids:
            assert explained == set(by_id)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.integers(min_value=0, max_value=3))
def test_property_plentiful_auditors_cover_every_audit(scenario, spare):
    """With enough qualified auditors outside each audited unit's line, every audit is fully
    staffed (with and without the reciprocity rule: the pool's units are audited by nobody)."""
    units, auditors, audits, team_size, no_reciprocal = scenario
    # a separate unit under the root for each auditor of a pool of ``team_size + spare``,
    # each always qualified: independent of every audited unit (never the root); the random
    # pool stays in too, so the proposal must also step around its conflicts
    wide = ((datetime.date(2000, 1, 1), datetime.date(2100, 1, 1)),)
    extra_units = [A.Unit(10_000 + k, 1) for k in range(team_size + spare)]
    pool = [A.Auditor(20_000 + k, 10_000 + k, wide) for k in range(team_size + spare)]
    proposal = A.propose(
        units + extra_units,
        auditors + pool,
        audits,
        team_size=team_size,
        no_reciprocal=no_reciprocal,
    )
    for slot in audits:
        assert len(proposal.audits[slot.id].auditor_ids) == team_size
        assert proposal.audits[slot.id].shortfall is None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_property_exclusion_reasons_match_the_rules(scenario):
    """The reasons given for the auditors left out (computed from the units' side for speed)
    are those of ``independence_conflict`` and ``qualified_on`` for each auditor."""
    units, auditors, audits, team_size, no_reciprocal = scenario
    proposal = A.propose(units, auditors, audits, team_size=team_size, no_reciprocal=no_reciprocal)
    tree = A.Tree(units)
    by_id = {a.id: a for a in auditors}
    static = {A.NOT_QUALIFIED, A.OWN_UNIT, A.ANCESTOR, A.DESCENDANT}
    for slot in audits:
        if not slot.unit_ids:
            continue
        for reason, ids in proposal.audits[slot.id].excluded.items():
            for aid in ids:
                auditor = by_id[aid]
                if not auditor.qualified_on(slot.on):
                    expected = A.NOT_QUALIFIED
                else:
                    conflict = A.independence_conflict(tree, auditor.home_unit_id, slot.unit_ids)
                    expected = conflict[0] if conflict else None
                if reason in static:
                    assert reason == expected
                else:
                    assert expected is None
