"""Races on PostgreSQL: two submits at once submit once (one signal); two amendments at once
get distinct numbers and both keep their before/after."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections

from pbqms.records import services
from pbqms.records.models import Record, RecordAmendment
from pbqms.records.signals import record_submitted
from tests.records.conftest import MEETING_DATA

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


def test_two_submits_at_once_submit_once(make_record, users):
    record = make_record()
    sent = []

    def receiver(sender, record, amendment, **kwargs):
        sent.append(record.pk)

    def submit():
        actor = type(users.secretary_a1).objects.get(pk=users.secretary_a1.pk)
        return services.submit_record(Record.objects.get(pk=record.pk), actor=actor)

    record_submitted.connect(receiver)
    try:
        results = run_together(submit, submit)
    finally:
        record_submitted.disconnect(receiver)
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 1 and isinstance(errors[0], ValidationError), results
    assert sent == [record.pk]
    assert Record.objects.get(pk=record.pk).status == "submitted"


def test_two_amendments_at_once_are_numbered_apart(make_record, users):
    record = make_record(submit=True)

    def amend(place):
        def _run():
            actor = type(users.secretary_a1).objects.get(pk=users.secretary_a1.pk)
            return services.amend_record(
                Record.objects.get(pk=record.pk),
                actor=actor,
                reason=f"改为{place}",
                data={**MEETING_DATA, "place": place},
            )

        return _run

    results = run_together(amend("一楼"), amend("二楼"))
    assert not [r for r in results if isinstance(r, Exception)], results
    numbers = sorted(RecordAmendment.objects.filter(record=record).values_list("number", flat=True))
    assert numbers == [1, 2]
    second = RecordAmendment.objects.get(record=record, number=2)
    first = RecordAmendment.objects.get(record=record, number=1)
    assert second.data_before["data"]["place"] == first.data_after["data"]["place"]
    assert Record.objects.get(pk=record.pk).amendment_count == 2
