"""Recompute every conformity result of a year (default: this year). Run it nightly: it
also turns "upcoming" cells whose due date has passed into "missing", and picks up org-tree
moves (treebeard moves paths without saving each unit, so no signal reaches the engine)."""

from __future__ import annotations

import datetime as dt
import time

from django.core.management.base import BaseCommand, CommandError

from pbqms.system import engine


class Command(BaseCommand):
    help = "Recompute the conformity results (units × obligations × periods) of a year."

    def add_arguments(self, parser):
        parser.add_argument("--year", type=int, help="calendar year (default: this year)")

    def handle(self, *args, year=None, **options):
        if year is not None and not 2000 <= year <= 2100:
            raise CommandError("--year must lie between 2000 and 2100")
        start = end = None
        if year is not None:
            start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
        started = time.monotonic()
        stats = engine.recompute_all(start=start, end=end)
        self.stdout.write(
            f"{stats.cells} cells, {stats.written} written, {stats.deleted} removed "
            f"in {time.monotonic() - started:.1f} s"
        )
