"""``pbqms demo_plans``: the demo enterprise's work plans for last year and this year,
cascaded to the branches as tasks, completed where the demo records prove them (demo mode
only; run after ``pbqms demo`` and ``pbqms demo_records``). Running it again adds nothing."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from pbqms.plans import demo_data


class Command(BaseCommand):
    help = "Load the demo work plans and tasks (demo mode only)."

    def handle(self, *args, **options):
        if not settings.DEMO_MODE:
            raise CommandError("demo_plans runs only in demo mode (PBQMS_DEMO=1).")
        summary = demo_data.load(stdout=self.stdout)
        if summary is None:
            self.stdout.write("demo work plans already loaded (or the demo is missing).")
