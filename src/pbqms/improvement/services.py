"""Writes and rules of nonconformities and corrective actions. Views, API and other apps
(audits, the conformity engine, management review) call these functions; each is one
transaction. Steps that sign check the password first, outside that transaction, so that a
refused signature is still logged (``pbqms.core.signatures``).

Answers follow the scope rule: an object the actor cannot see is ``Http404``; visible but
not allowed is ``PermissionDenied``; bad input, or a step the lifecycle does not allow now,
is a ``ValidationError`` (``workflow.TransitionNotAllowed`` for the latter).

Other apps raise nonconformities with their own object as the source::

    services.raise_nonconformity(actor=auditor, org=unit, source_kind=Source.INTERNAL_AUDIT,
                                 source=finding, requirement=..., requirement_object=clause, ...)
    Nonconformity.objects.for_source(finding)      # what came of it
"""

from __future__ import annotations

import datetime
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from pbqms.core import roles, scope, signatures, workflow
from pbqms.core.locking import check_version
from pbqms.core.models import NumberSequence
from pbqms.core.numbering import next_number
from pbqms.core.roles import Role
from pbqms.improvement.models import (
    OWN_UNIT_ROLES,
    CorrectiveAction,
    Nonconformity,
    is_own_unit_staff,
)
from pbqms.orgs.models import Organization, Person, RoleAssignment

NC = Nonconformity
S = Nonconformity.Status
A = CorrectiveAction.Status
NUMBER_KEY = "improvement.nonconformity"
DEFAULT_NUMBER_PATTERN = "NC-{year}-{seq:04d}"
TITLE_MAX = 200
TEXT_MAX = 5000
# the people offered as action owners (a unit and its subtree); beyond, search narrows it
OWNER_OPTIONS_LIMIT = 500


# ---------------------------------------------------------------- access


def _require_unit(actor, perm: str, org: Organization) -> None:
    if scope.has_perm(actor, perm, org):
        return
    if not Organization.objects.visible_to(actor).filter(pk=org.pk).exists():
        raise Http404
    raise PermissionDenied(_("You do not have permission to do this in %(unit)s.") % {"unit": org})


def ensure_visible(nc: Nonconformity, actor) -> None:
    if not NC.objects.visible_to(actor, roles.NC_VIEW).filter(pk=nc.pk).exists():
        raise Http404


def may_raise(actor, org: Organization | None = None) -> bool:
    return scope.has_perm(actor, roles.NC_ADD, org) or scope.has_perm(actor, roles.NC_ADD_SELF, org)


def raisable_units(actor):
    """Units the actor may raise a nonconformity about (any source or self-inspection)."""
    q = scope.scope_q(actor, roles.NC_ADD, "self") | scope.scope_q(actor, roles.NC_ADD_SELF, "self")
    return Organization.objects.filter(q).filter(dissolved_on__isnull=True)


def raisable_sources(actor) -> list[tuple[str, str]]:
    """The sources the actor may choose: all of them for auditors and committee staff;
    only self-inspection for a unit's own secretary or party worker."""
    if scope.has_perm(actor, roles.NC_ADD):
        return list(NC.Source.choices)
    return [(NC.Source.SELF_INSPECTION.value, NC.Source.SELF_INSPECTION.label)]


def _check_raise(actor, org: Organization, source_kind: str, source=None) -> None:
    if scope.has_perm(actor, roles.NC_ADD, org):
        return
    # a cross-audit (交叉互审) team raises findings about the units it audits, wherever its
    # members' own grants are: the audit says who may (``Audit.team_may_raise``)
    team_may_raise = getattr(source, "team_may_raise", None)
    if source_kind == NC.Source.INTERNAL_AUDIT and team_may_raise and team_may_raise(actor, org):
        return
    if scope.has_perm(actor, roles.NC_ADD_SELF, org):
        if source_kind == NC.Source.SELF_INSPECTION:
            return
        raise ValidationError(
            {
                "source_kind": _(
                    "A unit raises nonconformities about itself from its self-inspection; "
                    "other sources are raised by auditors or the party committee."
                )
            }
        )
    _require_unit(actor, roles.NC_ADD, org)


def may_handle(actor, nc: Nonconformity) -> bool:
    return scope.has_perm(actor, roles.NC_HANDLE, nc.org)


def may_approve(actor, nc: Nonconformity) -> bool:
    return scope.has_perm(actor, roles.NC_APPROVE, nc.org)


def may_set_verifier(actor, nc: Nonconformity) -> bool:
    if nc.is_finished:
        return False
    return may_approve(actor, nc) or (
        nc.raised_by_id == getattr(actor, "pk", None) and not is_own_unit_staff(actor, nc.org)
    )


# ---------------------------------------------------------------- numbering


def _number_pattern() -> str:
    default = settings.PBQMS_NUMBERING_DEFAULTS.get(NUMBER_KEY) or DEFAULT_NUMBER_PATTERN
    row, _created = NumberSequence.objects.get_or_create(
        key=NUMBER_KEY, defaults={"pattern": default}
    )
    return row.pattern


def assign_number(year: int) -> str:
    """The next number of the year (``NC-2026-0001``); the running number restarts each
    year. A number already taken (entered by hand, an older pattern) is skipped."""
    pattern = _number_pattern()
    key = f"{NUMBER_KEY}@{year}" if "{year" in pattern else NUMBER_KEY + "@all"
    for _attempt in range(1000):
        number = next_number(key, pattern=pattern, year=year)
        if not NC.objects.filter(number=number).exists():
            return number
    raise ValidationError(_("No free nonconformity number: check the numbering pattern."))


# ---------------------------------------------------------------- cleaning


def _text(value, field: str, message: str, *, max_length: int = TEXT_MAX) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationError({field: message})
    if len(value) > max_length:
        raise ValidationError({field: _("Keep it under %(n)d characters.") % {"n": max_length}})
    return value


def _date(value, field: str, message: str) -> datetime.date:
    if value in (None, ""):
        raise ValidationError({field: message})
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value))
    except ValueError as exc:
        raise ValidationError({field: _("Enter a valid date.")}) from exc


def _generic(obj) -> tuple[ContentType | None, str]:
    if obj is None:
        return None, ""
    return ContentType.objects.get_for_model(obj, for_concrete_model=True), str(obj.pk)


def find_by_number(actor, number: str) -> Nonconformity | None:
    number = (number or "").strip()
    if not number:
        return None
    return NC.objects.visible_to(actor, roles.NC_VIEW).filter(number__iexact=number).first()


def _clean_repeat_of(actor, org: Organization, repeat_of, current: Nonconformity | None = None):
    """An earlier nonconformity of the same unit that the actor can see."""
    if repeat_of in (None, ""):
        return None
    if isinstance(repeat_of, str):
        found = find_by_number(actor, repeat_of)
        if found is None:
            raise ValidationError(
                {"repeat_of": _("No nonconformity with this number that you can see.")}
            )
        repeat_of = found
    elif not NC.objects.visible_to(actor, roles.NC_VIEW).filter(pk=repeat_of.pk).exists():
        raise ValidationError(
            {"repeat_of": _("No nonconformity with this number that you can see.")}
        )
    if current is not None and repeat_of.pk == current.pk:
        raise ValidationError({"repeat_of": _("A nonconformity cannot repeat itself.")})
    if repeat_of.org_id != org.pk:
        raise ValidationError(
            {"repeat_of": _("A repeat is of an earlier nonconformity of the same unit.")}
        )
    if current is not None and repeat_of.raised_on > current.raised_on:
        raise ValidationError({"repeat_of": _("Choose an earlier nonconformity.")})
    return repeat_of


# ---------------------------------------------------------------- verifiers


def _ancestor_paths(path: str) -> list[str]:
    step = Organization.steplen
    return [path[:i] for i in range(step, len(path) + 1, step)]


def _grants_covering(org: Organization, role_values):
    today = timezone.localdate()
    return (
        RoleAssignment.objects.filter(role__in=list(role_values))
        .filter(Q(org=org) | Q(org__path__in=_ancestor_paths(org.path), include_subtree=True))
        .filter(Q(valid_from__isnull=True) | Q(valid_from__lte=today))
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=today))
    )


def eligible_verifiers(org: Organization):
    """Users who may be designated to verify a nonconformity of ``org``: internal auditors
    and committee staff whose grants cover the unit, except the unit's own secretaries and
    party workers (one query)."""
    from pbqms.accounts.models import User

    verify_roles = [r for r in Role.values if roles.NC_VERIFY in roles.permissions_of(r)]
    return (
        User.objects.filter(
            pk__in=_grants_covering(org, verify_roles).values("user_id"), is_active=True
        )
        .exclude(pk__in=_grants_covering(org, OWN_UNIT_ROLES).values("user_id"))
        .order_by("username")
    )


def _clean_verifier(org: Organization, verifier, raised_by=None):
    if verifier in (None, ""):
        return None
    if raised_by is not None and verifier.pk == raised_by.pk:
        raise ValidationError(
            {"verifier": _("Who raised it verifies anyway; designate somebody else.")}
        )
    if not eligible_verifiers(org).filter(pk=verifier.pk).exists():
        raise ValidationError(
            {
                "verifier": _(
                    "Choose an internal auditor or party committee member responsible for "
                    "this unit; the unit's own secretary or party workers cannot verify."
                )
            }
        )
    return verifier


# ---------------------------------------------------------------- raise


@transaction.atomic
def raise_nonconformity(
    *,
    actor,
    org: Organization,
    title: str,
    source_kind: str,
    requirement: str,
    description: str,
    severity: str,
    correction_due,
    raised_on=None,
    source_ref: str = "",
    source=None,
    requirement_object=None,
    repeat_of=None,
    verifier=None,
) -> Nonconformity:
    """Raise a nonconformity (不符合项) about ``org``, numbered ``NC-<year>-<nnnn>``.

    Auditors and the party committee raise them from any source within their scope; a
    unit's own secretary or party worker raises them from the unit's self-inspection."""
    if org is None:
        raise ValidationError({"org": _("Choose the unit concerned.")})
    if source_kind not in NC.Source.values:
        raise ValidationError({"source_kind": _("Choose where the nonconformity comes from.")})
    _check_raise(actor, org, source_kind, source)
    errors: dict[str, Any] = {}
    cleaned: dict[str, Any] = {}
    for field, value, message, max_length in (
        ("title", title, _("Give the nonconformity a short title."), TITLE_MAX),
        ("requirement", requirement, _("Name the requirement that was not met."), TEXT_MAX),
        ("description", description, _("Describe what was found."), TEXT_MAX),
    ):
        try:
            cleaned[field] = _text(value, field, message, max_length=max_length)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if severity not in NC.Severity.values:
        errors["severity"] = [_("Choose the severity.")]
    today = timezone.localdate()
    try:
        raised_on = _date(raised_on or today, "raised_on", _("Enter the date."))
        if raised_on > today:
            errors["raised_on"] = [_("The date cannot be in the future.")]
    except ValidationError as exc:
        errors.update(exc.message_dict)
        raised_on = today
    try:
        due = _date(correction_due, "correction_due", _("Enter the deadline for correction."))
        if due < raised_on:
            errors["correction_due"] = [
                _("The deadline cannot be before the nonconformity was raised.")
            ]
    except ValidationError as exc:
        errors.update(exc.message_dict)
        due = None
    if org.dissolved_on and org.dissolved_on <= today:
        errors["org"] = [_("This unit has been dissolved.")]
    try:
        repeat = _clean_repeat_of(actor, org, repeat_of)
    except ValidationError as exc:
        errors.update(exc.message_dict)
        repeat = None
    try:
        verifier = _clean_verifier(org, verifier, actor)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if repeat is not None and repeat.raised_on > raised_on:
        errors["repeat_of"] = [_("Choose an earlier nonconformity.")]
    if errors:
        raise ValidationError(errors)
    source_type, source_id = _generic(source)
    requirement_type, requirement_id = _generic(requirement_object)
    return NC.objects.create(
        number=assign_number(raised_on.year),
        title=cleaned["title"],
        source_kind=source_kind,
        source_type=source_type,
        source_id=source_id,
        source_ref=(source_ref or "").strip()[:200],
        org=org,
        requirement=cleaned["requirement"],
        requirement_type=requirement_type,
        requirement_id=requirement_id,
        description=cleaned["description"],
        severity=severity,
        raised_by=actor,
        raised_on=raised_on,
        correction_due=due,
        repeat_of=repeat,
        verifier=verifier,
    )


@transaction.atomic
def set_verifier(nc: Nonconformity, *, actor, verifier, expected_version=None) -> Nonconformity:
    """Designate (or clear) the verifier: the party committee, or who raised it."""
    ensure_visible(nc, actor)
    check_version(nc, expected_version)
    nc = NC.objects.select_for_update().get(pk=nc.pk)
    if not may_set_verifier(actor, nc):
        if nc.is_finished:
            raise workflow.TransitionNotAllowed(
                _("The nonconformity is %(state)s.") % {"state": nc.get_status_display()}
            )
        raise PermissionDenied(
            _("Only the party committee or who raised it designates the verifier.")
        )
    nc.verifier = _clean_verifier(nc.org, verifier, nc.raised_by)
    nc.save()
    return nc


# ---------------------------------------------------------------- analysis


def start_analysis(nc: Nonconformity, *, actor) -> Nonconformity:
    """待处理 → 原因分析: the unit takes the nonconformity on."""
    ensure_visible(nc, actor)
    workflow.fire(nc, "start_analysis", actor=actor)
    return nc


@transaction.atomic
def save_analysis(
    nc: Nonconformity,
    *,
    actor,
    method: str,
    whys=None,
    fishbone: dict[str, str] | None = None,
    root_cause: str = "",
    repeat_of=None,
    expected_version=None,
) -> Nonconformity:
    """Record the root cause analysis (5 whys or causes by category, and the root cause).
    Saved as often as needed while the status is 原因分析 (a nonconformity still 待处理 is
    taken on first)."""
    ensure_visible(nc, actor)
    check_version(nc, expected_version)
    nc.refresh_from_db()
    if not may_handle(actor, nc):
        raise PermissionDenied(_("The unit's secretary or party worker analyses the cause."))
    if nc.status == S.OPEN:
        workflow.fire(nc, "start_analysis", actor=actor)
    if nc.status != S.ROOT_CAUSE_ANALYSIS:
        raise workflow.TransitionNotAllowed(
            _(
                "The analysis can only be changed during root cause analysis; the status "
                "is “%(state)s”."
            )
            % {"state": nc.get_status_display()},
            transition="save_analysis",
            state=nc.status,
        )
    errors: dict[str, Any] = {}
    if method not in NC.AnalysisMethod.values:
        errors["analysis_method"] = [_("Choose the analysis method.")]
    why_list = [(w or "").strip()[:500] for w in (whys or [])]
    while why_list and not why_list[-1]:
        why_list.pop()
    if len(why_list) > NC.MAX_WHYS:
        errors["why_chain"] = [_("At most %(n)d whys.") % {"n": NC.MAX_WHYS}]
    if any(not w for w in why_list):
        errors["why_chain"] = [_("Fill in the whys in order, without gaps.")]
    bones = {}
    for key, value in (fishbone or {}).items():
        if key not in NC.FISHBONE_KEYS:
            errors["fishbone"] = [_("Unknown cause category.")]
            continue
        value = (value or "").strip()[:2000]
        if value:
            bones[key] = value
    if method == NC.AnalysisMethod.FIVE_WHY and not why_list and "why_chain" not in errors:
        errors["why_chain"] = [_("Ask at least the first why.")]
    if method == NC.AnalysisMethod.FISHBONE and not bones and "fishbone" not in errors:
        errors["fishbone"] = [_("Note the causes in at least one category.")]
    root_cause = (root_cause or "").strip()
    if not root_cause:
        errors["root_cause"] = [_("State the root cause.")]
    elif len(root_cause) > TEXT_MAX:
        errors["root_cause"] = [_("Keep it under %(n)d characters.") % {"n": TEXT_MAX}]
    try:
        repeat = _clean_repeat_of(actor, nc.org, repeat_of, current=nc)
    except ValidationError as exc:
        errors.update(exc.message_dict)
        repeat = None
    if errors:
        raise ValidationError(errors)
    nc.analysis_method = method
    # the method not chosen keeps nothing: one analysis, one method
    nc.why_chain = why_list if method == NC.AnalysisMethod.FIVE_WHY else []
    nc.fishbone = bones if method == NC.AnalysisMethod.FISHBONE else {}
    nc.root_cause = root_cause
    nc.repeat_of = repeat
    nc.save()
    return nc


def submit_analysis(nc: Nonconformity, *, actor) -> Nonconformity:
    """原因分析 → 措施制定."""
    ensure_visible(nc, actor)
    workflow.fire(nc, "submit_analysis", actor=actor)
    return nc


# ---------------------------------------------------------------- actions: planning


def owner_options(nc: Nonconformity):
    """People who may own an action: those of the unit and the units below it."""
    return (
        Person.objects.filter(org__path__startswith=nc.org.path)
        .select_related("org")
        .order_by("org__path", "name")
    )


def document_model():
    """The controlled-document model when that app is installed, else None."""
    if not apps.is_installed("pbqms.documents"):
        return None
    return apps.get_model("documents", "Document")


def document_options(actor):
    model = document_model()
    if model is None:
        return None
    return model.objects.visible_to(actor).order_by("number")


def _clean_action(nc: Nonconformity, actor, data: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, Any] = {}
    out: dict[str, Any] = {}
    kind = data.get("kind")
    if kind not in CorrectiveAction.Kind.values:
        errors["kind"] = [_("Choose the kind of action.")]
    out["kind"] = kind
    for field, message in (
        ("description", _("Describe the action.")),
        ("success_criteria", _("Write how the verifier will tell that the action worked.")),
    ):
        try:
            out[field] = _text(data.get(field), field, message)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    owner = data.get("owner")
    if owner is None:
        errors["owner"] = [_("Choose who is responsible.")]
    elif not owner_options(nc).filter(pk=owner.pk).exists():
        errors["owner"] = [_("Choose a person of %(unit)s or a unit below it.") % {"unit": nc.org}]
    out["owner"] = owner
    due = verify = None
    try:
        due = _date(data.get("due_on"), "due_on", _("Enter the planned completion date."))
        if due < nc.raised_on:
            errors["due_on"] = [_("The action cannot be due before the nonconformity was raised.")]
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        verify = _date(
            data.get("verify_on"), "verify_on", _("Enter when the effectiveness is verified.")
        )
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if due and verify and verify <= due:
        errors["verify_on"] = [_("The verification comes after the planned completion.")]
    out["due_on"], out["verify_on"] = due, verify
    document = data.get("document")
    out["document_type"], out["document_id"] = None, ""
    if document is not None:
        options = document_options(actor)
        if options is None or not options.filter(pk=document.pk).exists():
            errors["document"] = [_("Choose a document you can see.")]
        else:
            out["document_type"], out["document_id"] = _generic(document)
    if errors:
        raise ValidationError(errors)
    out.pop("document", None)
    return out


def _require_planning(nc: Nonconformity, actor) -> None:
    if not may_handle(actor, nc):
        raise PermissionDenied(_("The unit's secretary or party worker plans the actions."))
    if nc.status != S.ACTION_PLANNING:
        raise workflow.TransitionNotAllowed(
            _("Actions are planned while the status is “%(planning)s”; it is “%(state)s”.")
            % {"planning": S.ACTION_PLANNING.label, "state": nc.get_status_display()},
            transition="plan_action",
            state=nc.status,
        )


@transaction.atomic
def plan_action(nc: Nonconformity, *, actor, data: dict[str, Any]) -> CorrectiveAction:
    """Add an action to the plan (措施制定): kind, what, owner, due date, success criteria
    and the verification date (after the due date)."""
    ensure_visible(nc, actor)
    nc = NC.objects.select_for_update().select_related("org").get(pk=nc.pk)
    _require_planning(nc, actor)
    cleaned = _clean_action(nc, actor, data)
    return CorrectiveAction.objects.create(nonconformity=nc, org=nc.org, cycle=nc.cycle, **cleaned)


def _with_current_nonconformity(action: CorrectiveAction) -> Nonconformity:
    """The action's nonconformity as it is now (an action read through an older
    nonconformity object carries that object and its old status)."""
    nc = NC.objects.select_related("org").get(pk=action.nonconformity_id)
    action.nonconformity = nc
    return nc


@transaction.atomic
def update_action(
    action: CorrectiveAction, *, actor, data: dict[str, Any], expected_version=None
) -> CorrectiveAction:
    """Change a planned action while the plan is being made."""
    ensure_visible(_with_current_nonconformity(action), actor)
    check_version(action, expected_version)
    action.refresh_from_db()
    nc = NC.objects.select_for_update().select_related("org").get(pk=action.nonconformity_id)
    _require_planning(nc, actor)
    if action.status != A.PLANNED or action.cycle != nc.cycle:
        raise workflow.TransitionNotAllowed(
            _("Only an action of the plan being made can be changed.")
        )
    for field, value in _clean_action(nc, actor, data).items():
        setattr(action, field, value)
    action.save()
    return action


def cancel_action(action: CorrectiveAction, *, actor, reason: str) -> CorrectiveAction:
    """Drop an action from a plan not yet approved (reason required)."""
    ensure_visible(_with_current_nonconformity(action), actor)
    workflow.fire(action, "cancel", actor=actor, reason=reason)
    return action


def submit_plan(nc: Nonconformity, *, actor) -> Nonconformity:
    """措施制定 → 措施审批."""
    ensure_visible(nc, actor)
    workflow.fire(nc, "submit_plan", actor=actor)
    return nc


def _signing_step(obj, name: str, actor, password: str | None, nc: Nonconformity):
    ensure_visible(nc, actor)
    described = workflow.check(obj, name, actor)
    if described.signature:
        signatures.verify_password(actor, password, obj=obj, meaning=described.signature)
    return described


def approve_plan(
    nc: Nonconformity, *, actor, password: str | None, comment: str = ""
) -> Nonconformity:
    """措施审批 → 实施中, signed 批准 by the party committee."""
    _signing_step(nc, "approve_plan", actor, password, nc)
    workflow.fire(
        nc,
        "approve_plan",
        actor=actor,
        password=password,
        signature_comment=(comment or "").strip(),
    )
    return nc


def return_plan(nc: Nonconformity, *, actor, reason: str) -> Nonconformity:
    """措施审批 → 措施制定 with the approver's comments."""
    ensure_visible(nc, actor)
    workflow.fire(nc, "return_plan", actor=actor, reason=reason)
    return nc


# ---------------------------------------------------------------- implementing


def complete_action(
    action: CorrectiveAction, *, actor, completed_on=None, note: str = ""
) -> CorrectiveAction:
    """The owner (or the unit's secretary on their behalf) marks the action done, saying
    what was done. When the last action is done the nonconformity goes to 效果验证."""
    nc = _with_current_nonconformity(action)
    ensure_visible(nc, actor)
    note = _text(note, "note", _("Say what was done."))
    today = timezone.localdate()
    completed_on = _date(completed_on or today, "completed_on", _("Enter the date."))
    if completed_on > today:
        raise ValidationError({"completed_on": _("The date cannot be in the future.")})
    if completed_on < nc.raised_on:
        raise ValidationError(
            {"completed_on": _("The date cannot be before the nonconformity was raised.")}
        )
    with transaction.atomic():
        nc = NC.objects.select_for_update().get(pk=nc.pk)
        action.nonconformity = nc
        workflow.fire(action, "complete", actor=actor, completed_on=completed_on, note=note)
        if nc.status == S.IMPLEMENTING and not nc.actions.filter(status=A.PLANNED).exists():
            workflow.fire(nc, "begin_verification", actor=actor)
    return action


# ---------------------------------------------------------------- verification


def verify_action(
    action: CorrectiveAction,
    *,
    actor,
    password: str | None,
    result: str,
    comment: str = "",
) -> CorrectiveAction:
    """效果验证 of one action against its success criteria, signed 验证 by who raised the
    nonconformity or its designated verifier, on or after the action's verification date.
    Not effective: the nonconformity goes back to 原因分析 (a new round). When every action
    is effective the nonconformity closes."""
    nc = _with_current_nonconformity(action)
    if result not in CorrectiveAction.Result.values:
        raise ValidationError({"result": _("Choose effective or not effective.")})
    comment = (comment or "").strip()
    if result == CorrectiveAction.Result.NOT_EFFECTIVE and not comment:
        raise ValidationError({"comment": _("Say why the action was not effective.")})
    _signing_step(action, "verify", actor, password, nc)
    with transaction.atomic():
        nc = NC.objects.select_for_update().get(pk=nc.pk)
        action.nonconformity = nc
        workflow.fire(
            action,
            "verify",
            actor=actor,
            password=password,
            result=result,
            comment=comment,
            signature_comment=comment,
        )
        if action.status == A.NOT_EFFECTIVE:
            workflow.fire(
                nc,
                "reanalyse",
                actor=actor,
                reason=_("Not effective: %(action)s — %(why)s")
                % {"action": action.description[:100], "why": comment},
            )
        elif not nc.actions.filter(status__in=CorrectiveAction.LIVE).exists():
            workflow.fire(nc, "close", actor=actor)
    return action


# ---------------------------------------------------------------- cancel


def cancel_nonconformity(nc: Nonconformity, *, actor, reason: str) -> Nonconformity:
    """Any status before closing → 已撤销, with the reason; its open actions are cancelled
    with it. The party committee may cancel; who raised it may withdraw it while 待处理."""
    ensure_visible(nc, actor)
    with transaction.atomic():
        workflow.fire(nc, "cancel", actor=actor, reason=reason)
        for action in nc.actions.filter(status__in=CorrectiveAction.LIVE).select_related("owner"):
            action.nonconformity = nc
            workflow.fire(action, "cancel", actor=actor, reason=reason)
    return nc


# ---------------------------------------------------------------- signatures on a page


def signature_rows(nc: Nonconformity, actions) -> list[dict[str, Any]]:
    """The plan approvals (on the nonconformity) and the verifications (on its actions),
    each with whether the signed content is unchanged (two queries)."""
    rows = []
    current = nc.signed_content_hash()
    for sig in signatures.signatures_for(nc):
        # an approval signs the plan of its round; only the latest round's can still match
        rows.append({"signature": sig, "object": nc, "valid": signatures.is_valid(sig, current)})
    actions = list(actions)
    by_action = signatures.signatures_for_many(actions)
    for action in actions:
        action_hash = action.signed_content_hash()
        for sig in by_action.get(action.pk, []):
            rows.append(
                {
                    "signature": sig,
                    "object": action,
                    "valid": signatures.is_valid(sig, action_hash),
                }
            )
    rows.sort(key=lambda r: (r["signature"].signed_at, r["signature"].pk))
    return rows


# ---------------------------------------------------------------- document revision


def may_revise_document(actor, action: CorrectiveAction, document) -> bool:
    """May ``actor`` open a revision of the effective document the action concerns?"""
    from pbqms.documents import services as doc_services

    if document is None or action.status not in CorrectiveAction.LIVE:
        return False
    if action.nonconformity.status != NC.Status.IMPLEMENTING:
        return False
    return document.status == "effective" and doc_services.may_draft(actor, document)


def revise_document(action: CorrectiveAction, *, actor):
    """Open a revision of the document the action concerns (the documents app's
    ``start_revision``, its rules), giving the nonconformity and the action as the reason;
    the action keeps its link to the document, and the revision's reason names the
    nonconformity."""
    model = document_model()
    if model is None or not action.document_id:
        raise ValidationError(_("The action concerns no document."))
    document = model.objects.visible_to(actor).filter(pk=action.document_id).first()
    if document is None:
        raise Http404
    if not may_revise_document(actor, action, document):
        raise PermissionDenied(_("You may not revise this document now."))
    from pbqms.documents import services as doc_services

    reason = _("Corrective action of %(number)s: %(action)s") % {
        "number": action.nonconformity.number,
        "action": action.description[:300],
    }
    return doc_services.start_revision(document, actor=actor, reason=reason)
