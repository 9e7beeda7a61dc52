"""Users in the admin, with a way to reset someone's two-factor sign-in
when their phone is lost."""

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from accounts import two_factor

User = get_user_model()


@admin.action(
    description="Reset two-factor sign-in (lost phone): set up again at next sign-in", permissions=["change"],
)
def reset_two_factor(modeladmin, request, queryset):
    for user in queryset:
        two_factor.reset_two_factor(user, request=request)
    modeladmin.message_user(
        request,
        f"Two-factor sign-in reset for {queryset.count()} user(s): each sets up an authenticator "
        "app after their password next time, and their old codes no longer work.",
        messages.SUCCESS,
    )


class KetaScreenUserAdmin(UserAdmin):
    actions = [*UserAdmin.actions, reset_two_factor]


admin.site.unregister(User)
admin.site.register(User, KetaScreenUserAdmin)
