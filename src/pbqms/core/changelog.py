"""The change log: one mechanism for every write path.

A ``post_save``/``post_delete`` receiver writes one ``ChangeLogEntry`` for each change of a
``ChangeLoggedModel`` (and of the user model), with the actor, IP, request id and reason from
``pbqms.core.context``. Code that changes rows without ``save()`` (tree moves, bulk updates)
calls ``record_change`` itself. Entries are hash-chained; ``verify_chain`` finds the first
broken one.
"""

from __future__ import annotations

import datetime
import decimal
import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import connection, models, transaction
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from pbqms.core import context

GENESIS_HASH = "0" * 64
MASKED = "******"
# fields that change on every save; an update that changes only these writes no entry
BOOKKEEPING_FIELDS = frozenset({"version"})
# Any constant works; it names the PostgreSQL advisory lock that orders chain writes.
_CHAIN_LOCK_KEY = 0x70627173


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, datetime.datetime):
        if timezone.is_aware(value):
            value = value.astimezone(datetime.UTC)
        return value.isoformat()
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if hasattr(value, "name") and hasattr(value, "storage"):  # FieldFile
        return value.name or ""
    return str(value)


def _logged_fields(model: type[models.Model]) -> list[models.Field]:
    exclude = getattr(model, "changelog_exclude", frozenset())
    return [f for f in model._meta.concrete_fields if f.name not in exclude]


def snapshot(instance: models.Model, values: dict[str, Any] | None = None) -> dict[str, Any]:
    """The logged fields of ``instance`` as JSON-safe values (from ``values`` if given)."""
    mask = getattr(instance, "changelog_mask", frozenset())
    data: dict[str, Any] = {}
    for field in _logged_fields(type(instance)):
        if values is not None:
            if field.attname not in values:
                continue
            raw = values[field.attname]
        else:
            raw = getattr(instance, field.attname)
        data[field.name] = MASKED if (field.name in mask and raw) else _json_value(raw)
    return data


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """``{field: [old, new]}`` for the fields whose value changed."""
    return {
        name: [before.get(name), value]
        for name, value in after.items()
        if name in before and before[name] != value
    }


def object_type_of(instance_or_model) -> str:
    meta = instance_or_model._meta
    return f"{meta.app_label}.{meta.model_name}"


def _org_id_of(instance: models.Model) -> int | None:
    scope_field = getattr(type(instance), "org_scope_field", None)
    if scope_field == "self":
        return instance.pk
    org_id = getattr(instance, "org_id", None)
    return org_id if isinstance(org_id, int) else None


def _canonical(entry) -> str:
    payload = [
        entry.prev_hash,
        _json_value(entry.timestamp),
        entry.actor_id,
        entry.actor_repr,
        entry.ip,
        entry.request_id,
        entry.source,
        entry.action,
        entry.outcome,
        entry.object_type,
        entry.object_id,
        entry.object_repr,
        entry.org_id,
        entry.changes,
        entry.reason,
    ]
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def compute_hash(entry) -> str:
    return hashlib.sha256(_canonical(entry).encode("utf-8")).hexdigest()


def write_entry(
    action: str,
    *,
    instance: models.Model | None = None,
    object_type: str = "",
    object_id: str = "",
    object_repr: str = "",
    org_id: int | None = None,
    changes: dict[str, Any] | None = None,
    reason: str | None = None,
    outcome: str = "success",
    actor=None,
    actor_repr: str | None = None,
):
    """Append one entry to the chain. Runs inside the caller's transaction, if any."""
    from pbqms.core.models import ChangeLogEntry

    ctx = context.current()
    actor = actor if actor is not None else ctx.resolved_actor()
    if instance is not None:
        object_type = object_type or object_type_of(instance)
        object_id = object_id or str(instance.pk)
        object_repr = object_repr or str(instance)[:255]
        org_id = org_id if org_id is not None else _org_id_of(instance)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
        last = ChangeLogEntry.objects.order_by("-id").values_list("hash", flat=True).first()
        entry = ChangeLogEntry(
            timestamp=timezone.now(),
            actor=actor if getattr(actor, "pk", None) else None,
            actor_repr=(
                actor_repr
                if actor_repr is not None
                else (getattr(actor, "username", "") if actor else "")
            ),
            ip=ctx.ip,
            request_id=ctx.request_id,
            source=ctx.source,
            action=action,
            outcome=outcome,
            object_type=object_type,
            object_id=str(object_id),
            object_repr=object_repr[:255],
            org_id=org_id,
            changes=_json_value(changes or {}),
            reason=reason if reason is not None else ctx.reason,
            prev_hash=last or GENESIS_HASH,
        )
        entry.hash = compute_hash(entry)
        entry.save()
    return entry


def record_change(
    instance: models.Model,
    action: str,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
):
    """Log a change made without ``save()`` (e.g. a tree move done by queryset updates)."""
    if action == "update":
        changes = diff(before or {}, after or {})
        if not changes:
            return None
    elif action == "create":
        changes = {k: [None, v] for k, v in (after or {}).items()}
    else:
        changes = {k: [v, None] for k, v in (before or {}).items()}
    return write_entry(action, instance=instance, changes=changes, reason=reason)


def log_security_event(
    action: str,
    *,
    user=None,
    username: str = "",
    outcome: str = "success",
    details: dict[str, Any] | None = None,
    instance: models.Model | None = None,
    reason: str | None = None,
):
    """SECURITY.md item 8: logins, failures, lockouts, permission changes, exports …"""
    return write_entry(
        action,
        instance=instance,
        object_type="" if instance is not None else "accounts.user",
        object_id="" if instance is not None else str(getattr(user, "pk", "") or ""),
        object_repr="" if instance is not None else (username or getattr(user, "username", "")),
        changes=details or {},
        outcome=outcome,
        actor=user,
        # with no subject user, the actor is whoever acts in the current context
        actor_repr=username or (getattr(user, "username", "") if user else None),
        reason=reason,
    )


def _masked_changes(instance: models.Model, loaded: dict[str, Any]) -> dict[str, list[Any]]:
    """Masked fields (secrets) whose value changed: both sides show as masked, so the log
    says *that* they changed, never what they were or became."""
    mask = getattr(instance, "changelog_mask", frozenset())
    changed = {}
    for field in _logged_fields(type(instance)):
        if field.name in mask and field.attname in loaded:
            old, new = loaded[field.attname], getattr(instance, field.attname)
            if old != new:
                changed[field.name] = [MASKED if old else old, MASKED if new else new]
    return changed


def _on_save(sender, instance, created, raw=False, **kwargs):
    if raw:  # loaddata of a backup: the chain is restored with the data
        return
    after = snapshot(instance)
    if created:
        changes = {k: [None, v] for k, v in after.items()}
        action = "create"
    else:
        loaded = getattr(instance, "_loaded_values", None)
        before = snapshot(instance, loaded) if loaded is not None else {}
        if loaded is not None:
            changes = diff(before, after)
            changes.update(_masked_changes(instance, loaded))
        else:
            changes = {k: [None, v] for k, v in after.items()}
        action = "update"
    # a save that changed nothing but the optimistic-lock counter is not a change
    if changes and (created or set(changes) - BOOKKEEPING_FIELDS):
        write_entry(action, instance=instance, changes=changes)
    # later saves of the same instance diff against what was just written
    instance._loaded_values = {
        f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields
    }


def _on_delete(sender, instance, **kwargs):
    before = snapshot(instance)
    write_entry("delete", instance=instance, changes={k: [v, None] for k, v in before.items()})


def _is_logged(model: type[models.Model]) -> bool:
    from pbqms.core.models import ChangeLoggedModel

    return issubclass(model, ChangeLoggedModel) and not model._meta.abstract


def _save_receiver(sender, **kwargs):
    if _is_logged(sender):
        _on_save(sender, **kwargs)


def _delete_receiver(sender, **kwargs):
    if _is_logged(sender):
        _on_delete(sender, **kwargs)


def connect_signals() -> None:
    post_save.connect(_save_receiver, dispatch_uid="pbqms_changelog_save")
    post_delete.connect(_delete_receiver, dispatch_uid="pbqms_changelog_delete")


@dataclass
class ChainReport:
    checked: int
    broken_id: int | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_id is None


def verify_chain(chunk_size: int = 2000) -> ChainReport:
    """Walk the chain in id order; report the first entry whose hash or link is wrong."""
    from pbqms.core.models import ChangeLogEntry

    # after a purge the chain starts at the first kept entry, whose link must be the hash
    # of the last purged one as recorded (and hashed) in the purge entry
    anchors = {GENESIS_HASH} | {
        str(changes.get("last_hash", ""))
        for changes in ChangeLogEntry.objects.filter(action=ChangeLogEntry.Action.PURGE)
        .values_list("changes", flat=True)
        .iterator()
    }
    expected_prev = None
    checked = 0
    for entry in ChangeLogEntry.objects.order_by("id").iterator(chunk_size=chunk_size):
        if expected_prev is None:
            if entry.prev_hash not in anchors:
                return ChainReport(checked, entry.pk, "previous-hash link broken")
        elif entry.prev_hash != expected_prev:
            return ChainReport(checked, entry.pk, "previous-hash link broken")
        if compute_hash(entry) != entry.hash:
            return ChainReport(checked, entry.pk, "content does not match its hash")
        expected_prev = entry.hash
        checked += 1
    return ChainReport(checked)


class PurgeRefused(Exception):
    pass


@dataclass
class PurgeReport:
    count: int
    first_id: int | None = None
    last_id: int | None = None


def retention_days() -> int:
    """SECURITY.md item 9: entries are kept at least 180 days, whatever is configured."""
    from django.conf import settings

    return max(180, int(getattr(settings, "PBQMS_AUDIT_RETENTION_DAYS", 180)))


def purge(before, *, archive_path, reason: str = "") -> PurgeReport:
    """Remove entries older than ``before`` (a datetime) after writing them to
    ``archive_path`` (gzip JSON, kept by the operator). Refuses entries younger than the
    retention period. The purge itself is logged; the chain then verifies from the first
    kept entry, anchored by the purge entry's recorded hash."""
    import gzip
    from pathlib import Path

    from django.core import serializers

    from pbqms.core.models import ChangeLogEntry

    limit = timezone.now() - datetime.timedelta(days=retention_days())
    if before > limit:
        raise PurgeRefused(
            f"entries younger than {retention_days()} days are kept: choose a date on or "
            f"before {timezone.localtime(limit).date().isoformat()}"
        )
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
        first_young = (
            ChangeLogEntry.objects.filter(timestamp__gte=before)
            .order_by("id")
            .values_list("id", flat=True)
            .first()
        )
        doomed = ChangeLogEntry.objects.order_by("id")
        if first_young is not None:
            doomed = doomed.filter(id__lt=first_young)
        ids = list(doomed.values_list("id", flat=True))
        if not ids:
            return PurgeReport(0)
        last = ChangeLogEntry.objects.get(pk=ids[-1])
        path = Path(archive_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            serializers.serialize("pbqmsjson", doomed.iterator(chunk_size=2000), stream=fh)
        table = ChangeLogEntry._meta.db_table
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SET LOCAL pbqms.purge = 'on'")
            cursor.execute(f"DELETE FROM {table} WHERE id <= %s", [ids[-1]])  # noqa: S608
            if connection.vendor == "postgresql":
                cursor.execute("SET LOCAL pbqms.purge = 'off'")
        write_entry(
            "purge",
            object_type="core.changelogentry",
            object_repr=f"#{ids[0]}–#{ids[-1]}",
            changes={
                "count": len(ids),
                "first_id": ids[0],
                "last_id": ids[-1],
                "last_hash": last.hash,
                "before": before.isoformat(),
                "archive": path.name,
            },
            reason=reason,
        )
    return PurgeReport(len(ids), ids[0], ids[-1])
