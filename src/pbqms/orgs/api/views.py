"""Viewsets of the organisation API. Reads are scoped with ``visible_to``; writes call the
services, whose errors become 400 (field errors), 403, 404 or 409 (stale version)."""

from __future__ import annotations

from django.db.models import Prefetch
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from pbqms.core import roles, scope
from pbqms.core.api import ERROR_RESPONSES, ErrorSerializer, ScopedViewSetMixin
from pbqms.orgs import services
from pbqms.orgs.api import serializers as s
from pbqms.orgs.api.filters import OrganizationFilter, PersonApiFilter, RoleAssignmentFilter
from pbqms.orgs.models import Organization, Person, Post, RoleAssignment

_ERRORS = ERROR_RESPONSES
_STALE = {
    409: OpenApiResponse(
        ErrorSerializer, description="The record changed since you read it (stale version)."
    )
}


def _write_schema(request, response, *, stale: bool = False, created: bool = False, **kwargs):
    responses = {201 if created else 200: response, **_ERRORS, **(_STALE if stale else {})}
    return extend_schema(request=request, responses=responses, **kwargs)


class ServiceWriteMixin:
    """Helpers for viewsets whose writes go through a service function."""

    def input(self, serializer_class, *, partial: bool = False):
        serializer = serializer_class(
            data=self.request.data, partial=partial, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def output(self, instance, http_status=status.HTTP_200_OK):
        return Response(self.get_serializer(instance).data, status=http_status)


# ---------------------------------------------------------------- units


@extend_schema_view(
    list=extend_schema(summary="List units you can see"),
    retrieve=extend_schema(
        summary="One unit", responses={200: s.OrganizationSerializer, **_ERRORS}
    ),
)
class OrganizationViewSet(
    ScopedViewSetMixin,
    ServiceWriteMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Party organisations (党组织). Units are dissolved, never deleted (no DELETE)."""

    queryset = Organization.objects.all()
    serializer_class = s.OrganizationSerializer
    filterset_class = OrganizationFilter
    ordering_fields = ["path", "name", "code", "created_at"]
    ordering = ["path"]
    view_perm = roles.ORG_VIEW
    action_perms = {
        "create": roles.ORG_ADD,
        "update": roles.ORG_CHANGE,
        "partial_update": roles.ORG_CHANGE,
        "move": roles.ORG_MOVE,
        "dissolve": roles.ORG_DISSOLVE,
    }

    def get_queryset(self):
        return Organization.objects.visible_to(self.request.user, self.view_perm)

    def _parent_ids(self, units) -> dict[int, int]:
        """``{unit id: parent id}`` for the given units, in one query; a parent outside the
        caller's scope is left out."""
        steplen = Organization.steplen
        paths = {u.path[:-steplen] for u in units if u.depth > 1}
        if not paths:
            return {}
        by_path = dict(
            Organization.objects.visible_to(self.request.user, self.view_perm)
            .filter(path__in=paths)
            .values_list("path", "pk")
        )
        return {u.pk: by_path[u.path[:-steplen]] for u in units if u.path[:-steplen] in by_path}

    def get_serializer(self, *args, **kwargs):
        if args and kwargs.get("context") is None:
            units = args[0] if kwargs.get("many") else [args[0]]
            context = self.get_serializer_context()
            context["parent_ids"] = self._parent_ids(list(units))
            kwargs["context"] = context
        return super().get_serializer(*args, **kwargs)

    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        serializer = self.get_serializer(list(page), many=True)
        return self.get_paginated_response(serializer.data)

    @_write_schema(
        s.OrganizationInputSerializer,
        s.OrganizationSerializer,
        summary="Create a unit",
        created=True,
    )
    def create(self, request, *args, **kwargs):
        data = self.input(s.OrganizationInputSerializer)
        parent = data.pop("parent", None)
        unit = services.create_unit(actor=request.user, parent=parent, data=data)
        return self.output(unit, status.HTTP_201_CREATED)

    @_write_schema(
        s.OrganizationUpdateSerializer, s.OrganizationSerializer, stale=True, summary="Edit a unit"
    )
    def update(self, request, *args, **kwargs):
        unit = self.get_object()
        data = self.input(s.OrganizationUpdateSerializer, partial=kwargs.get("partial", False))
        version = data.pop("version")
        unit = services.update_unit(actor=request.user, unit=unit, data=data, version=version)
        return self.output(unit)

    @_write_schema(
        s.OrganizationUpdateSerializer,
        s.OrganizationSerializer,
        stale=True,
        summary="Edit some fields of a unit (version required)",
    )
    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    @_write_schema(
        s.MoveInputSerializer, s.OrganizationSerializer, stale=True, summary="Move a unit"
    )
    @action(detail=True, methods=["post"])
    def move(self, request, pk=None):
        unit = self.get_object()
        data = self.input(s.MoveInputSerializer)
        unit = services.move_unit(
            actor=request.user,
            unit=unit,
            new_parent=data["parent"],
            reason=data.get("reason", ""),
            version=data["version"],
        )
        return self.output(unit)

    @_write_schema(
        s.DissolveInputSerializer, s.OrganizationSerializer, stale=True, summary="Dissolve a unit"
    )
    @action(detail=True, methods=["post"])
    def dissolve(self, request, pk=None):
        unit = self.get_object()
        data = self.input(s.DissolveInputSerializer)
        unit = services.dissolve_unit(
            actor=request.user,
            unit=unit,
            on=data["on"],
            reason=data["reason"],
            version=data["version"],
        )
        return self.output(unit)


# ---------------------------------------------------------------- people


@extend_schema_view(
    list=extend_schema(summary="List people you can see (phone numbers masked)"),
    retrieve=extend_schema(summary="One person", responses={200: s.PersonSerializer, **_ERRORS}),
)
class PersonViewSet(
    ScopedViewSetMixin,
    ServiceWriteMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """People (人员) of the units you can see. People are transferred, not deleted."""

    queryset = Person.objects.all()
    serializer_class = s.PersonSerializer
    filterset_class = PersonApiFilter
    ordering_fields = ["name", "joined_on", "created_at"]
    ordering = ["org_id", "name", "id"]
    view_perm = roles.PERSON_VIEW
    action_perms = {
        "create": roles.PERSON_ADD,
        "update": roles.PERSON_CHANGE,
        "partial_update": roles.PERSON_CHANGE,
        "transfer": roles.PERSON_TRANSFER,
    }

    def may_use(self, user, perm) -> bool:
        if scope.has_perm(user, perm):
            return True
        # everyone may read their own person record
        return perm == roles.PERSON_VIEW and Person.objects.filter(user_id=user.pk).exists()

    def get_queryset(self):
        current_posts = Post.objects.filter(ended_on__isnull=True).order_by("title")
        return (
            Person.objects.visible_to(self.request.user, self.view_perm)
            .select_related("org")
            .prefetch_related(
                Prefetch("posts", queryset=current_posts, to_attr="api_current_posts")
            )
        )

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if self.action != "list":
            user = self.request.user
            context["show_full_phone"] = lambda p: scope.has_perm(user, roles.PERSON_CHANGE, p.org)
        return context

    def _fresh(self, person: Person) -> Person:
        # re-read with the current posts for the answer
        return self.get_queryset().get(pk=person.pk)

    @_write_schema(
        s.PersonInputSerializer,
        s.PersonSerializer,
        summary="Add a person",
        created=True,
    )
    def create(self, request, *args, **kwargs):
        data = self.input(s.PersonInputSerializer)
        org = data.pop("org")
        posts = data.pop("posts", None)
        person = services.create_person(actor=request.user, org=org, data=data, posts=posts)
        return self.output(self._fresh(person), status.HTTP_201_CREATED)

    @_write_schema(
        s.PersonUpdateSerializer, s.PersonSerializer, stale=True, summary="Edit a person"
    )
    def update(self, request, *args, **kwargs):
        person = self.get_object()
        data = self.input(s.PersonUpdateSerializer, partial=kwargs.get("partial", False))
        version = data.pop("version")
        posts = data.pop("posts", None)
        person = services.update_person(
            actor=request.user, person=person, data=data, posts=posts, version=version
        )
        return self.output(self._fresh(person))

    @_write_schema(
        s.PersonUpdateSerializer,
        s.PersonSerializer,
        stale=True,
        summary="Edit some fields of a person (version required)",
    )
    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    @_write_schema(
        s.TransferInputSerializer,
        s.PersonSerializer,
        stale=True,
        summary="Transfer a person to another unit",
    )
    @action(detail=True, methods=["post"])
    def transfer(self, request, pk=None):
        person = self.get_object()
        data = self.input(s.TransferInputSerializer)
        person = services.transfer_person(
            actor=request.user,
            person=person,
            to_org=data["to_org"],
            on=data.get("on"),
            reason=data["reason"],
            version=data["version"],
        )
        return self.output(self._fresh(person))


# ---------------------------------------------------------------- role assignments


@extend_schema_view(
    list=extend_schema(summary="List role assignments on units you can see"),
    retrieve=extend_schema(
        summary="One role assignment", responses={200: s.RoleAssignmentSerializer, **_ERRORS}
    ),
)
class RoleAssignmentViewSet(
    ScopedViewSetMixin,
    ServiceWriteMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Roles granted to users on units. Granted and revoked, never edited."""

    queryset = RoleAssignment.objects.all()
    serializer_class = s.RoleAssignmentSerializer
    filterset_class = RoleAssignmentFilter
    ordering_fields = ["id", "role", "created_at"]
    ordering = ["id"]
    view_perm = roles.ROLE_VIEW
    action_perms = {"create": roles.ROLE_MANAGE, "destroy": roles.ROLE_MANAGE}

    def get_queryset(self):
        return RoleAssignment.objects.visible_to(self.request.user, self.view_perm).select_related(
            "user", "org"
        )

    @_write_schema(
        s.RoleAssignmentInputSerializer,
        s.RoleAssignmentSerializer,
        summary="Grant a role",
        created=True,
    )
    def create(self, request, *args, **kwargs):
        data = self.input(s.RoleAssignmentInputSerializer)
        assignment = services.assign_role(actor=request.user, **data)
        return self.output(assignment, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Revoke a role",
        parameters=[
            OpenApiParameter("reason", str, description="Why the role is revoked (logged).")
        ],
        responses={204: None, 403: _ERRORS[403], 404: _ERRORS[404]},
    )
    def destroy(self, request, *args, **kwargs):
        assignment = self.get_object()
        reason = (request.query_params.get("reason") or "")[: s.REASON_MAX]
        services.revoke_role(actor=request.user, assignment=assignment, reason=reason)
        return Response(status=status.HTTP_204_NO_CONTENT)
