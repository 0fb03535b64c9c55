"""Internal audits (内部审核): the auditor team, annual programmes, audits and checklists.

Who sees what is decided here (``visible_to``), never in views:

* qualifications are scoped by the auditor's home unit (``AUDITOR_VIEW``);
* a programme by the committee that owns it (``AUDIT_VIEW``);
* an audit by its programme's committee, or by one of its audited units (so a branch
  secretary sees the audits of their branch), and always by its own lead and team members.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from pbqms.core import roles, scope, workflow
from pbqms.core.models import Signature, VersionedModel
from pbqms.core.scope import ScopedQuerySet
from pbqms.core.signatures import content_hash
from pbqms.orgs.models import Organization, Person


class QualificationQuerySet(ScopedQuerySet):
    def valid_on(self, day: datetime.date):
        return self.filter(certified_on__lte=day, valid_until__gte=day)


class AuditorQualification(VersionedModel):
    """A person is a qualified internal auditor on a date iff one of their qualifications
    covers that date (``certified_on`` ≤ date ≤ ``valid_until``)."""

    person = models.ForeignKey(
        Person,
        verbose_name=_("auditor"),
        on_delete=models.PROTECT,
        related_name="auditor_qualifications",
    )
    course = models.CharField(_("training course"), max_length=200)
    trained_on = models.DateField(_("trained on"), null=True, blank=True)
    certificate_no = models.CharField(_("certificate number"), max_length=60, blank=True)
    certified_on = models.DateField(_("certified on"))
    valid_until = models.DateField(_("valid until"), db_index=True)

    org_scope_field = "person__org"
    objects = QualificationQuerySet.as_manager()

    class Meta:
        verbose_name = _("internal auditor qualification")
        verbose_name_plural = _("internal auditor qualifications")
        ordering = ["person_id", "-valid_until", "id"]

    def __str__(self) -> str:
        return f"{self.person} · {self.course}"

    def covers(self, day: datetime.date) -> bool:
        return self.certified_on <= day <= self.valid_until


def _is_manager(obj, user) -> bool:
    programme = obj if isinstance(obj, AuditProgramme) else obj.programme
    return scope.has_perm(user, roles.AUDIT_MANAGE, programme.org)


class AuditProgramme(VersionedModel):
    """An annual programme (审核方案) owned by a committee; one programme is one round of
    cross-audits."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        APPROVED = "approved", _("Approved")
        COMPLETED = "completed", _("Completed")

    year = models.PositiveSmallIntegerField(_("year"), db_index=True)
    title = models.CharField(_("title"), max_length=200)
    org = models.ForeignKey(
        Organization,
        verbose_name=_("owner committee"),
        on_delete=models.PROTECT,
        related_name="audit_programmes",
    )
    scope_units = models.ManyToManyField(
        Organization,
        verbose_name=_("units in scope"),
        blank=True,
        related_name="+",
        help_text=_("The units this programme audits (each with the units below it)."),
    )
    criteria = models.TextField(
        _("audit criteria"),
        blank=True,
        help_text=_("Documents, requirements and clauses the audits check against."),
    )
    team_size = models.PositiveSmallIntegerField(
        _("auditors per audit"), default=2, help_text=_("The first auditor leads the audit.")
    )
    no_reciprocal = models.BooleanField(
        _("no reciprocal audits"),
        default=True,
        help_text=_("Two units never audit each other in this round."),
    )
    status = workflow.StateField(
        _("status"), max_length=12, choices=Status.choices, default=Status.DRAFT, db_index=True
    )

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit programme")
        verbose_name_plural = _("audit programmes")
        ordering = ["-year", "title", "id"]
        permissions = [("manage_audit", "Can plan and run internal audits")]

    def __str__(self) -> str:
        return self.title

    @workflow.transition(
        status,
        source=Status.DRAFT,
        target=Status.APPROVED,
        label=_("Approve programme"),
        guard=_is_manager,
    )
    def approve(self, **kwargs):
        pass

    @workflow.transition(
        status,
        source=Status.APPROVED,
        target=Status.COMPLETED,
        label=_("Complete programme"),
        guard=_is_manager,
        conditions=[
            workflow.Condition(
                lambda p: not p.audits.exclude(status=Audit.Status.CLOSED).exists(),
                _("every audit of the programme must be closed."),
            )
        ],
    )
    def complete(self, **kwargs):
        pass


class AuditQuerySet(ScopedQuerySet):
    def visible_to(self, user, perm: str | None = None):
        if user is None or not user.is_authenticated:
            return self.none()
        perm = perm or roles.AUDIT_VIEW
        q = scope.scope_q(user, perm, "programme__org")
        if scope.grants_for(user, perm):
            units = Organization.objects.filter(scope.scope_q(user, perm, "self")).values("pk")
            through = Audit.audited_units.through
            q |= Q(pk__in=through.objects.filter(organization_id__in=units).values("audit_id"))
        member = Q(lead_auditor__user_id=user.pk) | Q(
            pk__in=Audit.team.through.objects.filter(person__user_id=user.pk).values("audit_id")
        )
        return self.filter(q | member)


def _is_lead(audit, user) -> bool:
    return (
        getattr(user, "is_authenticated", False)
        and audit.lead_auditor_id is not None
        and audit.lead_auditor.user_id == user.pk
    )


def _is_lead_or_manager(audit, user) -> bool:
    return _is_lead(audit, user) or _is_manager(audit, user)


def open_nonconformities(audit):
    """The audit's nonconformities that are not closed (or cancelled), when the improvement
    app is installed; an empty list otherwise. Looked up lazily: audits land without it."""
    from django.apps import apps

    if not apps.is_installed("pbqms.improvement"):
        return []
    try:
        model = apps.get_model("improvement", "Nonconformity")
    except LookupError:
        return []
    manager = model._default_manager
    if not hasattr(manager, "for_source"):
        return []
    qs = manager.for_source(audit)
    status = getattr(model, "Status", None)
    done = [
        getattr(status, name)
        for name in ("CLOSED", "CANCELLED")
        if status is not None and hasattr(status, name)
    ]
    return list(qs.exclude(status__in=done)) if done else []


class Audit(VersionedModel):
    """One audit of a programme: 计划 → 实施中 → 已报告 → 已关闭."""

    class Status(models.TextChoices):
        PLANNED = "planned", _("Planned")
        IN_PROGRESS = "in_progress", _("In progress")
        REPORTED = "reported", _("Reported")
        CLOSED = "closed", _("Closed")

    programme = models.ForeignKey(
        AuditProgramme,
        verbose_name=_("audit programme"),
        on_delete=models.PROTECT,
        related_name="audits",
    )
    number = models.CharField(_("number"), max_length=40, unique=True)
    audited_units = models.ManyToManyField(
        Organization, verbose_name=_("audited units"), related_name="audits"
    )
    planned_month = models.PositiveSmallIntegerField(_("planned month"))
    start_date = models.DateField(_("start date"), null=True, blank=True)
    end_date = models.DateField(_("end date"), null=True, blank=True)
    criteria = models.TextField(_("audit criteria"), blank=True)
    agenda = models.TextField(_("agenda"), blank=True)
    lead_auditor = models.ForeignKey(
        Person,
        verbose_name=_("lead auditor"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="audits_led",
    )
    team = models.ManyToManyField(
        Person, verbose_name=_("audit team members"), blank=True, related_name="audits_joined"
    )
    report_summary = models.TextField(_("report summary"), blank=True)
    status = workflow.StateField(
        _("status"), max_length=12, choices=Status.choices, default=Status.PLANNED, db_index=True
    )

    objects = AuditQuerySet.as_manager()
    org_scope_field = "programme__org"

    class Meta:
        verbose_name = _("internal audit")
        verbose_name_plural = _("internal audits")
        ordering = ["programme_id", "planned_month", "number"]
        permissions = [("perform_audit", "Can fill audit checklists")]

    def __str__(self) -> str:
        return self.number

    @property
    def audit_date(self) -> datetime.date:
        """The day qualifications must cover: the start date, else the planned month's first."""
        return self.start_date or datetime.date(self.programme.year, self.planned_month, 1)

    def is_member(self, user) -> bool:
        """Is ``user`` the lead auditor or a member of the team?"""
        if not getattr(user, "is_authenticated", False):
            return False
        if self.lead_auditor_id is not None and self.lead_auditor.user_id == user.pk:
            return True
        return self.team.filter(user_id=user.pk).exists()

    def team_may_raise(self, user, org) -> bool:
        """The audit team raises nonconformities about the audited units (and the units
        below them) while auditing, whatever its members' own unit grants are."""
        if self.status != self.Status.IN_PROGRESS or not self.is_member(user):
            return False
        if not scope.has_perm(user, roles.AUDIT_PERFORM):
            return False
        return any(org.path.startswith(u.path) for u in self.audited_units.all())

    def signed_content_hash(self) -> str:
        units = sorted(self.audited_units.values_list("pk", flat=True))
        team = sorted(self.team.values_list("pk", flat=True))
        return content_hash(
            self.number, units, self.lead_auditor_id, team, self.report_summary, self.criteria
        )

    @workflow.transition(
        status,
        source=Status.PLANNED,
        target=Status.IN_PROGRESS,
        label=_("Start audit"),
        guard=_is_lead_or_manager,
        conditions=[workflow.Condition(lambda a: a.lead_auditor_id, _("choose a lead auditor."))],
    )
    def start(self, **kwargs):
        if self.start_date is None:
            import django.utils.timezone

            self.start_date = django.utils.timezone.localdate()

    @workflow.transition(
        status,
        source=Status.IN_PROGRESS,
        target=Status.REPORTED,
        label=_("Sign and issue report"),
        guard=_is_lead,
        signature=Signature.Meaning.PREPARED,
        conditions=[
            workflow.Condition(
                lambda a: (a.report_summary or "").strip(), _("write the report summary.")
            )
        ],
    )
    def report(self, **kwargs):
        if self.end_date is None:
            import django.utils.timezone

            self.end_date = django.utils.timezone.localdate()

    @workflow.transition(
        status,
        source=Status.REPORTED,
        target=Status.CLOSED,
        label=_("Close audit"),
        guard=_is_manager,
        conditions=[
            workflow.Condition(
                lambda a: not open_nonconformities(a),
                _("all nonconformities of the audit must be closed."),
            )
        ],
    )
    def close(self, **kwargs):
        pass


class ChecklistItem(VersionedModel):
    """One question of an audit's checklist (检查表) and its result."""

    class Result(models.TextChoices):
        CONFORMING = "conforming", _("Conforming")  # 符合
        OBSERVATION = "observation", _("Observation")  # 观察项
        MINOR = "minor", _("Minor nonconformity")  # 一般不符合
        MAJOR = "major", _("Major nonconformity")  # 严重不符合

    class Source(models.TextChoices):
        MANUAL = "manual", _("Added by hand")
        OBLIGATION = "obligation", _("Obligation")
        DOCUMENT = "document", _("Controlled document")
        GAP = "gap", _("Conformity gap")
        TEMPLATE = "template", _("Checklist template")

    NONCONFORMING = frozenset({Result.MINOR, Result.MAJOR})

    audit = models.ForeignKey(
        Audit, verbose_name=_("audit"), on_delete=models.CASCADE, related_name="checklist"
    )
    position = models.PositiveIntegerField(_("position"), default=0)
    unit = models.ForeignKey(
        Organization,
        verbose_name=_("audited unit"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    criterion = models.CharField(_("criterion"), max_length=300)
    question = models.TextField(_("question"))
    result = models.CharField(_("result"), max_length=12, choices=Result.choices, blank=True)
    evidence = models.TextField(_("evidence"), blank=True)
    nonconformity_id = models.BigIntegerField(_("nonconformity"), null=True, blank=True)
    source = models.CharField(
        _("generated from"), max_length=12, choices=Source.choices, default=Source.MANUAL
    )
    source_ref = models.CharField(
        _("evidence reference"),
        max_length=300,
        blank=True,
        help_text=_("Where the item comes from: the obligation, document or conformity cell."),
    )
    # what generated the item ("obligation:3", "document:7", "gap:1234"), so that
    # generating again adds only what is new
    source_key = models.CharField(max_length=60, blank=True, db_index=True)

    org_scope_field = "audit__programme__org"

    class Meta:
        verbose_name = _("checklist item")
        verbose_name_plural = _("checklist items")
        ordering = ["audit_id", "position", "id"]

    def __str__(self) -> str:
        return self.criterion


class ChecklistAttachment(VersionedModel):
    """Objective evidence (a photo, a scanned page, a PDF) attached to a checklist result;
    served only after the audit's visibility check."""

    item = models.ForeignKey(
        ChecklistItem,
        verbose_name=_("checklist item"),
        on_delete=models.CASCADE,
        related_name="attachments",
    )
    file = models.FileField(_("file"), upload_to="audits/%Y/%m/")
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

    org_scope_field = "item__audit__programme__org"

    class Meta:
        verbose_name = _("evidence file")
        verbose_name_plural = _("evidence files")
        ordering = ["item_id", "id"]

    def __str__(self) -> str:
        return self.file_name

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


class ChecklistTemplateQuerySet(models.QuerySet):
    def visible_to(self, user, perm: str | None = None):
        """Checklist templates are shared inside the enterprise: whoever works on audits
        (views them or fills checklists) may reuse every template."""
        if scope.has_perm(user, roles.AUDIT_VIEW) or scope.has_perm(user, roles.AUDIT_PERFORM):
            return self.all()
        return self.none()


class ChecklistTemplate(VersionedModel):
    """A reusable checklist (检查表模板): saved from an audit's checklist, applied to others."""

    name = models.CharField(_("name"), max_length=200)
    org = models.ForeignKey(
        Organization,
        verbose_name=_("owner committee"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    description = models.TextField(_("description"), blank=True)
    created_from = models.ForeignKey(
        Audit,
        verbose_name=_("saved from audit"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    objects = ChecklistTemplateQuerySet.as_manager()

    class Meta:
        verbose_name = _("checklist template")
        verbose_name_plural = _("checklist templates")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class ChecklistTemplateItem(VersionedModel):
    template = models.ForeignKey(
        ChecklistTemplate,
        verbose_name=_("checklist template"),
        on_delete=models.CASCADE,
        related_name="items",
    )
    position = models.PositiveIntegerField(_("position"), default=0)
    criterion = models.CharField(_("criterion"), max_length=300)
    question = models.TextField(_("question"))

    org_scope_field = "template__org"

    class Meta:
        verbose_name = _("checklist template item")
        verbose_name_plural = _("checklist template items")
        ordering = ["template_id", "position", "id"]

    def __str__(self) -> str:
        return self.criterion
