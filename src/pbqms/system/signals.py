"""Keep conformity results current: a record submitted or amended updates its cells; an
obligation saved (or its chosen units changed) recomputes that obligation; a unit created,
dissolved or changed in kind or dates recomputes that unit's subtree. Updates run in the
same transaction as the change (a rolled-back change leaves no stale result).

A unit *moved* in the tree is not saved: treebeard rewrites the paths of the unit and its
subtree with queryset updates, so no ``post_save`` of the unit fires. The move is still
written to the change log (``orgs.services.move_unit`` → ``changelog.record_change`` with
the old and new ``path``): the change-log entry's ``post_save`` is the hook that recomputes
the moved subtree (obligations set by a committee apply only inside its subtree)."""

from __future__ import annotations

from django.db.models.signals import m2m_changed, post_save, pre_save
from django.dispatch import receiver

from pbqms.core.models import ChangeLogEntry
from pbqms.orgs.models import Organization
from pbqms.records.signals import record_submitted
from pbqms.system import engine
from pbqms.system.models import ConformityException, Obligation

_ORG_FIELDS = ("kind", "founded_on", "dissolved_on", "path")


@receiver(record_submitted)
def on_record_submitted(sender, record, **kwargs):
    if not engine.is_suspended():
        engine.update_for_record(record)


@receiver(post_save, sender=Obligation)
def on_obligation_saved(sender, instance, raw=False, **kwargs):
    if not raw and not engine.is_suspended():
        engine.recompute_obligation(instance)


@receiver(m2m_changed, sender=Obligation.orgs.through)
def on_obligation_orgs_changed(sender, instance, action, reverse=False, **kwargs):
    if action.startswith("post_") and not reverse and not engine.is_suspended():
        engine.recompute_obligation(instance)


@receiver(pre_save, sender=Organization)
def remember_org_facts(sender, instance, raw=False, **kwargs):
    # the change log refreshes ``_loaded_values`` after saving: keep what they were
    loaded = getattr(instance, "_loaded_values", None)
    if loaded is not None:
        instance._conformity_before = {f: loaded.get(f) for f in _ORG_FIELDS if f in loaded}


@receiver(post_save, sender=Organization)
def on_org_saved(sender, instance, created=False, raw=False, **kwargs):
    if raw or engine.is_suspended():
        return
    before = instance.__dict__.pop("_conformity_before", None)
    unchanged = before is not None and all(before[f] == getattr(instance, f) for f in before)
    if not created and unchanged:
        return
    engine.recompute_org(instance)


@receiver(post_save, sender=ConformityException)
def on_exception_saved(sender, instance, raw=False, **kwargs):
    if raw or engine.is_suspended():
        return
    ob = engine.load_obligations([instance.obligation_id])
    units = engine._units([instance.org_id])
    engine.recompute(
        units=units, obligations=ob, start=instance.period_start, end=instance.period_start
    )


@receiver(post_save, sender=ChangeLogEntry)
def on_org_moved(sender, instance, created=False, raw=False, **kwargs):
    if raw or not created or engine.is_suspended():
        return
    if instance.object_type != "orgs.organization" or instance.action != "update":
        return
    if "path" not in (instance.changes or {}):
        return
    unit = Organization.objects.filter(pk=instance.object_id).first()
    if unit is not None:
        engine.recompute_org(unit)
