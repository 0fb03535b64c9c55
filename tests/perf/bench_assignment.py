#!/usr/bin/env python
"""Benchmark of the cross-audit assignment (交叉互审): 3,000 units and 300 auditors.

    python tests/perf/bench_assignment.py [--units 3000] [--auditors 300] [--team-size 2]
                                          [--repeat 3] [--seed 1]

Builds a random but realistic tree in memory (1 group committee → ~30 company committees →
general branches → branches → groups), puts the auditors in random units, gives 10% of them
an expired qualification, and asks ``pbqms.audits.assignment.propose`` to staff one audit per
branch-level unit (every unit except the root and the groups), with the reciprocity rule on.
Pure function, no database: it measures the algorithm. Prints the best and median wall time
of ``--repeat`` runs, the CPU time of this process, and a summary of the proposal
(staffed, short, load spread).
"""

from __future__ import annotations

import argparse
import datetime
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from pbqms.audits import assignment as A


def build(n_units: int, n_auditors: int, seed: int, audit_all: bool = False):
    rnd = random.Random(seed)
    units = [A.Unit(1, None)]
    depth = {1: 0}
    committees = []
    next_id = 2
    for _ in range(min(30, n_units - 1)):
        units.append(A.Unit(next_id, 1))
        depth[next_id] = 1
        committees.append(next_id)
        next_id += 1
    level2 = []
    while next_id <= n_units:
        kind = rnd.random()
        if kind < 0.15 or not level2:
            parent = rnd.choice(committees)
            d = 2
        elif kind < 0.85:
            parent = rnd.choice(level2 + committees)
            d = depth[parent] + 1
        else:
            parent = rnd.choice(level2)
            d = depth[parent] + 1
        units.append(A.Unit(next_id, parent))
        depth[next_id] = d
        if d <= 3:
            level2.append(next_id)
        next_id += 1
    day = datetime.date(2026, 6, 1)
    valid = ((datetime.date(2025, 1, 1), datetime.date(2028, 12, 31)),)
    expired = ((datetime.date(2021, 1, 1), datetime.date(2025, 12, 31)),)
    auditors = [
        A.Auditor(100_000 + k, rnd.randint(2, n_units), expired if rnd.random() < 0.1 else valid)
        for k in range(n_auditors)
    ]
    audited = [u.id for u in units if depth[u.id] >= 1 and (audit_all or depth[u.id] <= 3)]
    audits = [
        A.AuditSlot(k, (uid,), day + datetime.timedelta(days=k % 120))
        for k, uid in enumerate(audited, start=1)
    ]
    return units, auditors, audits


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=3000)
    parser.add_argument("--auditors", type=int, default=300)
    parser.add_argument("--team-size", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--audit-all", action="store_true", help="one audit per unit except the root"
    )
    args = parser.parse_args()
    units, auditors, audits = build(args.units, args.auditors, args.seed, args.audit_all)
    times, cpu = [], []
    proposal = None
    for _ in range(args.repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        proposal = A.propose(units, auditors, audits, team_size=args.team_size)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    staffed = sum(1 for a in proposal.audits.values() if not a.shortfall)
    loads = [n for n in proposal.load.values() if n]
    print(
        f"units={len(units)} auditors={len(auditors)} audits={len(audits)} "
        f"team_size={args.team_size}"
    )
    print(
        f"propose: wall best {min(times):.2f} s, median {statistics.median(times):.2f} s; "
        f"CPU best {min(cpu):.2f} s (the CPU time is meaningful on a loaded machine)"
    )
    print(
        f"fully staffed {staffed}/{len(audits)}; short {len(audits) - staffed}; "
        f"load min {min(loads) if loads else 0} max {max(loads) if loads else 0}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
