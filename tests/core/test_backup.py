"""SECURITY.md item 14: a restore into an empty database reproduces the data exactly and the
change-log chain still verifies."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import connection

from pbqms.core import backup
from pbqms.core.changelog import verify_chain
from pbqms.core.models import ChangeLogEntry
from pbqms.orgs import services as org_services

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    }
    return settings.MEDIA_ROOT


def _manage(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _empty_target_database(tmp_path) -> str:
    """A new, empty database of the same kind as the one under test."""
    if connection.vendor != "postgresql":
        return f"sqlite:///{tmp_path / 'restored.sqlite3'}"
    import psycopg

    params = connection.settings_dict
    name = f"{params['NAME']}_restore"[:63]
    admin = f"postgres://{params['USER']}@{params['HOST']}:{params['PORT'] or 5432}"
    with psycopg.connect(f"{admin}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{admin}/{name}"


def _rows(data: str) -> list[str]:
    return sorted(json.dumps(row, sort_keys=True, ensure_ascii=False) for row in json.loads(data))


def test_backup_then_restore_into_empty_database_is_exact(users, tree, media, tmp_path):
    org_services.move_unit(actor=users.party_admin, unit=tree.branch_b1, new_parent=tree.sub_a)
    default_storage.save("records/2026/签到表.txt", ContentFile("签到：张三、李四".encode()))
    assert ChangeLogEntry.objects.exists()
    archive = tmp_path / "backup.tar.gz"
    out = io.StringIO()
    call_command("backup", str(archive), stdout=out)
    assert "rows" in out.getvalue()
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        original = tar.extractfile("data.json").read().decode()
    assert "files/records/2026/签到表.txt" in names

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "pbqms.settings",
        "PBQMS_DATABASE_URL": _empty_target_database(tmp_path),
        "PBQMS_MEDIA_ROOT": str(tmp_path / "media-restored"),
    }
    env.pop("PBQMS_TEST_DB_NAME", None)
    migrated = _manage(env, "migrate", "--noinput", "-v", "0")
    assert migrated.returncode == 0, migrated.stderr
    restored = _manage(env, "restore", str(archive))
    assert restored.returncode == 0, restored.stderr
    assert "change-log chain verified" in restored.stdout
    again = _manage(env, "restore", str(archive))  # no longer empty: refused
    assert again.returncode != 0 and "not empty" in again.stderr
    verified = _manage(env, "verify_audit")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    dumped = _manage(
        env,
        "dumpdata",
        "--natural-foreign",
        "--format=pbqmsjson",
        *(f"--exclude={e}" for e in backup.EXCLUDE),
    )
    assert dumped.returncode == 0, dumped.stderr
    assert _rows(dumped.stdout) == _rows(original)
    restored_file = tmp_path / "media-restored" / "records" / "2026" / "签到表.txt"
    assert restored_file.read_text() == "签到：张三、李四"


def test_restore_refuses_a_database_that_is_not_empty(users, media, tmp_path):
    archive = tmp_path / "b.tar.gz"
    call_command("backup", str(archive), stdout=io.StringIO())
    with pytest.raises(CommandError, match="not empty"):
        call_command("restore", str(archive), stdout=io.StringIO())
    assert verify_chain().ok


def test_restore_refuses_bad_archives(users, media, tmp_path):
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tar file")
    with pytest.raises(CommandError, match="not a pbqms backup"):
        call_command("restore", str(junk), "--force", stdout=io.StringIO())
    with pytest.raises(CommandError, match="no such file"):
        call_command("restore", str(tmp_path / "missing.tar.gz"), stdout=io.StringIO())
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as tar:
        for name, data in (
            ("manifest.json", json.dumps({"format": backup.FORMAT}).encode()),
            ("data.json", b"[]"),
            ("files/../../etc/passwd", b"x"),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(CommandError, match="unsafe path"):
        call_command("restore", str(evil), "--force", stdout=io.StringIO())
    # nothing was wiped by the refused restores
    assert ChangeLogEntry.objects.exists()
