from django.urls import path

from pbqms.reviews import views

app_name = "reviews"

urlpatterns = [
    path("", views.review_list, name="list"),
    path("new/", views.review_create, name="create"),
    path("<int:pk>/", views.review_detail, name="detail"),
    path("<int:pk>/edit/", views.review_edit, name="edit"),
    path("<int:pk>/compile/", views.review_compile, name="compile"),
    path("<int:pk>/meeting/", views.review_meeting, name="meeting"),
    path("<int:pk>/status/", views.review_transition, name="transition"),
    path("<int:pk>/outputs/", views.output_add, name="output_add"),
    path("<int:pk>/minutes.docx", views.review_minutes, name="minutes"),
    path("outputs/<int:pk>/done/", views.output_complete, name="output_complete"),
    path("outputs/<int:pk>/cancel/", views.output_cancel, name="output_cancel"),
    path("outputs/<int:pk>/raise/", views.output_raise, name="output_raise"),
]
