from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from config import views

# Only what the app uses from django.contrib.auth: no e-mailed password
# resets (a clinic's administrator resets passwords in the admin).
accounts = [
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("accounts/session/", views.session_keepalive, name="session_keepalive"),
]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="screening:list", permanent=False)),
    path("healthz", views.healthz, name="healthz"),
    *accounts,
    path("", include("screening.urls")),
    path("admin/", admin.site.urls),
]
