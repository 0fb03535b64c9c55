"""Work plans and tasks (计划): the "Plan" of the PDCA loop.

A unit's annual work plan (年度党建工作计划) lists items (what is to be done, by when, under
which obligation or with which record form). Publishing the plan cascades every item to
the units it targets — chosen subordinate units, every active subordinate unit of some
kinds (e.g. all 党支部), or the plan's own unit — as tasks with an owner unit and a due
date. A task is completed by linking the submitted records of its unit that prove it; a
task without such proof cannot be completed. ``pbqms.plans.services`` is the only writer.

    WorkPlan: draft → published
    Task:     open → done (with evidence);  done → open (reopened, with a reason)
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from pbqms.core import workflow
from pbqms.core.models import VersionedModel
from pbqms.core.scope import ScopedQuerySet
from pbqms.orgs.models import Organization

DUE_SOON_DAYS = 7


def _today() -> datetime.date:
    return timezone.localdate()


class Category(models.TextChoices):
    # the usual headings of a 年度党建工作计划
    POLITICAL = "political", _("Political building")  # 政治建设
    IDEOLOGICAL = "ideological", _("Ideological building")  # 思想建设
    ORGANISATIONAL = "organisational", _("Organisational building")  # 组织建设
    CONDUCT = "conduct", _("Conduct building")  # 作风建设
    DISCIPLINE = "discipline", _("Discipline building")  # 纪律建设
    INSTITUTIONAL = "institutional", _("Institutional building")  # 制度建设
    OTHER = "other", _("Other")


# ---------------------------------------------------------------- plans


class WorkPlanQuerySet(ScopedQuerySet):
    def published(self):
        return self.filter(status=WorkPlan.Status.PUBLISHED)


class WorkPlan(VersionedModel):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")

    org = models.ForeignKey(
        Organization,
        verbose_name=_("unit"),
        on_delete=models.PROTECT,
        related_name="work_plans",
    )
    year = models.PositiveSmallIntegerField(_("year"), db_index=True)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(
        _("description"), blank=True, help_text=_("The plan's aims and main points.")
    )
    status = workflow.StateField(
        _("status"), max_length=12, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("published by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    objects = WorkPlanQuerySet.as_manager()

    class Meta:
        verbose_name = _("work plan")
        verbose_name_plural = _("work plans")
        ordering = ["-year", "org__path", "id"]
        constraints = [
            models.UniqueConstraint(fields=["org", "year"], name="plans_one_plan_per_unit_year")
        ]
        permissions = [("publish_workplan", "Can publish a work plan")]

    def __str__(self) -> str:
        return self.title

    @workflow.transition(
        status,
        source=Status.DRAFT,
        target=Status.PUBLISHED,
        label=_("Publish and cascade"),
        hidden=True,
    )
    def publish(self, *, actor=None, **kwargs) -> None:
        self.published_at = timezone.now()
        self.published_by = actor if getattr(actor, "pk", None) else None


class PlanItem(VersionedModel):
    org_scope_field = "plan__org"

    plan = models.ForeignKey(
        WorkPlan, verbose_name=_("work plan"), on_delete=models.CASCADE, related_name="items"
    )
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    category = models.CharField(
        _("category"), max_length=16, choices=Category.choices, blank=True, db_index=True
    )
    due_on = models.DateField(_("due date"))
    owner = models.CharField(
        _("responsible"),
        max_length=100,
        blank=True,
        help_text=_("Who answers for it, e.g. the organisation committee member."),
    )
    obligation = models.ForeignKey(
        "system.Obligation",
        verbose_name=_("obligation"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="plan_items",
        help_text=_("The regular obligation this item carries out (optional)."),
    )
    record_template = models.ForeignKey(
        "records.RecordTemplate",
        verbose_name=_("record template"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="plan_items",
        help_text=_("When set, a task is completed only with a record of this template."),
    )
    target_kinds = models.JSONField(
        _("cascade to unit kinds"),
        default=list,
        blank=True,
        help_text=_("Every active subordinate unit of these kinds gets a task."),
    )
    target_orgs = models.ManyToManyField(
        Organization,
        verbose_name=_("cascade to units"),
        blank=True,
        related_name="+",
        help_text=_("Chosen subordinate units. With neither, the plan's own unit does it."),
    )
    sort_order = models.PositiveIntegerField(_("order"), default=0)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("plan item")
        verbose_name_plural = _("plan items")
        ordering = ["plan", "due_on", "sort_order", "id"]

    def __str__(self) -> str:
        return self.title


# ---------------------------------------------------------------- tasks


class TaskQuerySet(ScopedQuerySet):
    def open(self):
        return self.filter(status=Task.Status.OPEN)

    def done(self):
        return self.filter(status=Task.Status.DONE)

    def overdue(self, today: datetime.date | None = None):
        """Open tasks whose due date has passed."""
        return self.open().filter(due_on__lt=today or _today())

    def due_soon(self, today: datetime.date | None = None, days: int = DUE_SOON_DAYS):
        today = today or _today()
        return self.open().filter(due_on__range=(today, today + datetime.timedelta(days=days)))

    def in_unit(self, org: Organization):
        return self.filter(org__path__startswith=org.path)

    def in_year(self, year: int):
        return self.filter(due_on__year=year)


def _has_evidence(task) -> bool:
    return task.evidence.exists()


class Task(VersionedModel):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        DONE = "done", _("Done")

    item = models.ForeignKey(
        PlanItem, verbose_name=_("plan item"), on_delete=models.CASCADE, related_name="tasks"
    )
    org = models.ForeignKey(
        Organization,
        verbose_name=_("owner unit"),
        on_delete=models.PROTECT,
        related_name="plan_tasks",
    )
    title = models.CharField(_("title"), max_length=200)
    due_on = models.DateField(_("due date"), db_index=True)
    status = workflow.StateField(
        _("status"), max_length=8, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    completed_on = models.DateField(_("completed on"), null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("completed by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    completion_note = models.TextField(_("completion note"), blank=True)
    records = models.ManyToManyField(
        "records.Record",
        verbose_name=_("evidence records"),
        through="TaskEvidence",
        related_name="plan_tasks",
        blank=True,
    )

    objects = TaskQuerySet.as_manager()

    class Meta:
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        ordering = ["due_on", "org__path", "id"]
        constraints = [
            models.UniqueConstraint(fields=["item", "org"], name="plans_one_task_per_item_unit")
        ]
        indexes = [
            models.Index(fields=["org", "status", "due_on"], name="plans_task_org_status_due")
        ]
        permissions = [("complete_task", "Can complete a task with records")]

    def __str__(self) -> str:
        return self.title

    def is_overdue(self, today: datetime.date | None = None) -> bool:
        return self.status == self.Status.OPEN and self.due_on < (today or _today())

    def due_state(self, today: datetime.date | None = None) -> str:
        """ "overdue", "soon" (within a week) or "" for the badges; "" once done."""
        if self.status != self.Status.OPEN:
            return ""
        today = today or _today()
        if self.due_on < today:
            return "overdue"
        if (self.due_on - today).days <= DUE_SOON_DAYS:
            return "soon"
        return ""

    @workflow.transition(
        status,
        source=Status.OPEN,
        target=Status.DONE,
        label=_("Complete"),
        hidden=True,
        conditions=[
            workflow.Condition(_has_evidence, _("Link at least one record that proves the task."))
        ],
    )
    def complete(self, *, actor=None, completed_on=None, note="", **kwargs) -> None:
        self.completed_on = completed_on or _today()
        self.completed_by = actor if getattr(actor, "pk", None) else None
        self.completion_note = note

    @workflow.transition(
        status,
        source=Status.DONE,
        target=Status.OPEN,
        label=_("Reopen"),
        hidden=True,
        reason_required=True,
    )
    def reopen(self, *, actor=None, **kwargs) -> None:
        self.completed_on = None
        self.completed_by = None


class TaskEvidence(VersionedModel):
    """A record linked to a task as its proof (one row per link, so the change log shows
    who linked what)."""

    org_scope_field = "task__org"

    task = models.ForeignKey(
        Task, verbose_name=_("task"), on_delete=models.CASCADE, related_name="evidence"
    )
    record = models.ForeignKey(
        "records.Record",
        verbose_name=_("record"),
        on_delete=models.PROTECT,
        related_name="task_evidence",
    )
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("linked by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("task evidence")
        verbose_name_plural = _("task evidence")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["task", "record"], name="plans_evidence_once")
        ]


__all__ = ["Category", "PlanItem", "Task", "TaskEvidence", "WorkPlan"]
