"""The whole chain of one process as one user may see it: rule (documents) → plan
(obligations and work-plan items) → records → checks (conformity results) → findings
(nonconformities against the process's requirements). Each link is read inside the
user's own scope (``visible_to`` with that area's permission) and under the process's
unit; a user without an area's permission sees that link as not available. A fixed
number of queries whatever the data size."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, Q
from django.utils import timezone

from pbqms.core import roles, scope
from pbqms.orgs.models import Organization
from pbqms.processes.models import Process

LIMIT = 10


@dataclass
class Chain:
    process: Process
    year: int
    documents: list | None = None
    obligations: list = field(default_factory=list)
    plan_items: list | None = None
    records: list | None = None
    records_total: int = 0
    checks: dict | None = None
    findings: list | None = None
    findings_total: int = 0
    findings_open: int = 0
    indicators: list = field(default_factory=list)


def _subtree(org: Organization):
    return Organization.objects.filter(path__startswith=org.path).values("pk")


def build(user, process: Process, year: int | None = None, today: dt.date | None = None):
    today = today or timezone.localdate()
    year = year or today.year
    chain = Chain(process=process, year=year)
    org = process.org
    template_ids = [t.pk for t in process.record_templates.all()]
    obligations = list(process.obligations.all())
    chain.obligations = obligations
    ob_ids = [o.pk for o in obligations]

    if scope.has_perm(user, roles.DOC_VIEW):
        from pbqms.documents.models import Document

        chain.documents = list(
            Document.objects.visible_to(user, roles.DOC_VIEW)
            .filter(pk__in=process.documents.values("pk"))
            .select_related("effective_version")
            .order_by("number")
        )

    if apps.is_installed("pbqms.plans") and scope.has_perm(user, roles.PLAN_VIEW):
        from pbqms.plans.models import PlanItem

        q = Q(obligation_id__in=ob_ids) | Q(record_template_id__in=template_ids)
        chain.plan_items = list(
            PlanItem.objects.visible_to(user, roles.PLAN_VIEW)
            .filter(q, due_on__year=year)
            .select_related("plan", "plan__org")
            .order_by("due_on", "pk")[:LIMIT]
        )

    if scope.has_perm(user, roles.RECORD_VIEW) and template_ids:
        from pbqms.records.models import Record

        records = Record.objects.visible_to(user, roles.RECORD_VIEW).filter(
            template_id__in=template_ids,
            org_id__in=_subtree(org),
            status=Record.Status.SUBMITTED,
            occurred_at__year=year,
        )
        chain.records_total = records.count()
        chain.records = list(
            records.select_related("org", "template").order_by("-occurred_at", "-pk")[:LIMIT]
        )
    elif scope.has_perm(user, roles.RECORD_VIEW):
        chain.records = []

    if scope.has_perm(user, roles.CONFORMITY_VIEW):
        from pbqms.system import engine
        from pbqms.system.models import ConformityResult
        from pbqms.system.models import ConformityStatus as S

        counts = dict.fromkeys(S.values, 0)
        if ob_ids:
            rows = (
                ConformityResult.objects.visible_to(user, roles.CONFORMITY_VIEW)
                .filter(obligation_id__in=ob_ids, org_id__in=_subtree(org), due_on__year=year)
                .values("status")
                .annotate(
                    n=Count("pk"),
                    overdue=Count("pk", filter=Q(status=S.UPCOMING, due_on__lt=today)),
                )
            )
            for row in rows:
                counts[row["status"]] += row["n"] - row["overdue"]
                counts[S.MISSING] += row["overdue"]
        statuses = [s for s, n in counts.items() for _i in range(n)]
        rate = engine.rate(statuses)
        chain.checks = {
            "counts": [(S(s).label, s, counts[s]) for s in S.values],
            "rate": None if rate is None else round(rate * 100, 1),
            "total": sum(counts.values()),
        }

    if scope.has_perm(user, roles.NC_VIEW):
        from pbqms.improvement.models import Nonconformity
        from pbqms.system.models import Requirement

        req_ids = [str(pk) for pk in process.requirements.values_list("pk", flat=True)]
        ct = ContentType.objects.get_for_model(Requirement)
        findings = Nonconformity.objects.visible_to(user, roles.NC_VIEW).filter(
            org_id__in=_subtree(org), requirement_type=ct, requirement_id__in=req_ids
        )
        agg = findings.aggregate(
            total=Count("pk"), open=Count("pk", filter=~Q(status__in=Nonconformity.FINISHED))
        )
        chain.findings_total, chain.findings_open = agg["total"], agg["open"]
        chain.findings = list(findings.select_related("org").order_by("-raised_on", "-pk")[:LIMIT])

    if scope.has_perm(user, roles.OBJECTIVE_VIEW):
        from pbqms.objectives.models import Measurement

        indicators = list(
            process.indicators.select_related("objective__policy", "org").order_by(
                "-objective__policy__year", "code"
            )
        )
        owner_of = {i.pk: i.org_id for i in indicators}
        values = {
            m.indicator_id: m.value
            for m in Measurement.objects.filter(
                indicator_id__in=owner_of, org_id__in=set(owner_of.values())
            )
            if m.org_id == owner_of[m.indicator_id]
        }
        chain.indicators = [
            {
                "indicator": i,
                "value": values.get(i.pk),
                "attained": i.attained(values.get(i.pk), i.target),
            }
            for i in indicators
        ]
    return chain
