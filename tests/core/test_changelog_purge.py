"""SECURITY.md item 9: retention >= 180 days; purge refuses younger rows; the chain still
verifies after a purge; the database refuses deletes outside a purge."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from pbqms.core import changelog
from pbqms.core.models import ChangeLogEntry

pytestmark = pytest.mark.django_db


def _old_entries(days_ago: list[int]) -> list[ChangeLogEntry]:
    """Entries written long ago: a valid chain with old timestamps, as the database would
    hold after running for a year."""
    made = []
    for n, days in enumerate(days_ago):
        last = ChangeLogEntry.objects.order_by("-id").values_list("hash", flat=True).first()
        entry = ChangeLogEntry(
            timestamp=timezone.now() - dt.timedelta(days=days),
            actor_repr="old",
            source="ui",
            action="update",
            object_type="orgs.organization",
            object_id=str(n),
            object_repr=f"unit {n}",
            changes={"name": [f"a{n}", f"b{n}"]},
            prev_hash=last or changelog.GENESIS_HASH,
        )
        entry.hash = changelog.compute_hash(entry)
        entry.save()
        made.append(entry)
    return made


def test_purge_archives_old_entries_and_chain_still_verifies(tmp_path):
    entries = _old_entries([400, 390, 300, 200, 10, 1])
    archive = tmp_path / "purged.json.gz"
    out = io.StringIO()
    cutoff = (timezone.localdate() - dt.timedelta(days=250)).isoformat()
    call_command("purge_changelog", "--before", cutoff, "--archive", str(archive), stdout=out)
    assert "3 entries" in out.getvalue()
    kept = list(ChangeLogEntry.objects.order_by("id"))
    assert [e.pk for e in kept[:3]] == [e.pk for e in entries[3:]][:3]
    purge_entry = kept[-1]
    assert purge_entry.action == "purge" and purge_entry.changes["count"] == 3
    assert purge_entry.changes["last_hash"] == entries[2].hash
    with gzip.open(archive, "rt", encoding="utf-8") as fh:
        archived = json.load(fh)
    assert [row["pk"] for row in archived] == [e.pk for e in entries[:3]]
    assert archived[0]["fields"]["hash"] == entries[0].hash
    report = changelog.verify_chain()
    assert report.ok, report


def test_purge_refuses_entries_younger_than_retention(tmp_path, settings):
    settings.PBQMS_AUDIT_RETENTION_DAYS = 30  # configured below the floor: 180 still applies
    _old_entries([400, 100])
    too_recent = (timezone.localdate() - dt.timedelta(days=100)).isoformat()
    with pytest.raises(CommandError, match="180"):
        call_command("purge_changelog", "--before", too_recent, "--archive", str(tmp_path / "x.gz"))
    assert ChangeLogEntry.objects.count() == 2
    with pytest.raises(CommandError):
        call_command("purge_changelog", "--before", "bad", "--archive", str(tmp_path / "x.gz"))


def test_a_removed_first_entry_is_still_detected(tmp_path):
    """Without a purge entry anchoring it, a chain whose first entries vanished is broken."""
    entries = _old_entries([400, 300, 200])
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with pytest.raises(DatabaseError), transaction.atomic():
                cursor.execute("DELETE FROM core_changelogentry WHERE id = %s", [entries[0].pk])
            cursor.execute("SET LOCAL pbqms.purge = 'on'")  # simulate an attacker with SQL
        cursor.execute("DELETE FROM core_changelogentry WHERE id = %s", [entries[0].pk])
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL pbqms.purge = 'off'")
    report = changelog.verify_chain()
    assert not report.ok and report.broken_id == entries[1].pk


@pytest.mark.skipif(connection.vendor != "postgresql", reason="trigger exists on PostgreSQL")
def test_trigger_still_refuses_update_even_in_purge_mode():
    (entry,) = _old_entries([400])
    with connection.cursor() as cursor, pytest.raises(DatabaseError), transaction.atomic():
        cursor.execute("SET LOCAL pbqms.purge = 'on'")
        cursor.execute("UPDATE core_changelogentry SET reason = 'x' WHERE id = %s", [entry.pk])
