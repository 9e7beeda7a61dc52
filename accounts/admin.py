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

    def has_delete_permission(self, request, obj=None):
        """Nobody is deleted: a user's name stands on screenings, audit events
        and the knowledge base's insert-only history, which may not be
        rewritten to forget them. Someone who leaves is made inactive
        ("Active" unticked), which signs them out for good and keeps the record."""
        return False


admin.site.unregister(User)
admin.site.register(User, KetaScreenUserAdmin)
