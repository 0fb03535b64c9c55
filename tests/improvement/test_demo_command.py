import pytest
from django.core.management import CommandError, call_command

from pbqms.improvement.models import Nonconformity


def test_refused_outside_demo_mode(db, settings):
    settings.DEMO_MODE = False
    with pytest.raises(CommandError):
        call_command("demo_improvement")
    assert not Nonconformity.objects.exists()


def test_loads_once_after_the_demo(db, settings):
    settings.DEMO_MODE = True
    call_command("demo", verbosity=0)
    call_command("demo_improvement")
    count = Nonconformity.objects.count()
    assert count >= 5
    call_command("demo_improvement")
    assert Nonconformity.objects.count() == count
