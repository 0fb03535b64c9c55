"""REST API of internal audits: ``/api/auditors/``, ``/api/audit-programmes/`` (with
``…/{id}/proposal/``, the cross-audit proposal, and ``…/{id}/accept-proposal/``),
``/api/audits/`` (with ``…/{id}/transition/``, ``…/{id}/generate-checklist/``) and
``/api/findings/`` (checklist items: add, record a result, raise a nonconformity). Same
scoping and rules as the pages: reads through ``visible_to`` (an audit team member sees
the audits they are on, their checklists and nothing else), every write through
``pbqms.audits.services`` or the workflow (refusals: 400 with field errors, 403, 404, 409
for a stale ``version``).

A refused step answers 400 without rolling the request back, so a refused signature's
security event stays in the change log (the step itself wrote nothing)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from pbqms.audits import services
from pbqms.audits.models import Audit, AuditorQualification, AuditProgramme, ChecklistItem
from pbqms.core import roles, scope, workflow
from pbqms.core.api import (
    ERROR_RESPONSES,
    ScopedReadOnlyViewSet,
    ScopedViewSetMixin,
    VersionField,
    error_response,
)
from pbqms.core.ids import MAX_ID, is_id

_ERRORS = ERROR_RESPONSES


_error_response = error_response


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


class FindingSerializer(serializers.ModelSerializer):
    result_display = serializers.CharField(source="get_result_display", read_only=True)
    nonconformity = serializers.IntegerField(source="nonconformity_id", read_only=True)

    class Meta:
        model = ChecklistItem
        fields = [
            "id",
            "audit",
            "position",
            "unit",
            "criterion",
            "question",
            "result",
            "result_display",
            "evidence",
            "nonconformity",
            "source",
            "source_ref",
            "version",
        ]


class FindingInputSerializer(serializers.Serializer):
    audit = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    criterion = serializers.CharField(max_length=300)
    question = serializers.CharField(max_length=5000)
    unit = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=MAX_ID)


class FindingResultInputSerializer(serializers.Serializer):
    result = serializers.ChoiceField(choices=[("", "—"), *ChecklistItem.Result.choices])
    evidence = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    version = VersionField()


class RaiseFindingSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    correction_due = serializers.DateField()
    unit = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=MAX_ID)


class RaisedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()


class AuditTransitionInputSerializer(serializers.Serializer):
    transition = serializers.ChoiceField(choices=["start", "report", "close"])
    password = serializers.CharField(
        max_length=4096, required=False, allow_blank=True, trim_whitespace=False
    )
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class AcceptProposalSerializer(serializers.Serializer):
    teams = serializers.DictField(
        child=serializers.ListField(
            child=serializers.IntegerField(min_value=1, max_value=MAX_ID), max_length=20
        ),
        help_text="{audit id: [person ids]}; the first person leads.",
    )


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

    @extend_schema(
        summary="Accept the (edited) cross-audit proposal",
        request=AcceptProposalSerializer,
        responses={200: AuditSerializer(many=True), **_ERRORS},
    )
    @action(detail=True, methods=["post"], url_path="accept-proposal")
    def accept_proposal(self, request, pk=None):
        programme = self.get_object()
        serializer = AcceptProposalSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        teams = {}
        for key, ids in serializer.validated_data["teams"].items():
            if not is_id(str(key)):
                raise serializers.ValidationError({"teams": [_("Use audit ids as keys.")]})
            teams[int(key)] = ids
        try:
            done = services.accept_proposal(actor=request.user, programme=programme, teams=teams)
        except DjangoValidationError as exc:
            return _error_response(exc)
        return Response(AuditSerializer(done, many=True).data)


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
            .select_related("programme__org", "lead_auditor")
            .prefetch_related("audited_units", "team")
            .order_by("id")
        )

    @extend_schema(
        summary="Take a step: start, report (lead auditor, with password) or close",
        request=AuditTransitionInputSerializer,
        responses={200: AuditSerializer, **_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def transition(self, request, pk=None):
        audit = self.get_object()
        serializer = AuditTransitionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            workflow.fire(
                audit,
                data["transition"],
                actor=request.user,
                password=data.get("password") or None,
                reason=data.get("reason") or "",
            )
        except DjangoValidationError as exc:
            return _error_response(exc)
        return Response(AuditSerializer(self.get_queryset().get(pk=audit.pk)).data)

    @extend_schema(
        summary="Generate checklist items from the audit's criteria (only what is new)",
        request=None,
        responses={201: FindingSerializer(many=True), **_ERRORS},
    )
    @action(detail=True, methods=["post"], url_path="generate-checklist")
    def generate_checklist(self, request, pk=None):
        audit = self.get_object()
        try:
            added = services.generate_checklist(actor=request.user, audit=audit)
        except DjangoValidationError as exc:
            return _error_response(exc)
        return Response(FindingSerializer(added, many=True).data, status=status.HTTP_201_CREATED)


class FindingViewSet(
    ScopedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Checklist items and their results (findings) of the audits you can see; the audit
    team records results and raises nonconformities. Filter with ``?audit=<id>``."""

    queryset = ChecklistItem.objects.all()
    serializer_class = FindingSerializer
    view_perm = roles.AUDIT_VIEW
    ordering = ["audit_id", "position", "id"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def may_use(self, user, perm):
        # team members see their audits' checklists whatever their grants; others need a
        # grant to view audits
        if scope.has_perm(user, roles.AUDIT_VIEW) or scope.has_perm(user, roles.AUDIT_PERFORM):
            return True
        return Audit.objects.visible_to(user, roles.AUDIT_VIEW).exists()

    def get_queryset(self):
        audits = Audit.objects.visible_to(self.request.user, roles.AUDIT_VIEW)
        qs = ChecklistItem.objects.filter(audit__in=audits.values("pk"))
        audit = self.request.query_params.get("audit")
        if audit is not None:
            qs = qs.filter(audit_id=int(audit)) if is_id(audit) else qs.none()
        return qs.order_by("audit_id", "position", "id")

    def get_object(self):
        item = super().get_object()
        return ChecklistItem.objects.select_related(
            "audit__programme__org", "audit__lead_auditor"
        ).get(pk=item.pk)

    def _audit_unit(self, audit, unit_id):
        if unit_id is None:
            return None
        unit = audit.audited_units.filter(pk=unit_id).first()
        if unit is None:
            raise serializers.ValidationError({"unit": [_("Choose one of the audited units.")]})
        return unit

    @extend_schema(
        summary="Add a checklist item",
        request=FindingInputSerializer,
        responses={201: FindingSerializer, **_ERRORS},
    )
    def create(self, request, *args, **kwargs):
        serializer = FindingInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        audit = (
            Audit.objects.visible_to(request.user, roles.AUDIT_VIEW)
            .select_related("programme__org", "lead_auditor")
            .filter(pk=data.pop("audit"))
            .first()
        )
        if audit is None:
            raise Http404
        data["unit"] = self._audit_unit(audit, data.get("unit"))
        item = services.add_checklist_item(actor=request.user, audit=audit, data=data)
        return Response(FindingSerializer(item).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Record the result and evidence (version required)",
        request=FindingResultInputSerializer,
        responses={200: FindingSerializer, **_ERRORS},
    )
    def partial_update(self, request, *args, **kwargs):
        item = self.get_object()
        serializer = FindingResultInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        item = services.record_result(
            actor=request.user,
            item=item,
            result=data["result"],
            evidence=data.get("evidence") or "",
            version=data["version"],
        )
        return Response(FindingSerializer(item).data)

    @extend_schema(summary="Delete a checklist item", responses={204: None, **_ERRORS})
    def destroy(self, request, *args, **kwargs):
        services.delete_checklist_item(actor=request.user, item=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Raise a nonconformity from a nonconforming result",
        request=RaiseFindingSerializer,
        responses={201: RaisedSerializer, **_ERRORS},
    )
    @action(detail=True, methods=["post"], url_path="raise-nonconformity")
    def raise_nonconformity(self, request, pk=None):
        item = self.get_object()
        serializer = RaiseFindingSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        unit = self._audit_unit(item.audit, data.get("unit"))
        nc = services.raise_from_item(
            actor=request.user,
            item=item,
            title=data["title"],
            correction_due=data["correction_due"],
            unit=unit,
        )
        return Response({"id": nc.pk, "number": nc.number}, status=status.HTTP_201_CREATED)
