from django.urls import path

from pbqms.records import views

app_name = "records"

urlpatterns = [
    path("", views.record_list, name="list"),
    path("new/", views.record_new, name="new"),
    path("templates/", views.template_list, name="templates"),
    path("templates/new/", views.template_edit, name="template_create"),
    path("templates/<int:pk>/edit/", views.template_edit, name="template_edit"),
    path("new/<int:template_pk>/", views.record_create, name="create"),
    path("<int:pk>/", views.record_detail, name="detail"),
    path("<int:pk>/edit/", views.record_edit, name="edit"),
    path("<int:pk>/submit/", views.record_submit, name="submit"),
    path("<int:pk>/amend/", views.record_amend, name="amend"),
    path("<int:pk>/export.docx", views.record_docx, name="docx"),
    path("<int:pk>/files/<int:attachment_pk>/", views.attachment, name="attachment"),
]
