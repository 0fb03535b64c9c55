"""REST API of the process map: ``/api/processes/`` (read: your units' and your committees'
processes; create and edit: the committee, through ``pbqms.processes.services``)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from pbqms.core import roles
from pbqms.core.api import ScopedPrimaryKeyField, ScopedViewSetMixin, VersionField
from pbqms.objectives.api import _ERRORS, ID_REGEX
from pbqms.orgs.models import Organization
from pbqms.processes import services
from pbqms.processes.models import Process


class ProcessSerializer(serializers.ModelSerializer):
    org_name = serializers.CharField(source="org.name", read_only=True)
    documents = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    record_templates = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    indicators = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    requirements = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    obligations = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Process
        fields = [
            "id",
            "org",
            "org_name",
            "code",
            "name",
            "kind",
            "owner_role",
            "purpose",
            "inputs",
            "outputs",
            "sort_order",
            "is_active",
            "is_builtin",
            "documents",
            "record_templates",
            "indicators",
            "requirements",
            "obligations",
            "version",
        ]
        read_only_fields = fields


def _ids():
    return serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**62),
        required=False,
        max_length=500,
        help_text="ids of the linked objects",
    )


class ProcessInputSerializer(serializers.Serializer):
    version = VersionField(required=False)
    org = ScopedPrimaryKeyField(model=Organization, perm=roles.PROCESS_MANAGE)
    code = serializers.CharField(max_length=20)
    name = serializers.CharField(max_length=100)
    kind = serializers.ChoiceField(choices=Process.Kind.choices, default=Process.Kind.CORE)
    owner_role = serializers.CharField(max_length=100, required=False, allow_blank=True)
    purpose = serializers.CharField(max_length=4000, required=False, allow_blank=True)
    inputs = serializers.CharField(max_length=4000, required=False, allow_blank=True)
    outputs = serializers.CharField(max_length=4000, required=False, allow_blank=True)
    sort_order = serializers.IntegerField(min_value=0, max_value=32767, required=False)
    is_active = serializers.BooleanField(required=False)
    documents = _ids()
    record_templates = _ids()
    indicators = _ids()
    requirements = _ids()
    obligations = _ids()


@extend_schema_view(
    list=extend_schema(summary="Processes of your units and of the committees above"),
    retrieve=extend_schema(summary="One process"),
)
class ProcessViewSet(
    ScopedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """党建工作主要过程: code, owner, inputs (needs), outputs (satisfaction) and the links
    to documents, record templates, indicators, requirements and obligations."""

    view_perm = roles.PROCESS_VIEW
    action_perms = {"create": roles.PROCESS_MANAGE, "update": roles.PROCESS_MANAGE}
    parser_classes = [JSONParser]
    lookup_value_regex = ID_REGEX
    queryset = (
        Process.objects.select_related("org")
        .prefetch_related(*services.LINKS)
        .order_by("org__path", "sort_order", "code")
    )
    serializer_class = ProcessSerializer
    filterset_fields = ["org", "kind", "code", "is_active"]

    def _save(self, process, http_status):
        serializer = ProcessInputSerializer(
            data=self.request.data, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        version = data.pop("version", None)
        org = data.pop("org")
        if process is not None and org.pk != process.org_id:
            raise serializers.ValidationError({"org": ["The owner unit cannot change."]})
        allowed = services.allowed_links(self.request.user, org)
        for name in services.LINKS:
            if name in data:
                ids = set(data[name])
                found = list(allowed[name].filter(pk__in=ids))
                if len(found) != len(ids):
                    raise serializers.ValidationError({name: ["Unknown or not allowed ids."]})
                data[name] = found
        process = services.save_process(
            actor=self.request.user, org=org, data=data, process=process, version=version
        )
        process = self.get_queryset().get(pk=process.pk)
        return Response(self.get_serializer(process).data, status=http_status)

    @extend_schema(
        summary="Add a process", request=ProcessInputSerializer,
        responses={201: ProcessSerializer, **_ERRORS},
    )  # fmt: skip
    def create(self, request):
        return self._save(None, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Edit a process (send its version)", request=ProcessInputSerializer,
        responses={200: ProcessSerializer, **_ERRORS},
    )  # fmt: skip
    def update(self, request, pk=None):
        return self._save(self.get_object(), status.HTTP_200_OK)
