"""Record templates and quality records (质量记录): meeting minutes, party lectures, …

A ``RecordTemplate`` declares the fields of a record (``fields``: a list of field specs, see
``pbqms.records.schema``). A ``Record`` is filled for one unit: draft → submitted; once
submitted it is locked and changes only through a ``RecordAmendment`` with a reason (the data
before and after are kept)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from pbqms.core import workflow
from pbqms.core.models import VersionedModel
from pbqms.core.roles import RECORD_SUBMIT
from pbqms.core.scope import ScopedQuerySet


class RecordTemplate(VersionedModel):
    """What a kind of record contains. Built-in templates (``is_builtin``) come with pbqms."""

    class Kind(models.TextChoices):
        MEMBER_MEETING = "member_meeting", _("Branch general meeting")  # 支部党员大会
        COMMITTEE_MEETING = "committee_meeting", _("Branch committee meeting")  # 支部委员会
        GROUP_MEETING = "group_meeting", _("Party group meeting")  # 党小组会
        PARTY_LECTURE = "party_lecture", _("Party lecture")  # 党课
        THEME_DAY = "theme_day", _("Themed party day")  # 主题党日
        ORG_LIFE = "org_life", _("Organisational life meeting")  # 组织生活会
        MEMBER_REVIEW = "member_review", _("Democratic appraisal of members")  # 民主评议党员
        HEART_TALK = "heart_talk", _("Heart-to-heart talk")  # 谈心谈话
        OTHER = "other", _("Other")

    code = models.CharField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=24, choices=Kind.choices, db_index=True)
    description = models.TextField(_("description"), blank=True)
    fields = models.JSONField(_("fields"), default=list, blank=True)
    has_attendance = models.BooleanField(_("attendance"), default=True)
    is_builtin = models.BooleanField(_("built in"), default=False)
    is_active = models.BooleanField(_("active"), default=True)

    objects = models.Manager()

    class Meta:
        verbose_name = _("record template")
        verbose_name_plural = _("record templates")
        ordering = ["kind", "code"]

    def __str__(self) -> str:
        return self.name


def _may_submit(record, user) -> bool:
    from pbqms.core.scope import has_perm

    return has_perm(user, RECORD_SUBMIT, record.org)


class Record(VersionedModel):
    """One record of one unit (e.g. the minutes of a branch committee meeting)."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SUBMITTED = "submitted", _("Submitted")

    template = models.ForeignKey(
        RecordTemplate,
        verbose_name=_("record template"),
        on_delete=models.PROTECT,
        related_name="records",
    )
    org = models.ForeignKey(
        "orgs.Organization",
        verbose_name=_("unit"),
        on_delete=models.PROTECT,
        related_name="records",
    )
    title = models.CharField(_("title"), max_length=200)
    occurred_at = models.DateTimeField(_("held at"), db_index=True)
    status = workflow.StateField(
        _("status"), max_length=12, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("submitted by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    data = models.JSONField(_("content"), default=dict, blank=True)
    amendment_count = models.PositiveIntegerField(_("amendments"), default=0)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("record")
        verbose_name_plural = _("records")
        ordering = ["-occurred_at", "-id"]
        permissions = [
            ("submit_record", "Can submit a record"),
            ("amend_record", "Can amend a submitted record"),
        ]
        indexes = [
            models.Index(fields=["org", "template", "occurred_at"], name="record_org_tpl_time"),
            models.Index(fields=["template", "status", "occurred_at"], name="record_tpl_status"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_locked(self) -> bool:
        return self.status == self.Status.SUBMITTED

    @workflow.transition(
        status,
        source=Status.DRAFT,
        target=Status.SUBMITTED,
        label=_("Submit"),
        guard=_may_submit,
    )
    def submit(self, **kwargs) -> None:
        from django.utils import timezone

        self.submitted_at = timezone.now()
        actor = kwargs.get("actor")
        if actor is not None and getattr(actor, "pk", None):
            self.submitted_by = actor

    def attendance_summary(self) -> tuple[int, int]:
        """(present, total) of the attendance rows (uses a prefetched ``attendance`` if any)."""
        rows = list(self.attendance.all())
        return sum(1 for r in rows if r.present), len(rows)


class RecordAttendance(VersionedModel):
    """Whether a person of the unit attended (absence needs a reason)."""

    record = models.ForeignKey(
        Record, verbose_name=_("record"), on_delete=models.CASCADE, related_name="attendance"
    )
    person = models.ForeignKey(
        "orgs.Person", verbose_name=_("person"), on_delete=models.PROTECT, related_name="+"
    )
    person_name = models.CharField(_("name"), max_length=60, blank=True)
    present = models.BooleanField(_("present"), default=True)
    absence_reason = models.CharField(_("reason for absence"), max_length=200, blank=True)

    objects = models.Manager()

    class Meta:
        verbose_name = _("attendance")
        verbose_name_plural = _("attendance")
        ordering = ["record_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["record", "person"], name="attendance_once"),
        ]

    def __str__(self) -> str:
        return f"{self.person_name or self.person_id}: {'✓' if self.present else '✗'}"


class RecordAmendment(VersionedModel):
    """A change to a submitted record: number, reason, author, data before and after."""

    record = models.ForeignKey(
        Record, verbose_name=_("record"), on_delete=models.CASCADE, related_name="amendments"
    )
    number = models.PositiveIntegerField(_("number"))
    reason = models.TextField(_("reason"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    data_before = models.JSONField(_("before"), default=dict)
    data_after = models.JSONField(_("after"), default=dict)

    objects = models.Manager()

    class Meta:
        verbose_name = _("amendment")
        verbose_name_plural = _("amendments")
        ordering = ["record_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["record", "number"], name="amendment_number_once"),
        ]

    def __str__(self) -> str:
        return f"{self.record_id} #{self.number}"


class RecordAttachment(VersionedModel):
    """A photo or scanned document (e.g. a signed sign-in sheet) attached to a record."""

    class Kind(models.TextChoices):
        PHOTO = "photo", _("Photo")
        SIGN_IN = "sign_in", _("Sign-in sheet")
        OTHER = "other", _("Other")

    record = models.ForeignKey(
        Record, verbose_name=_("record"), on_delete=models.CASCADE, related_name="attachments"
    )
    field = models.CharField(_("field"), max_length=40, blank=True)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.PHOTO)
    file = models.FileField(_("file"), upload_to="records/%Y/%m/")
    file_name = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(_("content type"), max_length=60)
    size = models.PositiveIntegerField(_("size"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    removed_at = models.DateTimeField(_("removed at"), null=True, blank=True)

    objects = models.Manager()

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["record_id", "id"]

    def __str__(self) -> str:
        return self.file_name

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


def committee_members(org, on_date):
    """Person ids holding a committee post (``Post.COMMITTEE_TITLES``) in ``org`` on
    ``on_date``."""
    from django.db.models import Q

    from pbqms.orgs.models import Post

    return set(
        Post.objects.filter(org=org, title__in=Post.COMMITTEE_TITLES, started_on__lte=on_date)
        .filter(Q(ended_on__isnull=True) | Q(ended_on__gte=on_date))
        .values_list("person_id", flat=True)
    )


def committee_quorum_met(record: Record) -> bool:
    """More than half of the unit's committee members (on the day of the record) present.
    False when the unit has no committee members on that day."""
    from django.utils import timezone

    on_date = timezone.localtime(record.occurred_at).date()
    members = committee_members(record.org, on_date)
    if not members:
        return False
    present = {
        pid
        for pid, is_present in record.attendance.values_list("person_id", "present")
        if is_present
    }
    return len(members & present) * 2 > len(members)
