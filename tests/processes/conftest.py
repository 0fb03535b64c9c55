from __future__ import annotations

import pytest
from django.utils import translation

from tests.system.conftest import requirement, templates  # noqa: F401 (fixtures)


@pytest.fixture(autouse=True)
def _english_messages():
    with translation.override("en"):
        yield
