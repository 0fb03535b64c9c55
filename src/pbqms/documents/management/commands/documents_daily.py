"""Daily step of the document area (run it from cron or the job worker once a day):
approved versions whose effective date has come take effect, superseding their
predecessor and giving the read-and-acknowledge tasks."""

from django.core.management.base import BaseCommand

from pbqms.core.context import action_context
from pbqms.documents import services


class Command(BaseCommand):
    help = "Make approved document versions effective on their effective date."

    def handle(self, *args, **options):
        with action_context(source="command", reason="effective date reached"):
            count = services.activate_due_versions()
        self.stdout.write(f"{count} version(s) made effective")
