#!/usr/bin/env python
"""Benchmark of internal audits and improvement: 3,000 units, 300 auditors, 50,000
nonconformities.

    python tests/perf/bench_improvement.py [--db sqlite|postgres] [--requests 20]
                                           [--units 3000] [--auditors 300] [--ncs 50000]

Uses the organisation benchmark's fresh database and tree (``bench_orgs.py``; its own SQLite
file /tmp/pbqms-bench-improvement.sqlite3 or PostgreSQL database ``pbqms_bench_improvement``),
then bulk-creates 300 qualified auditors, one audit programme with an audit per branch-level
unit (no team yet), 50,000 nonconformities spread over the branches in every state (with
repeats and about one corrective action each for those past planning) and a year of
conformity cells for one monthly obligation. It times:

* proposing the cross-audit teams for the whole programme (``services.propose_teams``:
  loading the tree, the pool and the audits from the database, then the assignment);
* ranking the programme's units by risk (``risk.rank_units``);
* the pages: the nonconformity list (first page, a later page, a status filter, a search),
  the improvement-at-a-glance page (whole tree and one committee), the action list, the
  programme page (with its risk section), the risk ranking, and the API list — as a party
  committee administrator (whole tree), a branch secretary and an internal auditor;

printing median and p95 latency, the median CPU time of this process and the SQL query
count per request. The data is written with ``bulk_create``: it measures reads and the
proposal, not the write path.
"""

from __future__ import annotations

import datetime
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_orgs

bench_orgs.SQLITE_PATH = Path("/tmp/pbqms-bench-improvement.sqlite3")
bench_orgs.PG_DB_NAME = "pbqms_bench_improvement"


def parse_args(argv=None):
    parser = bench_orgs.argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--pg-url", default=bench_orgs.DEFAULT_PG_URL)
    parser.add_argument("--units", type=int, default=3000)
    parser.add_argument("--people", type=int, default=15_000)
    parser.add_argument("--auditors", type=int, default=300)
    parser.add_argument("--ncs", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3, help="runs of the proposal")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", help="time only the routes whose label contains this")
    parser.add_argument(
        "--profile", action="store_true", help="print a cProfile summary of each timed route"
    )
    return parser.parse_args(argv)


STATES = [
    ("open", 0.08),
    ("root_cause_analysis", 0.07),
    ("action_planning", 0.06),
    ("action_approval", 0.04),
    ("implementing", 0.12),
    ("verification", 0.05),
    ("closed", 0.55),
    ("cancelled", 0.03),
]
TITLES = ["支委会会议未按月召开", "党费台账未按月登记", "组织生活会记录不全", "主题党日留痕不足"]


def _pick(rng, table):
    r, acc = rng.random(), 0.0
    for value, weight in table:
        acc += weight
        if r < acc:
            return value
    return table[-1][0]


def generate(args, ids: dict, users: dict) -> dict:
    from django.db import connection, transaction

    from pbqms.audits.models import Audit, AuditorQualification, AuditProgramme
    from pbqms.improvement.models import CorrectiveAction, Nonconformity
    from pbqms.orgs.models import Organization, Person
    from pbqms.records.services import ensure_builtin_templates
    from pbqms.system.builtin import ensure_builtin_requirements
    from pbqms.system.models import ConformityResult, Obligation, Requirement

    rng = random.Random(args.seed)
    started = time.monotonic()
    today = datetime.date.today()
    root = ids["root"]
    raiser = users["internal auditor"]
    units = list(
        Organization.objects.exclude(kind="group").exclude(pk=root.pk).values_list("pk", "kind")
    )
    branches = [pk for pk, kind in units if kind in ("branch", "joint_branch")] or [
        pk for pk, _k in units
    ]
    people = list(Person.objects.values_list("pk", "org_id").order_by("pk"))
    owner_by_org: dict[int, int] = {}
    for pid, org_id in people:
        owner_by_org.setdefault(org_id, pid)
    with transaction.atomic():
        # auditors: 300 people spread over the tree, 10% expired
        chosen = rng.sample(people, min(args.auditors, len(people)))
        AuditorQualification.objects.bulk_create(
            [
                AuditorQualification(
                    person_id=pid,
                    course="内审员培训",
                    certified_on=today - datetime.timedelta(days=400),
                    valid_until=today + datetime.timedelta(days=-30 if rng.random() < 0.1 else 900),
                )
                for pid, _org in chosen
            ],
            batch_size=2000,
        )
        # the programme: one audit per branch-level unit, none staffed
        programme = AuditProgramme.objects.create(
            year=today.year, title="基准测试内审方案", org=root, team_size=2
        )
        audits = Audit.objects.bulk_create(
            [
                Audit(
                    programme=programme,
                    number=f"B-{i:05d}",
                    planned_month=1 + i % 12,
                    start_date=today + datetime.timedelta(days=i % 200),
                )
                for i, _u in enumerate(units)
            ],
            batch_size=2000,
        )
        through = Audit.audited_units.through
        through.objects.bulk_create(
            [
                through(audit_id=a.pk, organization_id=u)
                for a, (u, _k) in zip(audits, units, strict=True)
            ],
            batch_size=5000,
        )
        # a year of monthly conformity cells of one obligation for every branch
        ensure_builtin_templates()
        ensure_builtin_requirements()
        from pbqms.records.models import RecordTemplate
        from pbqms.system import engine

        with engine.suspended():
            obligation = Obligation.objects.create(
                requirement=Requirement.objects.order_by("pk").first(),
                name="主题党日",
                owner=root,
                applies_to_kinds=["branch", "joint_branch"],
                activity=RecordTemplate.objects.order_by("pk").first(),
                frequency="monthly",
            )
        now = datetime.datetime.now(datetime.UTC)
        cells = []
        for org_id in branches:
            for m in range(12):
                due = today - datetime.timedelta(days=30 * (m + 1))
                status = _pick(rng, [("met", 0.8), ("late", 0.1), ("missing", 0.1)])
                cells.append(
                    ConformityResult(
                        org_id=org_id,
                        obligation=obligation,
                        period_start=due - datetime.timedelta(days=27),
                        period_end=due,
                        due_on=due,
                        status=status,
                        computed_at=now,
                    )
                )
        ConformityResult.objects.bulk_create(cells, batch_size=5000)
        # nonconformities in every state, ~10% repeats, an action each past planning
        ncs = []
        for i in range(args.ncs):
            status = _pick(rng, STATES)
            raised = today - datetime.timedelta(days=rng.randint(0, 3 * 365))
            closed = raised + datetime.timedelta(days=rng.randint(10, 120))
            nc = Nonconformity(
                number=f"NC-B-{i:06d}",
                title=rng.choice(TITLES),
                source_kind=rng.choice(Nonconformity.Source.values),
                org_id=rng.choice(branches),
                requirement="《中国共产党支部工作条例（试行）》",
                description="抽查发现记录缺失。",
                severity="major" if rng.random() < 0.15 else "minor",
                raised_by=raiser,
                raised_on=raised,
                correction_due=raised + datetime.timedelta(days=30),
                status=status,
                closed_on=closed if status == "closed" else None,
                days_to_close=(closed - raised).days if status == "closed" else None,
                cancelled_on=closed if status == "cancelled" else None,
                cancel_reason="重复登记" if status == "cancelled" else "",
            )
            ncs.append(nc)
        Nonconformity.objects.bulk_create(ncs, batch_size=2000)
        repeats = []
        by_org: dict[int, list] = {}
        for nc in ncs:
            earlier = by_org.setdefault(nc.org_id, [])
            if earlier and rng.random() < 0.1:
                nc.repeat_of_id = earlier[-1].pk
                repeats.append(nc)
            earlier.append(nc)
        Nonconformity.objects.bulk_update(repeats, ["repeat_of"], batch_size=2000)
        action_status = {
            "action_planning": "planned",
            "action_approval": "planned",
            "implementing": "planned",
            "verification": "done",
            "closed": "effective",
        }
        actions = []
        for nc in ncs:
            a_status = action_status.get(nc.status)
            if a_status is None:
                continue
            due = nc.raised_on + datetime.timedelta(days=20)
            actions.append(
                CorrectiveAction(
                    nonconformity=nc,
                    org_id=nc.org_id,
                    kind="corrective",
                    description="建立月度提醒机制",
                    owner_id=owner_by_org.get(nc.org_id) or people[0][0],
                    due_on=due,
                    success_criteria="连续三个月按时完成",
                    verify_on=due + datetime.timedelta(days=30),
                    status=a_status,
                    completed_on=due if a_status in ("done", "effective") else None,
                )
            )
        CorrectiveAction.objects.bulk_create(actions, batch_size=2000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(
        f"generated {len(chosen)} auditors, {len(audits):,} audits, {len(cells):,} conformity "
        f"cells, {len(ncs):,} nonconformities ({len(repeats):,} repeats), {len(actions):,} "
        f"actions in {time.monotonic() - started:.1f} s"
    )
    return {"programme": programme, "committee": ids["committee"]}


def time_services(args, data) -> None:
    from pbqms.audits import risk, services
    from pbqms.audits.models import AuditProgramme

    programme = AuditProgramme.objects.get(pk=data["programme"].pk)
    for label, run in (
        ("propose cross-audit teams", lambda: services.propose_teams(programme)),
        ("rank units by risk", lambda: risk.rank_units(programme)),
    ):
        timings, cpu = [], []
        for _ in range(args.repeat):
            started, started_cpu = time.perf_counter(), time.process_time()
            result = run()
            timings.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
        if label.startswith("propose"):
            proposal = result[0]
            staffed = sum(1 for a in proposal.audits.values() if a.auditor_ids)
            loads = list(proposal.load.values()) or [0]
            extra = (
                f"{len(proposal.audits):,} audits, {staffed:,} staffed, load "
                f"{min(loads)}–{max(loads)}"
            )
        else:
            extra = f"{len(result):,} units, top score {result[0].score if result else 0}"
        print(
            f"{label:<28} best {min(timings):6.2f} s  median {statistics.median(timings):6.2f} s"
            f"  cpu {statistics.median(cpu):6.2f} s  ({extra})"
        )


def make_users(ids):
    from pbqms.accounts.models import User
    from pbqms.core.roles import Role
    from pbqms.orgs.models import RoleAssignment

    users = bench_orgs.make_users(ids)
    auditor = User.objects.create(
        username="bench_auditor", display_name="bench_auditor", must_change_password=False
    )
    RoleAssignment.objects.create(
        user=auditor, role=Role.INTERNAL_AUDITOR, org=ids["committee"], include_subtree=True
    )
    users["internal auditor"] = auditor
    return users


def routes(data: dict):
    from django.urls import reverse

    nc_list = reverse("improvement:nc_list")
    glance = reverse("improvement:glance")
    programme = data["programme"].pk
    return [
        ("nonconformity list", nc_list, ""),
        ("nonconformity list, page 50", nc_list, "page=50"),
        ("nonconformity list, open", nc_list, "status=implementing"),
        ("nonconformity list, search", nc_list, "q=台账"),
        ("glance, whole tree", glance, ""),
        ("glance, one committee", glance, f"org={data['committee'].pk}"),
        ("action list", reverse("improvement:action_list"), ""),
        ("programme page (risk)", reverse("audits:programme_detail", args=[programme]), ""),
        ("risk ranking", reverse("audits:programme_risk", args=[programme]), ""),
        ("API /api/nonconformities/", "/api/nonconformities/", ""),
    ]


def profile(client, url: str, rows: int = 30) -> None:
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(3):
        client.get(url)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(rows)


def main(argv=None) -> int:
    args = parse_args(argv)
    db_url = bench_orgs.prepare_database(args)
    bench_orgs.setup_django(db_url)
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    call_command("migrate", verbosity=0)
    print(f"{connection.vendor} database ready")
    ids = bench_orgs.generate(args)
    users = make_users(ids)
    data = generate(args, ids, users)
    time_services(args, data)
    header = (
        f"{'user':<26} {'route':<30} {'median ms':>9} {'p95 ms':>8} {'cpu ms':>7} {'queries':>7}"
    )
    print(header)
    print("-" * len(header))
    worst = 0.0
    for label, user in users.items():
        client = Client()
        client.force_login(user)
        for route, url, query in routes(data):
            if args.only and args.only not in route:
                continue
            full = f"{url}?{query}" if query else url
            if args.profile:
                print(f"== {label}: {route}")
                profile(client, full)
            result = bench_orgs.measure(client, full, args.requests)
            if result["status"] != 200:
                print(f"{label:<26} {route:<30} HTTP {result['status']}")
                continue
            worst = max(worst, result["p95"])
            print(
                f"{label:<26} {route:<30} {result['median']:>9.1f} {result['p95']:>8.1f} "
                f"{result['cpu']:>7.1f} {result['queries']:>7}"
            )
    print(f"\nworst p95: {worst:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
