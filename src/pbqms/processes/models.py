"""The main party-building processes (党建工作主要过程): each with its code, owner unit and
role, inputs (需求) and outputs (满意), and what connects it to the rest of the system —
the documents that govern it, the record templates that prove it, the indicators that
measure it, the requirements (ISO 9001 clauses, party regulations) it addresses and the
obligations it carries. The process page follows the chain rule → plan → records →
checks → findings (``chain.py``)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from pbqms.core import roles
from pbqms.core.models import VersionedModel
from pbqms.objectives.scoping import ancestors_q


class Process(VersionedModel):
    class Kind(models.TextChoices):
        MANAGEMENT = "management", _("Management process")  # 管理过程
        CORE = "core", _("Core process")  # 核心过程 (党建业务)
        SUPPORT = "support", _("Support process")  # 支持过程

    org = models.ForeignKey(
        "orgs.Organization",
        verbose_name=_("owner unit"),
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("The committee whose process map it belongs to."),
    )
    code = models.CharField(_("code"), max_length=20)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.CORE)
    owner_role = models.CharField(
        _("owner role"),
        max_length=100,
        blank=True,
        help_text=_("Who is responsible, e.g. 组织委员 or 党群工作部."),
    )
    purpose = models.TextField(_("purpose"), blank=True)
    inputs = models.TextField(
        _("inputs (needs)"), blank=True, help_text=_("需求: what it starts from.")
    )
    outputs = models.TextField(
        _("outputs (satisfaction)"), blank=True, help_text=_("满意: what it delivers, to whom.")
    )
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    is_builtin = models.BooleanField(_("from the starter map"), default=False)
    documents = models.ManyToManyField(
        "documents.Document", verbose_name=_("governing documents"), blank=True, related_name="+"
    )
    record_templates = models.ManyToManyField(
        "records.RecordTemplate", verbose_name=_("record forms"), blank=True, related_name="+"
    )
    indicators = models.ManyToManyField(
        "objectives.Indicator", verbose_name=_("indicators"), blank=True, related_name="processes"
    )
    requirements = models.ManyToManyField(
        "system.Requirement",
        verbose_name=_("requirements addressed"),
        blank=True,
        related_name="processes",
    )
    obligations = models.ManyToManyField(
        "system.Obligation", verbose_name=_("obligations"), blank=True, related_name="processes"
    )

    class Meta:
        verbose_name = _("process")
        verbose_name_plural = _("processes")
        ordering = ["org__path", "sort_order", "code"]
        constraints = [
            models.UniqueConstraint(fields=["org", "code"], name="processes_code_per_unit")
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @staticmethod
    def scope_extra_q(user, perm):
        """Units below see the process map of their committees."""
        if perm != roles.PROCESS_VIEW:
            return None
        return ancestors_q(user, perm, "org")
