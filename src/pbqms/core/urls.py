from django.urls import path

from pbqms.core import views, views_changelog, views_jobs, views_notifications

app_name = "core"

urlpatterns = [
    path("", views.home, name="home"),
    path("overview/", views.overview, name="overview"),
    path("changelog/", views_changelog.changelog_list, name="changelog"),
    path("changelog/<int:pk>/", views_changelog.changelog_detail, name="changelog_detail"),
    path("jobs/<uuid:pk>/", views_jobs.job_status, name="job_status"),
    path("notifications/", views_notifications.inbox, name="notifications"),
    path(
        "notifications/<int:pk>/open/",
        views_notifications.open_notification,
        name="notification_open",
    ),
    path("notifications/read-all/", views_notifications.mark_all_read, name="notifications_read"),
    path("changelog/verify/", views_changelog.changelog_verify, name="changelog_verify"),
]
