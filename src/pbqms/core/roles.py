"""Roles and what each may do (permissions are granted on a unit, optionally its subtree).

One table for the whole product: later areas add their permissions to ``ROLE_PERMISSIONS``.
The three administrator roles are mutually exclusive (三员分立, SECURITY.md item 6).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    PARTY_ADMIN = "party_admin", _("Party committee administrator / management representative")
    BRANCH_SECRETARY = "branch_secretary", _("Branch secretary")
    PARTY_WORKER = "party_worker", _("Party affairs worker")
    MEMBER = "member", _("Party member")
    INTERNAL_AUDITOR = "internal_auditor", _("Internal auditor")
    EXTERNAL_EXPERT = "external_expert", _("External expert")
    SYSTEM_ADMIN = "system_admin", _("System administrator")
    SECURITY_ADMIN = "security_admin", _("Security administrator")
    AUDIT_ADMIN = "audit_admin", _("Audit administrator")


ADMIN_ROLES = frozenset({Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN, Role.AUDIT_ADMIN})

ORG_VIEW = "orgs.view_organization"
ORG_ADD = "orgs.add_organization"
ORG_CHANGE = "orgs.change_organization"
ORG_MOVE = "orgs.move_organization"
ORG_DISSOLVE = "orgs.dissolve_organization"
PERSON_VIEW = "orgs.view_person"
PERSON_ADD = "orgs.add_person"
PERSON_CHANGE = "orgs.change_person"
PERSON_TRANSFER = "orgs.transfer_person"
PERSON_EXPORT = "orgs.export_person"
ORGS_IMPORT = "orgs.import_data"
ROLE_VIEW = "orgs.view_roleassignment"
ROLE_MANAGE = "orgs.change_roleassignment"
USER_MANAGE = "accounts.change_user"
SECURITY_MANAGE = "accounts.manage_security"
CHANGELOG_VIEW = "core.view_changelogentry"
# controlled documents (pbqms.documents): read effective versions of the documents that
# apply to (or are owned by) the units of the grant; also their superseded and obsolete
# versions; draft documents for the unit; administer the unit's documents (all versions,
# reviewers/approvers, release, obsolete, periodic review); acknowledge (学习确认)
DOC_VIEW = "documents.view_document"
DOC_VIEW_HISTORY = "documents.view_document_history"
DOC_DRAFT = "documents.add_document"
DOC_MANAGE = "documents.manage_document"
DOC_ACKNOWLEDGE = "documents.acknowledge_document"
_DOC_ALL = frozenset({DOC_VIEW, DOC_VIEW_HISTORY, DOC_DRAFT, DOC_MANAGE, DOC_ACKNOWLEDGE})
_DOC_AUTHOR = frozenset({DOC_VIEW, DOC_VIEW_HISTORY, DOC_DRAFT, DOC_ACKNOWLEDGE})
_DOC_READER = frozenset({DOC_VIEW, DOC_VIEW_HISTORY})
# internal audits (pbqms.audits): the auditor team (qualifications, scoped by the auditor's
# home unit); see audits (of the programme's committee, or of the audited units); plan and
# run them (programmes, audits, cross-audit teams, closing); fill checklists (team members)
AUDITOR_VIEW = "audits.view_auditorqualification"
AUDITOR_MANAGE = "audits.change_auditorqualification"
AUDIT_VIEW = "audits.view_audit"
AUDIT_MANAGE = "audits.manage_audit"
AUDIT_PERFORM = "audits.perform_audit"
_AUDIT_ALL = frozenset({AUDITOR_VIEW, AUDITOR_MANAGE, AUDIT_VIEW, AUDIT_MANAGE, AUDIT_PERFORM})
# nonconformities and corrective actions (pbqms.improvement): see the unit's nonconformities
# and actions; raise one from any source (auditors, committee staff); raise one from the
# unit's own self-inspection; analyse, plan and carry out (the unit's secretary and party
# workers); approve plans, cancel, designate verifiers (the committee); verify
# effectiveness (only as the raiser or the designated verifier, never in one's own unit)
NC_VIEW = "improvement.view_nonconformity"
NC_ADD = "improvement.add_nonconformity"
NC_ADD_SELF = "improvement.add_selfinspection_nonconformity"
NC_HANDLE = "improvement.handle_nonconformity"
NC_APPROVE = "improvement.approve_nonconformity"
NC_VERIFY = "improvement.verify_nonconformity"
_NC_ALL = frozenset({NC_VIEW, NC_ADD, NC_ADD_SELF, NC_HANDLE, NC_APPROVE, NC_VERIFY})
_NC_UNIT = frozenset({NC_VIEW, NC_ADD_SELF, NC_HANDLE})
# records (pbqms.records): see the unit's records (members: submitted ones only); add and
# edit drafts; submit; amend a submitted record (with a reason)
RECORD_VIEW = "records.view_record"
RECORD_ADD = "records.add_record"
RECORD_SUBMIT = "records.submit_record"
RECORD_AMEND = "records.amend_record"
RECORD_VIEW_DRAFTS = "records.view_draft_record"
_RECORD_ALL = frozenset({RECORD_VIEW, RECORD_ADD, RECORD_SUBMIT, RECORD_AMEND, RECORD_VIEW_DRAFTS})
# create record templates and edit user-made ones (built-in ones are copied, not edited)
RECORD_TEMPLATE_MANAGE = "records.change_recordtemplate"

# quality system (pbqms.system): the requirement library and obligations (read by all who
# work with the system; edited by the committee); the conformity board of the units in
# scope; noting a justified exception for a unit's gap (the committee)
REQUIREMENT_VIEW = "system.view_requirement"
REQUIREMENT_MANAGE = "system.change_requirement"
OBLIGATION_VIEW = "system.view_obligation"
OBLIGATION_MANAGE = "system.change_obligation"
CONFORMITY_VIEW = "system.view_conformityresult"
CONFORMITY_EXCEPT = "system.add_conformityexception"
_SYSTEM_READ = frozenset({REQUIREMENT_VIEW, OBLIGATION_VIEW, CONFORMITY_VIEW})
_SYSTEM_ALL = _SYSTEM_READ | {REQUIREMENT_MANAGE, OBLIGATION_MANAGE, CONFORMITY_EXCEPT}
# policy and objectives (pbqms.objectives): read the policy, objectives and indicators of
# the unit and of the committees above it; state them and break indicators down (the
# committee); enter the unit's own indicator values (secretaries, party workers)
OBJECTIVE_VIEW = "objectives.view_policy"
OBJECTIVE_MANAGE = "objectives.change_policy"
MEASUREMENT_ENTER = "objectives.add_measurement"
# processes (pbqms.processes): read the process map (own and the committees' above);
# define and edit processes (the committee)
PROCESS_VIEW = "processes.view_process"
PROCESS_MANAGE = "processes.change_process"
# work plans and tasks (pbqms.plans): see the unit's plans and tasks; draft, edit and
# publish (cascade) the unit's plans; complete the unit's tasks with records
PLAN_VIEW = "plans.view_workplan"
PLAN_MANAGE = "plans.change_workplan"
TASK_VIEW = "plans.view_task"
TASK_COMPLETE = "plans.complete_task"
_PLAN_ALL = frozenset({PLAN_VIEW, PLAN_MANAGE, TASK_VIEW, TASK_COMPLETE})
_PLAN_READ = frozenset({PLAN_VIEW, TASK_VIEW})

_ORG_AND_PEOPLE_ADMIN = frozenset(
    {
        ORG_VIEW,
        ORG_ADD,
        ORG_CHANGE,
        ORG_MOVE,
        ORG_DISSOLVE,
        PERSON_VIEW,
        PERSON_ADD,
        PERSON_CHANGE,
        PERSON_TRANSFER,
        PERSON_EXPORT,
        ORGS_IMPORT,
    }
)

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.PARTY_ADMIN: _ORG_AND_PEOPLE_ADMIN | {ROLE_VIEW} | _DOC_ALL,
    Role.BRANCH_SECRETARY: frozenset(
        {ORG_VIEW, PERSON_VIEW, PERSON_ADD, PERSON_CHANGE, PERSON_TRANSFER, PERSON_EXPORT}
    )
    | _DOC_AUTHOR,
    Role.PARTY_WORKER: frozenset(
        {ORG_VIEW, PERSON_VIEW, PERSON_ADD, PERSON_CHANGE, PERSON_TRANSFER, PERSON_EXPORT}
    )
    | _DOC_AUTHOR,
    Role.MEMBER: frozenset({ORG_VIEW, DOC_VIEW, DOC_ACKNOWLEDGE}),
    Role.INTERNAL_AUDITOR: frozenset({ORG_VIEW, PERSON_VIEW}) | _DOC_READER,
    Role.EXTERNAL_EXPERT: frozenset({ORG_VIEW}) | _DOC_READER,
    Role.SYSTEM_ADMIN: _ORG_AND_PEOPLE_ADMIN | {USER_MANAGE, ROLE_VIEW},
    Role.SECURITY_ADMIN: frozenset({ORG_VIEW, ROLE_VIEW, ROLE_MANAGE, SECURITY_MANAGE}),
    Role.AUDIT_ADMIN: frozenset({CHANGELOG_VIEW}),
}


# nonconformities and corrective actions, per role
for _role, _perms in {
    Role.PARTY_ADMIN: _NC_ALL,
    Role.BRANCH_SECRETARY: _NC_UNIT,
    Role.PARTY_WORKER: _NC_UNIT,
    Role.INTERNAL_AUDITOR: frozenset({NC_VIEW, NC_ADD, NC_VERIFY}),
    Role.EXTERNAL_EXPERT: frozenset({NC_VIEW}),
}.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | _perms


# records, per role
for _role, _perms in {
    Role.PARTY_ADMIN: _RECORD_ALL | {RECORD_TEMPLATE_MANAGE},
    Role.BRANCH_SECRETARY: _RECORD_ALL,
    Role.PARTY_WORKER: _RECORD_ALL,
    Role.MEMBER: frozenset({RECORD_VIEW}),
    Role.INTERNAL_AUDITOR: frozenset({RECORD_VIEW}),
    Role.EXTERNAL_EXPERT: frozenset({RECORD_VIEW}),
}.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | _perms


# quality system (requirements, obligations, conformity), per role
for _role, _perms in {
    Role.PARTY_ADMIN: _SYSTEM_ALL,
    Role.BRANCH_SECRETARY: _SYSTEM_READ,
    Role.PARTY_WORKER: _SYSTEM_READ,
    Role.MEMBER: frozenset({REQUIREMENT_VIEW}),
    Role.INTERNAL_AUDITOR: _SYSTEM_READ,
    Role.EXTERNAL_EXPERT: _SYSTEM_READ,
}.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | _perms


# policy, objectives and processes, per role
for _role, _perms in {
    Role.PARTY_ADMIN: frozenset(
        {OBJECTIVE_VIEW, OBJECTIVE_MANAGE, MEASUREMENT_ENTER, PROCESS_VIEW, PROCESS_MANAGE}
    ),
    Role.BRANCH_SECRETARY: frozenset({OBJECTIVE_VIEW, MEASUREMENT_ENTER, PROCESS_VIEW}),
    Role.PARTY_WORKER: frozenset({OBJECTIVE_VIEW, MEASUREMENT_ENTER, PROCESS_VIEW}),
    Role.MEMBER: frozenset({OBJECTIVE_VIEW, PROCESS_VIEW}),
    Role.INTERNAL_AUDITOR: frozenset({OBJECTIVE_VIEW, PROCESS_VIEW}),
    Role.EXTERNAL_EXPERT: frozenset({OBJECTIVE_VIEW, PROCESS_VIEW}),
}.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | _perms

# internal audits, per role
for _role, _perms in {
    Role.PARTY_ADMIN: _AUDIT_ALL,
    Role.BRANCH_SECRETARY: frozenset({AUDIT_VIEW}),
    Role.INTERNAL_AUDITOR: frozenset({AUDITOR_VIEW, AUDIT_VIEW, AUDIT_PERFORM}),
    # external experts read what they evaluate (MISSION.md): the audits and their reports
    Role.EXTERNAL_EXPERT: frozenset({AUDIT_VIEW}),
}.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | _perms


# work plans and tasks, per role
for _role, _perms in {
    Role.PARTY_ADMIN: _PLAN_ALL,
    Role.BRANCH_SECRETARY: _PLAN_ALL,
    Role.PARTY_WORKER: _PLAN_ALL,
    Role.INTERNAL_AUDITOR: _PLAN_READ,
    Role.EXTERNAL_EXPERT: _PLAN_READ,
}.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | _perms


# management review (pbqms.reviews): see the reviews of the unit (and, wherever they are,
# those one chairs, attends or owns an output of); plan and run them (the committee)
REVIEW_VIEW = "reviews.view_managementreview"
REVIEW_MANAGE = "reviews.manage_managementreview"
for _role, _perms in {
    Role.PARTY_ADMIN: frozenset({REVIEW_VIEW, REVIEW_MANAGE}),
    Role.BRANCH_SECRETARY: frozenset({REVIEW_VIEW}),
    Role.PARTY_WORKER: frozenset({REVIEW_VIEW}),
    Role.EXTERNAL_EXPERT: frozenset({REVIEW_VIEW}),
}.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | _perms


def permissions_of(role: str) -> frozenset[str]:
    return ROLE_PERMISSIONS.get(role, frozenset())
