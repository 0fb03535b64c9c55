"""Nonconformities (不符合项) and corrective actions (纠正措施): the "Act" of the PDCA loop.

A nonconformity comes from any source (an internal-audit finding, a conformity gap, a
management review, an external review, a complaint, a unit's self-inspection). Its source
and the requirement it violates may point at any object through a generic link (content
type + id), so audits, the conformity engine and documents attach to it without changing
this app. Its lifecycle is declared once, here (DOMAIN-MODEL.md):

    待处理 → 原因分析 → 措施制定 → 措施审批 → 实施中 → 效果验证 → 已关闭
    效果验证 → 原因分析 (an action was not effective); any → 已撤销 (with reason, before closing)

Who may fire each step is decided by the guards below, on the unit's grants (org scope):
the unit's secretary and party workers analyse and plan (``NC_HANDLE``); the party committee
approves the plan with an e-signature (``NC_APPROVE``); each action's owner marks it done;
the raiser (usually the auditor) or a designated verifier checks each action's
effectiveness on or after its verification date, with an e-signature — never the unit's
own secretary or party worker. ``pbqms.improvement.services`` is the only writer.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from pbqms.core import roles, scope, workflow
from pbqms.core.models import Signature, VersionedModel
from pbqms.core.scope import ScopedQuerySet
from pbqms.core.signatures import content_hash
from pbqms.orgs.models import Organization

SYSTEM = workflow.SYSTEM
DUE_SOON_DAYS = 7
# roles that make a user "the unit's own staff": they analyse and plan, never verify
OWN_UNIT_ROLES = frozenset({roles.Role.BRANCH_SECRETARY, roles.Role.PARTY_WORKER})


def _today() -> datetime.date:
    return timezone.localdate()


def _is_person(user) -> bool:
    return user is not SYSTEM and bool(getattr(user, "is_authenticated", False))


def due_state(day: datetime.date | None, today: datetime.date | None = None) -> str:
    """ "overdue" past the day, "soon" within a week of it, else "" (for the badges)."""
    if day is None:
        return ""
    today = today or _today()
    if day < today:
        return "overdue"
    if (day - today).days <= DUE_SOON_DAYS:
        return "soon"
    return ""


def is_own_unit_staff(user, org: Organization) -> bool:
    """Is ``user`` a secretary or party worker of ``org`` (or of a unit above it, with its
    subtree)? They answer the nonconformity, so they may not verify it."""
    if not _is_person(user):
        return False
    return any(
        g.role in OWN_UNIT_ROLES and g.covers(org) for g in scope.grants_for(user, roles.NC_HANDLE)
    )


# ---------------------------------------------------------------- nonconformities


class NonconformityQuerySet(ScopedQuerySet):
    def open(self):
        """Not yet closed or cancelled."""
        return self.exclude(status__in=Nonconformity.FINISHED)

    def overdue(self, today: datetime.date | None = None):
        """Open nonconformities whose deadline for correction has passed."""
        return self.open().filter(correction_due__lt=today or _today())

    def in_unit(self, org: Organization):
        """Nonconformities of ``org`` and every unit below it."""
        return self.filter(org__path__startswith=org.path)

    def for_source(self, obj):
        """The nonconformities raised from ``obj`` (an audit finding, a conformity result …)."""
        from django.contrib.contenttypes.models import ContentType

        ct = ContentType.objects.get_for_model(obj, for_concrete_model=True)
        return self.filter(source_type=ct, source_id=str(obj.pk))


class Nonconformity(VersionedModel):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")  # 待处理
        ROOT_CAUSE_ANALYSIS = "root_cause_analysis", _("Root cause analysis")  # 原因分析
        ACTION_PLANNING = "action_planning", _("Action planning")  # 措施制定
        ACTION_APPROVAL = "action_approval", _("Plan awaiting approval")  # 措施审批
        IMPLEMENTING = "implementing", _("Implementing")  # 实施中
        VERIFICATION = "verification", _("Effectiveness verification")  # 效果验证
        CLOSED = "closed", _("Closed")  # 已关闭
        CANCELLED = "cancelled", _("Cancelled")  # 已撤销

    class Source(models.TextChoices):
        INTERNAL_AUDIT = "internal_audit", _("Internal audit finding")  # 内审发现
        CONFORMITY_GAP = "conformity_gap", _("Conformity gap")  # 符合性差距
        MANAGEMENT_REVIEW = "management_review", _("Management review")  # 管理评审
        EXTERNAL_REVIEW = "external_review", _("External expert review")  # 外部专家评审
        COMPLAINT = "complaint", _("Complaint")  # 投诉
        SELF_INSPECTION = "self_inspection", _("Self-inspection")  # 自查

    class Severity(models.TextChoices):
        # observations (观察项) are not nonconformities: they stay on the audit checklist
        MINOR = "minor", _("Minor")  # 一般
        MAJOR = "major", _("Major")  # 严重

    class AnalysisMethod(models.TextChoices):
        FIVE_WHY = "five_why", _("5 whys")  # 五问法
        FISHBONE = "fishbone", _("Fishbone (cause categories)")  # 鱼骨图

    # the six cause categories of the fishbone (人、机、料、法、环、测) as they read in
    # party-building work
    FISHBONE_CATEGORIES = (
        ("people", _("People: awareness, competence, responsibility")),  # 人
        ("means", _("Means: platforms, venues, tools")),  # 机
        ("materials", _("Materials: study materials, funds, information")),  # 料
        ("methods", _("Methods: rules, procedures, working methods")),  # 法
        ("environment", _("Environment: workload, setting, circumstances")),  # 环
        ("checking", _("Checking: supervision, assessment, records")),  # 测
    )
    FISHBONE_KEYS = tuple(k for k, _label in FISHBONE_CATEGORIES)
    MAX_WHYS = 7

    FINISHED = (Status.CLOSED, Status.CANCELLED)
    ACTIVE = (
        Status.OPEN,
        Status.ROOT_CAUSE_ANALYSIS,
        Status.ACTION_PLANNING,
        Status.ACTION_APPROVAL,
        Status.IMPLEMENTING,
        Status.VERIFICATION,
    )

    number = models.CharField(_("number"), max_length=40, unique=True)
    title = models.CharField(_("title"), max_length=200)
    source_kind = models.CharField(
        _("source"), max_length=24, choices=Source.choices, db_index=True
    )
    # what it came from (an audit finding, a conformity result, a review …): any object
    source_type = models.ForeignKey(
        "contenttypes.ContentType",
        verbose_name=_("source object type"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    source_id = models.CharField(_("source object id"), max_length=64, blank=True)
    source = GenericForeignKey("source_type", "source_id")
    source_ref = models.CharField(
        _("source reference"),
        max_length=200,
        blank=True,
        help_text=_("E.g. the audit, review or complaint it comes from."),
    )
    org = models.ForeignKey(
        Organization,
        verbose_name=_("unit concerned"),
        on_delete=models.PROTECT,
        related_name="nonconformities",
    )
    requirement = models.TextField(
        _("requirement not met"),
        help_text=_("The rule, clause or document requirement that was not met."),
    )
    requirement_type = models.ForeignKey(
        "contenttypes.ContentType",
        verbose_name=_("requirement object type"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    requirement_id = models.CharField(_("requirement object id"), max_length=64, blank=True)
    requirement_object = GenericForeignKey("requirement_type", "requirement_id")
    description = models.TextField(
        _("description"), help_text=_("What was found: the facts and the evidence.")
    )
    severity = models.CharField(
        _("severity"), max_length=8, choices=Severity.choices, default=Severity.MINOR
    )
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("raised by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    raised_on = models.DateField(_("raised on"), default=_today, db_index=True)
    correction_due = models.DateField(_("deadline for correction"), db_index=True)
    verifier = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("designated verifier"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_(
            "Verifies the actions' effectiveness besides the person who raised it; never "
            "the unit's own secretary or party worker."
        ),
    )
    status = workflow.StateField(
        _("status"), max_length=24, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    analysis_method = models.CharField(
        _("analysis method"), max_length=10, choices=AnalysisMethod.choices, blank=True
    )
    why_chain = models.JSONField(_("5 whys"), default=list, blank=True)
    fishbone = models.JSONField(_("causes by category"), default=dict, blank=True)
    root_cause = models.TextField(_("root cause"), blank=True)
    repeat_of = models.ForeignKey(
        "self",
        verbose_name=_("repeats"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="repeats",
        help_text=_("An earlier nonconformity of the unit that has happened again."),
    )
    cycle = models.PositiveSmallIntegerField(
        _("analysis round"),
        default=1,
        help_text=_("Goes up each time a verification finds an action not effective."),
    )
    return_comment = models.TextField(_("comments when the plan was sent back"), blank=True)
    closed_on = models.DateField(_("closed on"), null=True, blank=True, db_index=True)
    days_to_close = models.PositiveIntegerField(_("days to close"), null=True, blank=True)
    cancelled_on = models.DateField(_("cancelled on"), null=True, blank=True)
    cancel_reason = models.TextField(_("reason for cancelling"), blank=True)

    objects = NonconformityQuerySet.as_manager()

    class Meta:
        verbose_name = _("nonconformity")
        verbose_name_plural = _("nonconformities")
        ordering = ["-raised_on", "-id"]
        permissions = [
            ("add_selfinspection_nonconformity", "Can raise self-inspection nonconformities"),
            ("handle_nonconformity", "Can analyse nonconformities and plan actions"),
            ("approve_nonconformity", "Can approve action plans and cancel nonconformities"),
            ("verify_nonconformity", "Can verify the effectiveness of actions"),
        ]
        indexes = [
            models.Index(fields=["org", "status"], name="nc_org_status"),
            models.Index(fields=["status", "correction_due"], name="nc_status_due"),
            models.Index(fields=["source_type", "source_id"], name="nc_source"),
            models.Index(fields=["raised_by"], name="nc_raised_by"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @staticmethod
    def scope_extra_q(user, perm: str) -> Q:
        """Who raised a nonconformity, its designated verifier, the owners of its actions
        and the team of the audit it was raised in keep seeing it, wherever their grants
        are."""
        if perm != roles.NC_VIEW or not _is_person(user):
            return Q(pk__in=[])
        owned = CorrectiveAction.objects.filter(owner__user_id=user.pk).values("nonconformity_id")
        q = Q(raised_by_id=user.pk) | Q(verifier_id=user.pk) | Q(pk__in=owned)
        audit_q = _audit_team_q(user)
        return q | audit_q if audit_q is not None else q

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    def is_overdue(self, today: datetime.date | None = None) -> bool:
        return not self.is_finished and self.correction_due < (today or _today())

    @property
    def due_state(self) -> str:
        return "" if self.is_finished else due_state(self.correction_due)

    def age_days(self, today: datetime.date | None = None) -> int:
        end = self.closed_on or self.cancelled_on or today or _today()
        return (end - self.raised_on).days

    def fishbone_rows(self) -> list[tuple[str, str, str]]:
        data = self.fishbone or {}
        return [(key, label, data.get(key, "")) for key, label in self.FISHBONE_CATEGORIES]

    def current_actions(self):
        return self.actions.filter(cycle=self.cycle)

    def signed_content_hash(self) -> str:
        """What the plan approval signs: the finding, its analysis and the actions of the
        current round. Changing any of them afterwards invalidates the signature."""
        actions = [
            [
                a.pk,
                a.kind,
                a.description,
                a.owner_id,
                a.due_on.isoformat(),
                a.success_criteria,
                a.verify_on.isoformat(),
            ]
            for a in self.actions.filter(cycle=self.cycle)
            .exclude(status=CorrectiveAction.Status.CANCELLED)
            .order_by("pk")
        ]
        return content_hash(
            self.number,
            self.title,
            self.org_id,
            self.requirement,
            self.description,
            self.severity,
            self.cycle,
            self.analysis_method,
            self.why_chain,
            self.fishbone,
            self.root_cause,
            actions,
        )

    # ------------------------------------------------------------ the state machine

    @workflow.transition(
        status,
        source=Status.OPEN,
        target=Status.ROOT_CAUSE_ANALYSIS,
        label=_("Accept and analyse"),
        guard=lambda nc, user: _is_handler(nc, user),
        style="primary",
    )
    def start_analysis(self, **kwargs):
        pass

    @workflow.transition(
        status,
        source=Status.ROOT_CAUSE_ANALYSIS,
        target=Status.ACTION_PLANNING,
        label=_("Finish the analysis"),
        guard=lambda nc, user: _is_handler(nc, user),
        conditions=[
            workflow.Condition(
                lambda nc: nc.analysis_is_complete(), _("record the analysis and the root cause.")
            )
        ],
        style="primary",
    )
    def submit_analysis(self, **kwargs):
        pass

    @workflow.transition(
        status,
        source=Status.ACTION_PLANNING,
        target=Status.ACTION_APPROVAL,
        label=_("Submit the plan for approval"),
        guard=lambda nc, user: _is_handler(nc, user),
        conditions=[
            workflow.Condition(
                lambda nc: (
                    nc.current_actions()
                    .filter(status=CorrectiveAction.Status.PLANNED)
                    .filter(kind=CorrectiveAction.Kind.CORRECTIVE)
                    .exists()
                ),
                _(
                    "plan at least one corrective action (with owner, due date and success "
                    "criteria)."
                ),
            )
        ],
        style="primary",
    )
    def submit_plan(self, **kwargs):
        self.return_comment = ""

    @workflow.transition(
        status,
        source=Status.ACTION_APPROVAL,
        target=Status.IMPLEMENTING,
        label=_("Approve the plan and sign"),
        guard=lambda nc, user: _is_approver(nc, user),
        signature=Signature.Meaning.APPROVED,
        style="success",
    )
    def approve_plan(self, **kwargs):
        pass

    @workflow.transition(
        status,
        source=Status.ACTION_APPROVAL,
        target=Status.ACTION_PLANNING,
        label=_("Send the plan back"),
        guard=lambda nc, user: _is_approver(nc, user),
        reason_required=True,
        style="warning",
    )
    def return_plan(self, *, reason="", **kwargs):
        self.return_comment = reason

    @workflow.transition(
        status,
        source=Status.IMPLEMENTING,
        target=Status.VERIFICATION,
        label=_("Start the effectiveness verification"),
        guard=lambda nc, user: _may_complete_some(nc, user),
        conditions=[
            workflow.Condition(
                lambda nc: not nc.actions.filter(status=CorrectiveAction.Status.PLANNED).exists(),
                _("some actions are not done yet."),
            )
        ],
        hidden=True,
    )
    def begin_verification(self, **kwargs):
        pass

    @workflow.transition(
        status,
        source=Status.VERIFICATION,
        target=Status.CLOSED,
        label=_("Close"),
        guard=lambda nc, user: _is_verifier(nc, user),
        conditions=[
            workflow.Condition(
                lambda nc: not nc.actions.filter(status__in=CorrectiveAction.LIVE).exists(),
                _("some actions are not verified yet."),
            )
        ],
        hidden=True,
    )
    def close(self, **kwargs):
        self.closed_on = _today()
        self.days_to_close = max((self.closed_on - self.raised_on).days, 0)

    @workflow.transition(
        status,
        source=Status.VERIFICATION,
        target=Status.ROOT_CAUSE_ANALYSIS,
        label=_("Back to root cause analysis"),
        guard=lambda nc, user: _is_verifier(nc, user),
        reason_required=True,
        hidden=True,
    )
    def reanalyse(self, **kwargs):
        self.cycle += 1

    @workflow.transition(
        status,
        source=list(ACTIVE),
        target=Status.CANCELLED,
        label=_("Cancel the nonconformity"),
        guard=lambda nc, user: _may_cancel(nc, user),
        reason_required=True,
        style="danger",
    )
    def cancel(self, *, reason="", **kwargs):
        self.cancelled_on = _today()
        self.cancel_reason = reason

    def analysis_is_complete(self) -> bool:
        if not (self.root_cause or "").strip():
            return False
        if self.analysis_method == self.AnalysisMethod.FIVE_WHY:
            return any((w or "").strip() for w in self.why_chain or [])
        if self.analysis_method == self.AnalysisMethod.FISHBONE:
            return any((v or "").strip() for v in (self.fishbone or {}).values())
        return False


def _audit_team_q(user) -> Q | None:
    """Nonconformities raised in an internal audit whose lead or team ``user`` is on (the
    audit team follows its findings up, whatever its members' unit grants), when the
    audits app is installed."""
    from django.apps import apps

    if not apps.is_installed("pbqms.audits"):
        return None
    from django.contrib.contenttypes.models import ContentType
    from django.db.models import CharField
    from django.db.models.functions import Cast

    audit_model = apps.get_model("audits", "Audit")
    mine = (
        audit_model.objects.filter(Q(lead_auditor__user_id=user.pk) | Q(team__user_id=user.pk))
        .annotate(sid=Cast("pk", CharField()))
        .values("sid")
    )
    ct = ContentType.objects.get_for_model(audit_model)
    return Q(source_type=ct, source_id__in=mine)


def _is_handler(nc: Nonconformity, user) -> bool:
    return _is_person(user) and scope.has_perm(user, roles.NC_HANDLE, nc.org)


def _is_approver(nc: Nonconformity, user) -> bool:
    return _is_person(user) and scope.has_perm(user, roles.NC_APPROVE, nc.org)


def _may_cancel(nc: Nonconformity, user) -> bool:
    if _is_approver(nc, user):
        return True
    # who raised it may withdraw it until the unit has started on it
    return (
        _is_person(user) and nc.status == Nonconformity.Status.OPEN and nc.raised_by_id == user.pk
    )


def _is_verifier(nc: Nonconformity, user) -> bool:
    """The raiser or the designated verifier, never the unit's own secretary or worker."""
    if not _is_person(user) or user.pk not in {nc.raised_by_id, nc.verifier_id}:
        return False
    return not is_own_unit_staff(user, nc.org)


def _may_complete_some(nc: Nonconformity, user) -> bool:
    if _is_handler(nc, user):
        return True
    return _is_person(user) and nc.actions.filter(owner__user_id=user.pk).exists()


# ---------------------------------------------------------------- corrective actions


class CorrectiveActionQuerySet(ScopedQuerySet):
    def open(self):
        """Planned or done and not yet verified, of a nonconformity still being worked on."""
        return self.filter(status__in=CorrectiveAction.LIVE).exclude(
            nonconformity__status__in=Nonconformity.FINISHED
        )

    def overdue(self, today: datetime.date | None = None):
        """Planned actions (approved or not) past their due date."""
        return self.filter(
            status=CorrectiveAction.Status.PLANNED, due_on__lt=today or _today()
        ).exclude(nonconformity__status__in=Nonconformity.FINISHED)

    def verification_due(self, today: datetime.date | None = None):
        """Done actions whose verification date has come."""
        return self.filter(
            status=CorrectiveAction.Status.DONE,
            verify_on__lte=today or _today(),
            nonconformity__status=Nonconformity.Status.VERIFICATION,
        )

    def in_unit(self, org: Organization):
        return self.filter(org__path__startswith=org.path)

    def for_document(self, document):
        """The actions that concern ``document`` (the link kept from the document's side)."""
        from django.contrib.contenttypes.models import ContentType

        ct = ContentType.objects.get_for_model(document, for_concrete_model=True)
        return self.filter(document_type=ct, document_id=str(document.pk))


class CorrectiveAction(VersionedModel):
    """One action of a nonconformity's plan: a correction (纠正), a corrective action (纠正措施,
    removing the cause), a preventive action (预防措施) or an improvement (改进)."""

    class Kind(models.TextChoices):
        CORRECTION = "correction", _("Correction")  # 纠正
        CORRECTIVE = "corrective", _("Corrective action")  # 纠正措施
        PREVENTIVE = "preventive", _("Preventive action")  # 预防措施
        IMPROVEMENT = "improvement", _("Improvement")  # 改进

    class Status(models.TextChoices):
        PLANNED = "planned", _("Planned")  # 已计划
        DONE = "done", _("Done, awaiting verification")  # 已完成待验证
        EFFECTIVE = "effective", pgettext_lazy("effectiveness", "Effective")  # 有效
        NOT_EFFECTIVE = "not_effective", _("Not effective")  # 无效
        CANCELLED = "cancelled", _("Cancelled")  # 已撤销

    class Result(models.TextChoices):
        EFFECTIVE = "effective", pgettext_lazy("effectiveness", "Effective")
        NOT_EFFECTIVE = "not_effective", _("Not effective")

    LIVE = (Status.PLANNED, Status.DONE)

    nonconformity = models.ForeignKey(
        Nonconformity,
        verbose_name=_("nonconformity"),
        on_delete=models.PROTECT,
        related_name="actions",
    )
    # the nonconformity's unit, kept on the row so that scope and per-unit counts need no join
    org = models.ForeignKey(
        Organization, verbose_name=_("unit"), on_delete=models.PROTECT, related_name="+"
    )
    cycle = models.PositiveSmallIntegerField(_("analysis round"), default=1)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    description = models.TextField(pgettext_lazy("corrective action", "action"))
    owner = models.ForeignKey(
        "orgs.Person",
        verbose_name=_("owner"),
        on_delete=models.PROTECT,
        related_name="corrective_actions",
    )
    due_on = models.DateField(_("planned completion"), db_index=True)
    success_criteria = models.TextField(
        _("success criteria"),
        help_text=_("How the verifier will tell that the action worked."),
    )
    verify_on = models.DateField(
        _("verify on"), help_text=_("The effectiveness is verified on or after this date.")
    )
    status = workflow.StateField(
        _("status"), max_length=16, choices=Status.choices, default=Status.PLANNED, db_index=True
    )
    completed_on = models.DateField(_("completed on"), null=True, blank=True)
    completion_note = models.TextField(_("what was done"), blank=True)
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("verified by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    verification_comment = models.TextField(_("verification findings"), blank=True)
    cancel_reason = models.TextField(_("reason for cancelling"), blank=True)
    # the controlled document the action concerns (optional; generic so that this app works
    # without the documents app)
    document_type = models.ForeignKey(
        "contenttypes.ContentType",
        verbose_name=_("document type"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    document_id = models.CharField(_("document id"), max_length=64, blank=True)
    document = GenericForeignKey("document_type", "document_id")

    objects = CorrectiveActionQuerySet.as_manager()

    class Meta:
        verbose_name = _("corrective action")
        verbose_name_plural = _("corrective actions")
        ordering = ["nonconformity_id", "cycle", "id"]
        indexes = [
            models.Index(fields=["org", "status"], name="ca_org_status"),
            models.Index(fields=["status", "due_on"], name="ca_status_due"),
            models.Index(fields=["document_type", "document_id"], name="ca_document"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(verify_on__gt=models.F("due_on")), name="ca_verify_after_due"
            )
        ]

    def __str__(self) -> str:
        return f"{self.nonconformity.number} · {self.get_kind_display()}"

    @staticmethod
    def scope_extra_q(user, perm: str) -> Q:
        """An action's owner, and who raised or verifies its nonconformity, see it."""
        if perm != roles.NC_VIEW or not _is_person(user):
            return Q(pk__in=[])
        # id subqueries rather than joins: an OR across joined tables makes the database
        # scan every action (bench_improvement: 120 ms → a few ms for a secretary's list)
        from pbqms.orgs.models import Person

        owners = Person.objects.filter(user_id=user.pk).values("pk")
        involved_q = Q(raised_by_id=user.pk) | Q(verifier_id=user.pk)
        audit_q = _audit_team_q(user)
        if audit_q is not None:
            involved_q |= audit_q
        involved = Nonconformity.objects.filter(involved_q).values("pk")
        return Q(owner_id__in=owners) | Q(nonconformity_id__in=involved)

    def is_overdue(self, today: datetime.date | None = None) -> bool:
        return self.status == self.Status.PLANNED and self.due_on < (today or _today())

    @property
    def due_state(self) -> str:
        if self.status != self.Status.PLANNED:
            return ""
        return due_state(self.due_on)

    @property
    def verify_state(self) -> str:
        """ "due" when the action is done and its verification date has come."""
        if self.status == self.Status.DONE and self.verify_on <= _today():
            return "due"
        return ""

    def signed_content_hash(self) -> str:
        """What the verification signs: the action as planned and done, and the result."""
        return content_hash(
            self.nonconformity.number,
            self.pk,
            self.kind,
            self.description,
            self.owner_id,
            self.due_on.isoformat(),
            self.success_criteria,
            self.verify_on.isoformat(),
            self.completed_on.isoformat() if self.completed_on else "",
            self.completion_note,
            self.verification_comment,
            self.status,
        )

    # ------------------------------------------------------------ the state machine

    @workflow.transition(
        status,
        source=Status.PLANNED,
        target=Status.DONE,
        label=_("Mark as done"),
        guard=lambda action, user: _may_complete(action, user),
        conditions=[
            workflow.Condition(
                lambda a: a.nonconformity.status == Nonconformity.Status.IMPLEMENTING,
                _("the plan has not been approved yet."),
            )
        ],
        style="primary",
    )
    def complete(self, *, completed_on=None, note="", **kwargs):
        self.completed_on = completed_on or _today()
        self.completion_note = note

    @workflow.transition(
        status,
        source=Status.DONE,
        target=workflow.RETURN_VALUE(Status.EFFECTIVE, Status.NOT_EFFECTIVE),
        label=_("Verify effectiveness and sign"),
        guard=lambda action, user: _may_verify(action, user),
        signature=Signature.Meaning.VERIFIED,
        conditions=[
            workflow.Condition(
                lambda a: a.nonconformity.status == Nonconformity.Status.VERIFICATION,
                _("not every action of the plan is done yet."),
            ),
            workflow.Condition(
                lambda a: a.verify_on <= _today(),
                _("the verification date has not come yet."),
            ),
        ],
        style="success",
    )
    def verify(self, *, actor, result, comment="", **kwargs):
        self.verified_at = timezone.now()
        self.verified_by = actor
        self.verification_comment = comment
        if result == self.Result.EFFECTIVE:
            return self.Status.EFFECTIVE
        return self.Status.NOT_EFFECTIVE

    @workflow.transition(
        status,
        source=list(LIVE),
        target=Status.CANCELLED,
        label=_("Cancel the action"),
        guard=lambda action, user: _may_cancel_action(action, user),
        reason_required=True,
        style="danger",
    )
    def cancel(self, *, reason="", **kwargs):
        self.cancel_reason = reason


def _may_complete(action: CorrectiveAction, user) -> bool:
    """The owner, or the unit's secretary or party worker on the owner's behalf."""
    if not _is_person(user):
        return False
    if action.owner.user_id == user.pk:
        return True
    return _is_handler(action.nonconformity, user)


def _may_verify(action: CorrectiveAction, user) -> bool:
    if not _is_verifier(action.nonconformity, user):
        return False
    return action.owner.user_id != user.pk


def _may_cancel_action(action: CorrectiveAction, user) -> bool:
    """While the plan is being made the unit drops an action; until it is approved (or
    when the nonconformity is cancelled) the committee may too. An approved plan stands:
    an action that does not work is found not effective at verification."""
    S = Nonconformity.Status
    nc = action.nonconformity
    if nc.status == S.ACTION_PLANNING and _is_handler(nc, user):
        return True
    return nc.status in (S.ACTION_PLANNING, S.ACTION_APPROVAL, S.CANCELLED) and _is_approver(
        nc, user
    )
