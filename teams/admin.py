"""Teams in the admin: a clinic administrator (the group "Clinic
administrators") adds teams and puts users in them, here or on a user's
own page (accounts.admin)."""

from django.contrib import admin

from teams.models import Membership, Team


class MembershipInline(admin.TabularInline):
    model = Membership
    fields = ["user", "joined_at"]
    readonly_fields = ["joined_at"]
    autocomplete_fields = ["user"]
    extra = 1


class UserTeamInline(admin.StackedInline):
    """A user's team, on the user's page in the admin."""

    model = Membership
    fields = ["team"]
    max_num = 1
    can_delete = True
    verbose_name = "team"
    verbose_name_plural = "team"


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "member_count"]
    search_fields = ["name"]
    inlines = [MembershipInline]

    @admin.display(description="members")
    def member_count(self, team):
        return team.memberships.count()
