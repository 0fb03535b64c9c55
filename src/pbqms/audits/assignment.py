"""Cross-audit assignment (交叉互审): a pure function over plain data, no database.

``propose(units, auditors, audits, team_size=2, no_reciprocal=True)`` staffs each audit with
qualified auditors so that

* no auditor audits their own unit, one of its ancestors or one of its descendants
  (independence: an auditor never judges the line they belong to);
* an auditor is qualified (a qualification covers the audit's date) — expired or not yet
  valid auditors are never chosen;
* if ``no_reciprocal``: when someone from unit X audits unit Y in this round, nobody from Y
  audits X in the same round;
* workload is balanced: audits are staffed most-constrained first (fewest eligible
  auditors), each seat going to the eligible auditor with the fewest assignments so far;
  ties go to the lower auditor id, so the same input always gives the same proposal.

The result explains itself: per audit, why each chosen auditor was chosen and, grouped by
reason, why every other auditor was not; audits that could not be (fully) staffed are listed
with the reason. ``check_team`` gives the same verdict for a hand-made team.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

# reasons an auditor is not eligible for an audit (stable codes; ``describe`` words them)
OWN_UNIT = "own_unit"
ANCESTOR = "ancestor"  # the audited unit is above the auditor's home unit
DESCENDANT = "descendant"  # the audited unit is below the auditor's home unit
NOT_QUALIFIED = "not_qualified"  # no qualification covers the audit's date
RECIPROCAL = "reciprocal"  # the audited unit already audits the auditor's unit this round
LOAD_LIMIT = "load_limit"  # the auditor already has the maximum number of audits
NOT_NEEDED = "not_needed"  # eligible, but others had fewer assignments (or lower id)

# reasons an audit is short of auditors
NO_ELIGIBLE = "no_eligible"
TOO_FEW = "too_few"
NO_UNITS = "no_units"


@dataclass(frozen=True)
class Unit:
    id: int
    parent_id: int | None


@dataclass(frozen=True)
class Auditor:
    id: int
    home_unit_id: int
    # (valid_from, valid_until) intervals; an auditor is qualified on a date iff one covers it
    qualifications: tuple[tuple[datetime.date, datetime.date], ...] = ()
    name: str = ""

    def qualified_on(self, day: datetime.date) -> bool:
        return any(start <= day <= end for start, end in self.qualifications)


@dataclass(frozen=True)
class AuditSlot:
    id: int
    unit_ids: tuple[int, ...]
    on: datetime.date


@dataclass
class AuditProposal:
    audit_id: int
    auditor_ids: list[int] = field(default_factory=list)  # the first one leads
    # chosen auditor id → its load (assignments) before this one
    chosen_load: dict[int, int] = field(default_factory=dict)
    # reason code → auditor ids (sorted), plus for reciprocal/ancestor the unit involved
    excluded: dict[str, list[int]] = field(default_factory=dict)
    shortfall: str | None = None  # NO_ELIGIBLE / TOO_FEW / NO_UNITS, None when fully staffed

    @property
    def lead_id(self) -> int | None:
        return self.auditor_ids[0] if self.auditor_ids else None


@dataclass
class Proposal:
    audits: dict[int, AuditProposal]
    load: dict[int, int]  # auditor id → assignments in this proposal
    team_size: int

    @property
    def unstaffed(self) -> dict[int, str]:
        return {a.audit_id: a.shortfall for a in self.audits.values() if a.shortfall}

    def teams(self) -> dict[int, list[int]]:
        return {a.audit_id: list(a.auditor_ids) for a in self.audits.values()}


class Tree:
    """Ancestor sets of the units (computed once; depth is small)."""

    def __init__(self, units: Iterable[Unit]):
        self.parent = {u.id: u.parent_id for u in units}
        self._up: dict[int, frozenset[int]] = {}

    def ancestors_or_self(self, unit_id: int) -> frozenset[int]:
        found = self._up.get(unit_id)
        if found is not None:
            return found
        chain = []
        current: int | None = unit_id
        seen: set[int] = set()
        while current is not None and current not in seen:
            seen.add(current)
            cached = self._up.get(current)
            if cached is not None:
                base = cached
                break
            chain.append(current)
            current = self.parent.get(current)
        else:
            base = frozenset()
        for node in reversed(chain):
            base = base | {node}
            self._up[node] = base
        return self._up[unit_id]


def independence_conflict(tree: Tree, home_unit_id: int, unit_ids: Iterable[int]):
    """``(reason, unit_id)`` of the first independence conflict between an auditor's home
    unit and the audited units, or ``None``."""
    home_up = tree.ancestors_or_self(home_unit_id)
    for unit_id in unit_ids:
        if unit_id == home_unit_id:
            return OWN_UNIT, unit_id
        if unit_id in home_up:
            return ANCESTOR, unit_id
        if home_unit_id in tree.ancestors_or_self(unit_id):
            return DESCENDANT, unit_id
    return None


def _exclusion(
    tree, auditor: Auditor, slot: AuditSlot, pairs, no_reciprocal, load, max_load, qualified=None
):
    if qualified is not None:
        if auditor.id not in qualified[slot.on]:
            return NOT_QUALIFIED
    elif not auditor.qualified_on(slot.on):
        return NOT_QUALIFIED
    conflict = independence_conflict(tree, auditor.home_unit_id, slot.unit_ids)
    if conflict:
        return conflict[0]
    if no_reciprocal and any(pairs.get((u, auditor.home_unit_id)) for u in slot.unit_ids):
        return RECIPROCAL
    if max_load is not None and load[auditor.id] >= max_load:
        return LOAD_LIMIT
    return None


def propose(
    units: Iterable[Unit],
    auditors: Sequence[Auditor],
    audits: Sequence[AuditSlot],
    *,
    team_size: int = 2,
    no_reciprocal: bool = True,
    max_load: int | None = None,
    existing_pairs: Iterable[tuple[int, int]] = (),
    existing_load: dict[int, int] | None = None,
) -> Proposal:
    """``existing_pairs`` are the (auditor's home unit, audited unit) pairs of audits of the
    round that are already staffed (the reciprocity rule counts them); ``existing_load``
    their assignments per auditor (the balance counts them)."""
    if team_size < 1:
        raise ValueError("team_size must be at least 1")
    tree = Tree(units)
    pool = sorted(auditors, key=lambda a: a.id)
    load = {a.id: (existing_load or {}).get(a.id, 0) for a in pool}
    # (auditor's home unit, audited unit) → how many seats of this round make that pair
    pairs: dict[tuple[int, int], int] = {}
    for key in existing_pairs:
        pairs[key] = pairs.get(key, 0) + 1

    # static eligibility (qualification + independence) is computed once per audit; it also
    # decides the order: most constrained audits first, so scarce auditors go where nobody
    # else can
    # who is qualified on each audit date (a round has far fewer dates than audits)
    qualified = {day: {a.id for a in pool if a.qualified_on(day)} for day in {s.on for s in audits}}
    # independence looked up from the unit's side (the same answers as
    # ``independence_conflict``, without testing every auditor against every audit): the
    # auditors whose home is the unit or below it, and those whose home is above it
    below: dict[int, list[Auditor]] = {}
    at_home: dict[int, list[Auditor]] = {}
    for auditor in pool:
        at_home.setdefault(auditor.home_unit_id, []).append(auditor)
        for unit_id in tree.ancestors_or_self(auditor.home_unit_id):
            below.setdefault(unit_id, []).append(auditor)
    static: dict[int, tuple[list[Auditor], dict[str, list[int]]]] = {}
    for slot in audits:
        ok: list[Auditor] = []
        out: dict[str, list[int]] = {}
        on_day = qualified[slot.on]
        conflict: dict[int, str] = {}
        for unit_id in slot.unit_ids:  # the first conflicting unit gives the reason
            for auditor in below.get(unit_id, ()):
                if auditor.id not in conflict:
                    own = auditor.home_unit_id == unit_id
                    conflict[auditor.id] = OWN_UNIT if own else ANCESTOR
            for above in tree.ancestors_or_self(unit_id):
                if above != unit_id:
                    for auditor in at_home.get(above, ()):
                        conflict.setdefault(auditor.id, DESCENDANT)
        for auditor in pool:
            if auditor.id not in on_day:
                out.setdefault(NOT_QUALIFIED, []).append(auditor.id)
            elif auditor.id in conflict:
                out.setdefault(conflict[auditor.id], []).append(auditor.id)
            else:
                ok.append(auditor)
        static[slot.id] = (ok, out)
    order = sorted(audits, key=lambda s: (len(static[s.id][0]), s.id))

    result: dict[int, AuditProposal] = {}
    for slot in order:
        proposal = AuditProposal(audit_id=slot.id)
        result[slot.id] = proposal
        if not slot.unit_ids:
            proposal.shortfall = NO_UNITS
            continue
        candidates, fixed = static[slot.id]
        excluded: dict[str, list[int]] = {k: list(v) for k, v in fixed.items()}
        eligible: list[Auditor] = []
        single = slot.unit_ids[0] if len(slot.unit_ids) == 1 else None
        for auditor in candidates:
            if no_reciprocal and (
                pairs.get((single, auditor.home_unit_id))
                if single is not None
                else any(pairs.get((u, auditor.home_unit_id)) for u in slot.unit_ids)
            ):
                excluded.setdefault(RECIPROCAL, []).append(auditor.id)
            elif max_load is not None and load[auditor.id] >= max_load:
                excluded.setdefault(LOAD_LIMIT, []).append(auditor.id)
            else:
                eligible.append(auditor)
        eligible.sort(key=lambda a: (load[a.id], a.id))
        chosen: list[Auditor] = []
        for auditor in eligible:
            if len(chosen) == team_size:
                excluded.setdefault(NOT_NEEDED, []).append(auditor.id)
                continue
            chosen.append(auditor)
        for auditor in chosen:
            proposal.auditor_ids.append(auditor.id)
            proposal.chosen_load[auditor.id] = load[auditor.id]
            load[auditor.id] += 1
            for unit_id in slot.unit_ids:
                key = (auditor.home_unit_id, unit_id)
                pairs[key] = pairs.get(key, 0) + 1
        for ids in excluded.values():
            ids.sort()
        proposal.excluded = excluded
        if not chosen:
            proposal.shortfall = NO_ELIGIBLE
        elif len(chosen) < team_size:
            proposal.shortfall = TOO_FEW
    _rebalance(tree, pool, order, result, load, pairs, no_reciprocal, max_load, qualified)
    ordered = {slot.id: result[slot.id] for slot in audits}
    return Proposal(audits=ordered, load=load, team_size=team_size)


def _rebalance(
    tree, pool, order, result, load, pairs, no_reciprocal, max_load, qualified=None, passes=5
):
    """Greedy staffing can leave one auditor with two more audits than another who was
    eligible for one of them; swap such seats (the busier auditor out, the idler in) until
    no swap helps. Swaps keep every rule: the newcomer is checked like any candidate."""
    by_id = {a.id: a for a in pool}
    pair_count = pairs
    for _ in range(passes):
        swapped = False
        for slot in order:
            proposal = result[slot.id]
            if not proposal.auditor_ids or not load:
                continue
            low = min(load.values())
            for index, out_id in enumerate(list(proposal.auditor_ids)):
                if load[out_id] - low < 2:
                    continue
                out = by_id[out_id]
                # take the outgoing auditor's pairs away while checking the newcomer
                for unit_id in slot.unit_ids:
                    pair_count[(out.home_unit_id, unit_id)] -= 1
                best = None
                for cand in pool:
                    if cand.id in proposal.auditor_ids or load[cand.id] > load[out_id] - 2:
                        continue
                    if _exclusion(
                        tree, cand, slot, pair_count, no_reciprocal, load, max_load, qualified
                    ):
                        continue
                    if best is None or (load[cand.id], cand.id) < (load[best.id], best.id):
                        best = cand
                chosen = best or out
                for unit_id in slot.unit_ids:
                    key = (chosen.home_unit_id, unit_id)
                    pair_count[key] = pair_count.get(key, 0) + 1
                if best is None:
                    continue
                proposal.auditor_ids[index] = best.id
                proposal.chosen_load.pop(out_id, None)
                proposal.chosen_load[best.id] = load[best.id]
                load[out_id] -= 1
                load[best.id] += 1
                _move(proposal.excluded, best.id, out_id)
                swapped = True
        if not swapped:
            break


def _move(excluded: dict[str, list[int]], chosen_id: int, released_id: int) -> None:
    """Update an audit's explanation after a swap: the newcomer is no longer excluded; the
    released auditor was eligible but busier."""
    for reason, ids in list(excluded.items()):
        if chosen_id in ids:
            ids.remove(chosen_id)
            if not ids:
                del excluded[reason]
    excluded.setdefault(NOT_NEEDED, []).append(released_id)
    excluded[NOT_NEEDED].sort()


def check_team(
    units: Iterable[Unit],
    team: Sequence[Auditor],
    slot: AuditSlot,
    *,
    other_pairs: Iterable[tuple[int, int]] = (),
    no_reciprocal: bool = True,
) -> list[tuple[int, str, int | None]]:
    """Conflicts of a hand-made team: ``(auditor id, reason, unit id or None)`` for each
    auditor who may not audit ``slot``. ``other_pairs`` are the (home unit, audited unit)
    pairs of the round's other audits."""
    tree = Tree(units)
    pairs = set(other_pairs)
    problems = []
    for auditor in team:
        if not auditor.qualified_on(slot.on):
            problems.append((auditor.id, NOT_QUALIFIED, None))
            continue
        conflict = independence_conflict(tree, auditor.home_unit_id, slot.unit_ids)
        if conflict:
            problems.append((auditor.id, conflict[0], conflict[1]))
            continue
        if no_reciprocal:
            for unit_id in slot.unit_ids:
                if (unit_id, auditor.home_unit_id) in pairs:
                    problems.append((auditor.id, RECIPROCAL, unit_id))
                    break
    return problems
