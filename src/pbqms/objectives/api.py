"""REST API of policy and objectives: ``/api/policies/``, ``/api/objectives/``,
``/api/indicators/`` (with their breakdown to units) and ``/api/indicator-values/``. Reads
are scoped like the pages (a unit sees its own and its committees' policies); every write
goes through ``pbqms.objectives.services``."""

from __future__ import annotations

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from pbqms.core import roles
from pbqms.core.api import (
    VERSIONED_ERROR_RESPONSES,
    ScopedPrimaryKeyField,
    ScopedViewSetMixin,
    VersionField,
)
from pbqms.objectives import services
from pbqms.objectives.models import Indicator, IndicatorTarget, Measurement, Objective, Policy
from pbqms.orgs.models import Organization

_ERRORS = VERSIONED_ERROR_RESPONSES
ID_REGEX = r"[0-9]{1,18}"


# ---------------------------------------------------------------- serializers


class PolicySerializer(serializers.ModelSerializer):
    org_name = serializers.CharField(source="org.name", read_only=True)

    class Meta:
        model = Policy
        fields = ["id", "org", "org_name", "year", "title", "statement", "notes", "version"]
        read_only_fields = fields


class PolicyInputSerializer(serializers.Serializer):
    version = VersionField(required=False)
    org = ScopedPrimaryKeyField(model=Organization, perm=roles.OBJECTIVE_MANAGE)
    year = serializers.IntegerField(min_value=2000, max_value=2100)
    title = serializers.CharField(max_length=200)
    statement = serializers.CharField(max_length=4000)
    notes = serializers.CharField(max_length=10000, required=False, allow_blank=True, default="")


class ObjectiveSerializer(serializers.ModelSerializer):
    year = serializers.IntegerField(source="policy.year", read_only=True)
    indicators = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Objective
        fields = [
            "id",
            "policy",
            "org",
            "year",
            "code",
            "title",
            "description",
            "sort_order",
            "indicators",
            "version",
        ]
        read_only_fields = fields


class ObjectiveInputSerializer(serializers.Serializer):
    version = VersionField(required=False)
    policy = ScopedPrimaryKeyField(model=Policy, perm=roles.OBJECTIVE_MANAGE)
    code = serializers.CharField(max_length=20)
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(
        max_length=4000, required=False, allow_blank=True, default=""
    )
    sort_order = serializers.IntegerField(min_value=0, max_value=32767, default=0)


class TargetSerializer(serializers.ModelSerializer):
    class Meta:
        model = IndicatorTarget
        fields = ["org", "target"]


class IndicatorSerializer(serializers.ModelSerializer):
    year = serializers.IntegerField(source="objective.policy.year", read_only=True)
    targets = TargetSerializer(many=True, read_only=True)

    class Meta:
        model = Indicator
        fields = [
            "id",
            "objective",
            "org",
            "year",
            "code",
            "name",
            "unit_of_measure",
            "direction",
            "target",
            "source",
            "description",
            "sort_order",
            "targets",
            "version",
        ]
        read_only_fields = fields


class IndicatorInputSerializer(serializers.Serializer):
    version = VersionField(required=False)
    objective = ScopedPrimaryKeyField(model=Objective, perm=roles.OBJECTIVE_MANAGE)
    code = serializers.CharField(max_length=20)
    name = serializers.CharField(max_length=200)
    unit_of_measure = serializers.CharField(
        max_length=20, required=False, allow_blank=True, default=""
    )
    direction = serializers.ChoiceField(choices=Indicator.Direction.choices)
    target = serializers.DecimalField(max_digits=12, decimal_places=2)
    source = serializers.ChoiceField(choices=Indicator.Source.choices, default="manual")
    description = serializers.CharField(
        max_length=4000, required=False, allow_blank=True, default=""
    )
    sort_order = serializers.IntegerField(min_value=0, max_value=32767, default=0)


class MeasurementSerializer(serializers.ModelSerializer):
    year = serializers.IntegerField(source="indicator.objective.policy.year", read_only=True)
    code = serializers.CharField(source="indicator.code", read_only=True)

    class Meta:
        model = Measurement
        fields = ["id", "indicator", "code", "org", "year", "value", "source", "note", "version"]
        read_only_fields = fields


class MeasurementInputSerializer(serializers.Serializer):
    indicator = ScopedPrimaryKeyField(model=Indicator, perm=roles.OBJECTIVE_VIEW)
    org = ScopedPrimaryKeyField(model=Organization, perm=roles.MEASUREMENT_ENTER)
    value = serializers.DecimalField(max_digits=12, decimal_places=2)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    version = VersionField(required=False)


# ---------------------------------------------------------------- viewsets


class _Base(ScopedViewSetMixin, viewsets.GenericViewSet):
    view_perm = roles.OBJECTIVE_VIEW
    action_perms = {"create": roles.OBJECTIVE_MANAGE, "update": roles.OBJECTIVE_MANAGE}
    parser_classes = [JSONParser]
    lookup_value_regex = ID_REGEX
    input_class: type[serializers.Serializer]

    def _input(self):
        serializer = self.input_class(data=self.request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def _out(self, obj, http_status):
        obj = self.get_queryset().get(pk=obj.pk)
        return Response(self.get_serializer(obj).data, status=http_status)


@extend_schema_view(
    list=extend_schema(summary="Policies (方针) of your units and of the committees above"),
    retrieve=extend_schema(summary="One policy"),
)
class PolicyViewSet(_Base, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    queryset = Policy.objects.select_related("org").order_by("org__path", "-year")
    serializer_class = PolicySerializer
    input_class = PolicyInputSerializer
    filterset_fields = ["org", "year"]

    @extend_schema(
        summary="State a policy", request=PolicyInputSerializer,
        responses={201: PolicySerializer, **_ERRORS},
    )  # fmt: skip
    def create(self, request):
        data = self._input()
        data.pop("version", None)
        policy = services.save_policy(actor=request.user, **data)
        return self._out(policy, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Edit a policy (send its version)", request=PolicyInputSerializer,
        responses={200: PolicySerializer, **_ERRORS},
    )  # fmt: skip
    def update(self, request, pk=None):
        policy = self.get_object()
        data = self._input()
        policy = services.save_policy(actor=request.user, policy=policy, **data)
        return self._out(policy, status.HTTP_200_OK)


@extend_schema_view(
    list=extend_schema(summary="Objectives (目标) of your units and of the committees above"),
    retrieve=extend_schema(summary="One objective"),
)
class ObjectiveViewSet(_Base, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    queryset = (
        Objective.objects.select_related("policy")
        .prefetch_related("indicators")
        .order_by("policy_id", "sort_order", "code", "id")
    )
    serializer_class = ObjectiveSerializer
    input_class = ObjectiveInputSerializer
    filterset_fields = ["org", "policy", "policy__year"]

    @extend_schema(
        summary="Add an objective to a policy", request=ObjectiveInputSerializer,
        responses={201: ObjectiveSerializer, **_ERRORS},
    )  # fmt: skip
    def create(self, request):
        data = self._input()
        data.pop("version", None)
        objective = services.save_objective(actor=request.user, **data)
        return self._out(objective, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Edit an objective (send its version)", request=ObjectiveInputSerializer,
        responses={200: ObjectiveSerializer, **_ERRORS},
    )  # fmt: skip
    def update(self, request, pk=None):
        objective = self.get_object()
        data = self._input()
        data["policy"] = objective.policy
        objective = services.save_objective(actor=request.user, objective=objective, **data)
        return self._out(objective, status.HTTP_200_OK)


@extend_schema_view(
    list=extend_schema(summary="Indicators (指标) with their breakdown to units"),
    retrieve=extend_schema(summary="One indicator"),
)
class IndicatorViewSet(_Base, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    queryset = (
        Indicator.objects.select_related("objective__policy")
        .prefetch_related("targets")
        .order_by("objective_id", "sort_order", "code", "id")
    )
    serializer_class = IndicatorSerializer
    input_class = IndicatorInputSerializer
    filterset_fields = ["org", "objective", "code", "source", "objective__policy__year"]

    def get_queryset(self):
        # a unit sees a committee's indicator, but only the targets of units it may see
        # (as on the indicator page), not its sister units' shares
        visible = Organization.objects.visible_to(self.request.user, roles.OBJECTIVE_VIEW)
        targets = IndicatorTarget.objects.filter(org_id__in=visible.values("pk"))
        return (
            super()
            .get_queryset()
            .prefetch_related(None)
            .prefetch_related(Prefetch("targets", queryset=targets))
        )

    @extend_schema(
        summary="Add an indicator to an objective", request=IndicatorInputSerializer,
        responses={201: IndicatorSerializer, **_ERRORS},
    )  # fmt: skip
    def create(self, request):
        data = self._input()
        data.pop("version", None)
        indicator = services.save_indicator(actor=request.user, **data)
        return self._out(indicator, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Edit an indicator (send its version)", request=IndicatorInputSerializer,
        responses={200: IndicatorSerializer, **_ERRORS},
    )  # fmt: skip
    def update(self, request, pk=None):
        indicator = self.get_object()
        data = self._input()
        data["objective"] = indicator.objective
        indicator = services.save_indicator(actor=request.user, indicator=indicator, **data)
        return self._out(indicator, status.HTTP_200_OK)


@extend_schema_view(
    list=extend_schema(summary="Indicator values of the units in your scope"),
    retrieve=extend_schema(summary="One indicator value"),
)
class MeasurementViewSet(_Base, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    action_perms = {"create": roles.MEASUREMENT_ENTER}
    queryset = Measurement.objects.select_related("indicator__objective__policy").order_by(
        "indicator_id", "org_id"
    )
    serializer_class = MeasurementSerializer
    input_class = MeasurementInputSerializer
    filterset_fields = ["org", "indicator", "source"]

    @extend_schema(
        summary="Enter (or correct) a unit's value of a manual indicator",
        request=MeasurementInputSerializer, responses={201: MeasurementSerializer, **_ERRORS},
    )  # fmt: skip
    def create(self, request):
        data = self._input()
        measurement = services.enter_value(actor=request.user, **data)
        return self._out(measurement, status.HTTP_201_CREATED)
