from django.urls import path

from pbqms.orgs import views

app_name = "orgs"

urlpatterns = [
    # organisation tree and units
    path("", views.tree, name="tree"),
    path("tree/<int:pk>/children/", views.tree_children, name="tree_children"),
    path("units/new/", views.unit_create, name="unit_create"),
    path("units/<int:pk>/", views.unit_detail, name="unit_detail"),
    path("units/<int:pk>/edit/", views.unit_edit, name="unit_edit"),
    path("units/<int:pk>/move/", views.unit_move, name="unit_move"),
    path("units/<int:pk>/dissolve/", views.unit_dissolve, name="unit_dissolve"),
    # people
    path("people/", views.person_list, name="person_list"),
    path("people/new/", views.person_create, name="person_create"),
    path("people/<int:pk>/", views.person_detail, name="person_detail"),
    path("people/<int:pk>/edit/", views.person_edit, name="person_edit"),
    path("people/<int:pk>/transfer/", views.person_transfer, name="person_transfer"),
    # import / export (orgs:import, orgs:person_export …) and role assignments (orgs:role_*)
    # are added below by their own modules
]

# role assignments (角色授权): pbqms.orgs.views_roles
from pbqms.orgs import views_roles  # noqa: E402

urlpatterns += [
    path("roles/", views_roles.role_list, name="role_list"),
    path("roles/new/", views_roles.role_grant, name="role_grant"),
    path("roles/<int:pk>/revoke/", views_roles.role_revoke, name="role_revoke"),
    path("roles/options/users/", views_roles.user_options, name="role_user_options"),
    path("roles/options/units/", views_roles.unit_options, name="role_unit_options"),
]

# Excel import and export (导入/导出): pbqms.orgs.views_io
from pbqms.orgs import views_io  # noqa: E402

urlpatterns += [
    path("import/", views_io.import_page, name="import"),
    path("import/template/", views_io.import_template, name="import_template"),
    path("import/report/<str:token>/", views_io.import_report, name="import_report"),
    path("people/export/", views_io.person_export, name="person_export"),
]
