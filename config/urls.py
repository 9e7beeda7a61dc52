from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from accounts import views as accounts
from config import views

# Only what the app uses from django.contrib.auth: no e-mailed password
# resets (a clinic's administrator resets passwords in the admin).
# Sign-in is two steps for those who must use two factors (accounts.views):
# the password at accounts/login/, then a code.
sign_in = [
    path("accounts/login/", accounts.SignInView.as_view(), name="login"),
    path("accounts/two-factor/", accounts.second_step, name="two_factor"),
    path("accounts/two-factor/set-up/", accounts.setup, name="two_factor_setup"),
    path("accounts/two-factor/recovery-codes/", accounts.recovery_codes, name="two_factor_recovery_codes"),
    path("accounts/two-factor/recovery-codes/download/", accounts.recovery_codes_download,
         name="two_factor_recovery_codes_download"),
    path("accounts/two-factor/recovery-codes/new/", accounts.recovery_codes_new, name="two_factor_recovery_codes_new"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("accounts/session/", views.session_keepalive, name="session_keepalive"),
]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="screening:list", permanent=False)),
    path("healthz", views.healthz, name="healthz"),
    *sign_in,
    path("", include("screening.urls")),
    # The published versions' pages were under the screening app until the
    # rulebook had one of its own; a lead's bookmark still arrives.
    path("admin/screening/publishedrulebook/<path:rest>",
         RedirectView.as_view(url="/admin/rulebook/publishedrulebook/%(rest)s", query_string=True),
         name="moved_published_versions_page"),
    path("admin/screening/publishedrulebook/",
         RedirectView.as_view(url="/admin/rulebook/publishedrulebook/", query_string=True),
         name="moved_published_versions"),
    path("admin/", admin.site.urls),
]
