"""REST API of controlled documents: ``/api/documents/``, ``/api/document-versions/``,
``/api/acknowledgements/``. Same rules as the pages: reads through ``visible_to`` (outside
the scope: 404), writes through ``pbqms.documents.services``; lifecycle steps through one
``transition`` action whose e-signature steps require the password.

A refused signature answers 400 without rolling the request back, so the failed
``signature`` security event written before the step stays in the change log."""

from __future__ import annotations

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
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
    MAX_ID,
    BoundedPrimaryKeyField,
    ErrorSerializer,
    ScopedPrimaryKeyField,
    ScopedViewSetMixin,
    VersionField,
    error_response,
)
from pbqms.core.roles import Role
from pbqms.documents import modes, services
from pbqms.documents.models import (
    Acknowledgement,
    Document,
    DocumentReview,
    DocumentVersion,
)
from pbqms.orgs.models import Organization

S = DocumentVersion.Status
TEXT_MAX = 200_000
REASON_MAX = 2000
_ERRORS = ERROR_RESPONSES
_STALE = {409: OpenApiResponse(ErrorSerializer, description="Stale version.")}


_error_response = error_response


# ---------------------------------------------------------------- serializers


class VersionSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = DocumentVersion
        fields = ["id", "label", "status", "effective_on"]
        read_only_fields = fields


class DocumentSerializer(serializers.ModelSerializer):
    doc_type_display = serializers.CharField(source="get_doc_type_display", read_only=True)
    effective_version = VersionSummarySerializer(read_only=True, allow_null=True)
    owner_unit_name = serializers.CharField(source="org.name", read_only=True)
    applies_to = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Document
        fields = [
            "id",
            "number",
            "title",
            "doc_type",
            "doc_type_display",
            "status",
            "org",
            "owner_unit_name",
            "parent",
            "applies_to",
            "applies_to_roles",
            "review_interval_months",
            "next_review_on",
            "effective_version",
            "obsoleted_on",
            "obsolete_reason",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class DocumentInputSerializer(serializers.Serializer):
    # "combined": the merged type of a unit running its system in simplified mode (三合为一)
    doc_type = serializers.ChoiceField(
        choices=[*Document.Type.choices, (modes.COMBINED, modes.COMBINED_LABEL)]
    )
    title = serializers.CharField(max_length=200)
    org = ScopedPrimaryKeyField(model=Organization, perm=roles.DOC_DRAFT)
    parent = ScopedPrimaryKeyField(
        model=Document, perm=roles.DOC_VIEW, required=False, allow_null=True
    )
    applies_to = ScopedPrimaryKeyField(
        model=Organization, perm=roles.ORG_VIEW, many=True, required=False
    )
    applies_to_roles = serializers.ListField(
        child=serializers.ChoiceField(choices=Role.choices), required=False, max_length=20
    )
    review_interval_months = serializers.IntegerField(
        min_value=1, max_value=services.MAX_REVIEW_INTERVAL, required=False
    )
    content = serializers.CharField(
        max_length=TEXT_MAX, required=False, allow_blank=True, trim_whitespace=False
    )
    change_reason = serializers.CharField(max_length=REASON_MAX, required=False, allow_blank=True)


class SignatureSerializer(serializers.Serializer):
    meaning = serializers.CharField()
    signer = serializers.IntegerField(source="signer_id")
    signer_name = serializers.CharField()
    signed_at = serializers.DateTimeField()
    signed_hash = serializers.CharField()
    comment = serializers.CharField()
    valid = serializers.BooleanField()


class AssignmentSerializer(serializers.Serializer):
    user = serializers.IntegerField(source="user_id")
    role = serializers.CharField()
    signed_at = serializers.DateTimeField(allow_null=True)


class DocumentVersionSerializer(serializers.ModelSerializer):
    document_number = serializers.CharField(source="document.number", read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    signatures = serializers.SerializerMethodField()
    assignments = serializers.SerializerMethodField()
    allowed_transitions = serializers.SerializerMethodField(
        help_text="The lifecycle steps you may take now (names for the transition action)."
    )
    has_file = serializers.SerializerMethodField()

    class Meta:
        model = DocumentVersion
        fields = [
            "id",
            "document",
            "document_number",
            "label",
            "title",
            "status",
            "status_display",
            "content",
            "has_file",
            "file_name",
            "file_sha256",
            "change_reason",
            "effective_on",
            "return_comment",
            "content_hash",
            "author",
            "assignments",
            "signatures",
            "allowed_transitions",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.BooleanField())
    def get_has_file(self, v) -> bool:
        return bool(v.file)

    @extend_schema_field(SignatureSerializer(many=True))
    def get_signatures(self, v):
        if not self.context.get("detail"):
            return []
        rows = services.signature_rows(v)
        return [
            {
                "meaning": r["signature"].meaning,
                "signer_id": r["signature"].signer_id,
                "signer_name": r["signature"].signer_name,
                "signed_at": r["signature"].signed_at,
                "signed_hash": r["signature"].signed_hash,
                "comment": r["signature"].comment,
                "valid": r["valid"],
            }
            for r in rows
        ]

    @extend_schema_field(AssignmentSerializer(many=True))
    def get_assignments(self, v):
        if not self.context.get("detail"):
            return []
        return AssignmentSerializer(v.assignments.all(), many=True).data

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_allowed_transitions(self, v):
        request = self.context.get("request")
        if not self.context.get("detail") or request is None:
            return []
        return [t.name for t in workflow.allowed(v, request.user)]


class DraftInputSerializer(serializers.Serializer):
    version = VersionField()
    title = serializers.CharField(max_length=200, required=False)
    content = serializers.CharField(
        max_length=TEXT_MAX, required=False, allow_blank=True, trim_whitespace=False
    )
    change_reason = serializers.CharField(max_length=REASON_MAX, required=False, allow_blank=True)
    reviewers = BoundedPrimaryKeyField(
        queryset=User.objects.filter(is_active=True), many=True, required=False
    )
    approvers = BoundedPrimaryKeyField(
        queryset=User.objects.filter(is_active=True), many=True, required=False
    )
    applies_to = ScopedPrimaryKeyField(
        model=Organization, perm=roles.ORG_VIEW, many=True, required=False
    )
    applies_to_roles = serializers.ListField(
        child=serializers.ChoiceField(choices=Role.choices), required=False, max_length=20
    )
    review_interval_months = serializers.IntegerField(
        min_value=1, max_value=services.MAX_REVIEW_INTERVAL, required=False
    )


class TransitionInputSerializer(serializers.Serializer):
    transition = serializers.ChoiceField(
        choices=["submit", "review", "approve", "send_back", "make_effective", "withdraw"]
    )
    password = serializers.CharField(
        max_length=4096,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        write_only=True,
        help_text=gettext_lazy("Required by the signing steps: submit, review, approve."),
    )
    comment = serializers.CharField(max_length=REASON_MAX, required=False, allow_blank=True)
    reason = serializers.CharField(
        max_length=REASON_MAX,
        required=False,
        allow_blank=True,
        help_text=gettext_lazy("Required by send_back (comments) and withdraw."),
    )
    effective_on = serializers.DateField(
        required=False, help_text=gettext_lazy("Required by approve.")
    )


class ReasonInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=REASON_MAX)


class RevisionInputSerializer(ReasonInputSerializer):
    major = serializers.BooleanField(
        default=True, help_text=gettext_lazy("true: next edition (B/0); false: A/1.")
    )


class PeriodicReviewInputSerializer(serializers.Serializer):
    conclusion = serializers.ChoiceField(choices=DocumentReview.Conclusion.choices)
    notes = serializers.CharField(max_length=REASON_MAX, required=False, allow_blank=True)


class AcknowledgementSerializer(serializers.ModelSerializer):
    document = serializers.IntegerField(source="document_version.document_id", read_only=True)
    person_name = serializers.CharField(source="person.name", read_only=True)

    class Meta:
        model = Acknowledgement
        fields = [
            "id",
            "document_version",
            "document",
            "person",
            "person_name",
            "org",
            "due",
            "done_at",
        ]
        read_only_fields = fields


# ---------------------------------------------------------------- filters


def _id_ok(value) -> bool:
    return value is not None and value == int(value) and 0 < value <= MAX_ID


class DocumentFilter(django_filters.FilterSet):
    doc_type = django_filters.MultipleChoiceFilter(choices=Document.Type.choices)
    status = django_filters.MultipleChoiceFilter(choices=Document.Status.choices)
    org = django_filters.NumberFilter(method="filter_org", label="owner unit id (and below)")
    search = django_filters.CharFilter(
        method="filter_search", label="number, title or text", max_length=100
    )

    class Meta:
        model = Document
        fields = []

    def filter_org(self, queryset, name, value):
        if not _id_ok(value):
            return queryset.none()
        unit = Organization.objects.visible_to(self.request.user).filter(pk=int(value)).first()
        return queryset.filter(org__path__startswith=unit.path) if unit else queryset.none()

    def filter_search(self, queryset, name, value):
        value = (value or "").strip()
        if not value:
            return queryset
        return queryset.search(value)


class VersionFilter(django_filters.FilterSet):
    document = django_filters.NumberFilter(method="filter_document", label="document id")
    status = django_filters.MultipleChoiceFilter(choices=DocumentVersion.Status.choices)

    class Meta:
        model = DocumentVersion
        fields = []

    def filter_document(self, queryset, name, value):
        if not _id_ok(value):
            return queryset.none()
        return queryset.filter(document_id=int(value))


class AcknowledgementFilter(django_filters.FilterSet):
    document_version = django_filters.NumberFilter(method="filter_version", label="version id")
    done = django_filters.BooleanFilter(method="filter_done", label="acknowledged")
    mine = django_filters.BooleanFilter(method="filter_mine", label="only my own tasks")

    class Meta:
        model = Acknowledgement
        fields = []

    def filter_version(self, queryset, name, value):
        if not _id_ok(value):
            return queryset.none()
        return queryset.filter(document_version_id=int(value))

    def filter_done(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.filter(done_at__isnull=not value)

    def filter_mine(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(person__user_id=self.request.user.pk)


# ---------------------------------------------------------------- viewsets


@extend_schema_view(
    list=extend_schema(summary="List the documents you can see"),
    retrieve=extend_schema(summary="One document", responses={200: DocumentSerializer, **_ERRORS}),
)
class DocumentViewSet(
    ScopedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Controlled documents (受控文件). Obsoleted, never deleted."""

    queryset = Document.objects.all()
    serializer_class = DocumentSerializer
    filterset_class = DocumentFilter
    ordering_fields = ["number", "title", "next_review_on", "created_at"]
    ordering = ["number"]
    view_perm = roles.DOC_VIEW
    action_perms = {"create": roles.DOC_DRAFT, "revise": roles.DOC_DRAFT}

    def may_use(self, user, perm):
        if perm == roles.DOC_VIEW:
            return scope.has_perm(user, perm) or scope.has_perm(user, roles.DOC_MANAGE)
        return super().may_use(user, perm)

    def scope_org(self, obj):
        return obj.org

    def check_object_permissions(self, request, obj):
        # visibility is the queryset's business (drafts of one's own are visible without
        # DOC_VIEW on the owner unit); the services check the rights of each write
        return None

    def get_queryset(self):
        return (
            Document.objects.visible_to(self.request.user)
            .select_related("org", "effective_version")
            .prefetch_related("applies_to")
        )

    def _out(self, document, http_status=status.HTTP_200_OK):
        document = self.get_queryset().get(pk=document.pk)
        return Response(self.get_serializer(document).data, status=http_status)

    @extend_schema(
        summary="Create a document with its first draft (A/0)",
        request=DocumentInputSerializer,
        responses={201: DocumentSerializer, **_ERRORS},
    )
    def create(self, request, *args, **kwargs):
        serializer = DocumentInputSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        document = services.create_document(actor=request.user, **serializer.validated_data)
        return self._out(document, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Start a revision of an effective document",
        request=RevisionInputSerializer,
        responses={201: DocumentVersionSerializer, **_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def revise(self, request, pk=None):
        document = self.get_object()
        serializer = RevisionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        version = services.start_revision(document, actor=request.user, **serializer.validated_data)
        return Response(
            DocumentVersionSerializer(version, context={"request": request, "detail": True}).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        summary="Obsolete a document (废止)",
        request=ReasonInputSerializer,
        responses={200: DocumentSerializer, **_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def obsolete(self, request, pk=None):
        document = self.get_object()
        serializer = ReasonInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.obsolete_document(document, actor=request.user, **serializer.validated_data)
        return self._out(document)

    @extend_schema(
        summary="Record a periodic review (定期评审)",
        request=PeriodicReviewInputSerializer,
        responses={200: DocumentSerializer, **_ERRORS},
    )
    @action(detail=True, methods=["post"], url_path="periodic-review")
    def periodic_review(self, request, pk=None):
        document = self.get_object()
        serializer = PeriodicReviewInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.record_review(document, actor=request.user, **serializer.validated_data)
        return self._out(document)


@extend_schema_view(
    list=extend_schema(summary="List the document versions you can see"),
    retrieve=extend_schema(
        summary="One version with its signatures and the steps you may take",
        responses={200: DocumentVersionSerializer, **_ERRORS},
    ),
)
class DocumentVersionViewSet(
    ScopedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Versions (A/0, A/1, B/0 …) and their lifecycle: 草稿 → 审核中 → 待批准 → 已批准 → 生效
    → 已替代 / 已废止."""

    queryset = DocumentVersion.objects.all()
    serializer_class = DocumentVersionSerializer
    filterset_class = VersionFilter
    ordering_fields = ["id", "created_at", "updated_at"]
    ordering = ["id"]
    view_perm = None  # authors, reviewers and approvers see their versions without DOC_VIEW

    def check_object_permissions(self, request, obj):
        return None

    def get_queryset(self):
        return DocumentVersion.objects.visible_to(self.request.user).select_related("document")

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["detail"] = self.action != "list"
        return context

    def _out(self, version):
        version = self.get_queryset().get(pk=version.pk)
        return Response(self.get_serializer(version).data)

    @extend_schema(
        summary="Edit a draft (version required)",
        request=DraftInputSerializer,
        responses={200: DocumentVersionSerializer, **_ERRORS, **_STALE},
    )
    def partial_update(self, request, *args, **kwargs):
        version = self.get_object()
        serializer = DraftInputSerializer(
            data=request.data, partial=True, context={"request": request}
        )
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if "version" not in data:
            raise serializers.ValidationError({"version": [_("This field is required.")]})
        expected = data.pop("version")
        services.update_draft(version, actor=request.user, data=data, expected_version=expected)
        return self._out(version)

    @extend_schema(
        summary="Take a lifecycle step (signing steps need your password)",
        request=TransitionInputSerializer,
        responses={200: DocumentVersionSerializer, **_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def transition(self, request, pk=None):
        version = self.get_object()
        serializer = TransitionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        name = data["transition"]
        try:
            if name == "submit":
                services.submit(version, actor=request.user, password=data.get("password"))
            elif name == "review":
                services.review(
                    version,
                    actor=request.user,
                    password=data.get("password"),
                    comment=data.get("comment", ""),
                )
            elif name == "approve":
                services.approve(
                    version,
                    actor=request.user,
                    password=data.get("password"),
                    effective_on=data.get("effective_on"),
                    comment=data.get("comment", ""),
                )
            elif name == "send_back":
                services.send_back(version, actor=request.user, comment=data.get("reason", ""))
            elif name == "make_effective":
                services.make_effective(version, actor=request.user)
            else:
                services.withdraw(version, actor=request.user, reason=data.get("reason", ""))
        except DjangoValidationError as exc:
            return _error_response(exc)
        return self._out(version)


@extend_schema_view(
    list=extend_schema(summary="Your read-and-acknowledge tasks and those of your units"),
    retrieve=extend_schema(
        summary="One acknowledgement", responses={200: AcknowledgementSerializer, **_ERRORS}
    ),
)
class AcknowledgementViewSet(
    ScopedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Read-and-acknowledge tasks (学习确认)."""

    queryset = Acknowledgement.objects.all()
    serializer_class = AcknowledgementSerializer
    filterset_class = AcknowledgementFilter
    ordering_fields = ["id", "due", "done_at"]
    ordering = ["id"]
    view_perm = None

    def check_object_permissions(self, request, obj):
        return None

    def get_queryset(self):
        user = self.request.user
        return (
            Acknowledgement.objects.filter(
                services._unit_people_q(user) | Q(person__user_id=user.pk)
            )
            .select_related("person", "document_version")
            .order_by("id")
        )

    @extend_schema(
        summary="Acknowledge (your own task only)",
        request=None,
        responses={200: AcknowledgementSerializer, **_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        ack = self.get_object()
        if ack.person.user_id != request.user.pk:
            return Response(
                {
                    "error": {"code": "permission_denied", "message": _("Only your own task.")},
                    "detail": _("Only your own task."),
                },
                status=status.HTTP_403_FORBIDDEN,
            )
        try:
            ack = services.acknowledge(ack, actor=request.user)
        except DjangoValidationError as exc:
            return _error_response(exc)
        return Response(self.get_serializer(ack).data)
