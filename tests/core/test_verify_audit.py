"""``pbqms verify-audit`` and the append-only guarantees of the change log."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from pbqms.cli import main as pbqms_main
from pbqms.core.changelog import log_security_event, verify_chain
from pbqms.core.models import ChangeLogEntry

on_sqlite = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite only")
needs_postgres = pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")


def run() -> tuple[int, str]:
    """Run the command as ``pbqms verify-audit`` would: (exit code, output)."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("verify_audit", stdout=out, stderr=err)
    except CommandError as exc:
        return exc.returncode, f"{out.getvalue()}{err.getvalue()}{exc}"
    return 0, out.getvalue() + err.getvalue()


def middle_entry() -> ChangeLogEntry:
    ids = list(ChangeLogEntry.objects.order_by("id").values_list("id", flat=True))
    assert len(ids) > 4
    return ChangeLogEntry.objects.get(pk=ids[len(ids) // 2])


def next_id_after(entry_id: int) -> int:
    return (
        ChangeLogEntry.objects.filter(pk__gt=entry_id)
        .order_by("id")
        .values_list("id", flat=True)[0]
    )


# ---------------------------------------------------------------- intact chain


def test_untouched_chain_is_ok(tree):
    code, output = run()
    assert code == 0
    count = ChangeLogEntry.objects.count()
    assert f"OK: {count} entries checked" in output


@pytest.mark.django_db
def test_empty_log_is_ok():
    code, output = run()
    assert code == 0
    assert "OK: 0 entries checked" in output


def test_the_pbqms_command_name_works(tree, capsys):
    # `pbqms verify-audit` maps to the verify_audit management command
    pbqms_main(["pbqms", "verify-audit"])  # returns normally when the chain is intact
    assert "OK:" in capsys.readouterr().out
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE core_changelogentry SET reason = 'x' WHERE id = %s", [middle_entry().pk]
            )
        with pytest.raises(SystemExit) as exit_info:
            pbqms_main(["pbqms", "verify-audit"])
        assert exit_info.value.code == 1
        assert "BROKEN" in capsys.readouterr().err


def test_chunked_reading_gives_the_same_answer(tree):
    call_command("verify_audit", "--chunk-size", "2", stdout=io.StringIO())


# ---------------------------------------------------------------- the application refuses


def test_the_application_refuses_to_change_or_delete_entries(tree):
    entry = ChangeLogEntry.objects.first()
    entry.reason = "changed"
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()
    with pytest.raises(PermissionError):
        ChangeLogEntry.objects.filter(pk=entry.pk).update(reason="changed")
    with pytest.raises(PermissionError):
        ChangeLogEntry.objects.filter(pk=entry.pk).delete()
    assert verify_chain().ok


# ---------------------------------------------------------------- tampering on SQLite


@on_sqlite
def test_changed_row_is_reported(tree):
    victim = middle_entry()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE core_changelogentry SET changes = %s WHERE id = %s",
            ['{"name": [null, "forged"]}', victim.pk],
        )
    code, output = run()
    assert code == 1
    assert f"id {victim.pk}" in output
    assert "content does not match its hash" in output


@on_sqlite
def test_deleted_row_in_the_middle_is_reported(tree):
    victim = middle_entry()
    following = next_id_after(victim.pk)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_changelogentry WHERE id = %s", [victim.pk])
    code, output = run()
    assert code == 1
    assert f"id {following}" in output
    assert "link to the previous entry" in output


@on_sqlite
def test_rehashed_row_breaks_the_next_link(tree):
    """A forger who also recomputes the hash of the changed row is caught at the next row."""
    from pbqms.core.changelog import compute_hash

    victim = middle_entry()
    victim.reason = "forged"
    forged_hash = compute_hash(victim)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE core_changelogentry SET reason = %s, hash = %s WHERE id = %s",
            ["forged", forged_hash, victim.pk],
        )
    code, output = run()
    assert code == 1
    assert f"id {next_id_after(victim.pk)}" in output


# ---------------------------------------------------------------- PostgreSQL trigger


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE core_changelogentry SET reason = 'x' WHERE id = %s",
        "DELETE FROM core_changelogentry WHERE id = %s",
    ],
)
@pytest.mark.postgres_only
@needs_postgres
@pytest.mark.usefixtures("tree")
def test_postgres_trigger_refuses_update_and_delete(sql):
    entry = ChangeLogEntry.objects.first()
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [entry.pk])
    assert ChangeLogEntry.objects.get(pk=entry.pk).reason == entry.reason
    assert verify_chain().ok


def _without_trigger(sql: str, params: list) -> None:
    """Tamper as a database administrator would: switch the trigger off (inside the test's
    transaction, so it is switched back on by the rollback), change rows, switch it on."""
    with connection.cursor() as cursor:
        cursor.execute(
            "ALTER TABLE core_changelogentry DISABLE TRIGGER pbqms_changelog_append_only"
        )
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE core_changelogentry ENABLE TRIGGER pbqms_changelog_append_only")


@pytest.mark.postgres_only
@needs_postgres
@pytest.mark.usefixtures("tree")
def test_postgres_tampered_row_is_reported():
    log_security_event("login_failed", username="ghost", outcome="failure")
    victim = middle_entry()
    _without_trigger(
        "UPDATE core_changelogentry SET changes = %s WHERE id = %s",
        ['{"name": [null, "forged"]}', victim.pk],
    )
    code, output = run()
    assert code == 1
    assert f"id {victim.pk}" in output
    assert "content does not match its hash" in output


@pytest.mark.postgres_only
@needs_postgres
@pytest.mark.usefixtures("tree")
def test_postgres_deleted_row_is_reported():
    victim = middle_entry()
    following = next_id_after(victim.pk)
    _without_trigger("DELETE FROM core_changelogentry WHERE id = %s", [victim.pk])
    code, output = run()
    assert code == 1
    assert f"id {following}" in output
    assert "link to the previous entry" in output
