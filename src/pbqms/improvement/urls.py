from django.urls import path

from pbqms.improvement import views

app_name = "improvement"

urlpatterns = [
    path("", views.index, name="index"),
    path("nonconformities/", views.nc_list, name="nc_list"),
    path("nonconformities/new/", views.nc_create, name="nc_create"),
    path("nonconformities/<int:pk>/", views.nc_detail, name="nc_detail"),
    path("nonconformities/<int:pk>/analysis/", views.nc_analysis, name="nc_analysis"),
    path("nonconformities/<int:pk>/verifier/", views.nc_verifier, name="nc_verifier"),
    path("nonconformities/<int:pk>/step/<str:name>/", views.nc_step, name="nc_step"),
    path("nonconformities/<int:pk>/actions/new/", views.action_create, name="action_create"),
    path("actions/", views.action_list, name="action_list"),
    path("actions/<int:pk>/edit/", views.action_edit, name="action_edit"),
    path("actions/<int:pk>/complete/", views.action_complete, name="action_complete"),
    path("actions/<int:pk>/verify/", views.action_verify, name="action_verify"),
    path("actions/<int:pk>/cancel/", views.action_cancel, name="action_cancel"),
    path(
        "actions/<int:pk>/revise-document/",
        views.action_revise_document,
        name="action_revise_document",
    ),
    path("glance/", views.glance, name="glance"),
]
