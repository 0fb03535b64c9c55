"""``pbqms demo_objectives``: the demo policy and objectives (this year and last, broken down
to units, with values) and the demo process map (demo mode only; run after ``pbqms demo``
and the other demo commands). Running it again adds nothing."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from pbqms.objectives import demo_data


class Command(BaseCommand):
    help = "Load the demo policy, objectives, indicators and process map (demo mode only)."

    def handle(self, *args, **options):
        if not settings.DEMO_MODE:
            raise CommandError("demo_objectives runs only in demo mode (PBQMS_DEMO=1).")
        created = demo_data.load(stdout=self.stdout)
        if created:
            self.stdout.write(f"{created} demo indicators loaded.")
        else:
            self.stdout.write("demo objectives already loaded (or the demo is missing).")
