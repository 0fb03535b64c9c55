"""Races that only a real database server shows (PostgreSQL): two approvals at once leave
exactly one effective version; numbers stay unique when documents are created at once."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, connections
from django.utils import timezone

from pbqms.documents import services
from pbqms.documents.models import Document, DocumentVersion
from tests.factories import PASSWORD

S = DocumentVersion.Status

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL"),
]


def run_together(*funcs):
    barrier = threading.Barrier(len(funcs))
    results: list = [None] * len(funcs)

    def runner(i, func):
        try:
            barrier.wait(timeout=10)
            results[i] = func()
        except Exception as exc:  # collected and asserted by the test
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=runner, args=(i, f)) for i, f in enumerate(funcs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_two_approvals_at_once_leave_one_effective_version(make_doc, people, release):
    doc = make_doc()
    release(doc.latest_version)
    b0 = services.start_revision(doc, actor=people.author, reason="修订")
    services.submit(b0, actor=people.author, password=PASSWORD)
    services.review(b0, actor=people.reviewer, password=PASSWORD)

    def approve():
        version = DocumentVersion.objects.get(pk=b0.pk)
        approver = type(people.approver).objects.get(pk=people.approver.pk)
        return services.approve(
            version, actor=approver, password=PASSWORD, effective_on=timezone.localdate()
        )

    results = run_together(approve, approve)
    successes = [r for r in results if isinstance(r, DocumentVersion)]
    # the loser is refused: the status moved on (ValidationError) or its signature is no
    # longer pending (PermissionDenied), depending on where the race is decided
    failures = [r for r in results if isinstance(r, ValidationError | PermissionDenied)]
    assert len(successes) == 1 and len(failures) == 1, results
    assert list(doc.versions.filter(status=S.EFFECTIVE).values_list("label", flat=True)) == ["B/0"]
    assert Document.objects.get(pk=doc.pk).effective_version_id == b0.pk
    assert doc.versions.get(label="A/0").status == S.SUPERSEDED


def test_two_releases_at_once_make_one_effective(make_doc, people, release):
    doc = make_doc()
    v = doc.latest_version
    services.submit(v, actor=people.author, password=PASSWORD)
    services.review(v, actor=people.reviewer, password=PASSWORD)
    later = timezone.localdate() + timezone.timedelta(days=3)
    services.approve(v, actor=people.approver, password=PASSWORD, effective_on=later)
    DocumentVersion.objects.filter(pk=v.pk).update(effective_on=timezone.localdate())

    def release_now():
        version = DocumentVersion.objects.get(pk=v.pk)
        admin = type(people.approver).objects.get(pk=people.approver.pk)
        return services.make_effective(version, actor=admin)

    results = run_together(release_now, release_now)
    assert sum(isinstance(r, DocumentVersion) for r in results) == 1, results
    assert doc.versions.filter(status=S.EFFECTIVE).count() == 1
    # one set of acknowledgement tasks, not two
    assert v.acknowledgements.count() == 1


def test_numbers_stay_unique_when_created_at_once(people, tree):
    def create(i):
        def _create():
            author = type(people.author).objects.get(pk=people.author.pk)
            return services.create_document(
                actor=author, org=tree.branch_a1, doc_type="regulation", title=f"制度{i}"
            ).number

        return _create

    results = run_together(*(create(i) for i in range(6)))
    assert all(isinstance(r, str) for r in results), results
    assert sorted(results) == [f"DJ-ZD-{i:02d}" for i in range(1, 7)]
