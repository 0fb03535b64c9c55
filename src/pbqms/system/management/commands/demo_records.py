"""``pbqms demo_records``: the demo enterprise's obligations and a year of branch records
with realistic gaps, then a recompute of the conformity board (demo mode only; run after
``pbqms demo``). Running it again adds nothing."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from pbqms.system import demo_data


class Command(BaseCommand):
    help = "Load the demo obligations and a year of records (demo mode only)."

    def handle(self, *args, **options):
        if not settings.DEMO_MODE:
            raise CommandError("demo_records runs only in demo mode (PBQMS_DEMO=1).")
        summary = demo_data.load(stdout=self.stdout)
        if summary is None:
            self.stdout.write("demo records already loaded (or the demo is missing).")
