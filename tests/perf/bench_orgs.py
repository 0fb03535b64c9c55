#!/usr/bin/env python
"""Benchmark of the organisation area: 5,000 units and 100,000 people.

    python tests/perf/bench_orgs.py [--db sqlite|postgres] [--requests 30]

Creates a FRESH database (SQLite: /tmp/pbqms-bench.sqlite3; PostgreSQL: the database
``pbqms_bench`` on the server of ``--pg-url``, dropped and re-created), generates the data,
then times pages and API lists in-process with Django's test ``Client`` signed in as a
party-committee administrator (whole tree) and as a branch secretary (one branch). It prints
the median and p95 latency (ms) over ``--requests`` requests per route, the median CPU time of
this process per request, and the number of SQL queries one request runs.

Benchmark data is written with ``bulk_create`` (tree paths computed here), so it BYPASSES the
services and the change log: it measures reads, not the write path. Never point this script at
a real database; it refuses names other than its own.

A route that does not exist yet (no URL name, or 404) is skipped with a note.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import random
import statistics
import sys
import time
from pathlib import Path

SQLITE_PATH = Path("/tmp/pbqms-bench.sqlite3")
PG_DB_NAME = "pbqms_bench"
DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("PBQMS_BENCH_PG_URL", DEFAULT_PG_URL),
        help="PostgreSQL server URL without database name (default %(default)s)",
    )
    parser.add_argument("--units", type=int, default=5000)
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=30, help="timed requests per route")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="time the benchmark database left by an earlier run instead of re-creating it",
    )
    return parser.parse_args(argv)


def prepare_database(args) -> str:
    """Drop and re-create the benchmark database; return its URL."""
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
    os.environ.setdefault("PBQMS_VAR_DIR", "/tmp/pbqms-bench-var")
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


# ---------------------------------------------------------------- data


SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶"
GIVEN = "伟强磊军勇杰涛斌超明刚平辉鹏华飞波宁凯健俊峰芳娜敏静丽艳娟霞秀玲英红燕萍雪琳婷慧颖倩洁晶"


def generate(args) -> dict:
    """Bulk-create the tree, the people and their posts. Returns a few ids for the routes."""
    from django.db import connection, transaction

    from pbqms.orgs.models import Organization, Person, Post

    rng = random.Random(args.seed)
    K = Organization.Kind
    started = time.monotonic()
    units: list[Organization] = []
    code_seq = iter(range(1, 10**7))

    def make(parent: Organization | None, kind: str, name: str) -> Organization:
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
            code=f"B{next(code_seq):06d}",
            kind=kind,
            term_years=Organization.DEFAULT_TERM_YEARS[kind],
            founded_on=datetime.date(2000, 1, 1),
        )
        units.append(unit)
        return unit

    # root → 50 党委 → (2 党总支 → 10 党支部 each) + 10 党支部 → 党小组 until --units
    root = make(None, K.COMMITTEE, "基准测试集团党委")
    branches: list[Organization] = []
    for c in range(1, 51):
        committee = make(root, K.COMMITTEE, f"第{c}子公司党委")
        for g in range(1, 3):
            general = make(committee, K.GENERAL_BRANCH, f"第{c}子公司第{g}党总支")
            branches += [make(general, K.BRANCH, f"第{c}-{g}-{b}党支部") for b in range(1, 11)]
        branches += [make(committee, K.BRANCH, f"第{c}子公司第{b}党支部") for b in range(1, 11)]
    groups: list[Organization] = []
    i = 0
    while len(units) < args.units:
        branch = branches[i % len(branches)]
        groups.append(make(branch, K.GROUP, f"第{branch.numchild + 1}党小组"))
        i += 1
    with transaction.atomic():
        Organization.objects.bulk_create(units, batch_size=2000)
    by_path = dict(Organization.objects.values_list("path", "pk"))
    for unit in units:
        unit.pk = by_path[unit.path]

    # people: spread evenly over all units (most of them in branches and groups)
    statuses = list(Person.MemberStatus.values)
    weights = [85, 5, 3, 4, 3]
    holders = units  # every unit gets people
    people = []
    for n in range(args.people):
        org = holders[n % len(holders)]
        status = rng.choices(statuses, weights)[0]
        birth = datetime.date(rng.randint(1950, 2000), rng.randint(1, 12), rng.randint(1, 28))
        party = status in Person.PARTY_STATUSES
        joined = birth.replace(year=birth.year + rng.randint(20, 25)) if party else None
        people.append(
            Person(
                org_id=org.pk,
                name=rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
                gender=rng.choice("MF"),
                birth_date=birth,
                phone=f"139{rng.randint(0, 99_999_999):08d}",
                member_status=status,
                joined_on=joined,
                probation_until=(
                    joined.replace(year=joined.year + 1)
                    if status == Person.MemberStatus.PROBATIONARY
                    else None
                ),
            )
        )
    with transaction.atomic():
        Person.objects.bulk_create(people, batch_size=5000)
    # posts: the first people of each branch are its committee, of each group its leader
    first_people: dict[int, list[int]] = {}
    for pk, org_id in Person.objects.order_by("id").values_list("pk", "org_id"):
        first_people.setdefault(org_id, []).append(pk)
    posts = []
    T = Post.Title
    for unit in units:
        ids = first_people.get(unit.pk, [])
        titles = (
            [T.GROUP_LEADER]
            if unit.kind == K.GROUP
            else [T.SECRETARY, T.ORGANIZATION, T.PUBLICITY, T.DISCIPLINE]
        )
        posts += [
            Post(person_id=pk, org_id=unit.pk, title=t, started_on=datetime.date(2024, 1, 1))
            for pk, t in zip(ids, titles, strict=False)
        ]
    with transaction.atomic():
        Post.objects.bulk_create(posts, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(
        f"generated {len(units):,} units, {len(people):,} people, {len(posts):,} posts "
        f"in {time.monotonic() - started:.1f} s (bulk_create: no change-log entries)"
    )
    return {"root": root, "committee": units[1], "branch": branches[0]}


def make_users(ids: dict):
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


def reuse():
    from pbqms.accounts.models import User
    from pbqms.orgs.models import Organization

    root = Organization.objects.get(depth=1)
    committee = Organization.objects.filter(depth=2).order_by("path").first()
    branch = Organization.objects.filter(kind="branch").order_by("path").first()
    users = {
        "party admin (whole tree)": User.objects.get(username="bench_party_admin"),
        "branch secretary": User.objects.get(username="bench_secretary"),
    }
    return {"root": root, "committee": committee, "branch": branch}, users


# ---------------------------------------------------------------- measuring


def routes_for(label: str, ids: dict) -> list[tuple[str, str | None, str]]:
    """(route label, url or None when the URL name does not exist, query string)."""
    from django.urls import NoReverseMatch, reverse

    from pbqms.orgs.models import Person

    def url(name, *args):
        try:
            return reverse(name, args=args)
        except NoReverseMatch:
            return None

    scope_unit = ids["committee"] if label.startswith("party") else ids["branch"]
    # search for a name that exists in the user's scope (its first two characters)
    sample = (
        Person.objects.filter(org__path__startswith=scope_unit.path)
        .order_by("id")
        .values_list("name", flat=True)
        .first()
    )
    people = url("orgs:person_list")
    return [
        ("people list, first page", people, ""),
        ("people list, filtered", people, f"member_status=full&org={scope_unit.pk}"),
        ("people list, searched", people, f"q={sample[:2]}"),
        ("people list, page 5", people, "page=5"),
        ("org tree page", url("orgs:tree"), ""),
        ("org tree, children of top unit", url("orgs:tree_children", scope_unit.pk), ""),
        ("API /api/people/", "/api/people/", ""),
        ("API /api/people/ searched", "/api/people/", f"q={sample[:2]}"),
        ("API /api/orgs/", "/api/orgs/", ""),
    ]


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = max(0, math.ceil(pct / 100 * len(ordered)) - 1)
    return ordered[index]


def measure(client, url: str, n: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    first = client.get(url)  # warm-up (and the status to report)
    if first.status_code != 200:
        return {"status": first.status_code}
    for _ in range(2):
        client.get(url)
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    query_count = len(queries)  # now: the log is reset by the next request
    timings, cpu = [], []
    for _ in range(n):
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return {
        "status": 200,
        "median": statistics.median(timings),
        "p95": percentile(timings, 95),
        # CPU time of this process (Django + SQLite; not the PostgreSQL server): less
        # sensitive than wall-clock time to other load on the machine
        "cpu": statistics.median(cpu),
        "queries": query_count,
        "bytes": len(first.content),
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.reuse:
        db_url = (
            f"sqlite:///{SQLITE_PATH}"
            if args.db == "sqlite"
            else f"{args.pg_url.rstrip('/')}/{PG_DB_NAME}"
        )
    else:
        db_url = prepare_database(args)
    setup_django(db_url)
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    started = time.monotonic()
    call_command("migrate", verbosity=0)
    print(
        f"{connection.vendor} database {settings.DATABASES['default']['NAME']}: migrated in "
        f"{time.monotonic() - started:.1f} s"
    )
    if args.reuse:
        ids, users = reuse()
    else:
        ids = generate(args)
        users = make_users(ids)
    print(
        f"timing {args.requests} requests per route (after 3 warm-up requests); "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}\n"
    )
    header = (
        f"{'user':<26} {'route':<34} {'median ms':>9} {'p95 ms':>8} {'cpu ms':>7} {'queries':>7}"
    )
    print(header)
    print("-" * len(header))
    notes = []
    worst = 0.0
    for label, user in users.items():
        client = Client()
        client.force_login(user)
        for route, url, query in routes_for(label, ids):
            if url is None:
                notes.append(f"{route}: URL name not defined yet, skipped")
                continue
            full = f"{url}?{query}" if query else url
            result = measure(client, full, args.requests)
            if result["status"] != 200:
                notes.append(f"{label} · {route}: HTTP {result['status']} at {full}, skipped")
                continue
            worst = max(worst, result["p95"])
            print(
                f"{label:<26} {route:<34} {result['median']:>9.1f} {result['p95']:>8.1f} "
                f"{result['cpu']:>7.1f} {result['queries']:>7}"
            )
    for note in notes:
        print("note:", note)
    print(
        f"\nworst p95: {worst:.1f} ms (aim: under 150 ms on SQLite on a 2-core machine); "
        f"load average now {os.getloadavg()[0]:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
