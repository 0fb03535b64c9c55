"""REST API of management reviews: ``/api/management-reviews/`` (list, retrieve, schedule,
edit; steps as POST actions: ``compile-inputs``, ``meeting``, ``hold``, ``close``;
``outputs`` to add an output action) and ``/api/management-reviews/{id}/snapshot/`` (the
frozen inputs, read-only). Output actions: ``/api/review-outputs/`` (list, retrieve,
``complete``, ``cancel``). Same scoping as the pages; every write through
``pbqms.reviews.services``.

A step the service refuses answers 400 without rolling the request back, so a refused
signature stays in the change log (as on the pages)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Exists, OuterRef
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from pbqms.core import roles, scope
from pbqms.core.api import (
    ERROR_RESPONSES,
    ScopedViewSetMixin,
    VersionField,
    error_response,
)
from pbqms.core.changelog_filters import MAX_ID
from pbqms.core.locking import StaleObjectError
from pbqms.orgs.models import Organization
from pbqms.reviews import services
from pbqms.reviews.models import InputSnapshot, ManagementReview, ReviewOutput

_ERRORS = ERROR_RESPONSES


_error_response = error_response


# ---------------------------------------------------------------- serializers


class ReviewOutputSerializer(serializers.ModelSerializer):
    owner_name = serializers.CharField(source="owner.name", read_only=True)
    is_overdue = serializers.SerializerMethodField()

    class Meta:
        model = ReviewOutput
        fields = [
            "id",
            "review",
            "kind",
            "description",
            "owner",
            "owner_name",
            "due_on",
            "status",
            "done_on",
            "result",
            "nonconformity_id",
            "is_overdue",
            "version",
        ]
        read_only_fields = fields

    def get_is_overdue(self, output) -> bool:
        return output.is_overdue()


class ManagementReviewSerializer(serializers.ModelSerializer):
    org_name = serializers.CharField(source="org.name", read_only=True)
    chair_name = serializers.CharField(source="chair.name", read_only=True)
    attendees = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    outputs = ReviewOutputSerializer(many=True, read_only=True)
    has_snapshot = serializers.SerializerMethodField()

    class Meta:
        model = ManagementReview
        fields = [
            "id",
            "number",
            "title",
            "org",
            "org_name",
            "period_start",
            "period_end",
            "planned_on",
            "location",
            "chair",
            "chair_name",
            "attendees",
            "held_on",
            "suitability",
            "adequacy",
            "effectiveness",
            "decisions",
            "status",
            "closed_on",
            "has_snapshot",
            "outputs",
            "version",
        ]
        read_only_fields = fields

    def get_has_snapshot(self, review) -> bool:
        annotated = getattr(review, "has_snapshot", None)
        if annotated is not None:
            return bool(annotated)
        return InputSnapshot.objects.filter(review_id=review.pk).exists()


class ReviewSnapshotSerializer(serializers.ModelSerializer):
    compiled_by = serializers.CharField(source="compiled_by.username", read_only=True)
    intact = serializers.BooleanField(read_only=True)

    class Meta:
        model = InputSnapshot
        fields = ["review", "compiled_at", "compiled_by", "content_hash", "intact", "data"]
        read_only_fields = fields


class ReviewInputSerializer(serializers.Serializer):
    org = serializers.PrimaryKeyRelatedField(queryset=Organization.objects.all(), required=False)
    title = serializers.CharField(max_length=200)
    period_start = serializers.DateField(required=False)
    period_end = serializers.DateField(required=False)
    planned_on = serializers.DateField()
    location = serializers.CharField(max_length=200, required=False, allow_blank=True)
    chair = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    attendees = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        max_length=services.MAX_ATTENDEES,
    )
    version = VersionField(required=False)


class ReviewMeetingInputSerializer(serializers.Serializer):
    held_on = serializers.DateField()
    attendees = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        max_length=services.MAX_ATTENDEES,
    )
    suitability = serializers.CharField(max_length=10000, required=False, allow_blank=True)
    adequacy = serializers.CharField(max_length=10000, required=False, allow_blank=True)
    effectiveness = serializers.CharField(max_length=10000, required=False, allow_blank=True)
    decisions = serializers.CharField(max_length=10000, required=False, allow_blank=True)
    version = VersionField(required=False)


class ReviewOutputInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ReviewOutput.Kind.choices, required=False)
    description = serializers.CharField(max_length=2000)
    owner = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    due_on = serializers.DateField()


class ReviewCloseInputSerializer(serializers.Serializer):
    password = serializers.CharField(max_length=200, trim_whitespace=False)


class OutputCompleteInputSerializer(serializers.Serializer):
    result = serializers.CharField(max_length=2000)
    done_on = serializers.DateField(required=False)
    version = VersionField(required=False)


class OutputCancelInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


# ---------------------------------------------------------------- viewsets


class _ReviewViewSet(ScopedViewSetMixin, viewsets.GenericViewSet):
    view_perm = roles.REVIEW_VIEW
    action_perms: dict[str, str] = {}  # the services decide every write

    def may_use(self, user, perm) -> bool:
        return scope.has_perm(user, roles.REVIEW_VIEW) or (
            getattr(user, "is_authenticated", False)
            and ManagementReview.objects.visible_to(user, roles.REVIEW_VIEW).exists()
        )

    def scope_org(self, obj):
        return obj.org if isinstance(obj, ManagementReview) else obj.review.org

    def _input(self, serializer_class):
        serializer = serializer_class(data=self.request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def check_object_permissions(self, request, obj):
        # reads are decided by the scoped queryset; writes by the services
        return None


@extend_schema_view(
    list=extend_schema(summary="List management reviews you can see"),
    retrieve=extend_schema(summary="One management review with its output actions"),
)
class ManagementReviewViewSet(_ReviewViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Management reviews (管理评审). Lifecycle: planned → inputs_frozen (compile-inputs) →
    held (meeting, then hold) → closed (close: the chair signs with the password, once every
    output action is done or cancelled)."""

    queryset = (
        ManagementReview.objects.select_related("org", "chair")
        .prefetch_related("attendees", "outputs__owner")
        .annotate(has_snapshot=Exists(InputSnapshot.objects.filter(review=OuterRef("pk"))))
    )
    serializer_class = ManagementReviewSerializer
    ordering_fields = ["id", "number", "planned_on", "status"]
    ordering = ["-planned_on", "-id"]
    filterset_fields = ["status", "org"]

    def _out(self, review, http_status=status.HTTP_200_OK):
        review = self.get_queryset().get(pk=review.pk)
        return Response(ManagementReviewSerializer(review).data, status=http_status)

    def _step(self, run):
        review = self.get_object()
        try:
            run(review)
        except StaleObjectError:
            raise  # the core exception handler answers 409
        except DjangoValidationError as exc:
            return _error_response(exc)
        return self._out(review)

    @staticmethod
    def _review_data(data: dict) -> dict:
        data.pop("version", None)
        data.pop("org", None)
        return data

    @extend_schema(
        summary="Schedule a management review",
        request=ReviewInputSerializer,
        responses={201: ManagementReviewSerializer, **_ERRORS},
    )
    def create(self, request, *args, **kwargs):
        data = self._input(ReviewInputSerializer)
        org = data.get("org")
        review = services.schedule_review(actor=request.user, org=org, data=self._review_data(data))
        return self._out(review, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Edit the plan (version required)",
        request=ReviewInputSerializer,
        responses={200: ManagementReviewSerializer, **_ERRORS},
    )
    def partial_update(self, request, *args, **kwargs):
        data = self._input(ReviewInputSerializer)
        version = data.get("version")
        return self._step(
            lambda r: services.update_review(
                r, actor=request.user, data=self._review_data(data), expected_version=version
            )
        )

    @extend_schema(
        summary="The frozen inputs (read-only)",
        responses={200: ReviewSnapshotSerializer, **_ERRORS},
    )
    @action(detail=True, methods=["get"])
    def snapshot(self, request, pk=None):
        review = self.get_object()
        if not services.may_see_inputs(request.user, review):
            raise PermissionDenied
        snapshot = InputSnapshot.objects.filter(review=review).select_related("compiled_by").first()
        if snapshot is None:
            from django.http import Http404

            raise Http404
        return Response(ReviewSnapshotSerializer(snapshot).data)

    @extend_schema(
        summary="Compile the inputs and freeze them",
        request=None,
        responses={200: ManagementReviewSerializer, **_ERRORS},
    )
    @action(detail=True, methods=["post"], url_path="compile-inputs")
    def compile_inputs(self, request, pk=None):
        return self._step(lambda r: services.compile_inputs(r, actor=request.user))

    @extend_schema(
        summary="Record the meeting (date, attendees, conclusions, decisions)",
        request=ReviewMeetingInputSerializer,
        responses={200: ManagementReviewSerializer, **_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def meeting(self, request, pk=None):
        data = self._input(ReviewMeetingInputSerializer)
        version = data.pop("version", None)
        return self._step(
            lambda r: services.record_meeting(
                r, actor=request.user, data=data, expected_version=version
            )
        )

    @extend_schema(
        summary="Mark the meeting held",
        request=None,
        responses={200: ManagementReviewSerializer, **_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def hold(self, request, pk=None):
        return self._step(lambda r: services.hold(r, actor=request.user))

    @extend_schema(
        summary="Close the review: the chair signs (password)",
        request=ReviewCloseInputSerializer,
        responses={200: ManagementReviewSerializer, **_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        data = self._input(ReviewCloseInputSerializer)
        return self._step(
            lambda r: services.close(r, actor=request.user, password=data["password"])
        )

    @extend_schema(
        summary="Add an output action",
        request=ReviewOutputInputSerializer,
        responses={201: ReviewOutputSerializer, **_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def outputs(self, request, pk=None):
        review = self.get_object()
        data = self._input(ReviewOutputInputSerializer)
        try:
            output = services.add_output(review, actor=request.user, data=data)
        except StaleObjectError:
            raise  # the core exception handler answers 409
        except DjangoValidationError as exc:
            return _error_response(exc)
        return Response(ReviewOutputSerializer(output).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(summary="List review output actions you can see"),
    retrieve=extend_schema(summary="One review output action"),
)
class ReviewOutputViewSet(_ReviewViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Output actions of management reviews, tracked to closure."""

    queryset = ReviewOutput.objects.select_related("owner", "review", "review__org")
    serializer_class = ReviewOutputSerializer
    ordering_fields = ["id", "due_on", "status"]
    ordering = ["due_on", "id"]
    filterset_fields = ["status", "review"]

    def _step(self, run):
        output = self.get_object()
        try:
            run(output)
        except StaleObjectError:
            raise  # the core exception handler answers 409
        except DjangoValidationError as exc:
            return _error_response(exc)
        output = self.get_queryset().get(pk=output.pk)
        return Response(ReviewOutputSerializer(output).data)

    @extend_schema(
        summary="Report the action done (owner or committee)",
        request=OutputCompleteInputSerializer,
        responses={200: ReviewOutputSerializer, **_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        data = self._input(OutputCompleteInputSerializer)
        return self._step(
            lambda o: services.complete_output(
                o,
                actor=request.user,
                result=data["result"],
                done_on=data.get("done_on"),
                expected_version=data.get("version"),
            )
        )

    @extend_schema(
        summary="Cancel the action (committee; reason required)",
        request=OutputCancelInputSerializer,
        responses={200: ReviewOutputSerializer, **_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        data = self._input(OutputCancelInputSerializer)
        return self._step(
            lambda o: services.cancel_output(o, actor=request.user, reason=data["reason"])
        )
