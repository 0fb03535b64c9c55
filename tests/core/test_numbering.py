"""``next_number``: sequential, gap-free (a rolled-back number is reused), unique under
concurrency, and a changed pattern applies to the next number."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from pbqms.core.models import ChangeLogEntry, NumberSequence
from pbqms.core.numbering import format_number, next_number

needs_postgres = pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")


@pytest.mark.django_db
def test_numbers_follow_the_default_pattern():
    assert next_number("orgs.organization") == "DZZ-00001"
    assert next_number("orgs.organization") == "DZZ-00002"
    # an unknown key gets "<key>-0001"
    assert next_number("test.thing") == "test.thing-0001"
    assert NumberSequence.objects.get(key="orgs.organization").last_value == 2


@pytest.mark.django_db
def test_pattern_given_on_first_use_and_year():
    year = timezone.localdate().year
    assert next_number("doc.procedure", pattern="DJ-CX-{year}-{seq:02d}") == f"DJ-CX-{year}-01"
    # the stored pattern wins afterwards
    assert next_number("doc.procedure", pattern="ignored-{seq}") == f"DJ-CX-{year}-02"
    assert format_number("{seq:03d}/{year}", 7, year=2030) == "007/2030"


@pytest.mark.django_db
def test_a_changed_pattern_applies_to_the_next_number():
    assert next_number("orgs.organization") == "DZZ-00001"
    seq = NumberSequence.objects.get(key="orgs.organization")
    seq.pattern = "ZZ/{seq:03d}"
    seq.save()
    assert next_number("orgs.organization") == "ZZ/002"
    # the pattern change is in the change log; the running counter is not logged
    change = ChangeLogEntry.objects.filter(
        object_type="core.numbersequence", action="update"
    ).latest("id")
    assert change.changes == {"pattern": ["DZZ-{seq:05d}", "ZZ/{seq:03d}"]}


@pytest.mark.django_db
def test_a_rolled_back_number_is_given_again():
    assert next_number("orgs.organization") == "DZZ-00001"
    with pytest.raises(RuntimeError), transaction.atomic():
        assert next_number("orgs.organization") == "DZZ-00002"
        raise RuntimeError("the unit could not be saved")
    assert next_number("orgs.organization") == "DZZ-00002"


@pytest.mark.postgres_only
@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_numbers_are_unique_and_gap_free_under_concurrency():
    next_number("conc.test")  # create the sequence row first
    threads_count, per_thread = 4, 10
    results: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(threads_count)

    def worker(index: int) -> None:
        try:
            barrier.wait()
            for i in range(per_thread):
                with transaction.atomic():
                    number = next_number("conc.test")
                    if i % 3 == index % 3:
                        # some callers roll back: their number must be given to someone else
                        transaction.set_rollback(True)
                        continue
                with lock:
                    results.append(number)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(threads_count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert len(results) == len(set(results)), "a number was given twice"
    values = sorted(int(n.rsplit("-", 1)[1]) for n in results)
    # no gaps: the committed numbers are exactly 2 … N+1 (1 was taken before the threads)
    assert values == list(range(2, 2 + len(values)))
    assert NumberSequence.objects.get(key="conc.test").last_value == 1 + len(values)
