from django.urls import path

from pbqms.core import views, views_changelog

app_name = "core"

urlpatterns = [
    path("", views.home, name="home"),
    path("changelog/", views_changelog.changelog_list, name="changelog"),
    path("changelog/<int:pk>/", views_changelog.changelog_detail, name="changelog_detail"),
    path("changelog/verify/", views_changelog.changelog_verify, name="changelog_verify"),
]
