"""The demo command: demo mode only; loads a policy for two years (values, breakdown) and
the process map on the demo enterprise; running it again adds nothing."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from pbqms.objectives.models import Indicator, IndicatorTarget, Measurement, Policy
from pbqms.processes.models import Process

pytestmark = pytest.mark.django_db


def test_demo_objectives(settings):
    settings.DEMO_MODE = False
    with pytest.raises(CommandError):
        call_command("demo_objectives")
    settings.DEMO_MODE = True
    call_command("demo", verbosity=0)
    call_command("demo_objectives")
    year = timezone.localdate().year
    assert set(Policy.objects.values_list("year", flat=True)) == {year - 1, year}
    assert Indicator.objects.filter(objective__policy__year=year).count() == 6
    assert IndicatorTarget.objects.filter(indicator__code="I2").count() >= 2 * 6
    # manual values for both years (the trend), computed ones this year
    assert Measurement.objects.filter(indicator__objective__policy__year=year - 1).exists()
    assert Measurement.objects.filter(source="computed").exists()
    assert Process.objects.filter(code="HX-03").exists()
    counts = (Policy.objects.count(), Measurement.objects.count(), Process.objects.count())
    call_command("demo_objectives")
    assert (Policy.objects.count(), Measurement.objects.count(), Process.objects.count()) == counts
    call_command("refresh_indicators")
