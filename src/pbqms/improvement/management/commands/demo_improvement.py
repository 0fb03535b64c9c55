"""``pbqms demo_improvement``: demo nonconformities in every state (demo mode only; run after
``pbqms demo``). Running it again adds nothing."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from pbqms.improvement import demo_data


class Command(BaseCommand):
    help = "Load the demo nonconformities and corrective actions (demo mode only)."

    def handle(self, *args, **options):
        if not settings.DEMO_MODE:
            raise CommandError("demo_improvement runs only in demo mode (PBQMS_DEMO=1).")
        created = demo_data.load(stdout=self.stdout)
        if created:
            self.stdout.write(f"{created} demo nonconformities loaded.")
        else:
            self.stdout.write("demo nonconformities already loaded (or the demo is missing).")
