"""Optimistic locking (SECURITY.md item 15): an edit based on an old version is refused."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _


class StaleObjectError(ValidationError):
    """Raised when an object changed after the user loaded it. Views show it as a form error,
    the API as HTTP 409."""

    def __init__(self):
        super().__init__(
            _(
                "Someone else changed this record after you opened it. Reload the page to see "
                "their changes, then make yours again."
            ),
            code="stale",
        )


def check_version(instance, expected_version) -> None:
    """Lock the row and compare its current version with the one the edit was based on."""
    if expected_version in (None, ""):
        return
    current = (
        type(instance)
        ._default_manager.select_for_update()
        .values_list("version", flat=True)
        .get(pk=instance.pk)
    )
    if int(expected_version) != current:
        raise StaleObjectError()
