"""Write rules of internal audits. Views and the API call these; they raise Django
``ValidationError({field: msg})``, ``PermissionDenied`` (403) or ``Http404``."""

from __future__ import annotations

import datetime
from collections import defaultdict

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from pbqms.audits import assignment
from pbqms.audits.models import Audit, AuditorQualification, AuditProgramme, ChecklistItem
from pbqms.core import roles, scope
from pbqms.core.locking import check_version
from pbqms.core.numbering import next_number
from pbqms.orgs.models import Organization, Person

AUDIT_NUMBER_PATTERN = "NS-{year}-{seq:04d}"  # 内审


def _require(user, perm, org):
    if not scope.has_perm(user, perm, org):
        raise PermissionDenied(_("You may not do this for this unit."))


# --- auditor team ----------------------------------------------------------------------

QUALIFICATION_FIELDS = ("course", "trained_on", "certificate_no", "certified_on", "valid_until")


def validate_qualification(data) -> None:
    errors = {}
    certified, until = data.get("certified_on"), data.get("valid_until")
    trained = data.get("trained_on")
    if certified and until and until < certified:
        errors["valid_until"] = _("The end of validity cannot be before the certification date.")
    if trained and certified and certified < trained:
        errors["certified_on"] = _("Certification cannot come before the training.")
    if errors:
        raise ValidationError(errors)


def add_qualification(*, actor, person: Person, data) -> AuditorQualification:
    _require(actor, roles.AUDITOR_MANAGE, person.org)
    validate_qualification(data)
    with transaction.atomic():
        return AuditorQualification.objects.create(
            person=person, **{k: data.get(k) or _blank(k) for k in QUALIFICATION_FIELDS}
        )


def _blank(field):
    return "" if field in ("course", "certificate_no") else None


def update_qualification(*, actor, qualification, data, version=None) -> AuditorQualification:
    _require(actor, roles.AUDITOR_MANAGE, qualification.person.org)
    validate_qualification(data)
    with transaction.atomic():
        qualification = AuditorQualification.objects.select_for_update().get(pk=qualification.pk)
        if version is not None:
            check_version(qualification, version)
        for k in QUALIFICATION_FIELDS:
            setattr(qualification, k, data.get(k) or _blank(k))
        qualification.save()
    return qualification


def is_qualified(person, day: datetime.date) -> bool:
    return AuditorQualification.objects.filter(person=person).valid_on(day).exists()


# --- programmes and audits ---------------------------------------------------------------

PROGRAMME_FIELDS = ("year", "title", "criteria", "team_size", "no_reciprocal")


def _check_units_inside(org: Organization, units, field: str) -> None:
    outside = [u.name for u in units if not u.path.startswith(org.path)]
    if outside:
        raise ValidationError(
            {
                field: _("These units are outside %(org)s: %(units)s")
                % {"org": org.name, "units": "、".join(outside)}
            }
        )


def create_programme(*, actor, org: Organization, data, scope_units=()) -> AuditProgramme:
    _require(actor, roles.AUDIT_MANAGE, org)
    _check_units_inside(org, scope_units, "scope_units")
    with transaction.atomic():
        programme = AuditProgramme.objects.create(
            org=org, **{k: data[k] for k in PROGRAMME_FIELDS if k in data}
        )
        programme.scope_units.set(scope_units)
    return programme


def update_programme(*, actor, programme, data, scope_units=(), version=None) -> AuditProgramme:
    _require(actor, roles.AUDIT_MANAGE, programme.org)
    _check_units_inside(programme.org, scope_units, "scope_units")
    with transaction.atomic():
        programme = AuditProgramme.objects.select_for_update().get(pk=programme.pk)
        if version is not None:
            check_version(programme, version)
        for k in PROGRAMME_FIELDS:
            if k in data:
                setattr(programme, k, data[k])
        programme.save()
        programme.scope_units.set(scope_units)
    return programme


AUDIT_FIELDS = ("planned_month", "start_date", "end_date", "criteria", "agenda")


def validate_audit_data(data) -> None:
    errors = {}
    month = data.get("planned_month")
    if month is not None and not 1 <= month <= 12:
        errors["planned_month"] = _("Choose a month from 1 to 12.")
    start, end = data.get("start_date"), data.get("end_date")
    if start and end and end < start:
        errors["end_date"] = _("The end date cannot be before the start date.")
    if errors:
        raise ValidationError(errors)


def _check_audited_units(programme, units) -> None:
    if not units:
        raise ValidationError({"audited_units": _("Choose at least one unit to audit.")})
    _check_units_inside(programme.org, units, "audited_units")
    scope_paths = list(programme.scope_units.values_list("path", flat=True))
    if scope_paths:
        outside = [u.name for u in units if not any(u.path.startswith(p) for p in scope_paths)]
        if outside:
            raise ValidationError(
                {
                    "audited_units": _("Not in the programme's scope: %(units)s")
                    % {"units": "、".join(outside)}
                }
            )


def create_audit(*, actor, programme, data, audited_units) -> Audit:
    _require(actor, roles.AUDIT_MANAGE, programme.org)
    validate_audit_data(data)
    _check_audited_units(programme, audited_units)
    with transaction.atomic():
        audit = Audit(
            programme=programme,
            number=next_number("audits.audit", pattern=AUDIT_NUMBER_PATTERN, year=programme.year),
            **{k: data.get(k) for k in AUDIT_FIELDS if k in data},
        )
        if not audit.criteria:
            audit.criteria = programme.criteria
        audit.criteria = audit.criteria or ""
        audit.agenda = audit.agenda or ""
        audit.save()
        audit.audited_units.set(audited_units)
    return audit


def update_audit(*, actor, audit, data, audited_units, version=None) -> Audit:
    _require(actor, roles.AUDIT_MANAGE, audit.programme.org)
    validate_audit_data(data)
    if audit.status == Audit.Status.CLOSED:
        raise ValidationError(_("A closed audit cannot be changed."))
    _check_audited_units(audit.programme, audited_units)
    with transaction.atomic():
        locked = Audit.objects.select_for_update().get(pk=audit.pk)
        if version is not None:
            check_version(locked, version)
        for k in AUDIT_FIELDS:
            if k in data:
                setattr(locked, k, data[k] if data[k] is not None or "date" in k else "")
        locked.save()
        locked.audited_units.set(audited_units)
        if locked.lead_auditor_id or locked.team.exists():
            # the units changed: the team must still be independent of them
            members = list(locked.team.all())
            lead = locked.lead_auditor
            _check_independence(locked, lead, members)
    return locked


def save_report_summary(*, actor, audit, summary: str, version=None) -> Audit:
    manager = scope.has_perm(actor, roles.AUDIT_MANAGE, audit.programme.org)
    if not (_is_lead_user(audit, actor) or manager):
        raise PermissionDenied(_("Only the lead auditor writes the report."))
    if audit.status != Audit.Status.IN_PROGRESS:
        raise ValidationError({"report_summary": _("The report is written while auditing.")})
    with transaction.atomic():
        locked = Audit.objects.select_for_update().get(pk=audit.pk)
        if version is not None:
            check_version(locked, version)
        locked.report_summary = summary
        locked.save()
    return locked


def _is_lead_user(audit, user) -> bool:
    return (
        audit.lead_auditor_id is not None
        and getattr(user, "is_authenticated", False)
        and audit.lead_auditor.user_id == user.pk
    )


# --- cross-audit assignment (交叉互审) -------------------------------------------------


def _steplen() -> int:
    return Organization.steplen


def unit_rows(programme) -> list[assignment.Unit]:
    """Every unit of the programme's committee subtree, with its parent (from the path)."""
    step = _steplen()
    rows = Organization.objects.filter(path__startswith=programme.org.path).values_list(
        "pk", "path"
    )
    by_path = {path: pk for pk, path in rows}
    return [
        assignment.Unit(pk, by_path.get(path[:-step]) if len(path) > step else None)
        for path, pk in by_path.items()
    ]


def auditor_pool(programme) -> tuple[list[assignment.Auditor], dict[int, Person]]:
    """People of the committee's subtree with at least one qualification (any validity:
    ``propose`` reports the unqualified ones as excluded)."""
    rows = (
        AuditorQualification.objects.filter(person__org__path__startswith=programme.org.path)
        .values_list("person_id", "certified_on", "valid_until")
        .order_by("person_id")
    )
    intervals: dict[int, list] = defaultdict(list)
    for person_id, start, end in rows:
        intervals[person_id].append((start, end))
    people = {
        p.pk: p
        for p in Person.objects.filter(pk__in=list(intervals))
        .select_related("org")
        .only("pk", "name", "org_id", "user_id", "org__name", "org__path")
    }
    pool = [
        assignment.Auditor(pid, people[pid].org_id, tuple(iv), people[pid].name)
        for pid, iv in intervals.items()
        if pid in people
    ]
    return pool, people


def _slots(audits) -> list[assignment.AuditSlot]:
    return [assignment.AuditSlot(a.pk, a.unit_ids, a.audit_date) for a in audits]


def _programme_audits(programme, only_planned=True):
    """The programme's audits, each with ``unit_ids`` (sorted) and ``unit_names`` (in tree
    order) read from the link table and one name lookup: a round has an audit per unit, and
    loading thousands of full unit rows through ``prefetch_related`` cost a second."""
    qs = programme.audits.select_related("programme")
    if only_planned:
        qs = qs.filter(status=Audit.Status.PLANNED)
    audits = list(qs.order_by("planned_month", "number"))
    units: dict[int, list[int]] = defaultdict(list)
    for audit_id, unit_id in Audit.audited_units.through.objects.filter(
        audit__programme=programme
    ).values_list("audit_id", "organization_id"):
        units[audit_id].append(unit_id)
    wanted = {u for a in audits for u in units.get(a.pk, ())}
    names = {
        pk: (path, name)
        for pk, path, name in Organization.objects.filter(
            path__startswith=programme.org.path
        ).values_list("pk", "path", "name")
        if pk in wanted
    }
    for a in audits:
        ids = [u for u in units.get(a.pk, ()) if u in names]
        a.unit_ids = tuple(sorted(ids))
        a.unit_names = [names[u][1] for u in sorted(ids, key=lambda u: names[u][0])]
    return audits


def propose_teams(programme):
    """The proposal for the programme's planned audits that have no lead auditor yet, with
    the people and audits to show it."""
    audits = [a for a in _programme_audits(programme) if a.lead_auditor_id is None]
    pool, people = auditor_pool(programme)
    # audits of the round that already have a team count for reciprocity and workload
    existing_load: dict[int, int] = defaultdict(int)
    staffed_qs = Audit.objects.filter(programme=programme, lead_auditor__isnull=False)
    for person_id in staffed_qs.values_list("lead_auditor_id", flat=True):
        existing_load[person_id] += 1
    for person_id in Audit.team.through.objects.filter(audit__in=staffed_qs).values_list(
        "person_id", flat=True
    ):
        existing_load[person_id] += 1
    proposal = assignment.propose(
        unit_rows(programme),
        pool,
        _slots(audits),
        team_size=programme.team_size or 1,
        no_reciprocal=programme.no_reciprocal,
        existing_pairs=_round_pairs(programme) if programme.no_reciprocal else (),
        existing_load=existing_load,
    )
    return proposal, audits, people


def _round_pairs(programme, exclude_audit_id=None) -> set[tuple[int, int]]:
    """(auditor's home unit, audited unit) pairs of the programme's staffed audits."""
    through_units = Audit.audited_units.through
    audits = Audit.objects.filter(programme=programme).exclude(pk=exclude_audit_id)
    units_by_audit: dict[int, list[int]] = defaultdict(list)
    for audit_id, unit_id in through_units.objects.filter(audit__in=audits).values_list(
        "audit_id", "organization_id"
    ):
        units_by_audit[audit_id].append(unit_id)
    homes: dict[int, set[int]] = defaultdict(set)
    for audit_id, home in audits.filter(lead_auditor__isnull=False).values_list(
        "pk", "lead_auditor__org_id"
    ):
        homes[audit_id].add(home)
    for audit_id, home in Audit.team.through.objects.filter(audit__in=audits).values_list(
        "audit_id", "person__org_id"
    ):
        homes[audit_id].add(home)
    return {(h, u) for a, hs in homes.items() for h in hs for u in units_by_audit.get(a, ())}


def describe(reason: str, *, person=None, unit_name: str = "") -> str:
    name = person.name if person is not None else ""
    home = person.org.name if person is not None else ""
    texts = {
        assignment.OWN_UNIT: _("%(name)s belongs to %(unit)s, the audited unit itself."),
        assignment.ANCESTOR: _(
            "%(name)s belongs to %(home)s, which is below the audited unit %(unit)s."
        ),
        assignment.DESCENDANT: _(
            "%(name)s belongs to %(home)s, which is above the audited unit %(unit)s."
        ),
        assignment.NOT_QUALIFIED: _(
            "%(name)s has no internal auditor qualification valid on the audit date."
        ),
        assignment.RECIPROCAL: _(
            "%(unit)s already audits %(home)s in this round (no reciprocal audits)."
        ),
    }
    return texts.get(reason, reason) % {"name": name, "home": home, "unit": unit_name}


def _check_independence(audit, lead, members) -> None:
    team = [p for p in [lead, *members] if p is not None]
    if not team:
        return
    programme = audit.programme
    units = unit_rows(programme)
    quals: dict[int, list] = defaultdict(list)
    for pid, start, end in AuditorQualification.objects.filter(
        person__in=[p.pk for p in team]
    ).values_list("person_id", "certified_on", "valid_until"):
        quals[pid].append((start, end))
    auditors = [assignment.Auditor(p.pk, p.org_id, tuple(quals[p.pk]), p.name) for p in team]
    slot = assignment.AuditSlot(
        audit.pk, tuple(audit.audited_units.values_list("pk", flat=True)), audit.audit_date
    )
    problems = assignment.check_team(
        units,
        auditors,
        slot,
        other_pairs=_round_pairs(programme, exclude_audit_id=audit.pk),
        no_reciprocal=programme.no_reciprocal,
    )
    if problems:
        by_id = {p.pk: p for p in team}
        names = dict(Organization.objects.filter(pk__in=slot.unit_ids).values_list("pk", "name"))
        messages = []
        for person_id, reason, unit_id in problems:
            person = by_id[person_id]
            messages.append(describe(reason, person=person, unit_name=names.get(unit_id, "")))
        raise ValidationError({"team": messages})


def assign_team(*, actor, audit, lead, members, version=None) -> Audit:
    """Set an audit's lead and team by hand; refused with the reason when a member is not
    qualified on the audit date or not independent of the audited units."""
    _require(actor, roles.AUDIT_MANAGE, audit.programme.org)
    if audit.status not in (Audit.Status.PLANNED, Audit.Status.IN_PROGRESS):
        raise ValidationError({"team": _("The team of a reported audit cannot change.")})
    if lead is None:
        raise ValidationError({"lead_auditor": _("Choose a lead auditor.")})
    members = [m for m in members if m.pk != lead.pk]
    with transaction.atomic():
        locked = Audit.objects.select_for_update().select_related("programme").get(pk=audit.pk)
        if version is not None:
            check_version(locked, version)
        _check_independence(locked, lead, members)
        locked.lead_auditor = lead
        locked.save()
        locked.team.set(members)
    return locked


def accept_proposal(*, actor, programme, teams: dict[int, list[int]]) -> list[Audit]:
    """Apply ``{audit id: [person ids, the first leads]}`` (the proposal as edited) in one
    transaction; every team is checked as a manual assignment would be. Errors are keyed
    ``team_<audit id>``."""
    _require(actor, roles.AUDIT_MANAGE, programme.org)
    audits = {a.pk: a for a in _programme_audits(programme, only_planned=False)}
    person_ids = {pid for ids in teams.values() for pid in ids}
    pool_ids = {a.id for a in auditor_pool(programme)[0]}
    people = {p.pk: p for p in Person.objects.filter(pk__in=person_ids).select_related("org")}
    errors: dict[str, list[str]] = {}
    done = []
    with transaction.atomic():
        for audit_id, ids in teams.items():
            audit = audits.get(audit_id)
            if audit is None or not ids:
                continue
            unknown = [pid for pid in ids if pid not in people or pid not in pool_ids]
            if unknown:
                errors[f"team_{audit_id}"] = [_("Choose auditors from the auditor team.")]
                continue
            team = [people[pid] for pid in dict.fromkeys(ids)]
            try:
                done.append(assign_team(actor=actor, audit=audit, lead=team[0], members=team[1:]))
            except ValidationError as exc:
                errors[f"team_{audit_id}"] = [m for msgs in exc.message_dict.values() for m in msgs]
        if errors:
            transaction.set_rollback(True)
            raise ValidationError(errors)
    return done


# --- checklist ---------------------------------------------------------------------------


def may_fill_checklist(audit, user) -> bool:
    if scope.has_perm(user, roles.AUDIT_MANAGE, audit.programme.org):
        return True
    if not scope.has_perm(user, roles.AUDIT_PERFORM):
        return False
    if _is_lead_user(audit, user):
        return True
    return audit.team.filter(user_id=user.pk).exists()


def add_checklist_item(*, actor, audit, data) -> ChecklistItem:
    if not may_fill_checklist(audit, actor):
        raise PermissionDenied(_("Only the audit team fills the checklist."))
    if audit.status in (Audit.Status.REPORTED, Audit.Status.CLOSED):
        raise ValidationError(_("The checklist of a reported audit cannot change."))
    errors = {}
    if not (data.get("criterion") or "").strip():
        errors["criterion"] = _("This field is required.")
    if not (data.get("question") or "").strip():
        errors["question"] = _("This field is required.")
    unit = data.get("unit")
    if unit is not None and not audit.audited_units.filter(pk=unit.pk).exists():
        errors["unit"] = _("Choose one of the audited units.")
    if errors:
        raise ValidationError(errors)
    position = audit.checklist.count() + 1
    return ChecklistItem.objects.create(
        audit=audit,
        position=position,
        criterion=data["criterion"].strip(),
        question=data["question"].strip(),
        unit=data.get("unit"),
        result=data.get("result") or "",
        evidence=data.get("evidence") or "",
    )


def record_result(*, actor, item, result: str, evidence: str, version=None) -> ChecklistItem:
    audit = item.audit
    if not may_fill_checklist(audit, actor):
        raise PermissionDenied(_("Only the audit team fills the checklist."))
    if audit.status != Audit.Status.IN_PROGRESS:
        raise ValidationError({"result": _("Results are recorded while the audit is in progress.")})
    if result and result not in ChecklistItem.Result.values:
        raise ValidationError({"result": _("Choose a valid result.")})
    if result in ChecklistItem.NONCONFORMING and not (evidence or "").strip():
        raise ValidationError({"evidence": _("A nonconformity needs the objective evidence.")})
    with transaction.atomic():
        locked = ChecklistItem.objects.select_for_update().get(pk=item.pk)
        if version is not None:
            check_version(locked, version)
        locked.result = result
        locked.evidence = evidence or ""
        locked.save()
    return locked


def improvement_raise():
    """``pbqms.improvement.services.raise_nonconformity`` when that app is installed."""
    from django.apps import apps

    if not apps.is_installed("pbqms.improvement"):
        return None
    try:
        from pbqms.improvement import services as improvement_services
    except ImportError:
        return None
    return getattr(improvement_services, "raise_nonconformity", None)


def raise_from_item(*, actor, item, title: str, correction_due, unit=None, raised_on=None):
    """Turn a nonconforming checklist result into a nonconformity (不符合项) through the
    improvement app's ``raise_nonconformity`` (its rules decide who may raise it)."""
    raise_nc = improvement_raise()
    if raise_nc is None:
        raise ValidationError(_("Nonconformities are not available in this installation."))
    audit = item.audit
    if not may_fill_checklist(audit, actor):
        raise PermissionDenied(_("Only the audit team fills the checklist."))
    if item.result not in ChecklistItem.NONCONFORMING:
        raise ValidationError({"title": _("Only a nonconforming result raises a nonconformity.")})
    if item.nonconformity_id:
        raise ValidationError({"title": _("A nonconformity was already raised for this item.")})
    units = list(audit.audited_units.all())
    org = unit or item.unit or (units[0] if len(units) == 1 else None)
    if org is None or org.pk not in {u.pk for u in units}:
        raise ValidationError({"unit": _("Choose the audited unit concerned.")})
    with transaction.atomic():
        nc = raise_nc(
            actor=actor,
            org=org,
            title=title,
            source_kind="internal_audit",
            requirement=item.criterion,
            description=item.evidence or item.question,
            severity=item.result,
            correction_due=correction_due,
            source=audit,
            source_ref=f"{audit.number} #{item.position}",
            raised_on=raised_on,
        )
        locked = ChecklistItem.objects.select_for_update().get(pk=item.pk)
        locked.nonconformity_id = nc.pk
        locked.save()
    return nc


# --- checklist generation, editing and templates ------------------------------------------

GAP_WINDOW_DAYS = 365
MAX_GAP_ITEMS = 200


def _checklist_open(audit) -> None:
    if audit.status not in (Audit.Status.PLANNED, Audit.Status.IN_PROGRESS):
        raise ValidationError(_("The checklist of a reported audit cannot change."))


def _audited_subtree(audit):
    """The audited units and every active unit below them, each with the audited unit it
    belongs to (an audit of a unit covers its subtree)."""
    audited = list(audit.audited_units.only(*("pk", "name", "path", "depth")).order_by("path"))
    q = Q()
    for u in audited:
        q |= Q(path__startswith=u.path)
    units = list(Organization.objects.filter(q).only("pk", "name", "path")) if audited else []
    owner = {}
    for unit in units:
        # the deepest audited unit above it (or itself)
        best = None
        for a in audited:
            if unit.path.startswith(a.path) and (best is None or len(a.path) > len(best.path)):
                best = a
        owner[unit.pk] = best
    return audited, units, owner


def checklist_candidates(audit, today: datetime.date | None = None) -> list[dict]:
    """What the audit's checklist should ask, from its criteria: the obligations that
    apply to the audited units (those the conformity engine keeps cells for), the
    effective documents that apply to them (or that they own), and each conformity gap of
    the last 12 months (missing or late), with its evidence reference. Each candidate:
    ``source``, ``source_key``, ``source_ref``, ``criterion``, ``question``, ``unit``."""
    from django.utils import timezone

    from pbqms.documents.models import Document
    from pbqms.system import engine
    from pbqms.system.models import ConformityResult
    from pbqms.system.models import ConformityStatus as CS

    today = today or timezone.localdate()
    audited, units, owner = _audited_subtree(audit)
    if not audited:
        return []
    single = audited[0] if len(audited) == 1 else None
    unit_ids = [u.pk for u in units]
    names = {u.pk: u.name for u in units}
    start = today - datetime.timedelta(days=GAP_WINDOW_DAYS)
    out: list[dict] = []

    # obligations: one item per obligation applying to the audited units
    cells = ConformityResult.objects.filter(org_id__in=unit_ids, due_on__gte=start).exclude(
        status=CS.NOT_APPLICABLE
    )
    obligation_units: dict[int, set[int]] = defaultdict(set)
    for ob_id, org_id in cells.order_by().values_list("obligation_id", "org_id").distinct():
        obligation_units[ob_id].add(owner[org_id].pk)
    from pbqms.system.models import Obligation

    obligations = (
        Obligation.objects.filter(pk__in=list(obligation_units))
        .select_related("requirement")
        .order_by("requirement__sort_key", "name", "pk")
    )
    for ob in obligations:
        audited_ids = obligation_units[ob.pk]
        unit = single or (
            next((a for a in audited if a.pk in audited_ids), None)
            if len(audited_ids) == 1
            else None
        )
        out.append(
            {
                "source": ChecklistItem.Source.OBLIGATION,
                "source_key": f"obligation:{ob.pk}",
                "source_ref": f"{ob.requirement.code} · {ob.name} · {ob.get_frequency_display()}",
                "criterion": f"{ob.requirement.code} {ob.name}"[:300],
                "question": _(
                    "Is “%(name)s” done %(frequency)s as required, with the records to show it?"
                )
                % {"name": ob.name, "frequency": ob.get_frequency_display()},
                "unit": unit,
            }
        )

    # documents: effective ones applying to an audited unit or a unit above it, or owned
    paths = set()
    step = Organization.steplen
    for a in audited:
        for n in range(step, len(a.path) + 1, step):
            paths.add(a.path[:n])
    above = Organization.objects.filter(path__in=paths).values("pk")
    docs = (
        Document.objects.in_master_list()
        .filter(Q(applies_to__in=above) | Q(org_id__in=unit_ids))
        .select_related("effective_version")
        .distinct()
        .order_by("number")
    )
    for doc in docs:
        version = doc.effective_version
        label = version.label if version is not None else ""
        ref = f"{doc.number} {doc.title}" + (f" ({label})" if label else "")
        out.append(
            {
                "source": ChecklistItem.Source.DOCUMENT,
                "source_key": f"document:{doc.pk}",
                "source_ref": ref[:300],
                "criterion": f"{doc.number} {doc.title}"[:300],
                "question": _(
                    "Do the people concerned know “%(title)s” and is it followed in practice? "
                    "Check acknowledgements and the records it requires."
                )
                % {"title": doc.title},
                "unit": single,
            }
        )

    # gaps: each missing or late cell of the last 12 months
    gaps = (
        cells.filter(due_on__lt=today)
        .filter(Q(status__in=[CS.MISSING, CS.LATE]) | Q(status=CS.UPCOMING))
        .select_related("obligation")
        .order_by("-due_on", "org_id", "obligation_id")
    )
    n = 0
    for cell in gaps.iterator():
        status = engine.effective_status(cell.status, cell.due_on, today)
        if status not in (CS.MISSING, CS.LATE):
            continue
        n += 1
        if n > MAX_GAP_ITEMS:
            break
        status_label = CS(status).label
        ref = _("Conformity: %(unit)s · %(obligation)s · %(start)s–%(end)s · %(status)s") % {
            "unit": names.get(cell.org_id, ""),
            "obligation": cell.obligation.name,
            "start": cell.period_start.isoformat(),
            "end": cell.period_end.isoformat(),
            "status": status_label,
        }
        if status == CS.MISSING:
            question = _(
                "No record of “%(obligation)s” for %(start)s–%(end)s (due %(due)s). Was it "
                "done? Why is it missing?"
            )
        else:
            question = _(
                "“%(obligation)s” for %(start)s–%(end)s was done after its due date (%(due)s). Why?"
            )
        out.append(
            {
                "source": ChecklistItem.Source.GAP,
                "source_key": f"gap:{cell.pk}",
                "source_ref": ref[:300],
                "criterion": f"{cell.obligation.name} · {names.get(cell.org_id, '')}"[:300],
                "question": question
                % {
                    "obligation": cell.obligation.name,
                    "start": cell.period_start.isoformat(),
                    "end": cell.period_end.isoformat(),
                    "due": cell.due_on.isoformat(),
                },
                "unit": owner[cell.org_id],
            }
        )
    return out


def generate_checklist(*, actor, audit, today: datetime.date | None = None) -> list:
    """Add the candidates (``checklist_candidates``) not yet on the checklist; generating
    again adds only what is new. Returns the items added."""
    if not may_fill_checklist(audit, actor):
        raise PermissionDenied(_("Only the audit team fills the checklist."))
    _checklist_open(audit)
    candidates = checklist_candidates(audit, today)
    with transaction.atomic():
        locked = Audit.objects.select_for_update().get(pk=audit.pk)
        existing = set(locked.checklist.exclude(source_key="").values_list("source_key", flat=True))
        position = locked.checklist.count()
        added = []
        for c in candidates:
            if c["source_key"] in existing:
                continue
            position += 1
            added.append(ChecklistItem.objects.create(audit=locked, position=position, **c))
    return added


def _item_editable(item) -> None:
    _checklist_open(item.audit)
    if item.nonconformity_id:
        raise ValidationError(_("A nonconformity was raised from this item: it stays."))


def update_checklist_item(*, actor, item, data, version=None) -> ChecklistItem:
    audit = item.audit
    if not may_fill_checklist(audit, actor):
        raise PermissionDenied(_("Only the audit team fills the checklist."))
    _item_editable(item)
    errors = {}
    for field in ("criterion", "question"):
        if not (data.get(field) or "").strip():
            errors[field] = _("This field is required.")
    unit = data.get("unit")
    if unit is not None and not audit.audited_units.filter(pk=unit.pk).exists():
        errors["unit"] = _("Choose one of the audited units.")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        locked = ChecklistItem.objects.select_for_update().get(pk=item.pk)
        if version is not None:
            check_version(locked, version)
        locked.criterion = data["criterion"].strip()
        locked.question = data["question"].strip()
        locked.unit = unit
        locked.save()
    return locked


def delete_checklist_item(*, actor, item) -> None:
    if not may_fill_checklist(item.audit, actor):
        raise PermissionDenied(_("Only the audit team fills the checklist."))
    _item_editable(item)
    with transaction.atomic():
        item.delete()


def save_as_template(*, actor, audit, name: str, description: str = ""):
    """Save the audit's questions (not its results) as a reusable checklist template."""
    from pbqms.audits.models import ChecklistTemplate, ChecklistTemplateItem

    if not may_fill_checklist(audit, actor):
        raise PermissionDenied(_("Only the audit team fills the checklist."))
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("This field is required.")})
    items = list(audit.checklist.order_by("position", "pk"))
    if not items:
        raise ValidationError({"name": _("The checklist is empty.")})
    with transaction.atomic():
        template = ChecklistTemplate.objects.create(
            name=name[:200],
            org=audit.programme.org,
            description=(description or "").strip(),
            created_from=audit,
        )
        for i, item in enumerate(items, start=1):
            ChecklistTemplateItem.objects.create(
                template=template, position=i, criterion=item.criterion, question=item.question
            )
    return template


def apply_template(*, actor, audit, template) -> list:
    """Add a template's questions to the audit's checklist (each once)."""
    if not may_fill_checklist(audit, actor):
        raise PermissionDenied(_("Only the audit team fills the checklist."))
    _checklist_open(audit)
    with transaction.atomic():
        locked = Audit.objects.select_for_update().get(pk=audit.pk)
        existing = set(locked.checklist.exclude(source_key="").values_list("source_key", flat=True))
        units = list(locked.audited_units.all())
        single = units[0] if len(units) == 1 else None
        position = locked.checklist.count()
        added = []
        for t_item in template.items.order_by("position", "pk"):
            key = f"template:{template.pk}:{t_item.pk}"
            if key in existing:
                continue
            position += 1
            added.append(
                ChecklistItem.objects.create(
                    audit=locked,
                    position=position,
                    criterion=t_item.criterion,
                    question=t_item.question,
                    unit=single,
                    source=ChecklistItem.Source.TEMPLATE,
                    source_key=key,
                    source_ref=template.name[:300],
                )
            )
    return added


# --- evidence files ---------------------------------------------------------------------

MAX_ATTACHMENTS_PER_ITEM = 10


def attach_evidence(*, actor, item, uploads) -> list:
    """Attach evidence files (PNG, JPEG or PDF, checked by content) to a checklist item
    while auditing; all are checked before any is stored."""
    from django.core.files.base import ContentFile

    from pbqms.audits.models import ChecklistAttachment
    from pbqms.records import files

    audit = item.audit
    if not may_fill_checklist(audit, actor):
        raise PermissionDenied(_("Only the audit team fills the checklist."))
    if audit.status != Audit.Status.IN_PROGRESS:
        raise ValidationError({"files": _("Evidence is attached while the audit is in progress.")})
    uploads = [u for u in uploads if u]
    if not uploads:
        raise ValidationError({"files": _("Choose a file.")})
    if item.attachments.count() + len(uploads) > MAX_ATTACHMENTS_PER_ITEM:
        raise ValidationError(
            {"files": _("At most %(n)d files per item.") % {"n": MAX_ATTACHMENTS_PER_ITEM}}
        )
    checked = [(u, files.check_upload(u, field="files")) for u in uploads]
    created = []
    with transaction.atomic():
        for upload, info in checked:
            attachment = ChecklistAttachment(
                item=item,
                file_name=info.name,
                content_type=info.content_type,
                size=info.size,
                sha256=info.sha256,
                uploaded_by=actor,
            )
            upload.seek(0)
            attachment.file.save(
                f"a{audit.pk}-{info.sha256[:16]}.{info.extension}",
                ContentFile(upload.read()),
                save=False,
            )
            attachment.save()
            created.append(attachment)
    return created


# --- risk-based planning ------------------------------------------------------------------

MAX_PLANNED_AT_ONCE = 200


def plan_from_ranking(*, actor, programme, count: int, first_month: int, today=None) -> list:
    """Add one audit for each of the ``count`` riskiest units not yet in the programme,
    the riskiest first: spread over the months from ``first_month`` to December in ranking
    order (the riskiest in the earliest months)."""
    from pbqms.audits import risk

    _require(actor, roles.AUDIT_MANAGE, programme.org)
    errors = {}
    if not isinstance(count, int) or not 1 <= count <= MAX_PLANNED_AT_ONCE:
        errors["count"] = _("Choose from 1 to %(n)d units.") % {"n": MAX_PLANNED_AT_ONCE}
    if not isinstance(first_month, int) or not 1 <= first_month <= 12:
        errors["first_month"] = _("Choose a month from 1 to 12.")
    if errors:
        raise ValidationError(errors)
    if programme.status == AuditProgramme.Status.COMPLETED:
        raise ValidationError({"count": _("The programme is completed.")})
    ranked = [r for r in risk.rank_units(programme, today) if not r.planned][:count]
    months = 13 - first_month
    created = []
    with transaction.atomic():
        for i, r in enumerate(ranked):
            month = first_month + (i * months) // max(len(ranked), 1)
            created.append(
                create_audit(
                    actor=actor,
                    programme=programme,
                    data={"planned_month": month},
                    audited_units=[r.org],
                )
            )
    return created


def may_manage_template(user, template) -> bool:
    return scope.has_perm(user, roles.AUDIT_MANAGE, template.org)


def update_template(*, actor, template, name: str, description: str = "", version=None):
    """Rename a checklist template or change its description (its committee's managers)."""
    _require(actor, roles.AUDIT_MANAGE, template.org)
    check_version(template, version)
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("This field is required.")})
    template.name = name[:200]
    template.description = (description or "").strip()
    with transaction.atomic():
        template.save()
    return template


def delete_template(*, actor, template, version=None) -> None:
    """Delete a checklist template; checklists made from it keep their items."""
    _require(actor, roles.AUDIT_MANAGE, template.org)
    check_version(template, version)
    with transaction.atomic():
        template.delete()
