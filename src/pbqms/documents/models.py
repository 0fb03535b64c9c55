"""Controlled documents (五位一体体系文件): documents, their versions and lifecycle,
references, distribution with read-and-acknowledge, periodic review.

Who sees what is decided here, in the querysets (``visible_to``), never in views:

* document administrators (``DOC_MANAGE`` on the owner unit) see every version;
* the author of a version and the reviewers/approvers chosen for it see that version;
* readers (``DOC_VIEW``) see the effective version of documents owned by, or applying to,
  the units of their grant (a document applying to a unit applies to its subtree, so a
  branch sees the group's manual); ``DOC_VIEW_HISTORY`` adds superseded and obsolete
  versions. Party members therefore see only effective versions of what applies to them.
"""

from __future__ import annotations

import uuid
from pathlib import PurePosixPath

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from pbqms.core import roles, scope, workflow
from pbqms.core.models import Signature, VersionedModel
from pbqms.core.scope import ScopedQuerySet
from pbqms.core.signatures import content_hash
from pbqms.orgs.models import Organization


def _ancestor_paths(path: str) -> list[str]:
    step = Organization.steplen
    return [path[:i] for i in range(step, len(path) + 1, step)]


def applies_subquery(user, perm: str):
    """Ids of the documents that apply to a unit the user's grants for ``perm`` reach: the
    granted unit or one above it (a document applies to its units' subtrees), or, for a
    subtree grant, a unit below it. ``None`` when the user has no grant."""
    grants = scope.grants_for(user, perm)
    if not grants:
        return None
    exact: set[str] = set()
    units = Q()
    for grant in grants:
        exact.update(_ancestor_paths(grant.path))
        if grant.subtree:
            units |= Q(path__startswith=grant.path)
    units |= Q(path__in=sorted(exact))
    # unit ids first (an indexed look-up), then the documents applying to them
    unit_ids = Organization.objects.filter(units).values("pk")
    through = Document.applies_to.through
    return through.objects.filter(organization_id__in=unit_ids).values("document_id")


def reader_q(user, perm: str, prefix: str = "") -> Q:
    """Documents (through ``prefix``, e.g. "document__") owned in scope or applying there."""
    q = scope_q_for(user, perm, f"{prefix}org")
    sub = applies_subquery(user, perm)
    if sub is not None:
        q |= Q(**{f"{prefix}pk__in" if prefix else "pk__in": sub})
    return q


def scope_q_for(user, perm: str, field: str) -> Q:
    return scope.scope_q(user, perm, field)


class DocumentQuerySet(ScopedQuerySet):
    def visible_to(self, user, perm: str | None = None):
        """Documents the user may open: exactly those with a version they may see (see the
        module docstring), written on the document's own columns so that a list of
        thousands of documents needs no per-row look-up of its versions."""
        if user is None or not user.is_authenticated:
            return self.none()
        q = scope.scope_q(user, roles.DOC_MANAGE, "org")
        q |= Q(pk__in=DocumentVersion.objects.filter(author_id=user.pk).values("document_id"))
        q |= Q(
            pk__in=VersionAssignment.objects.filter(user_id=user.pk).values(
                "document_version__document_id"
            )
        )
        q |= Q(status=Document.Status.EFFECTIVE, effective_version__isnull=False) & reader_q(
            user, roles.DOC_VIEW
        )
        if scope.grants_for(user, roles.DOC_VIEW_HISTORY):
            # obsolete documents that were once effective stay findable
            q |= Q(status=Document.Status.OBSOLETE, effective_version__isnull=False) & reader_q(
                user, roles.DOC_VIEW_HISTORY
            )
        return self.filter(q)

    def search(self, q: str):
        """Number, title or text contain ``q``: the effective version's text, or for a
        document not yet effective its draft's (only its author, reviewers, approvers and
        the document administrators see such a document; a revision in progress is not
        searched, so readers find nothing through text they may not read). Chinese has no
        letter case: a query without cased letters is matched as it is, sparing the
        database an upper-casing of every document's text (3× faster on PostgreSQL)."""
        q = (q or "").strip()
        if not q:
            return self
        lookup = "icontains" if q.lower() != q.upper() else "contains"
        return self.filter(
            Q(**{f"number__{lookup}": q})
            | Q(**{f"title__{lookup}": q})
            | Q(**{f"effective_version__content__{lookup}": q})
            | Q(effective_version__isnull=True, **{f"latest_version__content__{lookup}": q})
        )

    def in_master_list(self):
        return self.filter(status=Document.Status.EFFECTIVE, effective_version__isnull=False)


class Document(VersionedModel):
    class Type(models.TextChoices):
        MANUAL = "manual", _("Management manual")  # 管理手册
        PROCEDURE = "procedure", _("Procedure")  # 程序文件
        WORK_INSTRUCTION = "work_instruction", _("Work instruction")  # 作业指导书
        REGULATION = "regulation", _("Regulation")  # 管理制度
        RECORD_FORM = "record_form", _("Record form")  # 记录表格

    class Status(models.TextChoices):
        DRAFT = "draft", _("Not yet effective")
        EFFECTIVE = "effective", _("Effective")
        OBSOLETE = "obsolete", _("Obsolete")

    # where a type sits in the tree: manual → procedures → instructions, rules, forms
    ALLOWED_PARENTS = {
        Type.MANUAL: frozenset(),
        Type.PROCEDURE: frozenset({Type.MANUAL}),
        Type.WORK_INSTRUCTION: frozenset({Type.PROCEDURE}),
        Type.REGULATION: frozenset({Type.MANUAL, Type.PROCEDURE}),
        Type.RECORD_FORM: frozenset({Type.PROCEDURE}),
    }
    PARENT_REQUIRED = frozenset({Type.WORK_INSTRUCTION, Type.RECORD_FORM})
    # approved by a party committee administrator of the owner's committee (default rule)
    COMMITTEE_APPROVAL = frozenset({Type.MANUAL, Type.PROCEDURE})

    number = models.CharField(_("number"), max_length=60, unique=True)
    title = models.CharField(_("title"), max_length=200, db_index=True)
    doc_type = models.CharField(_("document type"), max_length=20, choices=Type.choices)
    org = models.ForeignKey(
        Organization,
        verbose_name=_("owner unit"),
        on_delete=models.PROTECT,
        related_name="documents",
    )
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent document"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    applies_to = models.ManyToManyField(
        Organization,
        verbose_name=_("applies to units"),
        blank=True,
        related_name="applicable_documents",
        help_text=_("The document applies to these units and every unit below them."),
    )
    applies_to_roles = models.JSONField(
        _("applies to roles"),
        default=list,
        blank=True,
        help_text=_(
            "Only people holding one of these roles get the read-and-acknowledge task; "
            "empty: everybody with an account in the units."
        ),
    )
    review_interval_months = models.PositiveSmallIntegerField(
        _("review interval (months)"), default=12
    )
    next_review_on = models.DateField(_("next review due"), null=True, blank=True, db_index=True)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    effective_version = models.ForeignKey(
        "DocumentVersion",
        verbose_name=_("effective version"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    latest_version = models.ForeignKey(
        "DocumentVersion",
        verbose_name=_("latest version"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    obsoleted_on = models.DateField(_("obsoleted on"), null=True, blank=True)
    obsolete_reason = models.TextField(_("reason for obsoleting"), blank=True)

    objects = DocumentQuerySet.as_manager()

    class Meta:
        verbose_name = _("controlled document")
        verbose_name_plural = _("controlled documents")
        ordering = ["number"]
        permissions = [
            ("manage_document", "Can administer controlled documents"),
            ("acknowledge_document", "Can acknowledge documents"),
            ("view_document_history", "Can see superseded and obsolete versions"),
        ]
        indexes = [
            models.Index(fields=["status", "doc_type"], name="document_status_type"),
            models.Index(fields=["org", "status"], name="document_org_status"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @property
    def short_code(self) -> str:
        """The last segment of the number (``DJ-CX-05`` → ``05``): children are numbered
        under it (``DJ-JL-05-01``)."""
        return self.number.rsplit("-", 1)[-1]


class VersionQuerySet(ScopedQuerySet):
    def visible_to(self, user, perm: str | None = None):
        if user is None or not user.is_authenticated:
            return self.none()
        S = DocumentVersion.Status
        assigned = VersionAssignment.objects.filter(user_id=user.pk).values("document_version_id")
        q = scope.scope_q(user, roles.DOC_MANAGE, "document__org")
        q |= Q(author_id=user.pk) | Q(pk__in=assigned)
        q |= Q(status=S.EFFECTIVE) & reader_q(user, roles.DOC_VIEW, "document__")
        if scope.grants_for(user, roles.DOC_VIEW_HISTORY):
            # versions that were effective once (a withdrawn draft stays with its people)
            q |= Q(status__in=[S.SUPERSEDED, S.OBSOLETE], effective_at__isnull=False) & reader_q(
                user, roles.DOC_VIEW_HISTORY, "document__"
            )
        return self.filter(q)


SYSTEM = workflow.SYSTEM


def _is_system(actor) -> bool:
    return actor is SYSTEM


def _is_admin(version, user) -> bool:
    return scope.has_perm(user, roles.DOC_MANAGE, version.document.org)


def _is_editor(version, user) -> bool:
    if _is_system(user) or not getattr(user, "is_authenticated", False):
        return False
    return version.author_id == user.pk or _is_admin(version, user)


def _pending(version, user, role: str) -> bool:
    if _is_system(user) or not getattr(user, "is_authenticated", False):
        return False
    return version.assignments.filter(user_id=user.pk, role=role, signed_at__isnull=True).exists()


def _is_pending_reviewer(version, user) -> bool:
    return _pending(version, user, VersionAssignment.Role.REVIEWER)


def _is_pending_approver(version, user) -> bool:
    return _pending(version, user, VersionAssignment.Role.APPROVER)


def _may_send_back(version, user) -> bool:
    S = DocumentVersion.Status
    if version.status == S.IN_REVIEW and _is_pending_reviewer(version, user):
        return True
    if version.status == S.AWAITING_APPROVAL and _is_pending_approver(version, user):
        return True
    return _is_editor(version, user)


def _may_release(version, user) -> bool:
    if _is_system(user):
        return True
    if not getattr(user, "is_authenticated", False):
        return False
    return (
        _is_admin(version, user)
        or version.assignments.filter(
            user_id=user.pk, role=VersionAssignment.Role.APPROVER
        ).exists()
    )


def _has_body(version) -> bool:
    return bool((version.content or "").strip() or version.file)


def _has_role(role: str):
    def check(version) -> bool:
        return version.assignments.filter(role=role).exists()

    return check


def _effective_date_reached(version) -> bool:
    return version.effective_on is not None and version.effective_on <= timezone.localdate()


def _upload_to(instance, filename: str) -> str:
    suffix = PurePosixPath(filename).suffix.lower()[:8]
    return f"documents/{timezone.now():%Y/%m}/{uuid.uuid4().hex}{suffix}"


class DocumentVersion(VersionedModel):
    """One version (A/0, A/1, B/0 …) of a document and its lifecycle:
    草稿 → 审核中 → 待批准 → 已批准 → 生效 → 已替代 / 已废止."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")  # 草稿
        IN_REVIEW = "in_review", _("In review")  # 审核中
        AWAITING_APPROVAL = "awaiting_approval", _("Awaiting approval")  # 待批准
        APPROVED = "approved", _("Approved")  # 已批准
        EFFECTIVE = "effective", _("Effective")  # 生效
        SUPERSEDED = "superseded", _("Superseded")  # 已替代
        OBSOLETE = "obsolete", _("Obsolete")  # 已废止

    OPEN_STATUSES = (
        Status.DRAFT,
        Status.IN_REVIEW,
        Status.AWAITING_APPROVAL,
        Status.APPROVED,
    )

    document = models.ForeignKey(
        Document, verbose_name=_("document"), on_delete=models.PROTECT, related_name="versions"
    )
    label = models.CharField(_("version"), max_length=12)
    title = models.CharField(_("title"), max_length=200)
    edition = models.CharField(_("edition letter"), max_length=2, default="A")
    revision = models.PositiveSmallIntegerField(_("revision number"), default=0)
    status = workflow.StateField(
        _("status"), max_length=20, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    content = models.TextField(_("content (Markdown)"), blank=True)
    file = models.FileField(_("controlled file"), upload_to=_upload_to, blank=True, max_length=200)
    file_name = models.CharField(_("file name"), max_length=200, blank=True)
    file_sha256 = models.CharField(_("file checksum"), max_length=64, blank=True)
    file_size = models.PositiveBigIntegerField(_("file size"), null=True, blank=True)
    change_reason = models.TextField(_("reason for the change"), blank=True)
    effective_on = models.DateField(_("effective date"), null=True, blank=True)
    effective_at = models.DateTimeField(_("made effective at"), null=True, blank=True)
    ended_on = models.DateField(_("superseded or obsoleted on"), null=True, blank=True)
    return_comment = models.TextField(_("comments when sent back"), blank=True)
    content_hash = models.CharField(_("content hash"), max_length=64, blank=True, editable=False)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        on_delete=models.PROTECT,
        related_name="+",
    )

    org_scope_field = "document__org"
    objects = VersionQuerySet.as_manager()

    class Meta:
        verbose_name = _("document version")
        verbose_name_plural = _("document versions")
        ordering = ["document_id", "edition", "revision"]
        constraints = [
            models.UniqueConstraint(fields=["document", "label"], name="document_version_label"),
            # at most one effective version per document (the rule of a controlled document)
            models.UniqueConstraint(
                fields=["document"],
                condition=Q(status="effective"),
                name="one_effective_version_per_document",
            ),
            # at most one version being prepared at a time
            models.UniqueConstraint(
                fields=["document"],
                condition=Q(status__in=["draft", "in_review", "awaiting_approval", "approved"]),
                name="one_open_version_per_document",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.document.number} {self.label}"

    @property
    def org_id(self):  # the change log and signatures record the owner unit
        return self.document.org_id

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    def compute_hash(self) -> str:
        document = self.document
        return content_hash(
            document.number,
            self.title,
            self.label,
            self.content or "",
            self.file_sha256 or "",
        )

    def signed_content_hash(self) -> str:
        return self.compute_hash()

    def save(self, *args, **kwargs):
        self.label = f"{self.edition}/{self.revision}"
        self.content_hash = self.compute_hash()
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "content_hash", "label"}
        super().save(*args, **kwargs)

    # ------------------------------------------------------------ the state machine

    @workflow.transition(
        status,
        source=Status.DRAFT,
        target=Status.IN_REVIEW,
        label=_("Submit for review"),
        guard=_is_editor,
        signature=Signature.Meaning.PREPARED,
        conditions=[
            workflow.Condition(_has_body, _("Write the content or attach the controlled file.")),
            workflow.Condition(_has_role("reviewer"), _("Choose at least one reviewer.")),
            workflow.Condition(_has_role("approver"), _("Choose at least one approver.")),
        ],
    )
    def submit(self, **kwargs):
        self.return_comment = ""

    @workflow.transition(
        status,
        source=Status.IN_REVIEW,
        target=workflow.RETURN_VALUE(Status.IN_REVIEW, Status.AWAITING_APPROVAL),
        label=_("Review and sign"),
        guard=_is_pending_reviewer,
        signature=Signature.Meaning.REVIEWED,
        style="primary",
    )
    def review(self, *, actor, **kwargs):
        now = timezone.now()
        for a in self.assignments.filter(user_id=actor.pk, role=VersionAssignment.Role.REVIEWER):
            a.signed_at = now
            a.save(update_fields=["signed_at"])
        pending = self.assignments.filter(
            role=VersionAssignment.Role.REVIEWER, signed_at__isnull=True
        ).exists()
        return self.Status.IN_REVIEW if pending else self.Status.AWAITING_APPROVAL

    @workflow.transition(
        status,
        source=Status.AWAITING_APPROVAL,
        target=workflow.RETURN_VALUE(Status.AWAITING_APPROVAL, Status.APPROVED),
        label=_("Approve and sign"),
        guard=_is_pending_approver,
        signature=Signature.Meaning.APPROVED,
        style="primary",
    )
    def approve(self, *, actor, effective_on=None, **kwargs):
        now = timezone.now()
        for a in self.assignments.filter(user_id=actor.pk, role=VersionAssignment.Role.APPROVER):
            a.signed_at = now
            a.save(update_fields=["signed_at"])
        if effective_on is not None:
            self.effective_on = effective_on
        pending = self.assignments.filter(
            role=VersionAssignment.Role.APPROVER, signed_at__isnull=True
        ).exists()
        return self.Status.AWAITING_APPROVAL if pending else self.Status.APPROVED

    @workflow.transition(
        status,
        source=[Status.IN_REVIEW, Status.AWAITING_APPROVAL],
        target=Status.DRAFT,
        label=_("Send back with comments"),
        guard=_may_send_back,
        reason_required=True,
        style="warning",
    )
    def send_back(self, *, reason="", **kwargs):
        self.return_comment = reason
        self.effective_on = None
        # a new round: everybody signs again
        self.assignments.update(signed_at=None)

    @workflow.transition(
        status,
        source=Status.APPROVED,
        target=Status.EFFECTIVE,
        label=_("Make effective"),
        guard=_may_release,
        conditions=[
            workflow.Condition(_effective_date_reached, _("the effective date has not come yet."))
        ],
        style="success",
    )
    def make_effective(self, **kwargs):
        self.effective_at = timezone.now()
        if self.effective_on is None or self.effective_on > timezone.localdate():
            self.effective_on = timezone.localdate()

    @workflow.transition(
        status,
        source=Status.EFFECTIVE,
        target=Status.SUPERSEDED,
        label=_("Supersede"),
        guard=_may_release,
        hidden=True,
    )
    def supersede(self, **kwargs):
        self.ended_on = timezone.localdate()

    @workflow.transition(
        status,
        source=Status.EFFECTIVE,
        target=Status.OBSOLETE,
        label=_("Obsolete"),
        guard=_is_admin,
        reason_required=True,
        style="danger",
        hidden=True,
    )
    def obsolete(self, **kwargs):
        self.ended_on = timezone.localdate()

    @workflow.transition(
        status,
        source=[Status.DRAFT, Status.IN_REVIEW, Status.AWAITING_APPROVAL, Status.APPROVED],
        target=Status.OBSOLETE,
        label=_("Withdraw this version"),
        guard=_is_editor,
        reason_required=True,
        style="danger",
    )
    def withdraw(self, *, reason="", **kwargs):
        self.ended_on = timezone.localdate()
        self.return_comment = reason


class VersionAssignment(VersionedModel):
    """A reviewer (审核) or approver (批准) chosen for one version; ``signed_at`` is set when
    they sign in the current round (cleared when the version is sent back)."""

    class Role(models.TextChoices):
        REVIEWER = "reviewer", _("Reviewer")
        APPROVER = "approver", _("Approver")

    document_version = models.ForeignKey(
        DocumentVersion,
        verbose_name=_("version"),
        on_delete=models.CASCADE,
        related_name="assignments",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.PROTECT,
        related_name="document_assignments",
    )
    role = models.CharField(_("role"), max_length=10, choices=Role.choices)
    position = models.PositiveSmallIntegerField(_("order"), default=0)
    signed_at = models.DateTimeField(_("signed at"), null=True, blank=True)

    org_scope_field = "document_version__document__org"

    class Meta:
        verbose_name = _("reviewer or approver")
        verbose_name_plural = _("reviewers and approvers")
        ordering = ["document_version_id", "role", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["document_version", "user", "role"], name="version_assignment_unique"
            )
        ]
        indexes = [models.Index(fields=["user", "signed_at"], name="assignment_user_signed")]

    def __str__(self) -> str:
        return f"{self.document_version} · {self.get_role_display()} · {self.user}"


class DocumentLink(VersionedModel):
    """A reference from one document to another (a procedure cites a form, a rule …)."""

    from_document = models.ForeignKey(
        Document, verbose_name=_("document"), on_delete=models.CASCADE, related_name="links_out"
    )
    to_document = models.ForeignKey(
        Document,
        verbose_name=_("referenced document"),
        on_delete=models.PROTECT,
        related_name="links_in",
    )
    note = models.CharField(_("note"), max_length=200, blank=True)

    org_scope_field = "from_document__org"

    class Meta:
        verbose_name = _("document reference")
        verbose_name_plural = _("document references")
        ordering = ["from_document_id", "to_document__number"]
        constraints = [
            models.UniqueConstraint(fields=["from_document", "to_document"], name="document_link"),
            models.CheckConstraint(
                condition=~Q(from_document=models.F("to_document")), name="document_link_not_self"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.from_document_id} → {self.to_document_id}"


class Acknowledgement(VersionedModel):
    """A read-and-acknowledge task (学习确认) for one person and one effective version.
    ``org`` is the person's unit when the task was given (the per-unit percentages)."""

    document_version = models.ForeignKey(
        DocumentVersion,
        verbose_name=_("version"),
        on_delete=models.CASCADE,
        related_name="acknowledgements",
    )
    person = models.ForeignKey(
        "orgs.Person",
        verbose_name=_("person"),
        on_delete=models.CASCADE,
        related_name="acknowledgements",
    )
    org = models.ForeignKey(
        Organization, verbose_name=_("unit"), on_delete=models.PROTECT, related_name="+"
    )
    due = models.DateField(_("due"))
    done_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    reminded_at = models.DateTimeField(_("last reminded at"), null=True, blank=True)

    class Meta:
        verbose_name = _("acknowledgement")
        verbose_name_plural = _("acknowledgements")
        ordering = ["document_version_id", "org_id", "person_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["document_version", "person"], name="acknowledgement_unique"
            )
        ]
        indexes = [
            models.Index(
                fields=["document_version", "org", "done_at"], name="ack_version_org_done"
            ),
            models.Index(fields=["person", "done_at"], name="ack_person_done"),
        ]

    def __str__(self) -> str:
        return f"{self.document_version} · {self.person_id}"


class DocumentReview(VersionedModel):
    """A periodic review (定期评审) of a document and what it concluded."""

    class Conclusion(models.TextChoices):
        CONTINUE = "continue", _("Remains valid")  # 继续有效
        REVISE = "revise", _("Needs revision")  # 需修订
        OBSOLETE = "obsolete", _("Obsolete")  # 废止

    document = models.ForeignKey(
        Document, verbose_name=_("document"), on_delete=models.CASCADE, related_name="reviews"
    )
    document_version = models.ForeignKey(
        DocumentVersion,
        verbose_name=_("reviewed version"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    due = models.DateField(_("due"), null=True, blank=True)
    done_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reviewed by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    conclusion = models.CharField(_("conclusion"), max_length=10, choices=Conclusion.choices)
    notes = models.TextField(_("notes"), blank=True)

    org_scope_field = "document__org"

    class Meta:
        verbose_name = _("periodic review")
        verbose_name_plural = _("periodic reviews")
        ordering = ["document_id", "-done_at", "-id"]

    def __str__(self) -> str:
        return f"{self.document_id} · {self.get_conclusion_display()}"


class DocumentSystemSetting(VersionedModel):
    """How a unit's document system is organised. In simplified mode (三合为一) procedures,
    work instructions and regulations are offered and shown as one type, “程序/作业/制度文件”;
    the documents keep their stored type, so switching back shows the original types. The
    setting of a unit applies to its subtree unless a unit below has its own."""

    org = models.OneToOneField(
        Organization,
        verbose_name=_("unit"),
        on_delete=models.CASCADE,
        related_name="document_system_setting",
    )
    simplified = models.BooleanField(
        _("simplified mode"),
        default=False,
        help_text=_(
            "Procedures, work instructions and regulations are one type "
            "(procedure / instruction / regulation)."
        ),
    )

    class Meta:
        verbose_name = _("document system setting")
        verbose_name_plural = _("document system settings")
        ordering = ["org__path"]

    def __str__(self) -> str:
        return f"{self.org_id} · {'simplified' if self.simplified else 'full'}"
