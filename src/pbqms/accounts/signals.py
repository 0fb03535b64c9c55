"""Security events (SECURITY.md item 8) and password bookkeeping."""

from __future__ import annotations

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import pre_save
from django.dispatch import receiver
from django.utils import timezone

from pbqms.accounts.models import PasswordHistory, User
from pbqms.core.changelog import log_security_event


@receiver(user_logged_in)
def on_login(sender, request, user, **kwargs):
    if request is not None and hasattr(request, "session"):
        from pbqms.accounts.middleware import mark_login

        mark_login(request)
    log_security_event("login", user=user)


@receiver(user_logged_out)
def on_logout(sender, request, user, **kwargs):
    if user is not None:
        log_security_event("logout", user=user)


@receiver(user_login_failed)
def on_login_failed(sender, credentials, request=None, **kwargs):
    # credentials are cleansed by Django (password replaced by asterisks); only the
    # username is written
    username = str(credentials.get("username", ""))[:150]
    user = User.objects.filter(username=username).first()
    log_security_event("login_failed", user=user, username=username, outcome="failure")


@receiver(user_locked_out)
def on_locked_out(sender, request, username=None, ip_address=None, **kwargs):
    user = User.objects.filter(username=username).first() if username else None
    log_security_event(
        "lockout",
        user=user,
        username=username or "",
        outcome="failure",
        details={"ip": ip_address},
    )


@receiver(pre_save, sender=User)
def remember_password_change(sender, instance: User, raw=False, **kwargs):
    """When the password hash changes, keep the old hash for the reuse rule and stamp the
    change time."""
    if raw:
        return
    loaded = getattr(instance, "_loaded_values", None)
    old_hash = loaded.get("password") if loaded else None
    if instance._state.adding or loaded is None:
        if instance.password and instance.password_changed_at is None:
            instance.password_changed_at = timezone.now()
        return
    if old_hash and old_hash != instance.password:
        PasswordHistory.objects.create(user_id=instance.pk, password=old_hash)
        instance.password_changed_at = timezone.now()
