"""``pbqms run-worker``: run background jobs queued in the database (PBQMS_JOBS=worker)."""

from django.core.management.base import BaseCommand

from pbqms.core import jobs


class Command(BaseCommand):
    help = "Run queued background jobs (imports, recomputations); use with PBQMS_JOBS=worker."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="stop when the queue is empty")
        parser.add_argument("--sleep", type=float, default=1.0, help="idle poll interval (s)")

    def handle(self, *args, **options):
        ran = jobs.work(once=options["once"], idle_sleep=max(0.1, options["sleep"]))
        self.stdout.write(f"{ran} job(s) run")
