"""Base models and the cross-cutting tables: change log, number sequences."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from pbqms.core.scope import ScopedQuerySet


class ChangeLoggedModel(models.Model):
    """Every domain model inherits this: its saves and deletes are written to the change log
    by one signal receiver (``pbqms.core.changelog``), whatever path made them.

    ``from_db`` keeps the values as loaded, so an update's before/after diff needs no extra
    query. ``changelog_exclude`` lists fields that are bookkeeping, not content;
    ``changelog_mask`` lists fields whose values must never be written (secrets)."""

    changelog_exclude: ClassVar[frozenset[str]] = frozenset()
    changelog_mask: ClassVar[frozenset[str]] = frozenset()

    class Meta:
        abstract = True

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._loaded_values = dict(zip(field_names, values, strict=True))
        return instance


class VersionedModel(ChangeLoggedModel):
    """Domain model with created/updated stamps and an optimistic-lock version counter.

    Edits carry the version they were based on; ``pbqms.core.locking.check_version``
    refuses an edit whose version is stale (SECURITY.md item 15)."""

    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)

    changelog_exclude: ClassVar[frozenset[str]] = frozenset({"updated_at", "created_at"})

    objects = ScopedQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            self.version = (self.version or 0) + 1
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "version", "updated_at"}
        super().save(*args, **kwargs)


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> int:
        raise PermissionError("change-log entries are append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("change-log entries are append-only")


class ChangeLogEntry(models.Model):
    """One change of a domain object or one security event. Append-only, hash-chained:
    ``hash = sha256(prev_hash + canonical content)``; ``pbqms verify-audit`` recomputes it."""

    class Action(models.TextChoices):
        CREATE = "create", _("Created")
        UPDATE = "update", _("Updated")
        DELETE = "delete", _("Deleted")
        LOGIN = "login", _("Logged in")
        LOGIN_FAILED = "login_failed", _("Login failed")
        LOGOUT = "logout", _("Logged out")
        LOCKOUT = "lockout", _("Account locked")
        UNLOCK = "unlock", _("Lock released")
        PASSWORD_CHANGE = "password_change", _("Password changed")
        OTP_SETUP = "otp_setup", _("Two-factor authentication set up")
        OTP_FAILED = "otp_failed", _("Two-factor code rejected")
        SESSION_EXPIRED = "session_expired", _("Session expired")
        PERMISSION_CHANGE = "permission_change", _("Permission changed")
        EXPORT = "export", _("Data exported")
        IMPORT = "import", _("Data imported")
        SIGNATURE = "signature", _("Electronic signature")
        ACCESS_DENIED = "access_denied", _("Access denied")
        PURGE = "purge", _("Change log purged")

    SECURITY_ACTIONS = frozenset(
        {
            Action.LOGIN,
            Action.LOGIN_FAILED,
            Action.LOGOUT,
            Action.LOCKOUT,
            Action.UNLOCK,
            Action.PASSWORD_CHANGE,
            Action.OTP_SETUP,
            Action.OTP_FAILED,
            Action.SESSION_EXPIRED,
            Action.PERMISSION_CHANGE,
            Action.EXPORT,
            Action.IMPORT,
            Action.SIGNATURE,
            Action.ACCESS_DENIED,
            Action.PURGE,
        }
    )

    class Outcome(models.TextChoices):
        SUCCESS = "success", _("Success")
        FAILURE = "failure", _("Failure")

    timestamp = models.DateTimeField(_("time"), db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_repr = models.CharField(_("actor name"), max_length=150, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    request_id = models.CharField(_("request id"), max_length=32, blank=True, db_index=True)
    source = models.CharField(_("source"), max_length=16, blank=True)
    action = models.CharField(_("action"), max_length=24, choices=Action.choices, db_index=True)
    outcome = models.CharField(
        _("outcome"), max_length=8, choices=Outcome.choices, default=Outcome.SUCCESS
    )
    object_type = models.CharField(_("object type"), max_length=100, blank=True, db_index=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    object_repr = models.CharField(_("object"), max_length=255, blank=True)
    org_id = models.BigIntegerField(_("unit id"), null=True, blank=True)
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    prev_hash = models.CharField(_("previous hash"), max_length=64)
    hash = models.CharField(_("hash"), max_length=64, unique=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = _("change log entry")
        verbose_name_plural = _("change log")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["object_type", "object_id"], name="changelog_object"),
            models.Index(fields=["actor", "timestamp"], name="changelog_actor_time"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.action} {self.object_repr}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise PermissionError("change-log entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any):
        raise PermissionError("change-log entries are append-only")

    @property
    def is_security_event(self) -> bool:
        return self.action in self.SECURITY_ACTIONS


class NumberSequence(ChangeLoggedModel):
    """A configurable, gap-free numbering sequence (``pbqms.core.numbering``)."""

    key = models.CharField(_("key"), max_length=100, unique=True)
    pattern = models.CharField(
        _("pattern"),
        max_length=100,
        help_text=_(
            "Python format pattern; {seq} is the running number, {year} the current year, "
            "e.g. DJ-CX-{seq:02d}."
        ),
    )
    last_value = models.PositiveBigIntegerField(_("last value"), default=0)

    changelog_exclude = frozenset({"last_value"})

    class Meta:
        verbose_name = _("number sequence")
        verbose_name_plural = _("number sequences")

    def __str__(self) -> str:
        return self.key


class Signature(ChangeLoggedModel):
    """An electronic signature (SECURITY.md item 10) on any signable object: who signed,
    when, with what meaning (编制/审核/批准/验证) and the hash of exactly what was signed.

    Written only by ``pbqms.core.signatures.sign`` after the signer re-entered their
    password; never changed afterwards. A signature whose ``signed_hash`` no longer matches
    the object's current content hash is shown as invalid."""

    class Meaning(models.TextChoices):
        PREPARED = "prepared", _("Prepared")  # 编制
        REVIEWED = "reviewed", _("Reviewed")  # 审核
        APPROVED = "approved", _("Approved")  # 批准
        VERIFIED = "verified", _("Verified")  # 验证

    content_type = models.ForeignKey(
        "contenttypes.ContentType", verbose_name=_("object type"), on_delete=models.PROTECT
    )
    object_id = models.CharField(_("object id"), max_length=64)
    signer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("signer"),
        on_delete=models.PROTECT,
        related_name="signatures",
    )
    signer_name = models.CharField(_("signer name"), max_length=150)
    meaning = models.CharField(_("meaning"), max_length=16, choices=Meaning.choices)
    signed_at = models.DateTimeField(_("signed at"))
    signed_hash = models.CharField(_("signed content hash"), max_length=64)
    comment = models.TextField(_("comment"), blank=True)
    org_id = models.BigIntegerField(_("unit id"), null=True, blank=True)

    class Meta:
        verbose_name = _("electronic signature")
        verbose_name_plural = _("electronic signatures")
        ordering = ["signed_at", "id"]
        indexes = [
            models.Index(fields=["content_type", "object_id"], name="signature_object"),
        ]

    def __str__(self) -> str:
        return f"{self.signer_name} · {self.get_meaning_display()}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise PermissionError("signatures cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any):
        raise PermissionError("signatures cannot be deleted")


class Notification(models.Model):
    """One message in a user's in-app inbox (ARCHITECTURE.md "Notifications").

    Written by ``pbqms.core.notify.notify`` only; ``dedupe_key`` makes a reminder that is
    computed again (daily job, a second click on "remind") land once per user."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notifications",
        verbose_name=_("recipient"),
    )
    kind = models.CharField(_("kind"), max_length=40, blank=True)
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("body"), blank=True)
    url = models.CharField(_("link"), max_length=500, blank=True)
    dedupe_key = models.CharField(_("deduplication key"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    emailed_at = models.DateTimeField(_("e-mailed at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [models.Index(fields=["recipient", "read_at"], name="core_notif_unread")]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "dedupe_key"],
                condition=~models.Q(dedupe_key=""),
                name="core_notif_dedupe",
            )
        ]

    def __str__(self) -> str:
        return self.subject


class Job(models.Model):
    """A piece of work run in the background (ARCHITECTURE.md "background jobs"): imports,
    recomputations, large exports. Created by ``pbqms.core.jobs.enqueue``; its live
    progress is kept in the cache while it runs (a job inside one database transaction
    cannot write progress rows others could read), its outcome here."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(_("kind"), max_length=60)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    result = models.JSONField(_("result"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="jobs",
        null=True,
        blank=True,
        verbose_name=_("started by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("background job")
        verbose_name_plural = _("background jobs")

    def __str__(self) -> str:
        return f"{self.kind} {self.pk}"

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)
