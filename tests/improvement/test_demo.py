"""The demo nonconformities: one in every state, loaded through the services on top of
``pbqms demo``, and loading twice adds nothing."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from pbqms.core.changelog import verify_chain
from pbqms.improvement import demo_data
from pbqms.improvement.models import CorrectiveAction, Nonconformity

S = Nonconformity.Status


@pytest.fixture
def demo(db, settings):
    settings.DEMO_MODE = True
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("demo", stdout=StringIO())


def test_demo_nonconformities_in_every_state(demo):
    assert demo_data.load() == len(demo_data.CASES)
    states = set(Nonconformity.objects.values_list("status", flat=True))
    assert states == set(S.values)
    assert CorrectiveAction.objects.filter(status=CorrectiveAction.Status.EFFECTIVE).exists()
    assert CorrectiveAction.objects.verification_due().exists()  # auditor1 can verify now
    assert CorrectiveAction.objects.overdue().exists()
    assert Nonconformity.objects.filter(repeat_of__isnull=False).count() == 1
    # the cases whose requirement is in the library point at it (process chain, coverage)
    linked = {
        nc.requirement_object.code for nc in Nonconformity.objects.exclude(requirement_type=None)
    }
    assert linked == set(demo_data.REQUIREMENT_CODES.values())
    assert verify_chain().ok
    assert demo_data.load() == 0
    assert Nonconformity.objects.count() == len(demo_data.CASES)
