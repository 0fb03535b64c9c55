"""REST API of the quality system: ``/api/requirements/`` (read), ``/api/obligations/``
(read; create and edit by the committee that sets them), ``/api/conformity/`` (the
conformity results of the units in the caller's scope, read only) and ``/api/coverage/``
(requirements × documents, processes, obligations; gaps and orphan documents)."""

from __future__ import annotations

import django_filters
from django.utils import timezone
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from pbqms.core import roles, scope
from pbqms.core.api import (
    MAX_ID,
    VERSIONED_ERROR_RESPONSES,
    ScopedPrimaryKeyField,
    VersionField,
)
from pbqms.core.ids import is_id
from pbqms.core.locking import check_version
from pbqms.orgs.models import Organization
from pbqms.records.models import RecordTemplate
from pbqms.system import engine, services
from pbqms.system.models import (
    ConformityResult,
    ConformityStatus,
    Counting,
    Frequency,
    Obligation,
    Requirement,
)

_ERRORS = VERSIONED_ERROR_RESPONSES


class RequirementSerializer(serializers.ModelSerializer):
    class Meta:
        model = Requirement
        fields = [
            "id",
            "source",
            "code",
            "title",
            "text",
            "reference",
            "frequency_note",
            "is_builtin",
            "is_active",
        ]


class ObligationSerializer(serializers.ModelSerializer):
    requirement_code = serializers.CharField(source="requirement.code", read_only=True)
    activity_code = serializers.CharField(source="activity.code", read_only=True)
    orgs = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Obligation
        fields = [
            "id",
            "name",
            "requirement",
            "requirement_code",
            "owner",
            "applies_to_kinds",
            "orgs",
            "activity",
            "activity_code",
            "frequency",
            "interval_months",
            "anchor_on",
            "due_offset_days",
            "counting",
            "min_attendance_ratio",
            "active_from",
            "active_to",
            "is_active",
            "version",
        ]
        read_only_fields = fields


class ObligationInputSerializer(serializers.Serializer):
    version = VersionField(required=False)
    name = serializers.CharField(max_length=200)
    requirement = serializers.PrimaryKeyRelatedField(queryset=Requirement.objects.all())
    owner = ScopedPrimaryKeyField(model=Organization, perm=roles.OBLIGATION_MANAGE)
    applies_to_kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=Organization.Kind.choices),
        required=False,
        default=list,
        max_length=10,
    )
    orgs = serializers.ListField(
        child=ScopedPrimaryKeyField(model=Organization, perm=roles.OBLIGATION_MANAGE),
        required=False,
        default=list,
        max_length=500,
    )
    activity = serializers.PrimaryKeyRelatedField(queryset=RecordTemplate.objects.all())
    frequency = serializers.ChoiceField(choices=Frequency.choices)
    interval_months = serializers.IntegerField(
        min_value=1, max_value=60, required=False, allow_null=True
    )
    anchor_on = serializers.DateField(required=False, allow_null=True)
    due_offset_days = serializers.IntegerField(
        min_value=0, max_value=3650, required=False, allow_null=True
    )
    counting = serializers.ChoiceField(choices=Counting.choices, default=Counting.NONE)
    min_attendance_ratio = serializers.DecimalField(
        max_digits=3, decimal_places=2, min_value=0, max_value=1, required=False, allow_null=True
    )
    active_from = serializers.DateField(required=False, allow_null=True)
    active_to = serializers.DateField(required=False, allow_null=True)
    is_active = serializers.BooleanField(default=True)

    def validate(self, attrs):
        if not attrs.get("applies_to_kinds") and not attrs.get("orgs"):
            raise serializers.ValidationError({"applies_to_kinds": ["Choose unit kinds or units."]})
        return attrs


class ConformitySerializer(serializers.ModelSerializer):
    org_name = serializers.CharField(source="org.name", read_only=True)
    obligation_name = serializers.CharField(source="obligation.name", read_only=True)
    status = serializers.SerializerMethodField()

    class Meta:
        model = ConformityResult
        fields = [
            "id",
            "org",
            "org_name",
            "obligation",
            "obligation_name",
            "period_start",
            "period_end",
            "due_on",
            "status",
            "record_ids",
            "flagged_ids",
            "computed_at",
        ]
        read_only_fields = fields

    def get_status(self, obj) -> str:
        return engine.effective_status(obj.status, obj.due_on, timezone.localdate())


class ConformityFilter(django_filters.FilterSet):
    org = django_filters.NumberFilter(method="filter_id", label="unit id")
    obligation = django_filters.NumberFilter(method="filter_id", label="obligation id")
    year = django_filters.NumberFilter(method="filter_year", label="year of the due date")
    status = django_filters.ChoiceFilter(choices=ConformityStatus.choices)
    due_after = django_filters.DateFilter(field_name="due_on", lookup_expr="gte")
    due_before = django_filters.DateFilter(field_name="due_on", lookup_expr="lte")

    class Meta:
        model = ConformityResult
        fields = []

    def filter_id(self, queryset, name, value):
        if value is None:
            return queryset
        if value != int(value) or not 0 < value <= MAX_ID:
            return queryset.none()
        return queryset.filter(**{f"{name}_id": int(value)})

    def filter_year(self, queryset, name, value):
        if value is None:
            return queryset
        if value != int(value) or not 2000 <= value <= 2100:
            return queryset.none()
        return queryset.filter(due_on__year=int(value))


def _require(user, perm):
    if not scope.has_perm(user, perm):
        raise PermissionDenied


@extend_schema_view(
    list=extend_schema(summary="Requirement library"),
    retrieve=extend_schema(summary="One requirement"),
)
class RequirementViewSet(viewsets.ReadOnlyModelViewSet):
    """Requirements (ISO 9001 clauses, party regulations, internal rules)."""

    queryset = Requirement.objects.all().order_by("source", "sort_key", "code")
    serializer_class = RequirementSerializer
    filterset_fields = ["source", "code", "is_active"]

    def get_queryset(self):
        _require(self.request.user, roles.REQUIREMENT_VIEW)
        return super().get_queryset()


@extend_schema_view(
    list=extend_schema(summary="Obligations"),
    retrieve=extend_schema(summary="One obligation"),
)
class ObligationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Obligations: which units must do which activity how often. Writes: the party
    committee administrator of the setting unit."""

    serializer_class = ObligationSerializer
    parser_classes = [JSONParser]
    filterset_fields = ["requirement", "activity", "frequency", "is_active", "owner"]
    queryset = Obligation.objects.none()

    def get_queryset(self):
        _require(self.request.user, roles.OBLIGATION_VIEW)
        return (
            Obligation.objects.visible_to(self.request.user)
            .select_related("requirement", "activity")
            .prefetch_related("orgs")
            .order_by("id")
        )

    def _save(self, obligation, request, http_status):
        _require(request.user, roles.OBLIGATION_MANAGE)
        serializer = ObligationInputSerializer(
            data=request.data, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if obligation.pk is not None:
            check_version(obligation, data.pop("version", None))
        data.pop("version", None)
        orgs = data.pop("orgs", [])
        for key, value in data.items():
            setattr(obligation, key, value)
        services.save_obligation(actor=request.user, obligation=obligation, orgs=orgs)
        obligation = self.get_queryset().get(pk=obligation.pk)
        return Response(self.get_serializer(obligation).data, status=http_status)

    @extend_schema(
        summary="Create an obligation",
        request=ObligationInputSerializer,
        responses={201: ObligationSerializer, **_ERRORS},
    )
    def create(self, request):
        return self._save(Obligation(), request, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Replace an obligation (send its version)",
        request=ObligationInputSerializer,
        responses={200: ObligationSerializer, **_ERRORS},
    )
    def update(self, request, pk=None):
        obligation = self.get_object()
        if not scope.has_perm(request.user, roles.OBLIGATION_MANAGE, obligation.owner):
            raise PermissionDenied
        return self._save(obligation, request, status.HTTP_200_OK)


@extend_schema_view(
    list=extend_schema(summary="Conformity results of the units in your scope"),
    retrieve=extend_schema(summary="One conformity result"),
)
class ConformityViewSet(viewsets.ReadOnlyModelViewSet):
    """One row per (unit, obligation, period): met, late, missing, upcoming, not
    applicable or excepted, with the records that satisfied it."""

    serializer_class = ConformitySerializer
    filterset_class = ConformityFilter
    queryset = ConformityResult.objects.none()
    lookup_value_regex = r"[0-9]{1,18}"

    def get_queryset(self):
        _require(self.request.user, roles.CONFORMITY_VIEW)
        return (
            services.results_for(self.request.user)
            .select_related("org", "obligation")
            .order_by("org__path", "obligation_id", "period_start")
        )

    def get_object(self):
        pk = self.kwargs.get("pk")
        if not is_id(str(pk)):
            from django.http import Http404

            raise Http404
        return super().get_object()


class CoverageLinkSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    label = serializers.CharField()


class CoverageRowSerializer(serializers.Serializer):
    requirement = serializers.IntegerField(source="requirement.pk")
    code = serializers.CharField(source="requirement.code")
    title = serializers.CharField(source="requirement.title")
    source = serializers.CharField(source="requirement.source")
    documents = serializers.SerializerMethodField()
    processes = serializers.SerializerMethodField()
    obligations = serializers.SerializerMethodField()
    is_gap = serializers.BooleanField()

    def get_documents(self, row) -> list[dict]:
        return [{"id": d["id"], "label": f"{d['number']} {d['title']}"} for d in row.documents]

    def get_processes(self, row) -> list[dict]:
        return [{"id": p["id"], "label": f"{p['code']} {p['name']}"} for p in row.processes]

    def get_obligations(self, row) -> list[dict]:
        return [{"id": o["id"], "label": o["name"]} for o in row.obligations]


class OrphanDocumentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    title = serializers.CharField()
    org = serializers.IntegerField(source="org_id")


class CoverageViewSet(viewsets.GenericViewSet):
    """Requirement coverage: each active requirement with the documents (that you may
    open), processes and obligations that address it; ``is_gap`` when nothing does.
    ``?gaps=1`` lists the gaps only, ``?source=`` filters by source. ``orphans/``: effective
    documents that address no requirement."""

    serializer_class = CoverageRowSerializer
    queryset = Requirement.objects.none()

    @extend_schema(
        summary="Requirement coverage matrix",
        parameters=[
            OpenApiParameter("gaps", bool, description="only requirements nothing addresses"),
            OpenApiParameter("source", str, enum=Requirement.Source.values),
        ],
        responses={200: CoverageRowSerializer(many=True), **_ERRORS},
    )
    def list(self, request):
        from pbqms.system import coverage

        _require(request.user, roles.REQUIREMENT_VIEW)
        source = request.query_params.get("source") or ""
        if source and source not in Requirement.Source.values:
            raise ValidationError({"source": ["Unknown source."]})
        rows = coverage.matrix(
            request.user, source=source, gaps_only=request.query_params.get("gaps") in ("1", "true")
        )
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(CoverageRowSerializer(page, many=True).data)

    @extend_schema(
        summary="Orphan documents (effective, address no requirement)",
        responses={200: OrphanDocumentSerializer(many=True), **_ERRORS},
    )
    @action(detail=False, methods=["get"])
    def orphans(self, request):
        from pbqms.system import coverage

        _require(request.user, roles.REQUIREMENT_VIEW)
        qs = coverage.orphan_documents(request.user)
        if qs is None:
            qs = []
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(OrphanDocumentSerializer(page, many=True).data)
