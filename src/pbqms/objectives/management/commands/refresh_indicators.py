"""``pbqms refresh_indicators [--year N]``: recompute the computed indicators (meeting
conformity rate, nonconformity closure rate …) of every policy of a year (default: this
year); run nightly after ``recompute_conformity``."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.utils import timezone

from pbqms.core.context import action_context
from pbqms.objectives import services
from pbqms.objectives.models import Policy


class Command(BaseCommand):
    help = "Recompute the computed indicators of a year's policies."

    def add_arguments(self, parser):
        parser.add_argument("--year", type=int, default=None)

    def handle(self, *args, year=None, **options):
        year = year or timezone.localdate().year
        written = 0
        with action_context(source="command"):
            for policy in Policy.objects.filter(year=year):
                written += services.refresh_policy(actor=None, policy=policy)
        self.stdout.write(f"{written} indicator values changed.")
