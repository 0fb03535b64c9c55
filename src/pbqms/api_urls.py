"""The REST API router: every app registers its viewsets here."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from pbqms.core.api import ChangeLogViewSet, token_view
from pbqms.orgs.api import OrganizationViewSet, PersonViewSet, RoleAssignmentViewSet

router = DefaultRouter()
router.register("orgs", OrganizationViewSet, basename="organization")
router.register("people", PersonViewSet, basename="person")
router.register("role-assignments", RoleAssignmentViewSet, basename="roleassignment")
router.register("change-log", ChangeLogViewSet, basename="changelogentry")

urlpatterns = [
    path("auth/token/", token_view, name="api-token"),
    *router.urls,
]
