"""``pbqms demo_reviews``: the demo management review (demo mode only; run after ``pbqms
demo`` and the other demo commands). Running it again adds nothing."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from pbqms.reviews import demo_data


class Command(BaseCommand):
    help = "Load the demo management review (demo mode only)."

    def handle(self, *args, **options):
        if not settings.DEMO_MODE:
            raise CommandError("demo_reviews runs only in demo mode (PBQMS_DEMO=1).")
        if demo_data.load(stdout=self.stdout):
            self.stdout.write("demo management review loaded.")
        else:
            self.stdout.write("demo management review already loaded (or the demo is missing).")
