"""Write rules of the process map (党建工作主要过程) and the starter map for a committee."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from pbqms.core import changelog, roles, scope
from pbqms.core.locking import check_version
from pbqms.objectives.services import acting
from pbqms.orgs.models import Organization
from pbqms.processes.models import Process
from pbqms.processes.starter import STARTER_PROCESSES

LINKS = ("documents", "record_templates", "indicators", "requirements", "obligations")
FIELDS = ("code", "name", "kind", "owner_role", "purpose", "inputs", "outputs", "sort_order",
          "is_active")  # fmt: skip


def _require(actor, org) -> None:
    if not scope.has_perm(actor, roles.PROCESS_MANAGE, org):
        raise PermissionDenied


def _ancestor_or_self_paths(org: Organization) -> list[str]:
    return [org.path[:i] for i in range(4, len(org.path) + 1, 4)]


def allowed_links(actor, org: Organization) -> dict:
    """What a process of ``org`` may link to, as querysets: documents the actor may open;
    all active record templates and requirements; the indicators of ``org`` and of the
    committees above it; obligations that apply inside ``org``'s tree (set by ``org`` or
    a committee above it)."""
    from pbqms.documents.models import Document
    from pbqms.objectives.models import Indicator
    from pbqms.records.models import RecordTemplate
    from pbqms.system.models import Obligation, Requirement

    paths = _ancestor_or_self_paths(org)
    return {
        "documents": Document.objects.visible_to(actor, roles.DOC_VIEW).order_by("number"),
        "record_templates": RecordTemplate.objects.filter(is_active=True).order_by("code"),
        "indicators": Indicator.objects.filter(org__path__in=paths)
        .select_related("objective__policy")
        .order_by("-objective__policy__year", "code"),
        "requirements": Requirement.objects.filter(is_active=True),
        "obligations": Obligation.objects.filter(owner__path__in=paths, is_active=True).order_by(
            "name"
        ),
    }


@acting
@transaction.atomic
def save_process(*, actor, org: Organization, data: dict, process: Process | None = None,
                 version=None) -> Process:  # fmt: skip
    """Create or edit a process. ``data``: the fields in ``FIELDS`` and, optionally, the
    links in ``LINKS`` as iterables of objects (each must be one ``allowed_links``
    offers)."""
    _require(actor, org)
    if process is None:
        process = Process(org=org)
    else:
        if process.org_id != org.pk:
            raise ValidationError({"org": _("The owner unit of a process cannot change.")})
        check_version(process, version)
    for name in FIELDS:
        if name in data:
            setattr(process, name, data[name])
    process.code = (process.code or "").strip()
    try:
        process.full_clean(exclude=["org"], validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise ValidationError(exc.message_dict) from exc
    if Process.objects.filter(org=org, code=process.code).exclude(pk=process.pk).exists():
        raise ValidationError({"code": _("Another process of this unit has that code.")})
    allowed = allowed_links(actor, org)
    chosen = {}
    for name in LINKS:
        if name not in data:
            continue
        items = list(data[name] or [])
        ids = {o.pk for o in items}
        if ids and allowed[name].filter(pk__in=ids).count() != len(ids):
            raise ValidationError({name: _("Choose from the list.")})
        chosen[name] = items
    process.save()
    _set_links(process, chosen)
    return process


def _set_links(process: Process, chosen: dict) -> None:
    """Set the links and write one change-log entry with the ids before and after (links
    are many-to-many: ``save()`` does not log them)."""
    before, after = {}, {}
    for name, items in chosen.items():
        manager = getattr(process, name)
        old = sorted(manager.values_list("pk", flat=True))
        new = sorted({o.pk for o in items})
        if old != new:
            manager.set(items)
            before[name], after[name] = old, new
    if after:
        changelog.record_change(process, "update", before=before, after=after)


@acting
@transaction.atomic
def ensure_starter_processes(*, actor, org: Organization) -> list[Process]:
    """The usual process map of a party committee (management, core and support
    processes), linked to the built-in requirements, record templates and the obligations
    set by the committee or above. Codes that exist already are left as they are (the
    map is the unit's to edit). Returns the processes created."""
    from pbqms.records.models import RecordTemplate
    from pbqms.system.builtin import ensure_builtin_requirements
    from pbqms.system.models import Obligation, Requirement

    if actor is not None:
        _require(actor, org)
    ensure_builtin_requirements()
    have = set(Process.objects.filter(org=org).values_list("code", flat=True))
    requirements = {r.code: r for r in Requirement.objects.all()}
    templates = {t.code: t for t in RecordTemplate.objects.all()}
    paths = _ancestor_or_self_paths(org)
    obligations = list(
        Obligation.objects.filter(owner__path__in=paths).select_related("requirement")
    )
    made = []
    for order, spec in enumerate(STARTER_PROCESSES, start=1):
        if spec["code"] in have:
            continue
        process = Process.objects.create(
            org=org,
            code=spec["code"],
            name=spec["name"],
            kind=spec["kind"],
            owner_role=spec["owner_role"],
            purpose=spec["purpose"],
            inputs=spec["inputs"],
            outputs=spec["outputs"],
            sort_order=order * 10,
            is_builtin=True,
        )
        reqs = [requirements[c] for c in spec.get("requirements", ()) if c in requirements]
        tpls = [templates[c] for c in spec.get("templates", ()) if c in templates]
        req_ids = {r.pk for r in reqs}
        obs = [o for o in obligations if o.requirement_id in req_ids]
        _set_links(process, {"requirements": reqs, "record_templates": tpls, "obligations": obs})
        made.append(process)
    return made
