#!/usr/bin/env python
"""Benchmark of controlled documents: 20,000 documents and 100,000 acknowledgements.

    python tests/perf/bench_documents.py [--db sqlite|postgres] [--requests 30]

Uses the organisation benchmark's fresh database and tree (``bench_orgs.py``: SQLite
/tmp/pbqms-bench.sqlite3 or the PostgreSQL database ``pbqms_bench``, dropped and re-created),
with fewer people by default, then bulk-creates documents (a manual, procedures under it,
instructions, rules and forms under the procedures), one effective version each (some with
a revision in progress) and read-and-acknowledge tasks. It times the master list (first
page, a later page, a title search, a full-text search), the document tree, the page of a
document with many acknowledgements, and the API list, as a party committee administrator
(whole tree) and as a branch secretary, printing median and p95 latency, the median CPU time
of this process (Django + SQLite; steadier than wall-clock time on a shared machine) and the
SQL query count per request.

The data is written with ``bulk_create``: it measures reads, not the write path.
"""

from __future__ import annotations

import datetime
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_orgs

# a database of its own (the organisation benchmark's helpers refuse any other name)
bench_orgs.SQLITE_PATH = Path("/tmp/pbqms-bench-docs.sqlite3")
bench_orgs.PG_DB_NAME = "pbqms_bench_docs"


def parse_args(argv=None):
    parser = bench_orgs.argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--pg-url", default=bench_orgs.DEFAULT_PG_URL)
    parser.add_argument("--units", type=int, default=2000)
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--documents", type=int, default=20_000)
    parser.add_argument("--acknowledgements", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--reuse", action="store_true", help="keep the database of the previous run (no new data)"
    )
    parser.add_argument("--only", help="time only the routes whose label contains this")
    parser.add_argument(
        "--profile", action="store_true", help="print a cProfile summary of each timed route"
    )
    return parser.parse_args(argv)


TOPICS = [
    "组织生活",
    "党员教育",
    "发展党员",
    "党费收缴",
    "宣传思想",
    "意识形态",
    "党风廉政",
    "群团工作",
    "文件控制",
    "记录控制",
    "内部审核",
    "管理评审",
]


def generate_documents(args, ids: dict, author) -> dict:
    from django.db import connection, transaction

    from pbqms.documents.models import Acknowledgement, Document, DocumentVersion
    from pbqms.orgs.models import Organization, Person

    rng = random.Random(args.seed)
    started = time.monotonic()
    T = Document.Type
    root = ids["root"]
    committees = list(Organization.objects.filter(kind="committee").order_by("path"))
    today = datetime.date.today()
    docs: list[Document] = []
    seq = {"CX": 0, "ZD": 0}

    def doc(number, title, doc_type, org, parent=None):
        d = Document(
            number=number,
            title=title,
            doc_type=doc_type,
            org=org,
            parent=parent,
            status=Document.Status.EFFECTIVE,
            review_interval_months=12,
            next_review_on=today + datetime.timedelta(days=rng.randint(-30, 365)),
        )
        docs.append(d)
        return d

    with transaction.atomic():
        manual = doc("DJ-SC-01", "党建质量管理手册", T.MANUAL, root)
        Document.objects.bulk_create([manual])
        procedures = []
        n_proc = max(1, args.documents // 40)
        for i in range(n_proc):
            seq["CX"] += 1
            topic = TOPICS[i % len(TOPICS)]
            procedures.append(
                doc(f"DJ-CX-{seq['CX']:03d}", f"{topic}程序{i}", T.PROCEDURE, root, manual)
            )
        Document.objects.bulk_create(procedures, batch_size=2000)
        children = []
        kinds = [(T.WORK_INSTRUCTION, "ZY", "作业指导书"), (T.RECORD_FORM, "JL", "记录表")]
        counters: dict[tuple[int, str], int] = {}
        while len(docs) < args.documents:
            proc = procedures[len(docs) % len(procedures)]
            org = committees[len(docs) % len(committees)]
            if rng.random() < 0.3:
                seq["ZD"] += 1
                children.append(
                    doc(
                        f"DJ-ZD-{seq['ZD']:05d}",
                        f"{rng.choice(TOPICS)}制度{seq['ZD']}",
                        T.REGULATION,
                        org,
                        proc,
                    )
                )
                continue
            doc_type, code, word = rng.choice(kinds)
            key = (id(proc), code)
            counters[key] = counters.get(key, 0) + 1
            children.append(
                doc(
                    f"DJ-{code}-{proc.number[-3:]}-{counters[key]:02d}",
                    f"{rng.choice(TOPICS)}{word}{counters[key]}",
                    doc_type,
                    org,
                    proc,
                )
            )
        Document.objects.bulk_create(children, batch_size=2000)
        body = (
            "# 1 目的\n\n"
            + "规范党建工作，明确职责，形成记录。" * 20
            + "\n\n# 2 职责\n\n- 党委\n- 支部\n"
        )
        versions = [
            DocumentVersion(
                document=d,
                label="A/0",
                edition="A",
                revision=0,
                title=d.title,
                status=DocumentVersion.Status.EFFECTIVE,
                content=body + f"\n关键词{i}\n",
                change_reason="首次发布",
                effective_on=today - datetime.timedelta(days=rng.randint(0, 700)),
                effective_at=None,
                content_hash=f"{i:064x}",
                author=author,
            )
            for i, d in enumerate(docs)
        ]
        DocumentVersion.objects.bulk_create(versions, batch_size=2000)
        for d, v in zip(docs, versions, strict=True):
            d.effective_version = v
            d.latest_version = v
        # a revision in progress on every 50th document
        revisions = [
            DocumentVersion(
                document=d,
                label="B/0",
                edition="B",
                revision=0,
                title=d.title,
                status=DocumentVersion.Status.IN_REVIEW,
                content=body + "\n修订内容\n",
                change_reason="修订",
                content_hash=f"{i + 10**6:064x}",
                author=author,
            )
            for i, d in enumerate(docs[::50])
        ]
        DocumentVersion.objects.bulk_create(revisions, batch_size=2000)
        for d, r in zip(docs[::50], revisions, strict=True):
            d.latest_version = r
        Document.objects.bulk_update(docs, ["effective_version", "latest_version"], batch_size=2000)
        through = Document.applies_to.through
        through.objects.bulk_create(
            [through(document_id=d.pk, organization_id=d.org_id) for d in docs], batch_size=5000
        )
        # acknowledgements: the most widely applied documents, everybody in the tree
        people = list(Person.objects.values_list("pk", "org_id").order_by("pk"))
        acks, heavy = [], None
        for d, v in zip(docs, versions, strict=True):
            if len(acks) >= args.acknowledgements:
                break
            heavy = heavy or d
            take = people[: args.acknowledgements - len(acks)]
            acks += [
                Acknowledgement(
                    document_version=v,
                    person_id=pid,
                    org_id=org_id,
                    due=today,
                    done_at=(datetime.datetime.now(datetime.UTC) if rng.random() < 0.6 else None),
                )
                for pid, org_id in take
            ]
        Acknowledgement.objects.bulk_create(acks, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(
        f"generated {len(docs):,} documents, {len(versions) + len(revisions):,} versions, "
        f"{len(acks):,} acknowledgements in {time.monotonic() - started:.1f} s"
    )
    return {"heavy": heavy, "search_title": procedures[3].title, "search_text": "关键词1234"}


def routes(doc_ids: dict):
    from django.urls import reverse

    lst = reverse("documents:list")
    return [
        ("master list, first page", lst, ""),
        ("master list, page 40", lst, "page=40"),
        ("master list, title search", lst, f"q={doc_ids['search_title']}"),
        ("master list, full-text search", lst, f"q={doc_ids['search_text']}"),
        ("master list, type filter", lst, "doc_type=record_form"),
        ("document tree", reverse("documents:tree"), ""),
        ("document page (many acks)", reverse("documents:detail", args=[doc_ids["heavy"].pk]), ""),
        ("API /api/documents/", "/api/documents/", ""),
    ]


def existing_documents() -> dict:
    """``generate_documents``'s answer for a database kept from an earlier run."""
    from django.db.models import Count

    from pbqms.documents.models import Document, DocumentVersion

    heavy_version = (
        DocumentVersion.objects.annotate(n=Count("acknowledgements")).order_by("-n", "pk").first()
    )
    procedures = Document.objects.filter(doc_type="procedure").order_by("pk")
    return {
        "heavy": heavy_version.document,
        "search_title": procedures[3].title,
        "search_text": "关键词1234",
    }


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
    if args.reuse:
        db_url = (
            f"sqlite:///{bench_orgs.SQLITE_PATH}"
            if args.db == "sqlite"
            else f"{args.pg_url.rstrip('/')}/{bench_orgs.PG_DB_NAME}"
        )
    else:
        db_url = bench_orgs.prepare_database(args)
    bench_orgs.setup_django(db_url)
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    call_command("migrate", verbosity=0)
    print(f"{connection.vendor} database ready")
    if args.reuse:
        ids, users = bench_orgs.reuse()
        doc_ids = existing_documents()
    else:
        ids = bench_orgs.generate(args)
        users = bench_orgs.make_users(ids)
        doc_ids = generate_documents(args, ids, users["party admin (whole tree)"])
    header = (
        f"{'user':<26} {'route':<32} {'median ms':>9} {'p95 ms':>8} {'cpu ms':>7} {'queries':>7}"
    )
    print(header)
    print("-" * len(header))
    worst = 0.0
    for label, user in users.items():
        client = Client()
        client.force_login(user)
        for route, url, query in routes(doc_ids):
            if args.only and args.only not in route:
                continue
            full = f"{url}?{query}" if query else url
            if args.profile:
                print(f"== {label}: {route}")
                profile(client, full)
            result = bench_orgs.measure(client, full, args.requests)
            if result["status"] != 200:
                print(f"{label:<26} {route:<32} HTTP {result['status']}")
                continue
            worst = max(worst, result["p95"])
            print(
                f"{label:<26} {route:<32} {result['median']:>9.1f} {result['p95']:>8.1f} "
                f"{result['cpu']:>7.1f} {result['queries']:>7}"
            )
    print(f"\nworst p95: {worst:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
