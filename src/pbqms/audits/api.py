"""REST API of internal audits (read-only for now): ``/api/auditors/``,
``/api/audit-programmes/`` (with ``…/{id}/proposal/``, the cross-audit proposal) and
``/api/audits/``. Same scoping as the pages."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from pbqms.audits import services
from pbqms.audits.models import Audit, AuditorQualification, AuditProgramme
from pbqms.core import roles, scope
from pbqms.core.api import ScopedReadOnlyViewSet


class QualificationSerializer(serializers.ModelSerializer):
    person_name = serializers.CharField(source="person.name", read_only=True)
    home_unit = serializers.IntegerField(source="person.org_id", read_only=True)

    class Meta:
        model = AuditorQualification
        fields = [
            "id",
            "person",
            "person_name",
            "home_unit",
            "course",
            "trained_on",
            "certificate_no",
            "certified_on",
            "valid_until",
            "version",
        ]


class ProgrammeSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditProgramme
        fields = [
            "id",
            "year",
            "title",
            "org",
            "scope_units",
            "criteria",
            "team_size",
            "no_reciprocal",
            "status",
            "version",
        ]


class AuditSerializer(serializers.ModelSerializer):
    class Meta:
        model = Audit
        fields = [
            "id",
            "number",
            "programme",
            "audited_units",
            "planned_month",
            "start_date",
            "end_date",
            "criteria",
            "lead_auditor",
            "team",
            "status",
            "version",
        ]


class ProposalAuditSerializer(serializers.Serializer):
    audit = serializers.IntegerField()
    auditors = serializers.ListField(child=serializers.IntegerField())
    excluded = serializers.DictField(child=serializers.ListField(child=serializers.IntegerField()))
    shortfall = serializers.CharField(allow_null=True)


class AuditorViewSet(ScopedReadOnlyViewSet):
    """Internal-auditor qualifications, scoped by the auditor's home unit."""

    queryset = AuditorQualification.objects.all()
    serializer_class = QualificationSerializer
    view_perm = roles.AUDITOR_VIEW
    ordering = ["id"]

    def get_queryset(self):
        return (
            AuditorQualification.objects.visible_to(self.request.user, self.view_perm)
            .select_related("person")
            .order_by("id")
        )


class AuditProgrammeViewSet(ScopedReadOnlyViewSet):
    queryset = AuditProgramme.objects.all()
    serializer_class = ProgrammeSerializer
    view_perm = roles.AUDIT_VIEW

    def get_queryset(self):
        return (
            AuditProgramme.objects.visible_to(self.request.user, self.view_perm)
            .prefetch_related("scope_units")
            .order_by("-year", "id")
        )

    @extend_schema(responses=ProposalAuditSerializer(many=True))
    @action(detail=True, methods=["get"])
    def proposal(self, request, pk=None):
        """The cross-audit teams pbqms proposes for the programme's unstaffed audits."""
        programme = self.get_object()
        if not scope.has_perm(request.user, roles.AUDIT_MANAGE, programme.org):
            raise PermissionDenied
        proposal, audits, _people = services.propose_teams(programme)
        data = [
            {
                "audit": a.pk,
                "auditors": proposal.audits[a.pk].auditor_ids,
                "excluded": proposal.audits[a.pk].excluded,
                "shortfall": proposal.audits[a.pk].shortfall,
            }
            for a in audits
        ]
        return Response(ProposalAuditSerializer(data, many=True).data)


class AuditViewSet(ScopedReadOnlyViewSet):
    queryset = Audit.objects.all()
    serializer_class = AuditSerializer
    view_perm = roles.AUDIT_VIEW

    def may_use(self, user, perm):
        # team members see their audits whatever their grants
        return True

    def get_queryset(self):
        return (
            Audit.objects.visible_to(self.request.user, self.view_perm)
            .prefetch_related("audited_units", "team")
            .order_by("id")
        )
