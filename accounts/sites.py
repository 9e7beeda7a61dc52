from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.urls import reverse

from accounts.two_factor import second_factor_satisfied


class KetaScreenAdminSite(admin.AdminSite):
    """The admin: for staff whose session passed the second factor, signed
    in through the site's own two-step sign-in, never the admin's own form
    (which knows only passwords)."""

    def has_permission(self, request):
        return super().has_permission(request) and second_factor_satisfied(request)

    def login(self, request, extra_context=None):
        return redirect_to_login(request.GET.get("next") or reverse("admin:index"))
