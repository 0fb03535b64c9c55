"""Simplified mode of a unit's document system (三合为一).

A unit may run its document system with procedures, work instructions and regulations as
one type, “程序/作业/制度文件”. Only what is offered and how types are shown changes: every
document keeps its stored type, so switching back shows the original types and no data is
touched. The setting of a unit applies to its subtree unless a unit below has its own.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from pbqms.core import roles, scope
from pbqms.core.locking import check_version
from pbqms.documents.models import Document, DocumentSystemSetting
from pbqms.orgs.models import Organization

T = Document.Type
COMBINED = "combined"
COMBINED_TYPES = (T.PROCEDURE, T.WORK_INSTRUCTION, T.REGULATION)
COMBINED_LABEL = gettext_lazy("Procedure / instruction / regulation")
# the merged type is stored as a procedure (it sits under the manual, takes forms under it)
COMBINED_STORED_AS = T.PROCEDURE


class Resolver:
    """Answers "is this unit's system simplified?" for many documents with one query (the
    settings table has a row per unit that chose a mode: a handful)."""

    def __init__(self, rows: Iterable[tuple[str, bool]] | None = None):
        if rows is None:
            rows = DocumentSystemSetting.objects.values_list("org__path", "simplified")
        # deepest first: the nearest setting at or above a unit wins
        self.rows = sorted(rows, key=lambda r: -len(r[0]))

    def simplified(self, path: str) -> bool:
        for prefix, value in self.rows:
            if path.startswith(prefix):
                return value
        return False

    @property
    def any_simplified(self) -> bool:
        return any(value for _path, value in self.rows)

    def type_label(self, document: Document, path: str | None = None) -> str:
        if document.doc_type in COMBINED_TYPES:
            if path is None:
                path = document.org.path
            if self.simplified(path):
                return str(COMBINED_LABEL)
        return str(document.get_doc_type_display())

    def type_order(self, document: Document, path: str) -> int:
        value = document.doc_type
        if value in COMBINED_TYPES and self.simplified(path):
            value = COMBINED_STORED_AS
        return T.values.index(value) if value in T.values else 9


def is_simplified(org: Organization) -> bool:
    return Resolver().simplified(org.path)


def label_documents(documents: Iterable[Document], resolver: Resolver | None = None):
    """Set ``display_type`` on each document (its owner unit must be loaded, or
    ``org_path`` annotated)."""
    resolver = resolver or Resolver()
    for d in documents:
        path = getattr(d, "org_path", None) or d.org.path
        d.display_type = resolver.type_label(d, path)
    return documents


def type_choices(simplified: bool, full: bool = True) -> list[tuple[str, str]]:
    """Document types offered when creating a document: in simplified mode the three
    merged into one; ``full`` adds the separate types (a user drafting for units in both
    modes)."""
    choices = []
    for value, label in T.choices:
        if value in COMBINED_TYPES:
            if value == COMBINED_STORED_AS and simplified:
                choices.append((COMBINED, str(COMBINED_LABEL)))
            if full:
                choices.append((value, label))
        else:
            choices.append((value, label))
    return choices


def stored_type(doc_type: str) -> str:
    return COMBINED_STORED_AS if doc_type == COMBINED else doc_type


def may_switch(actor, org: Organization) -> bool:
    return scope.has_perm(actor, roles.DOC_MANAGE, org)


def settable_units(actor):
    """Units whose mode the actor may switch: the party committees they administer
    documents for."""
    return (
        Organization.objects.visible_to(actor, roles.DOC_MANAGE)
        .filter(kind=Organization.Kind.COMMITTEE, dissolved_on__isnull=True)
        .order_by("path")
    )


@transaction.atomic
def set_mode(org: Organization, *, actor, simplified: bool, expected_version=None):
    """Switch a unit's document system between the full five types and the simplified mode.
    Only document administrators of the unit; the change is logged; documents untouched."""
    from pbqms.documents.services import _require_unit

    _require_unit(actor, roles.DOC_MANAGE, org)
    if not may_switch(actor, org):  # pragma: no cover - _require_unit raised already
        raise PermissionDenied(_("Only a document administrator switches the mode."))
    setting = DocumentSystemSetting.objects.select_for_update().filter(org=org).first()
    if setting is None:
        setting = DocumentSystemSetting(org=org, simplified=bool(simplified))
        setting.save()
        return setting
    check_version(setting, expected_version)
    if setting.simplified != bool(simplified):
        setting.simplified = bool(simplified)
        setting.save()
    return setting
