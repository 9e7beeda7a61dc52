"""Users in the admin, with their team, and a way to reset someone's
two-factor sign-in when their phone is lost."""

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from accounts import two_factor
from teams.admin import UserTeamInline

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
    inlines = [*UserAdmin.inlines, UserTeamInline]
    list_display = [*UserAdmin.list_display, "team"]
    list_select_related = ["team_membership__team"]
    list_filter = [*UserAdmin.list_filter, "team_membership__team"]

    @admin.display(description="team", ordering="team_membership__team__name")
    def team(self, user):
        membership = getattr(user, "team_membership", None)
        return membership.team if membership is not None else "—"

    def get_readonly_fields(self, request, obj=None):
        """A clinic administrator manages users and their roles (groups),
        but only a superuser makes a superuser or grants single permissions:
        otherwise whoever may change users could make themselves anything."""
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly += ["is_superuser", "user_permissions"]
        return readonly

    def has_delete_permission(self, request, obj=None):
        """Nobody is deleted: a user's name stands on screenings, audit events
        and the knowledge base's insert-only history, which may not be
        rewritten to forget them. Someone who leaves is made inactive
        ("Active" unticked), which signs them out for good and keeps the record."""
        return False


admin.site.unregister(User)
admin.site.register(User, KetaScreenUserAdmin)
