"""Password rules of SECURITY.md item 2 (Django's length and common-password validators do
the rest)."""

from __future__ import annotations

import string

from django.contrib.auth.hashers import check_password
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


class CharacterClassValidator:
    """At least 3 of the 4 classes: lower case, upper case, digits, other characters."""

    def __init__(self, min_classes: int = 3):
        self.min_classes = min_classes

    def validate(self, password: str, user=None) -> None:
        classes = [
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(c in string.punctuation or not c.isalnum() for c in password),
        ]
        if sum(classes) < self.min_classes:
            raise ValidationError(
                _(
                    "The password must use at least %(n)d of: lower-case letters, upper-case "
                    "letters, digits, other characters."
                )
                % {"n": self.min_classes},
                code="password_classes",
            )

    def get_help_text(self) -> str:
        return _(
            "Use at least %(n)d of: lower-case letters, upper-case letters, digits, other "
            "characters."
        ) % {"n": self.min_classes}


class NotContainingUsernameValidator:
    def validate(self, password: str, user=None) -> None:
        username = (getattr(user, "username", "") or "").lower()
        if username and len(username) >= 3 and username in password.lower():
            raise ValidationError(
                _("The password must not contain the user name."), code="password_has_username"
            )

    def get_help_text(self) -> str:
        return _("The password must not contain your user name.")


class PasswordHistoryValidator:
    """Not one of the last ``history`` passwords: the current one and the ``history - 1``
    before it (so with 5, the sixth-latest password may be used again)."""

    def __init__(self, history: int = 5):
        self.history = history

    def validate(self, password: str, user=None) -> None:
        if user is None or not getattr(user, "pk", None) or self.history < 1:
            return
        from pbqms.accounts.models import PasswordHistory, User

        hashes = list(
            PasswordHistory.objects.filter(user_id=user.pk).values_list("password", flat=True)[
                : self.history - 1
            ]
        )
        current = User.objects.filter(pk=user.pk).values_list("password", flat=True).first()
        if current:
            hashes.append(current)
        if any(check_password(password, h) for h in hashes if h):
            raise ValidationError(
                _("The password must differ from your last %(n)d passwords.") % {"n": self.history},
                code="password_reused",
            )

    def get_help_text(self) -> str:
        return _("Do not reuse any of your last %(n)d passwords.") % {"n": self.history}
