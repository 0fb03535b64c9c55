from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from pbqms.system.models import ConformityResult

pytestmark = pytest.mark.django_db


def test_recompute_command(tree, theme_day):
    out = StringIO()
    call_command("recompute_conformity", "--year", "2025", stdout=out)
    assert "36 cells, 36 written" in out.getvalue()
    assert ConformityResult.objects.filter(period_start=dt.date(2025, 3, 1)).count() == 3
    call_command("recompute_conformity", "--year", "2025", stdout=out)
    assert "36 cells, 0 written" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("recompute_conformity", "--year", "1800")
