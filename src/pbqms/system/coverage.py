"""Clause and requirement coverage: every active requirement (ISO 9001 clauses, party
regulations, internal rules) against what addresses it —

- documents: controlled documents linked to it (``DocumentRequirement``), only those the
  viewer may open;
- processes: processes of the process map that list it (``processes.Process.requirements``,
  when that app is installed);
- obligations: active obligations required by it.

A *gap* is a requirement nothing addresses. An *orphan* is an effective document that
addresses nothing: no requirement link, and not the governing document of a process that
addresses a requirement.

Everything is read in a fixed number of queries whatever the number of requirements and
links (one per column), and the matrix is assembled in Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.apps import apps
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from pbqms.core import roles, scope
from pbqms.system.models import DocumentRequirement, Obligation, Requirement

MAX_LINKS = 200


def processes_enabled() -> bool:
    return apps.is_installed("pbqms.processes")


def documents_enabled() -> bool:
    return apps.is_installed("pbqms.documents")


def visible_documents(user):
    from pbqms.documents.models import Document

    return Document.objects.visible_to(user)


@dataclass
class Row:
    requirement: Requirement
    documents: list[dict] = field(default_factory=list)
    processes: list[dict] = field(default_factory=list)
    obligations: list[dict] = field(default_factory=list)

    @property
    def is_gap(self) -> bool:
        return not (self.documents or self.processes or self.obligations)


def matrix(user, *, source: str = "", q: str = "", gaps_only: bool = False) -> list[Row]:
    """The coverage rows for the active requirements (filtered by ``source`` and text
    ``q``), gaps only if asked."""
    reqs = Requirement.objects.filter(is_active=True)
    if source:
        reqs = reqs.filter(source=source)
    if q:
        reqs = reqs.filter(Q(code__icontains=q) | Q(title__icontains=q) | Q(text__icontains=q))
    rows = {r.pk: Row(r) for r in reqs.order_by("source", "sort_key", "code")}
    ids = list(rows)
    if not ids:
        return []
    if documents_enabled():
        links = (
            DocumentRequirement.objects.filter(requirement_id__in=ids)
            .filter(document__in=visible_documents(user).values("pk"))
            .order_by("document__number")
            .values_list(
                "requirement_id",
                "document_id",
                "document__number",
                "document__title",
                "document__status",
            )
        )
        for req_id, doc_id, number, title, status in links:
            rows[req_id].documents.append(
                {"id": doc_id, "number": number, "title": title, "status": status}
            )
    if processes_enabled() and scope.has_perm(user, getattr(roles, "PROCESS_VIEW", "")):
        from pbqms.processes.models import Process

        through = Process.requirements.through
        for req_id, proc_id, code, name in (
            through.objects.filter(
                requirement_id__in=ids,
                process__is_active=True,
                process__in=Process.objects.visible_to(user, roles.PROCESS_VIEW).values("pk"),
            )
            .order_by("process__sort_order", "process__code")
            .values_list("requirement_id", "process_id", "process__code", "process__name")
        ):
            rows[req_id].processes.append({"id": proc_id, "code": code, "name": name})
    if scope.has_perm(user, roles.OBLIGATION_VIEW):
        for req_id, ob_id, name in (
            Obligation.objects.visible_to(user)
            .filter(requirement_id__in=ids, is_active=True)
            .order_by("name", "id")
            .values_list("requirement_id", "id", "name")
        ):
            rows[req_id].obligations.append({"id": ob_id, "name": name})
    out = list(rows.values())
    if gaps_only:
        out = [r for r in out if r.is_gap]
    return out


def orphan_documents(user):
    """Effective documents (visible to ``user``) that address no requirement, directly or
    through a process they govern."""
    if not documents_enabled():
        return None
    from pbqms.documents.models import Document

    qs = (
        visible_documents(user)
        .filter(status=Document.Status.EFFECTIVE)
        .exclude(pk__in=DocumentRequirement.objects.values("document_id"))
    )
    if processes_enabled():
        from pbqms.processes.models import Process

        governing = Process.documents.through.objects.filter(
            process__is_active=True, process__requirements__isnull=False
        ).values("document_id")
        qs = qs.exclude(pk__in=governing)
    return qs.select_related("org").order_by("number")


def summary(rows: list[Row]) -> dict:
    gaps = sum(1 for r in rows if r.is_gap)
    return {"total": len(rows), "gaps": gaps, "covered": len(rows) - gaps}


def documents_of(user, requirement: Requirement):
    if not documents_enabled():
        return []
    return list(
        visible_documents(user)
        .filter(
            pk__in=DocumentRequirement.objects.filter(requirement=requirement).values("document_id")
        )
        .order_by("number")
    )


@transaction.atomic
def set_document_requirements(*, actor, requirement: Requirement, documents) -> tuple[int, int]:
    """Make ``documents`` (those the actor may open) the documents that address
    ``requirement``: links are added and removed one by one (each change-logged); links to
    documents the actor cannot see are kept. Returns (added, removed)."""
    if not scope.has_perm(actor, roles.REQUIREMENT_MANAGE):
        raise PermissionDenied
    documents = list(documents)
    if len(documents) > MAX_LINKS:
        raise ValidationError(
            {"documents": _("Choose at most %(n)d documents.") % {"n": MAX_LINKS}}
        )
    visible = set(
        visible_documents(actor)
        .filter(pk__in=[d.pk for d in documents])
        .values_list("pk", flat=True)
    )
    hidden = [d for d in documents if d.pk not in visible]
    if hidden:
        raise ValidationError({"documents": _("Choose documents you may open.")})
    wanted = {d.pk for d in documents}
    current = {
        link.document_id: link
        for link in DocumentRequirement.objects.filter(requirement=requirement).filter(
            document_id__in=visible_documents(actor).values("pk")
        )
    }
    removed = 0
    for doc_id, link in current.items():
        if doc_id not in wanted:
            link.delete()
            removed += 1
    added = 0
    for doc_id in sorted(wanted - set(current)):
        DocumentRequirement.objects.create(
            requirement=requirement, document_id=doc_id, created_by=actor
        )
        added += 1
    return added, removed
