"""Management review (管理评审): the leadership's periodic review of the quality system.

A review belongs to a unit (usually the party committee) and covers that unit's subtree
over a period. Its lifecycle is declared once, here (DOMAIN-MODEL.md):

    计划 → 输入已冻结 → 已召开 → 已关闭 (all outputs done; signed by the chair)

"Compile inputs" freezes a snapshot of the inputs (audit results, nonconformity and action
status, objective attainment, conformity rates, satisfaction, changes, the previous
review's outputs) into an :class:`InputSnapshot` that can never be changed or deleted.
The meeting records the conclusions on the system's suitability, adequacy and
effectiveness (适宜性、充分性、有效性), decisions and output actions (:class:`ReviewOutput`),
tracked to closure. ``pbqms.reviews.services`` is the only writer.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from pbqms.core import roles, scope, workflow
from pbqms.core.models import ChangeLoggedModel, Signature, VersionedModel
from pbqms.core.scope import ScopedQuerySet
from pbqms.core.signatures import content_hash
from pbqms.orgs.models import Organization, Person

DUE_SOON_DAYS = 7


def _today() -> datetime.date:
    return timezone.localdate()


def _is_person(user) -> bool:
    return user is not workflow.SYSTEM and bool(getattr(user, "is_authenticated", False))


def _is_manager(review, user) -> bool:
    return _is_person(user) and scope.has_perm(user, roles.REVIEW_MANAGE, review.org)


def _is_chair(review, user) -> bool:
    return (
        _is_person(user)
        and review.chair_id is not None
        and review.chair.user_id is not None
        and review.chair.user_id == user.pk
    )


class ReviewQuerySet(ScopedQuerySet):
    def open(self):
        return self.exclude(status=ManagementReview.Status.CLOSED)


class ManagementReview(VersionedModel):
    class Status(models.TextChoices):
        PLANNED = "planned", _("Planned")  # 计划
        INPUTS_FROZEN = "inputs_frozen", _("Inputs frozen")  # 输入已冻结
        HELD = "held", _("Held")  # 已召开
        CLOSED = "closed", _("Closed")  # 已关闭

    number = models.CharField(_("number"), max_length=40, unique=True)
    title = models.CharField(_("title"), max_length=200)
    org = models.ForeignKey(
        Organization,
        verbose_name=_("unit reviewed"),
        on_delete=models.PROTECT,
        related_name="management_reviews",
        help_text=_("The review covers this unit and every unit below it."),
    )
    period_start = models.DateField(_("period from"))
    period_end = models.DateField(_("period to"))
    planned_on = models.DateField(_("planned date"), db_index=True)
    location = models.CharField(_("location"), max_length=200, blank=True)
    chair = models.ForeignKey(
        Person,
        verbose_name=_("chair"),
        on_delete=models.PROTECT,
        related_name="reviews_chaired",
        help_text=_("Usually the party secretary (top management); signs the minutes."),
    )
    attendees = models.ManyToManyField(
        Person, verbose_name=_("attendees"), blank=True, related_name="reviews_attended"
    )
    held_on = models.DateField(_("held on"), null=True, blank=True)
    suitability = models.TextField(
        _("suitability"),
        blank=True,
        help_text=_("Does the system still fit the organisation's purpose and circumstances?"),
    )
    adequacy = models.TextField(
        _("adequacy"),
        blank=True,
        help_text=_("Does the system cover what it must (requirements, processes, units)?"),
    )
    effectiveness = models.TextField(
        _("effectiveness"),
        blank=True,
        help_text=_("Does the system achieve its intended results and objectives?"),
    )
    decisions = models.TextField(
        _("decisions"),
        blank=True,
        help_text=_("Decisions on improvement, changes to the system and resource needs."),
    )
    status = workflow.StateField(
        _("status"), max_length=16, choices=Status.choices, default=Status.PLANNED, db_index=True
    )
    closed_on = models.DateField(_("closed on"), null=True, blank=True)

    objects = ReviewQuerySet.as_manager()

    class Meta:
        verbose_name = _("management review")
        verbose_name_plural = _("management reviews")
        ordering = ["-planned_on", "-id"]
        permissions = [("manage_managementreview", "Can plan and run management reviews")]
        indexes = [models.Index(fields=["org", "status"], name="review_org_status")]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @staticmethod
    def scope_extra_q(user, perm: str) -> Q:
        """The chair, the attendees and the owners of its outputs see a review wherever
        their grants are."""
        if perm != roles.REVIEW_VIEW or not _is_person(user):
            return Q(pk__in=[])
        owned = ReviewOutput.objects.filter(owner__user_id=user.pk).values("review_id")
        attended = ManagementReview.attendees.through.objects.filter(
            person__user_id=user.pk
        ).values("managementreview_id")
        return Q(chair__user_id=user.pk) | Q(pk__in=attended) | Q(pk__in=owned)

    def conclusions_complete(self) -> bool:
        return bool(
            self.held_on
            and (self.suitability or "").strip()
            and (self.adequacy or "").strip()
            and (self.effectiveness or "").strip()
        )

    def signed_content_hash(self) -> str:
        """What the chair signs: the meeting record and its outputs."""
        outputs = [
            [o.pk, o.description, o.owner_id, o.due_on.isoformat(), o.status]
            for o in self.outputs.order_by("pk")
        ]
        snapshot = getattr(self, "snapshot", None)
        return content_hash(
            self.number,
            self.title,
            self.org_id,
            self.held_on.isoformat() if self.held_on else "",
            sorted(self.attendees.values_list("pk", flat=True)),
            self.suitability,
            self.adequacy,
            self.effectiveness,
            self.decisions,
            snapshot.content_hash if snapshot else "",
            outputs,
        )

    # ------------------------------------------------------------ the state machine

    @workflow.transition(
        status,
        source=Status.PLANNED,
        target=Status.INPUTS_FROZEN,
        label=_("Compile and freeze the inputs"),
        guard=_is_manager,
        hidden=True,
    )
    def freeze_inputs(self, **kwargs):
        pass

    @workflow.transition(
        status,
        source=Status.INPUTS_FROZEN,
        target=Status.HELD,
        label=_("Record the meeting as held"),
        guard=_is_manager,
        conditions=[
            workflow.Condition(
                lambda r: r.conclusions_complete(),
                _(
                    "record the meeting date and the conclusions on suitability, adequacy "
                    "and effectiveness."
                ),
            )
        ],
        style="primary",
    )
    def hold(self, **kwargs):
        pass

    @workflow.transition(
        status,
        source=Status.HELD,
        target=Status.CLOSED,
        label=_("Close the review and sign as chair"),
        guard=_is_chair,
        signature=Signature.Meaning.APPROVED,
        conditions=[
            workflow.Condition(
                lambda r: not r.outputs.filter(status=ReviewOutput.Status.OPEN).exists(),
                _("every output action must be done or cancelled."),
            )
        ],
        style="success",
    )
    def close(self, **kwargs):
        self.closed_on = _today()


class FrozenQuerySet(ScopedQuerySet):
    """Snapshots are written once: bulk updates and deletes are refused."""

    def update(self, **kwargs: Any) -> int:
        raise PermissionError("review input snapshots are frozen")

    def delete(self):
        raise PermissionError("review input snapshots are frozen")


class InputSnapshot(ChangeLoggedModel):
    """The frozen inputs of one review (JSON as compiled; see ``pbqms.reviews.inputs``)."""

    review = models.OneToOneField(
        ManagementReview,
        verbose_name=_("management review"),
        on_delete=models.PROTECT,
        related_name="snapshot",
    )
    data = models.JSONField(_("inputs"))
    content_hash = models.CharField(_("content hash"), max_length=64)
    compiled_at = models.DateTimeField(_("compiled at"))
    compiled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("compiled by"),
        on_delete=models.PROTECT,
        related_name="+",
    )

    org_scope_field = "review__org"
    objects = FrozenQuerySet.as_manager()

    class Meta:
        verbose_name = _("review input snapshot")
        verbose_name_plural = _("review input snapshots")

    def __str__(self) -> str:
        return f"{self.review_id} @ {self.compiled_at:%Y-%m-%d %H:%M}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise PermissionError("review input snapshots are frozen")
        self.content_hash = content_hash(self.data)
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any):
        raise PermissionError("review input snapshots are frozen")

    @property
    def intact(self) -> bool:
        return content_hash(self.data) == self.content_hash


class OutputQuerySet(ScopedQuerySet):
    def open(self):
        return self.filter(status=ReviewOutput.Status.OPEN)

    def overdue(self, today: datetime.date | None = None):
        return self.open().filter(due_on__lt=today or _today())


class ReviewOutput(VersionedModel):
    """An output action (输出措施) of a review: an improvement, a change to the system or
    a resource need, with an owner and a due date, tracked to closure."""

    class Kind(models.TextChoices):
        IMPROVEMENT = "improvement", _("Improvement opportunity")  # 改进机会
        CHANGE = "change", _("Change to the system")  # 体系变更
        RESOURCE = "resource", _("Resource need")  # 资源需求

    class Status(models.TextChoices):
        OPEN = "open", pgettext_lazy("review output", "Open")  # 未完成
        DONE = "done", pgettext_lazy("review output", "Done")  # 已完成
        CANCELLED = "cancelled", pgettext_lazy("review output", "Cancelled")  # 已撤销

    review = models.ForeignKey(
        ManagementReview,
        verbose_name=_("management review"),
        on_delete=models.CASCADE,
        related_name="outputs",
    )
    kind = models.CharField(
        _("kind"), max_length=12, choices=Kind.choices, default=Kind.IMPROVEMENT
    )
    description = models.TextField(_("action"))
    owner = models.ForeignKey(
        Person, verbose_name=_("owner"), on_delete=models.PROTECT, related_name="review_outputs"
    )
    due_on = models.DateField(_("due date"), db_index=True)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    done_on = models.DateField(_("done on"), null=True, blank=True)
    result = models.TextField(_("result"), blank=True)
    nonconformity_id = models.BigIntegerField(_("nonconformity"), null=True, blank=True)

    org_scope_field = "review__org"
    objects = OutputQuerySet.as_manager()

    class Meta:
        verbose_name = _("review output action")
        verbose_name_plural = _("review output actions")
        ordering = ["review_id", "due_on", "id"]

    def __str__(self) -> str:
        return self.description[:60]

    @staticmethod
    def scope_extra_q(user, perm: str) -> Q:
        if perm != roles.REVIEW_VIEW or not _is_person(user):
            return Q(pk__in=[])
        return Q(owner__user_id=user.pk) | Q(review__chair__user_id=user.pk)

    def is_overdue(self, today: datetime.date | None = None) -> bool:
        return self.status == self.Status.OPEN and self.due_on < (today or _today())

    @property
    def due_state(self) -> str:
        if self.status != self.Status.OPEN:
            return ""
        today = _today()
        if self.due_on < today:
            return "overdue"
        if (self.due_on - today).days <= DUE_SOON_DAYS:
            return "soon"
        return ""
