#!/usr/bin/env python
"""Benchmark of the conformity engine: 3,000 branches × 12 months × 8 obligations with
about 250,000 records.

    python tests/perf/bench_conformity.py [--db sqlite|postgres] [--requests 30]

Creates a FRESH database (SQLite: /tmp/pbqms-bench-conformity.sqlite3; PostgreSQL: the
database ``pbqms_bench_conformity``, dropped and re-created), bulk-creates the tree (root →
30 党委 → 100 党支部 each), 8 monthly obligations (one per built-in record template) and
submitted records for ~87 % of the 288,000 cells (a tenth of them after the due date), then
measures:

- the full recomputation (first run: every cell written; second run: nothing changed);
- the incremental update after one record is submitted (``update_for_record``), median
  and p95 over ``--updates`` records;
- the median/p95 latency of the conformity board (heatmap) and a unit's due list, signed in
  as the party-committee administrator (whole tree) and as a branch secretary.

Data is written with ``bulk_create``: it bypasses the services and the change log. Never
point this script at a real database; it refuses names other than its own.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import random
import statistics
import sys
import time
from pathlib import Path

SQLITE_PATH = Path("/tmp/pbqms-bench-conformity.sqlite3")
PG_DB_NAME = "pbqms_bench_conformity"
DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432"
YEAR = 2026
TODAY = dt.date(YEAR, 11, 24)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--pg-url", default=os.environ.get("PBQMS_BENCH_PG_URL", DEFAULT_PG_URL))
    parser.add_argument("--committees", type=int, default=30)
    parser.add_argument("--branches-per-committee", type=int, default=100)
    parser.add_argument("--fill", type=float, default=0.87, help="share of cells with a record")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per route")
    parser.add_argument("--updates", type=int, default=50, help="timed incremental updates")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--repeat", type=int, default=3, help="full recomputations timed for the medians"
    )
    return parser.parse_args(argv)


def prepare_database(args) -> str:
    if args.db == "sqlite":
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(str(SQLITE_PATH) + suffix).unlink(missing_ok=True)
        return f"sqlite:///{SQLITE_PATH}"
    import psycopg

    base = args.pg_url.rstrip("/")
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{PG_DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{PG_DB_NAME}"')
    return f"{base}/{PG_DB_NAME}"


def setup_django(db_url: str) -> None:
    os.environ["PBQMS_DATABASE_URL"] = db_url
    os.environ.setdefault("PBQMS_VAR_DIR", "/tmp/pbqms-bench-conformity-var")
    Path(os.environ["PBQMS_VAR_DIR"], "static").mkdir(parents=True, exist_ok=True)
    os.environ.pop("PBQMS_DEMO", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "pbqms.settings"
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
    import django

    django.setup()
    from django.conf import settings

    name = str(settings.DATABASES["default"]["NAME"])
    if not (name == str(SQLITE_PATH) or name == PG_DB_NAME):
        raise SystemExit(f"refusing to write benchmark data into {name!r}")


def generate(args) -> dict:
    from zoneinfo import ZoneInfo

    from django.db import connection, transaction

    from pbqms.orgs.models import Organization
    from pbqms.records.models import Record, RecordTemplate
    from pbqms.records.services import ensure_builtin_templates
    from pbqms.system import engine
    from pbqms.system.builtin import ensure_builtin_requirements
    from pbqms.system.models import Obligation, Requirement

    rng = random.Random(args.seed)
    K = Organization.Kind
    started = time.monotonic()
    units: list[Organization] = []

    def make(parent, kind, name):
        if parent is None:
            path, depth = Organization._get_path("", 1, 1), 1
        else:
            parent.numchild += 1
            depth = parent.depth + 1
            path = Organization._get_path(parent.path, depth, parent.numchild)
        unit = Organization(
            path=path,
            depth=depth,
            numchild=0,
            name=name,
            kind=kind,
            code=f"C{len(units) + 1:06d}",
            founded_on=dt.date(2000, 1, 1),
        )
        units.append(unit)
        return unit

    root = make(None, K.COMMITTEE, "基准测试集团党委")
    branches = []
    for c in range(1, args.committees + 1):
        committee = make(root, K.COMMITTEE, f"第{c}子公司党委")
        for b in range(1, args.branches_per_committee + 1):
            branches.append(make(committee, K.BRANCH, f"第{c}子公司第{b}党支部"))
    with transaction.atomic():
        Organization.objects.bulk_create(units, batch_size=2000)
    by_path = dict(Organization.objects.values_list("path", "pk"))
    for unit in units:
        unit.pk = by_path[unit.path]

    ensure_builtin_templates()
    ensure_builtin_requirements()
    templates = list(RecordTemplate.objects.order_by("id")[:8])
    requirement = Requirement.objects.filter(source="party").first()
    with engine.suspended():
        obligations = [
            Obligation.objects.create(
                requirement=requirement,
                name=t.name,
                owner=root,
                applies_to_kinds=["branch"],
                activity=t,
                frequency="monthly",
                due_offset_days=24,
            )
            for t in templates
        ]
    zone = ZoneInfo("Asia/Shanghai")
    records = []
    for branch in branches:
        for t in templates:
            for month in range(1, 13):
                if month > TODAY.month or rng.random() > args.fill:
                    continue
                if month == TODAY.month and rng.random() < 0.5:
                    continue
                day = rng.randint(26, 28) if rng.random() < 0.1 else rng.randint(1, 25)
                if month == TODAY.month:
                    day = rng.randint(1, TODAY.day - 1)
                when = dt.datetime(YEAR, month, day, rng.randint(8, 20), 0, tzinfo=zone)
                records.append(
                    Record(
                        template_id=t.pk,
                        org_id=branch.pk,
                        title=t.name,
                        occurred_at=when,
                        status="submitted",
                        submitted_at=when,
                        data={},
                    )
                )
    # pad with records of earlier months of the year up to ~250k when the fill is low
    with transaction.atomic():
        Record.objects.bulk_create(records, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(
        f"generated {len(units):,} units ({len(branches):,} branches), {len(obligations)} "
        f"obligations, {len(records):,} submitted records in {time.monotonic() - started:.1f} s"
    )
    return {"root": root, "branch": branches[0], "branches": branches, "templates": templates}


def make_users(ids):
    from pbqms.accounts.models import User
    from pbqms.core.roles import Role
    from pbqms.orgs.models import RoleAssignment

    def user(username, role, org):
        account = User.objects.create(
            username=username, display_name=username, must_change_password=False
        )
        RoleAssignment.objects.create(user=account, role=role, org=org, include_subtree=True)
        return account

    return {
        "party admin (whole tree)": user("bench_party_admin", Role.PARTY_ADMIN, ids["root"]),
        "branch secretary": user("bench_secretary", Role.BRANCH_SECRETARY, ids["branch"]),
    }


def percentile(values, pct):
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def measure(client, url, n):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    first = client.get(url)
    if first.status_code != 200:
        return {"status": first.status_code}
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    timings = []
    for _ in range(n):
        started = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return {
        "status": 200,
        "median": statistics.median(timings),
        "p95": percentile(timings, 95),
        "queries": len(queries),
        "bytes": len(first.content),
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    setup_django(prepare_database(args))
    from zoneinfo import ZoneInfo

    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.urls import NoReverseMatch, reverse

    from pbqms.records.models import Record
    from pbqms.system import engine
    from pbqms.system.models import ConformityResult

    started = time.monotonic()
    call_command("migrate", verbosity=0)
    print(f"{connection.vendor}: migrated in {time.monotonic() - started:.1f} s")
    ids = generate(args)
    users = make_users(ids)

    t0 = time.perf_counter()
    stats = engine.recompute_all(today=TODAY)
    first = time.perf_counter() - t0
    print(
        f"\nfull recomputation, first run: {first:.2f} s "
        f"({stats.cells:,} cells, {stats.written:,} written)"
    )
    t0 = time.perf_counter()
    stats = engine.recompute_all(today=TODAY)
    second = time.perf_counter() - t0
    print(
        f"full recomputation, nothing changed: {second:.2f} s "
        f"({stats.cells:,} cells, {stats.written:,} written)"
    )
    firsts, unchanged = [first], [second]
    for _ in range(max(0, args.repeat - 1)):
        ConformityResult.objects.all().delete()
        t0 = time.perf_counter()
        engine.recompute_all(today=TODAY)
        firsts.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        engine.recompute_all(today=TODAY)
        unchanged.append(time.perf_counter() - t0)
    print(
        f"full recomputation over {len(firsts)} runs: median {statistics.median(firsts):.2f} s "
        f"(every cell written), {statistics.median(unchanged):.2f} s (nothing changed)"
    )
    from pbqms.orgs.models import Organization
    from pbqms.system.models import Obligation as _Obligation

    committee = Organization.objects.filter(depth=2).order_by("path").first()
    t0 = time.perf_counter()
    stats = engine.recompute_org(committee, today=TODAY)
    print(
        f"a committee's subtree (unit moved or changed): {(time.perf_counter() - t0) * 1000:.0f} "
        f"ms ({stats.cells:,} cells)"
    )
    t0 = time.perf_counter()
    stats = engine.recompute_obligation(_Obligation.objects.order_by("id").first(), today=TODAY)
    print(
        f"one obligation changed: {(time.perf_counter() - t0) * 1000:.0f} ms "
        f"({stats.cells:,} cells)"
    )
    with connection.cursor() as cursor:
        # the repeated runs above deleted every cell: reclaim the dead rows before timing pages
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    counts = {}
    for status in ConformityResult.objects.values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    print("cells by status:", dict(sorted(counts.items())))

    # incremental: a new record for a random branch and template in a random month
    rng = random.Random(args.seed + 1)
    zone = ZoneInfo("Asia/Shanghai")
    timings = []
    for _ in range(args.updates):
        branch = rng.choice(ids["branches"])
        template = rng.choice(ids["templates"])
        month = rng.randint(1, TODAY.month - 1)
        record = Record.objects.create(
            template=template,
            org=branch,
            title="增量",
            status="submitted",
            occurred_at=dt.datetime(YEAR, month, rng.randint(1, 28), 9, tzinfo=zone),
        )
        t0 = time.perf_counter()
        engine.update_for_record(record, today=TODAY)
        timings.append((time.perf_counter() - t0) * 1000)
    print(
        f"incremental update after one record: median {statistics.median(timings):.1f} ms, "
        f"p95 {percentile(timings, 95):.1f} ms over {len(timings)} records"
    )

    def url(name, *a):
        try:
            return reverse(name, args=a)
        except NoReverseMatch:
            return None

    board = url("system:board")
    due = url("system:due")
    routes = [
        ("board, all obligations", board, f"year={YEAR}"),
        ("board, one obligation", board, f"year={YEAR}&obligation={ids['templates'] and 0}"),
        ("board, table view", board, f"year={YEAR}&view=table"),
        ("board, page 10", board, f"year={YEAR}&page=10"),
        ("unit's due list", due, ""),
    ]
    from pbqms.system.models import Obligation

    first_ob = Obligation.objects.order_by("id").first()
    routes[1] = ("board, one obligation", board, f"year={YEAR}&obligation={first_ob.pk}")
    print(f"\ntiming {args.requests} requests per route (after 3 warm-up requests)")
    header = f"{'user':<26} {'route':<26} {'median ms':>9} {'p95 ms':>8} {'queries':>7} {'KB':>6}"
    print(header)
    print("-" * len(header))
    notes = []
    for label, user in users.items():
        client = Client()
        client.force_login(user)
        for route, base, query in routes:
            if base is None:
                notes.append(f"{route}: URL not defined yet")
                continue
            if route == "unit's due list" and label.startswith("party"):
                query = f"org={ids['branch'].pk}"
            result = measure(client, f"{base}?{query}" if query else base, args.requests)
            if result["status"] != 200:
                notes.append(f"{label} · {route}: HTTP {result['status']}")
                continue
            print(
                f"{label:<26} {route:<26} {result['median']:>9.1f} {result['p95']:>8.1f} "
                f"{result['queries']:>7} {result['bytes'] / 1024:>6.0f}"
            )
    for note in notes:
        print("note:", note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
