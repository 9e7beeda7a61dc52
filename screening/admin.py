"""The screening records and the audit trail in the admin, read-only.
(The rulebook's published versions are rulebook.admin's.)"""

from django.contrib import admin

from rulebook.versions import version_label
from screening.models import AuditEvent, Screening


class ReadOnlyAdmin(admin.ModelAdmin):
    """Lists and shows rows; adds, changes and deletes nothing."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Read only for everyone, superusers included: the trail is append-only."""

    list_display = ["at", "username", "action", "patient_reference", "object_type", "object_key",
                    "ip_address"]
    list_filter = ["action", "at", ("user", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["username", "patient_reference", "object_key"]
    date_hierarchy = "at"
    ordering = ["-at", "-id"]


@admin.register(Screening)
class ScreeningAdmin(ReadOnlyAdmin):
    """For looking records up; screenings change only through the app's own
    pages, where a final one can never change."""

    list_display = ["patient_reference", "owner", "status", "worst_status", "rules",
                    "created_at", "finalised_at"]
    list_filter = ["status", "worst_status"]
    search_fields = ["patient_reference"]
    list_select_related = ["owner"]
    ordering = ["-created_at", "-id"]

    @admin.display(description="rules", ordering="rulebook_version")
    def rules(self, screening):
        return version_label(screening.rulebook_version)
