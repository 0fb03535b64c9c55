"""REST API of work plans and tasks: ``/api/plans/`` (list, retrieve, create a draft, edit
its title; ``items`` to add an item to a draft; ``publish`` to cascade it) and
``/api/tasks/`` (list, retrieve; ``complete`` with the records that prove it; ``reopen``
with a reason). Reads go through ``visible_to`` (outside the scope: 404, absent from
lists); every write calls ``pbqms.plans.services`` with the same rules as the pages."""

from __future__ import annotations

from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from pbqms.core import roles
from pbqms.core.api import (
    ERROR_RESPONSES,
    BoundedPrimaryKeyField,
    ErrorSerializer,
    ScopedModelViewSet,
    ScopedPrimaryKeyField,
    ScopedReadOnlyViewSet,
    VersionField,
)
from pbqms.orgs.models import Organization
from pbqms.plans import services
from pbqms.plans.filters import TaskFilterSet, WorkPlanFilterSet
from pbqms.plans.models import Category, PlanItem, Task, WorkPlan
from pbqms.records.models import Record, RecordTemplate
from pbqms.system.models import Obligation

_ERRORS = ERROR_RESPONSES
_STALE = {409: OpenApiResponse(ErrorSerializer, description="Stale version.")}


# ---------------------------------------------------------------- read serializers


class PlanItemSerializer(serializers.ModelSerializer):
    target_orgs = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = PlanItem
        fields = [
            "id",
            "title",
            "description",
            "category",
            "due_on",
            "owner",
            "obligation",
            "record_template",
            "target_kinds",
            "target_orgs",
            "version",
        ]
        read_only_fields = fields


class WorkPlanSerializer(serializers.ModelSerializer):
    org_name = serializers.CharField(source="org.name", read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    items = PlanItemSerializer(many=True, read_only=True)

    class Meta:
        model = WorkPlan
        fields = [
            "id",
            "org",
            "org_name",
            "year",
            "title",
            "description",
            "status",
            "status_display",
            "published_at",
            "items",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class TaskSerializer(serializers.ModelSerializer):
    org_name = serializers.CharField(source="org.name", read_only=True)
    plan = serializers.IntegerField(source="item.plan_id", read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    records = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    is_overdue = serializers.SerializerMethodField()

    class Meta:
        model = Task
        fields = [
            "id",
            "item",
            "plan",
            "org",
            "org_name",
            "title",
            "due_on",
            "status",
            "status_display",
            "is_overdue",
            "completed_on",
            "completion_note",
            "records",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_is_overdue(self, task) -> bool:
        return task.is_overdue()


# ---------------------------------------------------------------- input serializers


class PlanInputSerializer(serializers.Serializer):
    org = ScopedPrimaryKeyField(model=Organization, perm=roles.PLAN_MANAGE)
    year = serializers.IntegerField(min_value=2000, max_value=2100)
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=5000, required=False, allow_blank=True)


class PlanUpdateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    version = VersionField()


class PlanItemInputSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    category = serializers.ChoiceField(choices=Category.choices, required=False, allow_blank=True)
    due_on = serializers.DateField()
    owner = serializers.CharField(max_length=100, required=False, allow_blank=True)
    obligation = BoundedPrimaryKeyField(
        queryset=Obligation.objects.filter(is_active=True), required=False, allow_null=True
    )
    record_template = BoundedPrimaryKeyField(
        queryset=RecordTemplate.objects.filter(is_active=True), required=False, allow_null=True
    )
    target_kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=Organization.Kind.choices),
        required=False,
        max_length=10,
    )
    target_orgs = serializers.ListField(
        child=ScopedPrimaryKeyField(model=Organization, perm=roles.PLAN_VIEW),
        required=False,
        max_length=500,
    )


class TaskCompleteInputSerializer(serializers.Serializer):
    records = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        max_length=services.MAX_EVIDENCE,
        help_text="Ids of submitted records of the task's unit that prove it (at least one).",
    )
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    completed_on = serializers.DateField(required=False, allow_null=True)


class TaskReopenInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


# ---------------------------------------------------------------- filters


class WorkPlanApiFilter(WorkPlanFilterSet):
    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        super().__init__(data, queryset, request=request, prefix=prefix, options=False)


class TaskApiFilter(TaskFilterSet):
    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        super().__init__(data, queryset, request=request, prefix=prefix, options=False)


def _input(view, serializer_class) -> dict:
    serializer = serializer_class(data=view.request.data, context=view.get_serializer_context())
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


# ---------------------------------------------------------------- viewsets


@extend_schema_view(
    list=extend_schema(summary="List the work plans you can see"),
    retrieve=extend_schema(
        summary="One work plan with its items", responses={200: WorkPlanSerializer, **_ERRORS}
    ),
)
class WorkPlanViewSet(ScopedModelViewSet):
    """Annual work plans (年度党建工作计划). A draft gets items; publishing cascades each
    item to its target units as tasks."""

    queryset = WorkPlan.objects.select_related("org").prefetch_related(
        Prefetch(
            "items",
            queryset=PlanItem.objects.prefetch_related(
                Prefetch("target_orgs", queryset=Organization.objects.only("id"))
            ).order_by("due_on", "sort_order", "id"),
        )
    )
    serializer_class = WorkPlanSerializer
    filterset_class = WorkPlanApiFilter
    view_perm = roles.PLAN_VIEW
    action_perms = {
        "create": roles.PLAN_MANAGE,
        "update": roles.PLAN_MANAGE,
        "partial_update": roles.PLAN_MANAGE,
        "items": roles.PLAN_MANAGE,
        "publish": roles.PLAN_MANAGE,
    }
    ordering_fields = ["id", "year", "title", "status"]
    ordering = ["-year", "id"]
    http_method_names = ["get", "post", "put", "head", "options"]

    def _out(self, plan, http_status=status.HTTP_200_OK):
        plan = self.get_queryset().get(pk=plan.pk)
        return Response(
            WorkPlanSerializer(plan, context=self.get_serializer_context()).data,
            status=http_status,
        )

    @extend_schema(
        summary="Create a draft work plan",
        request=PlanInputSerializer,
        responses={201: WorkPlanSerializer, **_ERRORS},
    )
    def create(self, request, *args, **kwargs):
        data = _input(self, PlanInputSerializer)
        plan = services.create_plan(actor=request.user, **data)
        return self._out(plan, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Edit a work plan's title and description (version required)",
        request=PlanUpdateSerializer,
        responses={200: WorkPlanSerializer, **_ERRORS, **_STALE},
    )
    def update(self, request, *args, **kwargs):
        data = _input(self, PlanUpdateSerializer)
        plan = self.get_object()
        services.update_plan(
            plan,
            actor=request.user,
            title=data["title"],
            description=data.get("description", ""),
            version=data["version"],
        )
        return self._out(plan)

    @extend_schema(
        summary="Add an item to a draft plan",
        request=PlanItemInputSerializer,
        responses={201: WorkPlanSerializer, **_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def items(self, request, pk=None):
        data = _input(self, PlanItemInputSerializer)
        plan = self.get_object()
        services.add_item(plan, actor=request.user, **data)
        return self._out(plan, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Publish a draft plan: cascade its items to the units as tasks",
        request=None,
        responses={200: WorkPlanSerializer, **_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        plan = self.get_object()
        services.publish_plan(plan, actor=request.user)
        return self._out(plan)


@extend_schema_view(
    list=extend_schema(summary="List the tasks you can see (filter overdue=true)"),
    retrieve=extend_schema(summary="One task", responses={200: TaskSerializer, **_ERRORS}),
)
class TaskViewSet(ScopedReadOnlyViewSet):
    """Tasks of published plans, one per plan item and owner unit. A task is completed with
    the submitted records of its unit that prove it."""

    queryset = Task.objects.select_related("org", "item").prefetch_related(
        Prefetch("records", queryset=Record.objects.only("id"))
    )
    serializer_class = TaskSerializer
    filterset_class = TaskApiFilter
    view_perm = roles.TASK_VIEW
    action_perms = {"complete": roles.TASK_COMPLETE, "reopen": roles.TASK_COMPLETE}
    ordering_fields = ["id", "due_on", "status"]
    ordering = ["due_on", "id"]

    def _out(self, task):
        task = self.get_queryset().get(pk=task.pk)
        return Response(TaskSerializer(task, context=self.get_serializer_context()).data)

    @extend_schema(
        summary="Complete a task with the records that prove it",
        request=TaskCompleteInputSerializer,
        responses={200: TaskSerializer, **_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        data = _input(self, TaskCompleteInputSerializer)
        task = self.get_object()
        services.complete_task(
            task,
            actor=request.user,
            records=data["records"],
            note=data.get("note", ""),
            completed_on=data.get("completed_on"),
        )
        return self._out(task)

    @extend_schema(
        summary="Reopen a done task (reason required)",
        request=TaskReopenInputSerializer,
        responses={200: TaskSerializer, **_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        data = _input(self, TaskReopenInputSerializer)
        task = self.get_object()
        services.reopen_task(task, actor=request.user, reason=data["reason"])
        return self._out(task)
