"""``pbqms restore FILE``: load a backup into an empty, migrated database."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from pbqms.core import backup
from pbqms.core.changelog import verify_chain


class Command(BaseCommand):
    help = "Restore a backup made by `pbqms backup` into an empty, migrated database."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument(
            "--force", action="store_true", help="wipe a non-empty database before restoring"
        )

    def handle(self, *args, **options):
        try:
            summary = backup.restore(Path(options["file"]), force=options["force"])
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from exc
        report = verify_chain()
        self.stdout.write(f"restored {summary.rows} rows and {summary.files} files")
        if not report.ok:
            raise CommandError(
                f"change-log chain broken at entry {report.broken_id}: {report.problem}"
            )
        self.stdout.write(f"change-log chain verified ({report.checked} entries)")
