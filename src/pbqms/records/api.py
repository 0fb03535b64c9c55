"""REST API of records: ``/api/record-templates/`` (read; create and edit by party
committee administrators) and ``/api/records/`` (scoped
list/retrieve; create a draft; edit a draft; ``submit`` and ``amend`` actions). Every write
calls ``pbqms.records.services``; their errors become 400/403/404/409."""

from __future__ import annotations

import django_filters
from django.db.models import Prefetch, Q
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from pbqms.core import roles, scope
from pbqms.core.api import (
    MAX_ID,
    VERSIONED_ERROR_RESPONSES,
    ScopedPrimaryKeyField,
    VersionField,
)
from pbqms.core.filters import UtcIsoDateTimeFilter
from pbqms.orgs.models import Organization
from pbqms.records import services
from pbqms.records.models import Record, RecordAttendance, RecordTemplate

_ERRORS = VERSIONED_ERROR_RESPONSES


# ---------------------------------------------------------------- serializers


class RecordTemplateSerializer(serializers.ModelSerializer):
    class Meta:
        model = RecordTemplate
        fields = [
            "id",
            "code",
            "name",
            "kind",
            "description",
            "fields",
            "has_attendance",
            "is_builtin",
            "is_active",
            "version",
        ]


class AttendanceSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="person_name")

    class Meta:
        model = RecordAttendance
        fields = ["person", "name", "present", "absence_reason"]


class RecordSerializer(serializers.ModelSerializer):
    template_code = serializers.CharField(source="template.code", read_only=True)
    org_name = serializers.CharField(source="org.name", read_only=True)
    attendance = AttendanceSerializer(many=True, read_only=True)
    present = serializers.SerializerMethodField()
    total = serializers.SerializerMethodField()

    class Meta:
        model = Record
        fields = [
            "id",
            "template",
            "template_code",
            "org",
            "org_name",
            "title",
            "occurred_at",
            "status",
            "submitted_at",
            "data",
            "attendance",
            "present",
            "total",
            "amendment_count",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_present(self, obj) -> int:
        return sum(1 for a in obj.attendance.all() if a.present)

    def get_total(self, obj) -> int:
        return len(obj.attendance.all())


class AttendanceInputSerializer(serializers.Serializer):
    person = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    present = serializers.BooleanField()
    reason = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")


class RecordCreateSerializer(serializers.Serializer):
    template = serializers.PrimaryKeyRelatedField(
        queryset=RecordTemplate.objects.filter(is_active=True)
    )
    org = ScopedPrimaryKeyField(model=Organization, perm=roles.RECORD_ADD)
    title = serializers.CharField(max_length=200)
    occurred_at = serializers.DateTimeField()
    data = serializers.DictField(required=False, default=dict)
    attendance = AttendanceInputSerializer(many=True, required=False)


class RecordUpdateSerializer(serializers.Serializer):
    version = VersionField()
    title = serializers.CharField(max_length=200, required=False)
    occurred_at = serializers.DateTimeField(required=False)
    data = serializers.DictField(required=False)
    attendance = AttendanceInputSerializer(many=True, required=False)


class RecordAmendSerializer(RecordUpdateSerializer):
    reason = serializers.CharField(max_length=2000)


class SubmitSerializer(serializers.Serializer):
    version = VersionField(required=False)


# ---------------------------------------------------------------- filters


class RecordFilter(django_filters.FilterSet):
    template = django_filters.CharFilter(method="filter_template", label="template id or code")
    kind = django_filters.ChoiceFilter(
        field_name="template__kind", choices=RecordTemplate.Kind.choices
    )
    status = django_filters.ChoiceFilter(choices=Record.Status.choices)
    within = django_filters.NumberFilter(method="filter_within", label="unit id and its subtree")
    occurred_after = UtcIsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    occurred_before = UtcIsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")
    search = django_filters.CharFilter(field_name="title", lookup_expr="icontains")

    class Meta:
        model = Record
        fields = []

    def filter_template(self, queryset, name, value):
        if value.isdigit() and 0 < int(value) <= MAX_ID:
            return queryset.filter(Q(template_id=int(value)) | Q(template__code=value))
        return queryset.filter(template__code=value)

    def filter_within(self, queryset, name, value):
        if value is None:
            return queryset
        if value != int(value) or not 0 < value <= MAX_ID:
            return queryset.none()
        unit = (
            Organization.objects.visible_to(self.request.user, roles.RECORD_VIEW)
            .filter(pk=int(value))
            .first()
        )
        if unit is None:
            return queryset.none()
        return queryset.filter(org__path__startswith=unit.path)


# ---------------------------------------------------------------- viewsets


class TemplateFieldSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=40)
    label = serializers.CharField(max_length=100)
    type = serializers.CharField(max_length=12)
    required = serializers.BooleanField(default=False)
    choices = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, max_length=50
    )
    help = serializers.CharField(max_length=200, required=False, allow_blank=True)
    min = serializers.DecimalField(max_digits=20, decimal_places=6, required=False)
    max = serializers.DecimalField(max_digits=20, decimal_places=6, required=False)


class RecordTemplateInputSerializer(serializers.Serializer):
    version = VersionField(required=False)
    code = serializers.CharField(max_length=40)
    name = serializers.CharField(max_length=100)
    kind = serializers.ChoiceField(choices=RecordTemplate.Kind.choices)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    has_attendance = serializers.BooleanField(default=True)
    is_active = serializers.BooleanField(default=True)
    fields = TemplateFieldSerializer(many=True, max_length=40)


@extend_schema_view(
    list=extend_schema(summary="Record templates"),
    retrieve=extend_schema(summary="One record template"),
)
class RecordTemplateViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Record templates: their fields define what a record contains. Party committee
    administrators create templates and edit user-made ones (built-in ones are copied: a
    ``PUT`` on a built-in template is refused)."""

    queryset = RecordTemplate.objects.all().order_by("kind", "code")
    serializer_class = RecordTemplateSerializer
    filterset_fields = ["kind", "is_active", "code"]
    ordering_fields = ["code", "name", "kind"]
    lookup_value_regex = r"[0-9]{1,18}"

    def get_queryset(self):
        from rest_framework.exceptions import PermissionDenied

        if not scope.has_perm(self.request.user, roles.RECORD_VIEW):
            raise PermissionDenied
        return super().get_queryset()

    def _save(self, template, request, http_status):
        from pbqms.records import templates_admin

        if not templates_admin.may_manage(request.user):
            from rest_framework.exceptions import PermissionDenied

            raise PermissionDenied
        serializer = RecordTemplateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        fields = []
        for spec in data.pop("fields"):
            spec = dict(spec)
            for key in ("min", "max"):
                if key in spec:
                    spec[key] = float(spec[key])
            fields.append(spec)
        saved = templates_admin.save_template(
            actor=request.user,
            template=template,
            fields=fields,
            expected_version=data.pop("version", None) if template.pk else None,
            **{k: v for k, v in data.items() if k != "version"},
        )
        return Response(RecordTemplateSerializer(saved).data, status=http_status)

    @extend_schema(
        summary="Create a record template",
        request=RecordTemplateInputSerializer,
        responses={201: RecordTemplateSerializer, **_ERRORS},
    )
    def create(self, request):
        return self._save(RecordTemplate(), request, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Replace a user-made record template (send its version)",
        request=RecordTemplateInputSerializer,
        responses={200: RecordTemplateSerializer, **_ERRORS},
    )
    def update(self, request, pk=None):
        return self._save(self.get_object(), request, status.HTTP_200_OK)


@extend_schema_view(
    list=extend_schema(summary="Records you can see"),
    retrieve=extend_schema(summary="One record", responses={200: RecordSerializer, **_ERRORS}),
)
class RecordViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Records of units (drafts are visible to secretaries, party workers and committee
    administrators; members see submitted records of their unit)."""

    serializer_class = RecordSerializer
    filterset_class = RecordFilter
    ordering_fields = ["occurred_at", "title", "created_at"]
    ordering = ["-occurred_at"]
    queryset = Record.objects.none()

    def get_queryset(self):
        from rest_framework.exceptions import PermissionDenied

        user = self.request.user
        if not scope.has_perm(user, roles.RECORD_VIEW):
            raise PermissionDenied
        return (
            services.visible_records(user)
            .select_related("template", "org")
            .prefetch_related(
                Prefetch("attendance", queryset=RecordAttendance.objects.order_by("id"))
            )
            .order_by("-occurred_at", "-id")
        )

    def _record(self, pk) -> Record:
        return services.get_record_or_404(self.request.user, pk)

    def _out(self, record: Record, http_status=status.HTTP_200_OK) -> Response:
        record = self.get_queryset().get(pk=record.pk)
        return Response(self.get_serializer(record).data, status=http_status)

    def _input(self, serializer_class):
        serializer = serializer_class(data=self.request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    @extend_schema(
        summary="Create a draft record",
        request=RecordCreateSerializer,
        responses={201: RecordSerializer, **_ERRORS},
    )
    def create(self, request):
        if not scope.has_perm(request.user, roles.RECORD_ADD):
            from rest_framework.exceptions import PermissionDenied

            raise PermissionDenied
        data = self._input(RecordCreateSerializer)
        record = services.create_record(
            actor=request.user,
            org=data["org"],
            template=data["template"],
            title=data["title"],
            occurred_at=data["occurred_at"],
            data=data.get("data") or {},
            attendance=data.get("attendance"),
        )
        return self._out(record, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Edit a draft record (a submitted one is changed by amend)",
        request=RecordUpdateSerializer,
        responses={200: RecordSerializer, **_ERRORS},
    )
    def partial_update(self, request, pk=None):
        record = self._record(pk)
        data = self._input(RecordUpdateSerializer)
        services.update_draft(
            record,
            actor=request.user,
            expected_version=data["version"],
            title=data.get("title"),
            occurred_at=data.get("occurred_at"),
            data=data.get("data"),
            attendance=data.get("attendance"),
        )
        return self._out(record)

    @extend_schema(
        summary="Submit a draft record (it is then locked)",
        request=SubmitSerializer,
        responses={200: RecordSerializer, **_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        record = self._record(pk)
        data = self._input(SubmitSerializer)
        services.submit_record(record, actor=request.user, expected_version=data.get("version"))
        return self._out(record)

    @extend_schema(
        summary="Amend a submitted record (reason required)",
        request=RecordAmendSerializer,
        responses={200: RecordSerializer, **_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def amend(self, request, pk=None):
        record = self._record(pk)
        data = self._input(RecordAmendSerializer)
        services.amend_record(
            record,
            actor=request.user,
            reason=data["reason"],
            expected_version=data["version"],
            title=data.get("title"),
            occurred_at=data.get("occurred_at"),
            data=data.get("data"),
            attendance=data.get("attendance"),
        )
        return self._out(record)
