"""``pbqms demo_audits``: one completed internal-audit round for the demo enterprise (demo
mode only; run after ``pbqms demo`` and ``demo_records``). Running it again adds nothing."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from pbqms.audits import demo_data


class Command(BaseCommand):
    help = "Load the demo internal-audit round (demo mode only)."

    def handle(self, *args, **options):
        if not settings.DEMO_MODE:
            raise CommandError("demo_audits runs only in demo mode (PBQMS_DEMO=1).")
        created = demo_data.load(stdout=self.stdout)
        if created:
            self.stdout.write(
                f"{created} demo audits loaded (leads auditor1, auditor2, auditor3; "
                "password as every demo account)."
            )
        else:
            self.stdout.write("demo audits already loaded (or the demo is missing).")
