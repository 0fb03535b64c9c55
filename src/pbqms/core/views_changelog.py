"""The change log for the audit administrator (审计管理员): list with filters, one entry with
its before/after values and hashes, and a check of the whole hash chain.

Read-only by construction: every view answers GET only; there is no view that changes or
deletes an entry. Anyone without ``core.view_changelogentry`` gets 403."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.contrib.auth.decorators import login_required
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db import models
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from pbqms.core import scope
from pbqms.core.changelog import MASKED, compute_hash, verify_chain
from pbqms.core.changelog_filters import ChangeLogFilter, action_choices_grouped
from pbqms.core.listing import (
    PER_PAGE_CHOICES,
    is_htmx,
    paginate,
    pick_template,
    querystring_without,
    vary_on_htmx,
)
from pbqms.core.models import ChangeLogEntry
from pbqms.core.roles import CHANGELOG_VIEW

FILTER_KEYS = (
    "actor_name",
    "action",
    "security",
    "object_type",
    "q",
    "object_id",
    "outcome",
    "source",
    "request_id",
    "date_from",
    "date_to",
    "actor",
)
CHANGE_ACTIONS = frozenset({"create", "update", "delete"})


def _require_auditor(request) -> None:
    if not scope.has_perm(request.user, CHANGELOG_VIEW):
        raise PermissionDenied(_("Only the audit administrator may read the change log."))


def _model_of(object_type: str) -> type[models.Model] | None:
    try:
        return apps.get_model(object_type)
    except (LookupError, ValueError):
        return None


def type_label(object_type: str) -> str:
    model = _model_of(object_type)
    return str(model._meta.verbose_name) if model else object_type


# ---------------------------------------------------------------- list


@login_required
@require_GET
def changelog_list(request):
    _require_auditor(request)
    # an empty select ("all actions") means no filter, not an invalid choice
    data = request.GET.copy()
    for key in list(data):
        values = [v for v in data.getlist(key) if v.strip()]
        if values:
            data.setlist(key, values)
        else:
            del data[key]
    filterset = ChangeLogFilter(data or None, queryset=ChangeLogEntry.objects.all())
    if filterset.is_bound and not filterset.is_valid():
        queryset = ChangeLogEntry.objects.none()
    else:
        queryset = filterset.qs
    page = paginate(request, queryset.order_by("-id"))
    entries = list(page.object_list)
    for entry in entries:
        entry.type_label = type_label(entry.object_type) if entry.object_type else ""
    form = filterset.form
    context = {
        "filter": filterset,
        "form": form,
        "page": page,
        "entries": entries,
        "qs": querystring_without(request, "page"),
        "filtered": any(request.GET.get(k) for k in FILTER_KEYS),
        "action_groups": action_choices_grouped(),
        "selected_actions": request.GET.getlist("action"),
        "per_page": page.paginator.per_page,
        "per_page_choices": PER_PAGE_CHOICES,
        "is_htmx": is_htmx(request),
    }
    template = pick_template(request, "core/changelog_list.html", "core/changelog_table.html")
    return vary_on_htmx(render(request, template, context))


# ---------------------------------------------------------------- detail


def _field(model, name: str) -> models.Field | None:
    if model is None:
        return None
    try:
        return model._meta.get_field(name)
    except FieldDoesNotExist:
        return None


def _related_names(model, changes: dict[str, Any]) -> dict[tuple[str, Any], str]:
    """Names of the objects that foreign-key values point at: one query per related model."""
    wanted: dict[type[models.Model], set] = {}
    for name, pair in changes.items():
        field = _field(model, name)
        if isinstance(field, models.ForeignKey) and isinstance(pair, list):
            ids = {v for v in pair if isinstance(v, int)}
            if ids:
                wanted.setdefault(field.related_model, set()).update(ids)
    names = {}
    for related, ids in wanted.items():
        for obj in related._base_manager.filter(pk__in=ids):
            names[(related._meta.label_lower, obj.pk)] = str(obj)
    return names


def _readable(field: models.Field | None, value: Any, names) -> str:
    if value is None or value == "":
        return ""
    if value == MASKED:
        return _("(hidden)")
    if field is not None:
        if isinstance(value, bool):
            return _("Yes") if value else _("No")
        if field.choices:
            label = dict(field.flatchoices).get(value)
            if label is not None:
                return f"{label} ({value})"
        if isinstance(field, models.ForeignKey):
            name = names.get((field.related_model._meta.label_lower, value))
            if name:
                return f"{name} (#{value})"
    if isinstance(value, list | dict):
        import json

        return json.dumps(value, ensure_ascii=False)
    return str(value)


def change_rows(entry: ChangeLogEntry) -> list[dict[str, Any]]:
    """The entry's changes as rows {label, name, before, after, changed} for a diff table."""
    model = _model_of(entry.object_type)
    changes = entry.changes if isinstance(entry.changes, dict) else {}
    names = _related_names(model, changes)
    rows = []
    for name, pair in changes.items():
        field = _field(model, name)
        label = str(field.verbose_name) if field is not None else name
        if isinstance(pair, list) and len(pair) == 2:
            before, after = pair
        else:  # not a [before, after] pair (older shapes): show it as the new value
            before, after = None, pair
        rows.append(
            {
                "name": name,
                "label": label,
                "before": _readable(field, before, names),
                "after": _readable(field, after, names),
                "changed": before != after,
            }
        )
    return rows


def detail_rows(entry: ChangeLogEntry) -> list[tuple[str, str]]:
    """A security event's details as (key, value) pairs."""
    details = entry.changes if isinstance(entry.changes, dict) else {"": entry.changes}
    return [(str(k), _readable(None, v, {})) for k, v in details.items()]


@login_required
@require_GET
def changelog_detail(request, pk: int):
    _require_auditor(request)
    entry = get_object_or_404(ChangeLogEntry, pk=pk)
    previous = ChangeLogEntry.objects.filter(hash=entry.prev_hash).values_list("pk", flat=True)
    is_change = entry.action in CHANGE_ACTIONS and all(
        isinstance(v, list) and len(v) == 2 for v in (entry.changes or {}).values()
    )
    unit_name = None
    if entry.org_id and entry.org_id > 0:
        unit_model = _model_of("orgs.organization")
        if unit_model is not None:
            unit_name = (
                unit_model._base_manager.filter(pk=entry.org_id)
                .values_list("name", flat=True)
                .first()
            )
    context = {
        "entry": entry,
        "unit_name": unit_name,
        "type_label": type_label(entry.object_type) if entry.object_type else "",
        "is_change": is_change,
        "rows": change_rows(entry) if is_change else [],
        "details": [] if is_change else detail_rows(entry),
        "hash_ok": compute_hash(entry) == entry.hash,
        "previous_id": previous.first(),
        "next_id": ChangeLogEntry.objects.filter(pk__gt=entry.pk)
        .order_by("pk")
        .values_list("pk", flat=True)
        .first(),
        "is_genesis": entry.prev_hash == "0" * 64,
    }
    return render(request, "core/changelog_detail.html", context)


# ---------------------------------------------------------------- verify


@login_required
@require_GET
def changelog_verify(request):
    """Walk the whole chain and report. A read: it writes nothing, not even a log entry."""
    _require_auditor(request)
    report = verify_chain()
    template = pick_template(
        request, "core/changelog_verify.html", "core/changelog_verify_result.html"
    )
    return vary_on_htmx(render(request, template, {"report": report}))
