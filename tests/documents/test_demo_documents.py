"""The demo enterprise's document system (``pbqms demo_documents``)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from pbqms.core.changelog import verify_chain
from pbqms.core.models import Signature
from pbqms.documents.models import (
    Acknowledgement,
    Document,
    DocumentSystemSetting,
    DocumentVersion,
)


@pytest.fixture
def demo(db, settings):
    settings.DEMO_MODE = True
    call_command("demo", verbosity=0, stdout=StringIO())


def test_demo_documents_are_a_realistic_system(demo):
    call_command("demo_documents", stdout=StringIO())
    effective = Document.objects.in_master_list()
    assert effective.filter(doc_type="manual").count() == 1
    assert effective.filter(doc_type="procedure").count() >= 10
    assert effective.filter(doc_type="record_form").exists()
    assert effective.filter(doc_type="regulation", org__kind="branch").exists()
    assert DocumentVersion.objects.filter(status="in_review", label="B/0").count() == 1
    assert Document.objects.filter(status="draft").exists()
    assert Signature.objects.filter(meaning="approved").count() >= effective.count()
    assert Acknowledgement.objects.filter(done_at__isnull=False).exists()
    assert Acknowledgement.objects.filter(done_at__isnull=True).exists()
    # the new-energy subsidiary runs its documents in simplified mode (三合为一)
    assert DocumentSystemSetting.objects.get(org__code="HHJT-02").simplified
    assert verify_chain().ok
    # a second run changes nothing
    before = Document.objects.count()
    out = StringIO()
    call_command("demo_documents", stdout=out)
    assert Document.objects.count() == before and "already" in out.getvalue()


def test_refused_outside_demo_mode(db, settings):
    settings.DEMO_MODE = False
    with pytest.raises(CommandError):
        call_command("demo_documents", stdout=StringIO())
