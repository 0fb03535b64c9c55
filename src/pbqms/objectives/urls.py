from django.urls import path

from pbqms.objectives import views

app_name = "objectives"

urlpatterns = [
    path("", views.index, name="index"),
    path("attainment/", views.attainment, name="attainment"),
    path("attainment/export/", views.attainment_export, name="attainment_export"),
    path("policies/new/", views.policy_edit, name="policy_create"),
    path("policies/<int:pk>/edit/", views.policy_edit, name="policy_edit"),
    path("policies/<int:pk>/refresh/", views.policy_refresh, name="policy_refresh"),
    path("policies/<int:pk>/copy/", views.policy_copy, name="policy_copy"),
    path("policies/<int:policy_pk>/objectives/new/", views.objective_edit, name="objective_create"),
    path("objectives/<int:pk>/edit/", views.objective_edit, name="objective_edit"),
    path(
        "objectives/<int:pk>/delete/",
        views.item_delete,
        {"kind": "objective"},
        name="objective_delete",
    ),
    path(
        "indicators/<int:pk>/delete/",
        views.item_delete,
        {"kind": "indicator"},
        name="indicator_delete",
    ),
    path(
        "objectives/<int:objective_pk>/indicators/new/",
        views.indicator_edit,
        name="indicator_create",
    ),
    path("indicators/<int:pk>/", views.indicator_detail, name="indicator"),
    path("indicators/<int:pk>/edit/", views.indicator_edit, name="indicator_edit"),
    path("indicators/<int:pk>/targets/", views.indicator_targets, name="indicator_targets"),
    path("indicators/<int:pk>/value/", views.indicator_value, name="indicator_value"),
]
