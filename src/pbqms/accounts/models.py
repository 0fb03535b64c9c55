from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from pbqms.core.models import ChangeLoggedModel


class User(ChangeLoggedModel, AbstractUser):
    """A login account. The person it belongs to (if any) is ``Person.user``."""

    display_name = models.CharField(_("display name"), max_length=150, blank=True)
    must_change_password = models.BooleanField(
        _("must change password"),
        default=True,
        help_text=_(
            "Set for accounts created by someone else: the user chooses a password at first login."
        ),
    )
    password_changed_at = models.DateTimeField(_("password changed at"), null=True, blank=True)
    language = models.CharField(
        _("language"), max_length=10, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE
    )

    changelog_exclude = frozenset({"last_login"})
    changelog_mask = frozenset({"password"})

    class Meta:
        verbose_name = _("user account")
        verbose_name_plural = _("user accounts")
        ordering = ["username"]

    def __str__(self) -> str:
        return self.display_name or self.username

    @property
    def name(self) -> str:
        return self.display_name or self.get_full_name() or self.username

    def password_expired(self) -> bool:
        max_age = settings.PBQMS_PASSWORD_MAX_AGE_DAYS
        if not max_age or self.password_changed_at is None:
            return False
        return (timezone.now() - self.password_changed_at).days >= max_age


class PasswordHistory(models.Model):
    """Hashes of a user's previous passwords, so that the last N cannot be reused."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="password_history")
    password = models.CharField(max_length=128)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("password history")
        verbose_name_plural = _("password history")

    def __str__(self) -> str:
        return f"{self.user_id} @ {self.created_at:%Y-%m-%d}"
