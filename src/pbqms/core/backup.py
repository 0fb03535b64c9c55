"""Backup and restore (SECURITY.md item 14).

A backup is one ``.tar.gz`` holding ``manifest.json``, ``data.json`` (every table's rows,
Django's serializer with natural keys for content types, so it loads into any freshly
migrated database) and ``files/…`` (every stored upload, read through the configured
storage, so it works for the file system and for object storage alike).

A restore goes into an empty, migrated database: rows are loaded as they were (primary
keys, timestamps, change-log hashes), so ``pbqms verify-audit`` passes afterwards. The
change log's own receivers ignore raw fixture loads; nothing new is logged by a restore
except one final "restore" line on the command output.

The archive holds personal data and TOTP secrets: keep it as carefully as the database."""

from __future__ import annotations

import io
import json
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from django.apps import apps
from django.core import management
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils import timezone

FORMAT = "pbqms-backup/1"
# rebuilt by migrate on the target, or meaningless there
EXCLUDE = ("contenttypes", "auth.permission", "sessions")


class BackupError(Exception):
    pass


@dataclass
class Summary:
    rows: int
    files: int


def _walk(storage, prefix: str = ""):
    try:
        dirs, files = storage.listdir(prefix)
    except FileNotFoundError:
        return
    for name in sorted(files):
        yield f"{prefix}{name}"
    for sub in sorted(dirs):
        yield from _walk(storage, f"{prefix}{sub}/")


def dump_data() -> str:
    out = io.StringIO()
    management.call_command(
        "dumpdata",
        *(),
        exclude=list(EXCLUDE),
        natural_foreign=True,
        format="pbqmsjson",
        indent=None,
        stdout=out,
    )
    return out.getvalue()


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(timezone.now().timestamp())
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(data))


def backup(path: Path) -> Summary:
    """Write the whole database and every stored file to ``path`` (.tar.gz)."""
    data = dump_data()
    rows = len(json.loads(data))
    names = list(_walk(default_storage))
    manifest = {
        "format": FORMAT,
        "created": timezone.now().isoformat(),
        "database": connection.vendor,
        "rows": rows,
        "files": names,
        "migrations": _applied_migrations(),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        _add_bytes(tar, "manifest.json", json.dumps(manifest, ensure_ascii=False).encode())
        _add_bytes(tar, "data.json", data.encode())
        for name in names:
            with default_storage.open(name, "rb") as fh:
                _add_bytes(tar, f"files/{name}", fh.read())
    path.chmod(0o600)
    return Summary(rows, len(names))


def _applied_migrations() -> dict[str, str]:
    from django.db.migrations.recorder import MigrationRecorder

    latest: dict[str, str] = {}
    for app, name in MigrationRecorder(connection).applied_migrations():
        if name > latest.get(app, ""):
            latest[app] = name
    return latest


def _is_empty() -> bool:
    user_model = apps.get_model("accounts", "User")
    changelog = apps.get_model("core", "ChangeLogEntry")
    return not user_model.objects.exists() and not changelog.objects.exists()


def _safe_member_name(name: str) -> str | None:
    pure = PurePosixPath(name)
    if pure.is_absolute() or ".." in pure.parts or len(pure.parts) < 2 or pure.parts[0] != "files":
        return None
    return str(PurePosixPath(*pure.parts[1:]))


def _read_archive(path: Path) -> tuple[dict, bytes, list[tuple[str, bytes]]]:
    try:
        with tarfile.open(path, "r:gz") as tar:
            try:
                manifest = json.load(tar.extractfile("manifest.json"))
                data = tar.extractfile("data.json").read()
            except (KeyError, AttributeError, ValueError) as exc:
                raise BackupError("not a pbqms backup: manifest.json or data.json missing") from exc
            if manifest.get("format") != FORMAT:
                raise BackupError(f"unknown backup format {manifest.get('format')!r}")
            files = []
            for member in tar.getmembers():
                if not member.isfile() or member.name in ("manifest.json", "data.json"):
                    continue
                name = _safe_member_name(member.name)
                if name is None:
                    raise BackupError(f"refusing unsafe path in archive: {member.name}")
                files.append((name, tar.extractfile(member).read()))
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BackupError(f"not a pbqms backup: {exc}") from exc
    return manifest, data, files


def restore(path: Path, *, force: bool = False) -> Summary:
    """Load a backup into an empty, migrated database (``force``: wipe a non-empty one)."""
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"no such file: {path}")
    if not force and not _is_empty():
        raise BackupError(
            "the database is not empty: restore into a freshly migrated database "
            "(or pass --force to wipe this one first)"
        )
    manifest, data, files = _read_archive(path)
    with tempfile.TemporaryDirectory() as tmp:
        fixture = Path(tmp) / "pbqms-restore.pbqmsjson"
        fixture.write_bytes(data)
        with transaction.atomic():
            # rows that data migrations created in the fresh database come back from the backup
            management.call_command(
                "flush", interactive=False, verbosity=0, inhibit_post_migrate=False
            )
            management.call_command("loaddata", str(fixture), verbosity=0)
    for name, content in files:
        if default_storage.exists(name):
            default_storage.delete(name)
        default_storage.save(name, ContentFile(content))
    return Summary(int(manifest.get("rows", 0)), len(files))
