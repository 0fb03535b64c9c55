from django.urls import path

from pbqms.documents import views

app_name = "documents"

urlpatterns = [
    path("", views.document_list, name="list"),
    path("export/", views.document_list_export, name="list_export"),
    path("tree/", views.document_tree, name="tree"),
    path("tree/<int:pk>/children/", views.tree_children, name="tree_children"),
    path("tasks/", views.tasks, name="tasks"),
    path("reviews/", views.reviews, name="reviews"),
    path("new/", views.document_create, name="create"),
    path("starter/", views.starter_set, name="starter"),
    path("system/", views.document_system, name="system"),
    path("preview/", views.preview, name="preview"),
    path("<int:pk>/", views.document_detail, name="detail"),
    path("<int:pk>/diff/", views.diff, name="diff"),
    path("<int:pk>/revise/", views.start_revision, name="revise"),
    path("<int:pk>/obsolete/", views.obsolete, name="obsolete"),
    path("<int:pk>/periodic-review/", views.periodic_review, name="periodic_review"),
    path("<int:pk>/links/", views.link_add, name="link_add"),
    path("<int:pk>/links/<int:link_pk>/remove/", views.link_remove, name="link_remove"),
    path("<int:pk>/export-manual/", views.export_manual, name="export_manual"),
    path("versions/<int:pk>/edit/", views.version_edit, name="version_edit"),
    path("versions/<int:pk>/export/", views.export_version, name="export_version"),
    path("versions/<int:pk>/export.pdf", views.export_version_pdf, name="export_version_pdf"),
    path("versions/<int:pk>/file/", views.version_file, name="version_file"),
    path("versions/<int:pk>/remind/", views.remind, name="remind"),
    path("versions/<int:pk>/<str:name>/", views.version_action, name="version_action"),
    path("acknowledgements/<int:pk>/", views.acknowledge, name="acknowledge"),
]
