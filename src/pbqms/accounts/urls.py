from django.urls import path

from pbqms.accounts import views, views_admin

app_name = "accounts"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("otp/", views.otp_view, name="otp"),
    path("password/", views.password_change, name="password_change"),
    path("profile/", views.profile, name="profile"),
    path("language/", views.set_language, name="language"),
    # system administrator: user accounts
    path("users/", views_admin.user_list, name="user_list"),
    path("users/new/", views_admin.user_create, name="user_create"),
    path("users/people/", views_admin.person_options, name="person_options"),
    path("users/<int:pk>/", views_admin.user_edit, name="user_edit"),
    path("users/<int:pk>/active/", views_admin.user_set_active, name="user_set_active"),
    path("users/<int:pk>/password/", views_admin.user_reset_password, name="user_reset_password"),
    # security administrator: policy in force, lockouts, two-factor coverage
    path("security/", views_admin.security, name="security"),
    path("security/unlock/", views_admin.unlock, name="unlock"),
]
