from django.urls import path

from pbqms.processes import views

app_name = "processes"

urlpatterns = [
    path("", views.process_map, name="map"),
    path("new/", views.process_edit, name="create"),
    path("starter/", views.starter, name="starter"),
    path("<int:pk>/", views.process_detail, name="detail"),
    path("<int:pk>/edit/", views.process_edit, name="edit"),
]
