"""Daily: compute every area's due-date reminders and deliver them (inbox + e-mail)."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from pbqms.core import reminders


class Command(BaseCommand):
    help = "Compute due-date reminders from every area and deliver them (in-app inbox and e-mail)."

    def add_arguments(self, parser):
        parser.add_argument("--date", help="run as of this date (YYYY-MM-DD); default today")
        parser.add_argument("--only", action="append", help="provider name (repeatable)")

    def handle(self, *args, **options):
        today = timezone.localdate()
        if options["date"]:
            try:
                today = dt.date.fromisoformat(options["date"])
            except ValueError as exc:
                raise CommandError(f"--date: {exc}") from exc
        known = reminders.providers()
        unknown = set(options["only"] or ()) - set(known)
        if unknown:
            raise CommandError(f"unknown provider(s): {', '.join(sorted(unknown))}")
        result = reminders.run(today, options["only"])
        for name, count in result.items():
            status = "FAILED" if count < 0 else f"{count} message(s)"
            self.stdout.write(f"{name}: {status}")
        if not result:
            self.stdout.write("no reminder providers registered")
