"""The REST API router: every app registers its viewsets here."""

from django.urls import path, re_path
from rest_framework.routers import DefaultRouter

from pbqms.audits.api import AuditorViewSet, AuditProgrammeViewSet, AuditViewSet, FindingViewSet
from pbqms.core.api import ChangeLogViewSet, api_not_found, token_view
from pbqms.documents.api import AcknowledgementViewSet, DocumentVersionViewSet, DocumentViewSet
from pbqms.improvement.api import CorrectiveActionViewSet, NonconformityViewSet
from pbqms.objectives.api import (
    IndicatorViewSet,
    MeasurementViewSet,
    ObjectiveViewSet,
    PolicyViewSet,
)
from pbqms.orgs.api import OrganizationViewSet, PersonViewSet, RoleAssignmentViewSet
from pbqms.plans.api import TaskViewSet, WorkPlanViewSet
from pbqms.processes.api import ProcessViewSet
from pbqms.records.api import RecordTemplateViewSet, RecordViewSet
from pbqms.reviews.api import ManagementReviewViewSet, ReviewOutputViewSet
from pbqms.system.api import (
    ConformityViewSet,
    CoverageViewSet,
    ObligationViewSet,
    RequirementViewSet,
)

router = DefaultRouter()
router.register("orgs", OrganizationViewSet, basename="organization")
router.register("people", PersonViewSet, basename="person")
router.register("role-assignments", RoleAssignmentViewSet, basename="roleassignment")
router.register("change-log", ChangeLogViewSet, basename="changelogentry")
router.register("record-templates", RecordTemplateViewSet, basename="recordtemplate")
router.register("records", RecordViewSet, basename="record")
router.register("auditors", AuditorViewSet, basename="auditorqualification")
router.register("audit-programmes", AuditProgrammeViewSet, basename="auditprogramme")
router.register("audits", AuditViewSet, basename="audit")
router.register("findings", FindingViewSet, basename="finding")
router.register("documents", DocumentViewSet, basename="document")
router.register("document-versions", DocumentVersionViewSet, basename="documentversion")
router.register("acknowledgements", AcknowledgementViewSet, basename="acknowledgement")
router.register("nonconformities", NonconformityViewSet, basename="nonconformity")
router.register("corrective-actions", CorrectiveActionViewSet, basename="correctiveaction")
router.register("requirements", RequirementViewSet, basename="requirement")
router.register("obligations", ObligationViewSet, basename="obligation")
router.register("conformity", ConformityViewSet, basename="conformityresult")
router.register("policies", PolicyViewSet, basename="policy")
router.register("objectives", ObjectiveViewSet, basename="objective")
router.register("indicators", IndicatorViewSet, basename="indicator")
router.register("indicator-values", MeasurementViewSet, basename="measurement")
router.register("processes", ProcessViewSet, basename="process")
router.register("coverage", CoverageViewSet, basename="coverage")
router.register("plans", WorkPlanViewSet, basename="workplan")
router.register("tasks", TaskViewSet, basename="task")
router.register("management-reviews", ManagementReviewViewSet, basename="managementreview")
router.register("review-outputs", ReviewOutputViewSet, basename="reviewoutput")

urlpatterns = [
    path("auth/token/", token_view, name="api-token"),
    *router.urls,
    # anything else under /api/ is a JSON 404
    re_path(r"^[\s\S]*$", api_not_found),  # also paths holding a newline
]
