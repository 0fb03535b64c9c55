"""The quality system's requirement library, obligations and conformity results.

- ``Requirement``: what a regulation, ISO 9001 or an internal rule requires (built-in
  library in ``builtin.py``, editable).
- ``Obligation``: which units must do which activity (evidenced by a record template), how
  often, due when, and what a record must show to count.
- ``ConformityResult``: computed by ``engine.py`` for every (unit, obligation, period);
  stored and updated incrementally, fully recomputable.
- ``ConformityException``: a justified exception for one cell (shown as such).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from pbqms.core.models import VersionedModel
from pbqms.core.scope import ScopedQuerySet
from pbqms.system import periods


class Requirement(VersionedModel):
    class Source(models.TextChoices):
        ISO9001 = "iso9001", _("ISO 9001:2015 clause")
        PARTY = "party", _("Party regulation")
        INTERNAL = "internal", _("Internal requirement")

    source = models.CharField(_("source"), max_length=12, choices=Source.choices, db_index=True)
    code = models.CharField(_("code"), max_length=40, unique=True)
    title = models.CharField(_("title"), max_length=200)
    text = models.TextField(_("text"), blank=True)
    reference = models.CharField(
        _("reference"), max_length=200, blank=True, help_text=_("Where it is written.")
    )
    frequency_note = models.CharField(_("usual frequency"), max_length=200, blank=True)
    sort_key = models.CharField(_("sort key"), max_length=40, blank=True, db_index=True)
    is_builtin = models.BooleanField(_("built in"), default=False)
    is_active = models.BooleanField(_("active"), default=True)

    objects = models.Manager()

    class Meta:
        verbose_name = _("requirement")
        verbose_name_plural = _("requirements")
        ordering = ["source", "sort_key", "code"]

    def __str__(self) -> str:
        return f"{self.code} {self.title}"


class Frequency(models.TextChoices):
    MONTHLY = periods.MONTHLY, _("Monthly")
    QUARTERLY = periods.QUARTERLY, _("Quarterly")
    HALF_YEARLY = periods.HALF_YEARLY, _("Half-yearly")
    YEARLY = periods.YEARLY, _("Yearly")
    CUSTOM = periods.CUSTOM, _("Every N months")


class Counting(models.TextChoices):
    NONE = "none", _("Any submitted record counts")
    QUORUM = "quorum", _("More than half of the committee present")
    ATTENDANCE = "attendance", _("Minimum share of attendees present")


class ObligationQuerySet(models.QuerySet):
    def visible_to(self, user, perm=None):
        """Obligations are not secret inside the enterprise: anyone who may see them at
        all sees the whole list (units see what is required of them, including what a
        higher committee set)."""
        from pbqms.core import roles, scope

        if scope.has_perm(user, perm or roles.OBLIGATION_VIEW):
            return self.all()
        return self.none()


class Obligation(VersionedModel):
    """规定事项: units (by kind and/or chosen) must do an activity at a frequency."""

    requirement = models.ForeignKey(
        Requirement,
        verbose_name=_("requirement"),
        on_delete=models.PROTECT,
        related_name="obligations",
    )
    name = models.CharField(_("name"), max_length=200)
    owner = models.ForeignKey(
        "orgs.Organization",
        verbose_name=_("set by"),
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("The committee that sets it; it applies only inside its subtree."),
    )
    applies_to_kinds = models.JSONField(_("applies to unit kinds"), default=list, blank=True)
    orgs = models.ManyToManyField(
        "orgs.Organization",
        verbose_name=_("applies to these units"),
        blank=True,
        related_name="+",
    )
    activity = models.ForeignKey(
        "records.RecordTemplate",
        verbose_name=_("evidenced by record template"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    frequency = models.CharField(
        _("frequency"), max_length=12, choices=Frequency.choices, default=Frequency.MONTHLY
    )
    interval_months = models.PositiveSmallIntegerField(
        _("every how many months"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
    )
    anchor_on = models.DateField(
        _("counted from"),
        null=True,
        blank=True,
        help_text=_("Custom frequency: periods start in this month."),
    )
    due_offset_days = models.PositiveSmallIntegerField(
        _("due days into the period"),
        null=True,
        blank=True,
        help_text=_("Empty: due on the last day of the period. 0: the first day."),
    )
    counting = models.CharField(
        _("a record counts when"), max_length=12, choices=Counting.choices, default=Counting.NONE
    )
    min_attendance_ratio = models.DecimalField(
        _("minimum share present"),
        max_digits=3,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
    )
    document_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    document_id = models.PositiveBigIntegerField(null=True, blank=True)
    document = GenericForeignKey("document_type", "document_id")
    active_from = models.DateField(_("active from"), null=True, blank=True)
    active_to = models.DateField(_("active until"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    objects = ObligationQuerySet.as_manager()

    class Meta:
        verbose_name = _("obligation")
        verbose_name_plural = _("obligations")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = {}
        if self.frequency == Frequency.CUSTOM and not self.interval_months:
            errors["interval_months"] = _("A custom frequency needs the number of months.")
        if self.counting == Counting.ATTENDANCE and self.min_attendance_ratio is None:
            errors["min_attendance_ratio"] = _("Enter the minimum share present, e.g. 0.5.")
        if self.active_from and self.active_to and self.active_to < self.active_from:
            errors["active_to"] = _("The end lies before the start.")
        if errors:
            raise ValidationError(errors)

    def period_containing(self, day):
        return periods.period_containing(day, self.frequency, self.interval_months, self.anchor_on)


class ConformityStatus(models.TextChoices):
    MET = "met", _("Done on time")
    LATE = "late", _("Done late")
    MISSING = "missing", _("Missing")
    UPCOMING = "upcoming", _("Upcoming")
    NOT_APPLICABLE = "na", _("Not applicable")
    EXCEPTED = "excepted", _("Justified exception")


class ConformityResult(models.Model):
    """One cell of the conformity board: (unit, obligation, period) → status. Computed
    (``engine.py``); not change-logged (the records and exceptions it derives from are)."""

    org = models.ForeignKey(
        "orgs.Organization", verbose_name=_("unit"), on_delete=models.CASCADE, related_name="+"
    )
    obligation = models.ForeignKey(
        Obligation, verbose_name=_("obligation"), on_delete=models.CASCADE, related_name="results"
    )
    period_start = models.DateField(_("period start"))
    period_end = models.DateField(_("period end"))
    due_on = models.DateField(_("due on"))
    status = models.CharField(_("status"), max_length=10, choices=ConformityStatus.choices)
    record_ids = models.JSONField(_("satisfying records"), default=list, blank=True)
    flagged_ids = models.JSONField(_("records that do not count"), default=list, blank=True)
    computed_at = models.DateTimeField(_("computed at"))

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("conformity result")
        verbose_name_plural = _("conformity results")
        ordering = ["org_id", "obligation_id", "period_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["org", "obligation", "period_start"], name="conformity_cell_once"
            )
        ]
        indexes = [
            models.Index(fields=["due_on", "status"], name="conformity_due_status"),
        ]

    def __str__(self) -> str:
        return f"{self.org_id}/{self.obligation_id}/{self.period_start}: {self.status}"


class ConformityException(VersionedModel):
    """A justified exception for one (unit, obligation, period): the gap is shown as
    excepted, with its reason, instead of missing."""

    org = models.ForeignKey(
        "orgs.Organization", verbose_name=_("unit"), on_delete=models.PROTECT, related_name="+"
    )
    obligation = models.ForeignKey(
        Obligation,
        verbose_name=_("obligation"),
        on_delete=models.CASCADE,
        related_name="exceptions",
    )
    period_start = models.DateField(_("period start"))
    period_end = models.DateField(_("period end"))
    reason = models.TextField(_("reason"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("noted by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("conformity exception")
        verbose_name_plural = _("conformity exceptions")
        ordering = ["-period_start", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["org", "obligation", "period_start"], name="conformity_exception_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.org_id}/{self.obligation_id}/{self.period_start}"


class DocumentRequirement(VersionedModel):
    """A controlled document addresses a requirement (clause or regulation): one row of the
    coverage matrix's document column. Kept on the quality-system side so either app can
    land first; written through ``services.set_document_requirements`` (change-logged)."""

    requirement = models.ForeignKey(
        Requirement,
        verbose_name=_("requirement"),
        on_delete=models.CASCADE,
        related_name="document_links",
    )
    document = models.ForeignKey(
        "documents.Document",
        verbose_name=_("document"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("linked by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    objects = models.Manager()

    class Meta:
        verbose_name = _("document addressing a requirement")
        verbose_name_plural = _("documents addressing requirements")
        ordering = ["requirement_id", "document_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["requirement", "document"], name="document_requirement_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.document_id} → {self.requirement_id}"
