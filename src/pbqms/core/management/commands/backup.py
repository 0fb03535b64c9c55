"""``pbqms backup FILE``: the whole database and every stored file in one .tar.gz."""

from pathlib import Path

from django.core.management.base import BaseCommand

from pbqms.core import backup


class Command(BaseCommand):
    help = "Write a complete backup (database rows and stored files) to a .tar.gz file."

    def add_arguments(self, parser):
        parser.add_argument("file", help="archive to write, e.g. var/backup-2026-11-24.tar.gz")

    def handle(self, *args, **options):
        summary = backup.backup(Path(options["file"]))
        self.stdout.write(
            f"backup written to {options['file']}: {summary.rows} rows, {summary.files} files"
        )
