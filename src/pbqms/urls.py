from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from pbqms.core import views as core_views

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("pbqms.accounts.urls")),
    path("orgs/", include("pbqms.orgs.urls")),
    path("audits/", include("pbqms.audits.urls")),
    path("records/", include("pbqms.records.urls")),
    path("documents/", include("pbqms.documents.urls")),
    path("improvement/", include("pbqms.improvement.urls")),
    path("system/", include("pbqms.system.urls")),
    path("objectives/", include("pbqms.objectives.urls")),
    path("processes/", include("pbqms.processes.urls")),
    path("plans/", include("pbqms.plans.urls")),
    path("reviews/", include("pbqms.reviews.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # the split view serves its start-up script as a file: the page works under our CSP
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/", include("pbqms.api_urls")),
    path("", include("pbqms.core.urls")),
]
