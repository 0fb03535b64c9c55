"""Policy and objectives (方针目标): a 党委 states its party-building policy for a year and
objectives with measurable indicators (指标), broken down to subordinate units with their
own targets; values are entered per year or computed from pbqms data.

- ``Policy`` (方针): one per unit and year; the statement.
- ``Objective`` (目标): what the unit wants to achieve that year.
- ``Indicator`` (指标): unit of measure, direction (higher or lower is better), the owning
  unit's own target, and where its values come from (entered, or computed: meeting
  conformity rate from the conformity engine, nonconformity closure rate …).
- ``IndicatorTarget`` (分解目标): the target of a subordinate unit.
- ``Measurement`` (指标值): the value of an indicator for a unit and a year.

Across years an indicator is recognised by its code inside the owning unit's policies: the
year-over-year trend (持续改进, 螺旋上升) follows the code.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from pbqms.core import roles
from pbqms.core.models import VersionedModel
from pbqms.objectives.scoping import ancestors_q

YEAR_VALIDATORS = [MinValueValidator(2000), MaxValueValidator(2100)]


class _SeenFromBelow:
    """Units below see what their committees set (``scoping.py``)."""

    @staticmethod
    def scope_extra_q(user, perm):
        if perm != roles.OBJECTIVE_VIEW:
            return None
        return ancestors_q(user, perm, "org")


class Policy(_SeenFromBelow, VersionedModel):
    org = models.ForeignKey(
        "orgs.Organization", verbose_name=_("unit"), on_delete=models.PROTECT, related_name="+"
    )
    year = models.PositiveSmallIntegerField(_("year"), validators=YEAR_VALIDATORS)
    title = models.CharField(_("title"), max_length=200)
    statement = models.TextField(
        _("policy statement"), help_text=_("The party-building policy (方针) in a few lines.")
    )
    notes = models.TextField(_("explanation"), blank=True)

    class Meta:
        verbose_name = _("policy")
        verbose_name_plural = _("policies")
        ordering = ["org__path", "-year"]
        constraints = [
            models.UniqueConstraint(fields=["org", "year"], name="objectives_policy_once_a_year")
        ]

    def __str__(self) -> str:
        return f"{self.year} {self.title}"


class Objective(_SeenFromBelow, VersionedModel):
    policy = models.ForeignKey(
        Policy, verbose_name=_("policy"), on_delete=models.CASCADE, related_name="objectives"
    )
    org = models.ForeignKey(
        "orgs.Organization", verbose_name=_("unit"), on_delete=models.PROTECT, related_name="+"
    )
    code = models.CharField(_("code"), max_length=20)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("objective")
        verbose_name_plural = _("objectives")
        ordering = ["policy_id", "sort_order", "code", "id"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "code"], name="objectives_objective_code")
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.title}"


class Indicator(_SeenFromBelow, VersionedModel):
    class Direction(models.TextChoices):
        HIGHER = "higher", _("Higher is better")
        LOWER = "lower", _("Lower is better")

    class Source(models.TextChoices):
        MANUAL = "manual", _("Entered by the unit")
        CONFORMITY_RATE = "conformity_rate", _("Meeting conformity rate (conformity board)")
        NC_CLOSURE_RATE = "nc_closure_rate", _("Nonconformity closure rate")
        NC_COUNT = "nc_count", _("Nonconformities raised")

    # computed sources: the unit of measure they always have
    COMPUTED_UNITS = {
        Source.CONFORMITY_RATE: "%",
        Source.NC_CLOSURE_RATE: "%",
        Source.NC_COUNT: "项",
    }

    objective = models.ForeignKey(
        Objective, verbose_name=_("objective"), on_delete=models.CASCADE, related_name="indicators"
    )
    org = models.ForeignKey(
        "orgs.Organization", verbose_name=_("unit"), on_delete=models.PROTECT, related_name="+"
    )
    code = models.CharField(
        _("code"),
        max_length=20,
        help_text=_("Keep the same code from year to year: the trend follows it."),
    )
    name = models.CharField(_("name"), max_length=200)
    unit_of_measure = models.CharField(
        _("unit of measure"), max_length=20, help_text=_("E.g. %, 次, 人, 项.")
    )
    direction = models.CharField(
        _("direction"), max_length=8, choices=Direction.choices, default=Direction.HIGHER
    )
    target = models.DecimalField(
        _("target"),
        max_digits=12,
        decimal_places=2,
        help_text=_("The owning unit's own target for the year."),
    )
    source = models.CharField(
        _("values come from"), max_length=20, choices=Source.choices, default=Source.MANUAL
    )
    description = models.TextField(_("how it is measured"), blank=True)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("indicator")
        verbose_name_plural = _("indicators")
        ordering = ["objective_id", "sort_order", "code", "id"]
        constraints = [
            models.UniqueConstraint(fields=["objective", "code"], name="objectives_indicator_code")
        ]
        indexes = [models.Index(fields=["org", "code"], name="objectives_indicator_org_code")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def is_computed(self) -> bool:
        return self.source != self.Source.MANUAL

    @property
    def year(self) -> int:
        return self.objective.policy.year

    def attained(self, value, target) -> bool | None:
        """Is ``value`` at or beyond ``target`` in the indicator's direction?"""
        if value is None or target is None:
            return None
        if self.direction == self.Direction.LOWER:
            return Decimal(value) <= Decimal(target)
        return Decimal(value) >= Decimal(target)

    def attainment(self, value, target) -> float | None:
        """How far the value reached the target, in percent (100 = just attained). Lower-is-
        better indicators: target / value (a value of 0 with a target of 0 is 100)."""
        if value is None or target is None:
            return None
        value, target = float(value), float(target)
        if self.direction == self.Direction.LOWER:
            if value <= 0:
                return 100.0 if target >= 0 else None
            return round(min(target / value * 100, 200), 1)
        if target <= 0:
            return 100.0 if value >= target else None
        return round(min(value / target * 100, 200), 1)


class IndicatorTarget(VersionedModel):
    """The target of one subordinate unit for an indicator (分解目标)."""

    indicator = models.ForeignKey(
        Indicator, verbose_name=_("indicator"), on_delete=models.CASCADE, related_name="targets"
    )
    org = models.ForeignKey(
        "orgs.Organization", verbose_name=_("unit"), on_delete=models.PROTECT, related_name="+"
    )
    target = models.DecimalField(_("target"), max_digits=12, decimal_places=2)

    class Meta:
        verbose_name = _("indicator target")
        verbose_name_plural = _("indicator targets")
        ordering = ["indicator_id", "org__path"]
        constraints = [
            models.UniqueConstraint(fields=["indicator", "org"], name="objectives_target_once")
        ]

    def __str__(self) -> str:
        return f"{self.indicator_id}/{self.org_id}: {self.target}"


class Measurement(VersionedModel):
    """The value of an indicator for a unit in the indicator's year."""

    class Source(models.TextChoices):
        MANUAL = "manual", _("Entered")
        COMPUTED = "computed", _("Computed")

    indicator = models.ForeignKey(
        Indicator,
        verbose_name=_("indicator"),
        on_delete=models.CASCADE,
        related_name="measurements",
    )
    org = models.ForeignKey(
        "orgs.Organization", verbose_name=_("unit"), on_delete=models.PROTECT, related_name="+"
    )
    value = models.DecimalField(_("value"), max_digits=12, decimal_places=2, null=True)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    note = models.CharField(_("note"), max_length=500, blank=True)
    computed_at = models.DateTimeField(_("computed at"), null=True, blank=True)

    changelog_exclude = VersionedModel.changelog_exclude | {"computed_at"}

    class Meta:
        verbose_name = _("indicator value")
        verbose_name_plural = _("indicator values")
        ordering = ["indicator_id", "org__path"]
        constraints = [
            models.UniqueConstraint(fields=["indicator", "org"], name="objectives_value_once")
        ]

    def __str__(self) -> str:
        return f"{self.indicator_id}/{self.org_id}: {self.value}"
