"""Keep conformity results current: a record submitted or amended updates its cells; an
obligation saved (or its chosen units changed) recomputes that obligation; a unit created
or changed in kind, dates or place recomputes that unit's subtree. Updates run in the
same transaction as the change (a rolled-back change leaves no stale result)."""

from __future__ import annotations

from django.db.models.signals import m2m_changed, post_save, pre_save
from django.dispatch import receiver

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
