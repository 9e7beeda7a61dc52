from django.contrib.admin.apps import AdminConfig


class KetaScreenAdminConfig(AdminConfig):
    """Django's admin, on a site that asks those who must use two-factor
    sign-in for a verified session (accounts.sites)."""

    default_site = "accounts.sites.KetaScreenAdminSite"
