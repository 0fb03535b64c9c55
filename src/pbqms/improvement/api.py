"""REST API of nonconformities and corrective actions: ``/api/nonconformities/`` and
``/api/corrective-actions/``. Same rules as the pages: reads through ``visible_to``
(outside the scope: 404, absent from lists), every write and lifecycle step through
``pbqms.improvement.services`` (its refusals: 400 with field errors, 403, 404, 409 for a
stale ``version``).

A step the service refuses answers 400 without rolling the request back, so a refused
signature's security event (written before the step) stays in the change log; the step
itself wrote nothing (each service is one transaction)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from pbqms.accounts.models import User
from pbqms.core import roles, scope, workflow
from pbqms.core.api import (
    ERROR_RESPONSES,
    BoundedPrimaryKeyField,
    ErrorSerializer,
    ScopedPrimaryKeyField,
    ScopedViewSetMixin,
    VersionField,
    error_response,
)
from pbqms.improvement import services
from pbqms.improvement.filters import CorrectiveActionFilterSet, NonconformityFilterSet
from pbqms.improvement.models import CorrectiveAction, Nonconformity
from pbqms.orgs.models import Organization, Person

NC = Nonconformity
TEXT_MAX = 5000
REASON_MAX = 2000
_ERRORS = ERROR_RESPONSES
_STALE = {409: OpenApiResponse(ErrorSerializer, description="Stale version.")}


_error_response = error_response


def _content_type_label(content_type_id) -> str | None:
    if not content_type_id:
        return None
    from django.contrib.contenttypes.models import ContentType

    ct = ContentType.objects.get_for_id(content_type_id)
    return f"{ct.app_label}.{ct.model}"


# ---------------------------------------------------------------- read serializers


class NonconformitySerializer(serializers.ModelSerializer):
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    severity_display = serializers.CharField(source="get_severity_display", read_only=True)
    source_kind_display = serializers.CharField(source="get_source_kind_display", read_only=True)
    org_name = serializers.CharField(source="org.name", read_only=True)
    raised_by_name = serializers.CharField(source="raised_by.name", read_only=True)
    repeat_of_number = serializers.CharField(
        source="repeat_of.number", read_only=True, allow_null=True, default=None
    )
    source_type = serializers.SerializerMethodField(
        help_text="The source object's type as app_label.model (null when none is linked)."
    )
    requirement_type = serializers.SerializerMethodField(
        help_text="The requirement object's type as app_label.model (null when none)."
    )
    is_overdue = serializers.SerializerMethodField()
    allowed_transitions = serializers.SerializerMethodField(
        help_text="The lifecycle steps you may take now (on a single nonconformity only)."
    )

    class Meta:
        model = Nonconformity
        fields = [
            "id",
            "number",
            "title",
            "source_kind",
            "source_kind_display",
            "source_ref",
            "source_type",
            "source_id",
            "org",
            "org_name",
            "requirement",
            "requirement_type",
            "requirement_id",
            "description",
            "severity",
            "severity_display",
            "raised_by",
            "raised_by_name",
            "raised_on",
            "correction_due",
            "is_overdue",
            "verifier",
            "status",
            "status_display",
            "analysis_method",
            "why_chain",
            "fishbone",
            "root_cause",
            "repeat_of",
            "repeat_of_number",
            "cycle",
            "return_comment",
            "closed_on",
            "days_to_close",
            "cancelled_on",
            "cancel_reason",
            "allowed_transitions",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_source_type(self, nc) -> str | None:
        return _content_type_label(nc.source_type_id)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_requirement_type(self, nc) -> str | None:
        return _content_type_label(nc.requirement_type_id)

    def get_is_overdue(self, nc) -> bool:
        return nc.is_overdue()

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_allowed_transitions(self, nc) -> list[str]:
        if not self.context.get("with_steps"):
            return []
        request = self.context.get("request")
        return [t.name for t in workflow.allowed(nc, getattr(request, "user", None))]


class CorrectiveActionSerializer(serializers.ModelSerializer):
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    kind_display = serializers.CharField(source="get_kind_display", read_only=True)
    nonconformity_number = serializers.CharField(source="nonconformity.number", read_only=True)
    owner_name = serializers.CharField(source="owner.name", read_only=True)
    document_type = serializers.SerializerMethodField()
    is_overdue = serializers.SerializerMethodField()

    class Meta:
        model = CorrectiveAction
        fields = [
            "id",
            "nonconformity",
            "nonconformity_number",
            "org",
            "cycle",
            "kind",
            "kind_display",
            "description",
            "owner",
            "owner_name",
            "due_on",
            "verify_on",
            "success_criteria",
            "is_overdue",
            "status",
            "status_display",
            "completed_on",
            "completion_note",
            "verified_at",
            "verified_by",
            "verification_comment",
            "cancel_reason",
            "document_type",
            "document_id",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_document_type(self, action) -> str | None:
        return _content_type_label(action.document_type_id)

    def get_is_overdue(self, action) -> bool:
        return action.is_overdue()


# ---------------------------------------------------------------- input serializers


class RaiseInputSerializer(serializers.Serializer):
    org = ScopedPrimaryKeyField(model=Organization, perm=roles.ORG_VIEW)
    title = serializers.CharField(max_length=200)
    source_kind = serializers.ChoiceField(choices=NC.Source.choices)
    source_ref = serializers.CharField(max_length=200, required=False, allow_blank=True)
    severity = serializers.ChoiceField(choices=NC.Severity.choices)
    requirement = serializers.CharField(max_length=TEXT_MAX)
    description = serializers.CharField(max_length=TEXT_MAX)
    raised_on = serializers.DateField(required=False, allow_null=True)
    correction_due = serializers.DateField()
    repeat_of = ScopedPrimaryKeyField(
        model=Nonconformity, perm=roles.NC_VIEW, required=False, allow_null=True
    )
    verifier = BoundedPrimaryKeyField(
        queryset=User.objects.filter(is_active=True), required=False, allow_null=True
    )


class AnalysisInputSerializer(serializers.Serializer):
    analysis_method = serializers.ChoiceField(choices=NC.AnalysisMethod.choices)
    whys = serializers.ListField(
        child=serializers.CharField(max_length=500, allow_blank=True),
        required=False,
        max_length=NC.MAX_WHYS,
    )
    fishbone = serializers.DictField(
        child=serializers.CharField(max_length=2000, allow_blank=True), required=False
    )
    root_cause = serializers.CharField(max_length=TEXT_MAX, allow_blank=True)
    repeat_of = ScopedPrimaryKeyField(
        model=Nonconformity, perm=roles.NC_VIEW, required=False, allow_null=True
    )
    version = VersionField()


class NcReasonInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=REASON_MAX, allow_blank=True)


class NcSignInputSerializer(serializers.Serializer):
    password = serializers.CharField(
        max_length=4096, trim_whitespace=False, write_only=True, style={"input_type": "password"}
    )
    comment = serializers.CharField(max_length=1000, required=False, allow_blank=True)


class VerifierInputSerializer(serializers.Serializer):
    verifier = BoundedPrimaryKeyField(queryset=User.objects.filter(is_active=True), allow_null=True)
    version = VersionField(required=False)


class _ActionFieldsSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=CorrectiveAction.Kind.choices)
    description = serializers.CharField(max_length=TEXT_MAX)
    owner = ScopedPrimaryKeyField(model=Person, perm=roles.PERSON_VIEW)
    due_on = serializers.DateField()
    verify_on = serializers.DateField()
    success_criteria = serializers.CharField(max_length=TEXT_MAX)
    document = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        help_text="Id of the controlled document the action concerns (optional).",
    )


class ActionInputSerializer(_ActionFieldsSerializer):
    nonconformity = ScopedPrimaryKeyField(model=Nonconformity, perm=roles.NC_VIEW)


class ActionUpdateSerializer(_ActionFieldsSerializer):
    version = VersionField()


class ActionCompleteInputSerializer(serializers.Serializer):
    completed_on = serializers.DateField(required=False, allow_null=True)
    note = serializers.CharField(max_length=TEXT_MAX, allow_blank=True)


class ActionVerifyInputSerializer(NcSignInputSerializer):
    result = serializers.ChoiceField(choices=CorrectiveAction.Result.choices)


# ---------------------------------------------------------------- filters


class NonconformityApiFilter(NonconformityFilterSet):
    """The list page's filters (``org`` includes the unit's subtree), without the options."""

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        super().__init__(data, queryset, request=request, prefix=prefix, options=False)


class CorrectiveActionApiFilter(CorrectiveActionFilterSet):
    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        super().__init__(data, queryset, request=request, prefix=prefix, options=False)


# ---------------------------------------------------------------- viewsets


def _involved(user) -> bool:
    """Raised, verifies or owns something: sees those without a view grant."""
    return bool(
        getattr(user, "is_authenticated", False)
        and NC.objects.visible_to(user, roles.NC_VIEW).exists()
    )


class _ImprovementViewSet(ScopedViewSetMixin, viewsets.GenericViewSet):
    view_perm = roles.NC_VIEW
    action_perms: dict[str, str] = {}  # the services decide every write

    def may_use(self, user, perm) -> bool:
        return scope.has_perm(user, roles.NC_VIEW) or _involved(user)

    def _input(self, serializer_class, **kwargs):
        serializer = serializer_class(
            data=self.request.data, context=self.get_serializer_context(), **kwargs
        )
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)


@extend_schema_view(
    list=extend_schema(summary="List nonconformities you can see"),
    retrieve=extend_schema(
        summary="One nonconformity (with the steps you may take now)",
        responses={200: NonconformitySerializer, **_ERRORS},
    ),
)
class NonconformityViewSet(_ImprovementViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Nonconformities (不符合项). Lifecycle: open → root_cause_analysis → action_planning →
    action_approval → implementing → verification → closed; verification →
    root_cause_analysis when an action is not effective; cancelled (with a reason) from any
    state before closing. Steps are POST actions on the nonconformity."""

    queryset = Nonconformity.objects.select_related("org", "raised_by", "repeat_of")
    serializer_class = NonconformitySerializer
    filterset_class = NonconformityApiFilter
    ordering_fields = ["id", "number", "raised_on", "correction_due", "status"]
    ordering = ["-raised_on", "-id"]

    def _out(self, nc, http_status=status.HTTP_200_OK):
        nc = self.get_queryset().get(pk=nc.pk)
        context = {**self.get_serializer_context(), "with_steps": True}
        return Response(NonconformitySerializer(nc, context=context).data, status=http_status)

    def retrieve(self, request, *args, **kwargs):
        return self._out(self.get_object())

    @extend_schema(
        summary="Raise a nonconformity",
        request=RaiseInputSerializer,
        responses={201: NonconformitySerializer, **_ERRORS},
    )
    def create(self, request, *args, **kwargs):
        data = self._input(RaiseInputSerializer)
        nc = services.raise_nonconformity(actor=request.user, **data)
        return self._out(nc, status.HTTP_201_CREATED)

    def _step(self, run):
        nc = self.get_object()
        try:
            run(nc)
        except DjangoValidationError as exc:
            return _error_response(exc)
        return self._out(nc)

    @extend_schema(
        summary="Accept it and start the root cause analysis",
        request=None,
        responses={200: NonconformitySerializer, **_ERRORS},
    )
    @action(detail=True, methods=["post"], url_path="start-analysis")
    def start_analysis(self, request, pk=None):
        return self._step(lambda nc: services.start_analysis(nc, actor=request.user))

    @extend_schema(
        summary="Record the root cause analysis (5 whys or fishbone; version required)",
        request=AnalysisInputSerializer,
        responses={200: NonconformitySerializer, **_ERRORS, **_STALE},
    )
    @action(detail=True, methods=["post"])
    def analysis(self, request, pk=None):
        data = self._input(AnalysisInputSerializer)
        nc = self.get_object()
        services.save_analysis(
            nc,
            actor=request.user,
            method=data["analysis_method"],
            whys=data.get("whys") or [],
            fishbone=data.get("fishbone") or {},
            root_cause=data.get("root_cause", ""),
            repeat_of=data.get("repeat_of"),
            expected_version=data["version"],
        )
        return self._out(nc)

    @extend_schema(
        summary="Finish the analysis",
        request=None,
        responses={200: NonconformitySerializer, **_ERRORS},
    )
    @action(detail=True, methods=["post"], url_path="submit-analysis")
    def submit_analysis(self, request, pk=None):
        return self._step(lambda nc: services.submit_analysis(nc, actor=request.user))

    @extend_schema(
        summary="Submit the plan for approval",
        request=None,
        responses={200: NonconformitySerializer, **_ERRORS},
    )
    @action(detail=True, methods=["post"], url_path="submit-plan")
    def submit_plan(self, request, pk=None):
        return self._step(lambda nc: services.submit_plan(nc, actor=request.user))

    @extend_schema(
        summary="Approve the plan (electronic signature: your password)",
        request=NcSignInputSerializer,
        responses={200: NonconformitySerializer, **_ERRORS},
    )
    @action(detail=True, methods=["post"], url_path="approve-plan")
    def approve_plan(self, request, pk=None):
        data = self._input(NcSignInputSerializer)
        return self._step(
            lambda nc: services.approve_plan(
                nc, actor=request.user, password=data["password"], comment=data.get("comment", "")
            )
        )

    @extend_schema(
        summary="Send the plan back with comments",
        request=NcReasonInputSerializer,
        responses={200: NonconformitySerializer, **_ERRORS},
    )
    @action(detail=True, methods=["post"], url_path="return-plan")
    def return_plan(self, request, pk=None):
        data = self._input(NcReasonInputSerializer)
        return self._step(
            lambda nc: services.return_plan(nc, actor=request.user, reason=data["reason"])
        )

    @extend_schema(
        summary="Cancel the nonconformity (reason required)",
        request=NcReasonInputSerializer,
        responses={200: NonconformitySerializer, **_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        data = self._input(NcReasonInputSerializer)
        return self._step(
            lambda nc: services.cancel_nonconformity(nc, actor=request.user, reason=data["reason"])
        )

    @extend_schema(
        summary="Designate (or clear) the verifier",
        request=VerifierInputSerializer,
        responses={200: NonconformitySerializer, **_ERRORS, **_STALE},
    )
    @action(detail=True, methods=["post"])
    def verifier(self, request, pk=None):
        data = self._input(VerifierInputSerializer)
        nc = self.get_object()
        services.set_verifier(
            nc, actor=request.user, verifier=data["verifier"], expected_version=data.get("version")
        )
        return self._out(nc)


@extend_schema_view(
    list=extend_schema(summary="List corrective actions you can see (owners: their own)"),
    retrieve=extend_schema(
        summary="One corrective action", responses={200: CorrectiveActionSerializer, **_ERRORS}
    ),
)
class CorrectiveActionViewSet(
    _ImprovementViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin
):
    """Corrective actions (纠正措施) of nonconformities: planned → done → effective / not
    effective (verified with an electronic signature); cancelled while the plan is made."""

    queryset = CorrectiveAction.objects.select_related("nonconformity", "owner")
    serializer_class = CorrectiveActionSerializer
    filterset_class = CorrectiveActionApiFilter
    ordering_fields = ["id", "due_on", "verify_on", "status"]
    ordering = ["due_on", "id"]

    def may_use(self, user, perm) -> bool:
        return super().may_use(user, perm) or (
            getattr(user, "is_authenticated", False)
            and CorrectiveAction.objects.filter(owner__user_id=user.pk).exists()
        )

    def get_object(self):
        action = super().get_object()
        # the action lives on its nonconformity: both must be visible
        if (
            not NC.objects.visible_to(self.request.user, roles.NC_VIEW)
            .filter(pk=action.nonconformity_id)
            .exists()
        ):
            from django.http import Http404

            raise Http404
        return action

    def _out(self, action, http_status=status.HTTP_200_OK):
        action = CorrectiveAction.objects.select_related("nonconformity", "owner").get(pk=action.pk)
        return Response(
            CorrectiveActionSerializer(action, context=self.get_serializer_context()).data,
            status=http_status,
        )

    def _document(self, data):
        """The ``document`` id as the document object (a field error when not visible)."""
        doc_id = data.pop("document", None)
        if doc_id is None:
            return None
        options = services.document_options(self.request.user)
        document = options.filter(pk=doc_id).first() if options is not None else None
        if document is None:
            raise serializers.ValidationError({"document": [_("Choose a document you can see.")]})
        return document

    @extend_schema(
        summary="Plan an action on a nonconformity (while its plan is being made)",
        request=ActionInputSerializer,
        responses={201: CorrectiveActionSerializer, **_ERRORS},
    )
    def create(self, request, *args, **kwargs):
        data = self._input(ActionInputSerializer)
        nc = data.pop("nonconformity")
        data["document"] = self._document(data)
        action = services.plan_action(nc, actor=request.user, data=data)
        return self._out(action, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change a planned action (version required)",
        request=ActionUpdateSerializer,
        responses={200: CorrectiveActionSerializer, **_ERRORS, **_STALE},
    )
    def update(self, request, *args, **kwargs):
        data = self._input(ActionUpdateSerializer)
        action = self.get_object()
        expected = data.pop("version")
        data["document"] = self._document(data)
        services.update_action(action, actor=request.user, data=data, expected_version=expected)
        return self._out(action)

    def _step(self, run):
        action = self.get_object()
        try:
            run(action)
        except DjangoValidationError as exc:
            return _error_response(exc)
        return self._out(action)

    @extend_schema(
        summary="Mark the action done (owner, or the unit on their behalf)",
        request=ActionCompleteInputSerializer,
        responses={200: CorrectiveActionSerializer, **_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        data = self._input(ActionCompleteInputSerializer)
        return self._step(
            lambda a: services.complete_action(
                a, actor=request.user, completed_on=data.get("completed_on"), note=data["note"]
            )
        )

    @extend_schema(
        summary="Verify the effectiveness (electronic signature: your password)",
        request=ActionVerifyInputSerializer,
        responses={200: CorrectiveActionSerializer, **_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def verify(self, request, pk=None):
        data = self._input(ActionVerifyInputSerializer)
        return self._step(
            lambda a: services.verify_action(
                a,
                actor=request.user,
                password=data["password"],
                result=data["result"],
                comment=data.get("comment", ""),
            )
        )

    @extend_schema(
        summary="Cancel a planned action (reason required)",
        request=NcReasonInputSerializer,
        responses={200: CorrectiveActionSerializer, **_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        data = self._input(NcReasonInputSerializer)
        return self._step(
            lambda a: services.cancel_action(a, actor=request.user, reason=data["reason"])
        )
