"""Reads that the screening pages share; each says how many queries it makes."""

from django.db.models import QuerySet

from conditions.models import Condition
from screening.models import Screening, Status

VIEW_ALL_PERMISSION = "screening.view_all_screenings"
LIST_COLUMNS = (
    "id", "patient_reference", "conditions", "worst_status", "alert_count", "status",
    "created_at", "owner__username", "owner__first_name", "owner__last_name",
)


def can_view_all(user) -> bool:
    """Superusers: no query. Others: 2 the first time per request (their own
    and their groups' permissions), then cached on the user."""
    return user.has_perm(VIEW_ALL_PERMISSION)


def screening_detail(pk) -> Screening | None:
    """One query: the screening with its owner, finaliser, snapshot and the
    screening it amends, or None."""
    return (
        Screening.objects.select_related("owner", "finalised_by", "snapshot", "amends")
        .filter(pk=pk)
        .first()
    )


def screening_list(*, user, query: str = "", status: str = "") -> QuerySet[Screening]:
    """The screenings `user` may see, newest first, optionally narrowed to a
    patient reference (case-insensitive, any part of it) and a status.

    Lazy; the rows load only the list's columns. Checking the permission
    costs what `can_view_all` costs.
    """
    screenings = Screening.objects.select_related("owner").only(*LIST_COLUMNS)
    if not can_view_all(user):
        screenings = screenings.filter(owner=user)
    if query:
        screenings = screenings.filter(patient_reference__icontains=query)
    if status in Status.values:
        screenings = screenings.filter(status=status)
    return screenings.order_by("-created_at", "-id")


def condition_names() -> dict[str, str]:
    """One query: slug -> name of every condition, active or not, for lists
    that show the conditions of past screenings."""
    return dict(Condition.objects.values_list("slug", "name"))


def amendments_of(screening: Screening) -> list[Screening]:
    """One query: the screenings that amend this one, oldest first."""
    return list(screening.amendments.only("id", "status", "created_at", "amends_id").order_by("created_at", "id"))
