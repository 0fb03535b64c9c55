"""``pbqms demo_records``: obligations and a year of records for the demo enterprise, with
gaps, lates, a flagged record and one justified exception; idempotent; demo mode only."""

from __future__ import annotations

from collections import Counter
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from pbqms.core.models import ChangeLogEntry
from pbqms.records.models import Record
from pbqms.records.services import ensure_builtin_templates
from pbqms.system.models import ConformityException, ConformityResult, Obligation

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(settings):
    settings.DEMO_MODE = True
    ensure_builtin_templates()
    call_command("demo", verbosity=0, stdout=StringIO())


def test_demo_records_tells_a_story(demo):
    out = StringIO()
    call_command("demo_records", stdout=out)
    assert "obligations" in out.getvalue()
    assert Obligation.objects.count() == 8
    n = Record.objects.count()
    assert n > 500 and not Record.objects.exclude(status="submitted").exists()
    statuses = Counter(ConformityResult.objects.values_list("status", flat=True))
    for status in ("met", "late", "missing", "upcoming", "excepted"):
        assert statuses[status] > 0, status
    assert ConformityException.objects.count() == 1
    assert ConformityResult.objects.exclude(flagged_ids=[]).exists()
    # zhibu1's branch: all done so far, this month's committee meeting still open
    own = ConformityResult.objects.filter(org__code="HHJT-01-02")
    assert not own.filter(status__in=["missing", "late"]).exists()
    # some branches are clearly weaker than others
    by_org = Counter(own.model.objects.filter(status="missing").values_list("org__code", flat=True))
    assert by_org.most_common(1)[0][1] >= 5
    assert ChangeLogEntry.objects.filter(object_type__icontains="record").count() >= n
    # a nonconformity raised from a gap, linked to its cell
    from pbqms.improvement.models import Nonconformity

    nc = Nonconformity.objects.get(source_kind="conformity_gap")
    assert nc.source.org.code == "HHJT-02-02" and nc.source.status == "missing"
    # again: nothing added
    again = StringIO()
    call_command("demo_records", stdout=again)
    assert "already" in again.getvalue()
    assert Record.objects.count() == n


def test_demo_records_only_in_demo_mode(settings):
    settings.DEMO_MODE = False
    with pytest.raises(CommandError):
        call_command("demo_records")
