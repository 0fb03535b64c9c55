from django.urls import path

from pbqms.system import views

app_name = "system"

urlpatterns = [
    path("conformity/", views.board, name="board"),
    path("conformity/due/", views.due, name="due"),
    path("conformity/unit/<int:org_id>/", views.unit_board, name="unit"),
    path(
        "conformity/cell/<int:org_id>/<int:obligation_id>/<str:period_start>/",
        views.cell,
        name="cell",
    ),
    path(
        "conformity/cell/<int:org_id>/<int:obligation_id>/<str:period_start>/nonconformity/",
        views.cell_raise,
        name="cell_raise",
    ),
    path("requirements/", views.requirement_list, name="requirement_list"),
    path("requirements/coverage/", views.coverage_matrix, name="coverage"),
    path("requirements/<int:pk>/", views.requirement_detail, name="requirement_detail"),
    path("obligations/", views.obligation_list, name="obligation_list"),
    path("obligations/new/", views.obligation_edit, name="obligation_create"),
    path("obligations/<int:pk>/", views.obligation_edit, name="obligation_edit"),
]
