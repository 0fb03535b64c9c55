"""``pbqms purge-changelog --before DATE --archive FILE`` (SECURITY.md item 9).

Entries older than DATE are written to FILE (gzip JSON) and removed; entries younger than
the retention period (PBQMS_AUDIT_RETENTION_DAYS, at least 180) are never removed. The
purge is itself logged and the chain still verifies afterwards."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from pbqms.core import changelog
from pbqms.core.context import action_context


class Command(BaseCommand):
    help = "Archive and remove change-log entries older than a date (retention >= 180 days)."

    def add_arguments(self, parser):
        parser.add_argument("--before", required=True, help="YYYY-MM-DD (Asia/Shanghai)")
        parser.add_argument("--archive", required=True, help="file to write the entries to")
        parser.add_argument("--reason", default="retention period reached")

    def handle(self, *args, **options):
        try:
            day = dt.date.fromisoformat(options["before"])
        except ValueError as exc:
            raise CommandError(f"--before: {exc}") from exc
        before = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
        with action_context(source="command", reason=options["reason"]):
            try:
                report = changelog.purge(
                    before, archive_path=options["archive"], reason=options["reason"]
                )
            except changelog.PurgeRefused as exc:
                raise CommandError(str(exc)) from exc
        if not report.count:
            self.stdout.write("nothing to purge")
            return
        self.stdout.write(
            f"{report.count} entries (#{report.first_id}–#{report.last_id}) archived to "
            f"{options['archive']} and removed"
        )
