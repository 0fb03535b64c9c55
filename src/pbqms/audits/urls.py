from django.urls import path

from pbqms.audits import views

app_name = "audits"

urlpatterns = [
    # internal audits (内部审核): programmes and audits
    path("", views.programme_list, name="programme_list"),
    path("checklist-templates/", views.template_list, name="template_list"),
    path("checklist-templates/<int:pk>/", views.template_detail, name="template_detail"),
    path("checklist-templates/<int:pk>/delete/", views.template_delete, name="template_delete"),
    path("programmes/new/", views.programme_create, name="programme_create"),
    path("programmes/<int:pk>/", views.programme_detail, name="programme_detail"),
    path("programmes/<int:pk>/edit/", views.programme_edit, name="programme_edit"),
    path("programmes/<int:pk>/status/", views.programme_transition, name="programme_transition"),
    path("programmes/<int:pk>/propose/", views.programme_propose, name="programme_propose"),
    path("programmes/<int:pk>/risk/", views.programme_risk, name="programme_risk"),
    path("programmes/<int:pk>/audits/new/", views.audit_create, name="audit_create"),
    path("<int:pk>/", views.audit_detail, name="audit_detail"),
    path("<int:pk>/edit/", views.audit_edit, name="audit_edit"),
    path("<int:pk>/team/", views.audit_team, name="audit_team"),
    path("<int:pk>/report/", views.audit_report, name="audit_report"),
    path("<int:pk>/report.docx", views.audit_report_docx, name="audit_report_docx"),
    path("<int:pk>/status/", views.audit_transition, name="audit_transition"),
    path("<int:pk>/checklist/", views.checklist, name="checklist"),
    path("<int:pk>/checklist/generate/", views.checklist_generate, name="checklist_generate"),
    path(
        "<int:pk>/checklist/apply-template/",
        views.checklist_apply_template,
        name="checklist_apply_template",
    ),
    path(
        "<int:pk>/checklist/save-template/",
        views.checklist_save_template,
        name="checklist_save_template",
    ),
    path("<int:pk>/checklist/<int:item_pk>/", views.checklist_result, name="checklist_result"),
    path(
        "<int:pk>/checklist/<int:item_pk>/files/",
        views.checklist_attach,
        name="checklist_attach",
    ),
    path(
        "<int:pk>/checklist/<int:item_pk>/files/<int:file_pk>/",
        views.checklist_file,
        name="checklist_file",
    ),
    path(
        "<int:pk>/checklist/<int:item_pk>/edit/",
        views.checklist_item_edit,
        name="checklist_item_edit",
    ),
    path("<int:pk>/checklist/<int:item_pk>/raise/", views.checklist_raise, name="checklist_raise"),
    # internal-auditor team (内审员队伍)
    path("auditors/", views.auditor_list, name="auditor_list"),
    path("auditors/<int:pk>/", views.auditor_detail, name="auditor_detail"),
    path("auditors/qualifications/new/", views.qualification_create, name="qualification_create"),
    path(
        "auditors/qualifications/<int:pk>/edit/",
        views.qualification_edit,
        name="qualification_edit",
    ),
]
