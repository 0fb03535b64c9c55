"""REST API of the organisation area: units, people and role assignments.

Serializers read and validate input; every write goes through ``pbqms.orgs.services``."""

from pbqms.orgs.api.views import OrganizationViewSet, PersonViewSet, RoleAssignmentViewSet

__all__ = ["OrganizationViewSet", "PersonViewSet", "RoleAssignmentViewSet"]
