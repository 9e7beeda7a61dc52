"""Reads that the screening pages share, through the ORM; each says how many
queries it makes."""

from datetime import timedelta

from django.db.models import Case, Exists, OuterRef, QuerySet, Subquery, When
from django.db.models.fields.json import KeyTransform
from django.utils import timezone

from conditions.models import Condition, Criterion
from rulebook.models import PublishedRulebook
from rulebook.publishing import Record
from screening.models import Screening, Status, patient_key

VIEW_ALL_PERMISSION = "screening.view_all_screenings"

# What a row of the screening list shows.
LIST_FIELDS = (
    "patient_reference", "conditions", "worst_status", "alert_count", "status", "created_at", "discarded_at",
    "owner__username", "owner__first_name", "owner__last_name",
)


def _live_amendments():
    """The screenings amending the outer one that were not discarded (one at most)."""
    return Screening.objects.filter(amends=OuterRef("pk"), discarded_at__isnull=True)


def can_view_all(user) -> bool:
    """Whether `user` may read every clinician's screenings: an active
    superuser, or an active user granted `view_all_screenings` directly or
    through a group. Django's ModelBackend decides, and remembers the
    user's permissions on the user object for the request: 2 queries the
    first time (none for a superuser or an inactive user)."""
    return user.has_perm(VIEW_ALL_PERMISSION)


def _by_key(screenings: QuerySet[Screening], pk) -> Screening | None:
    """The screening `pk` of `screenings`, or None: Django's `get()`, which
    reads one row by key without the list's ordering."""
    try:
        return screenings.get(pk=pk)
    except Screening.DoesNotExist:
        return None


def screening_detail(pk) -> Screening | None:
    """One query: the screening with its owner, finaliser, snapshot and the
    screening it amends, or None."""
    return _by_key(Screening.objects.select_related("owner", "finalised_by", "snapshot", "amends"), pk)


def screening_page(pk) -> Screening | None:
    """One query: the screening without its stored result (loaded on
    access), with its owner, its finaliser, the screening it amends, and
    `has_amendments`: whether a screening (not discarded) amends it; or None."""
    return _by_key(
        Screening.objects.select_related("owner", "finalised_by", "amends")
        .defer("result", "amends__result", "amends__answers")
        .annotate(has_amendments=Exists(_live_amendments())),
        pk,
    )


# What the questionnaire, its refreshes and its saves read of a screening:
# whose it is and whether it can change, what the form shows and is
# evaluated with, and the notes above it.
QUESTIONNAIRE_FIELDS = (
    "owner_id", "patient_reference", "year_of_birth", "conditions", "answers", "rulebook_version",
    "reevaluated_from", "status", "revision", "discarded_at", "amends__created_at",
)


def questionnaire_screening(pk) -> Screening | None:
    """One query: the screening as the questionnaire reads it
    (QUESTIONNAIRE_FIELDS, with when the screening it amends was made),
    without its stored result, snapshot or people; or None."""
    return _by_key(Screening.objects.select_related("amends").only(*QUESTIONNAIRE_FIELDS), pk)


def screening_list(*, user, query: str = "", status: str = "") -> QuerySet[Screening]:
    """The screenings `user` may see, newest first, with their owners'
    names and `replaced_by` (the id of the screening amending it, or None),
    optionally narrowed to a patient reference (case-insensitive, any part
    of it) and a status. Which they may see: `Screening.objects.visible_to`
    (their own, and their team-mates' finals). Discarded drafts are left
    out. Slicing it makes one query (after `can_view_all`'s)."""
    screenings = (
        Screening.objects.visible_to(user, view_all=can_view_all(user))
        .select_related("owner").only(*LIST_FIELDS)
        .filter(discarded_at__isnull=True)
        .annotate(replaced_by=Subquery(_live_amendments().values("pk")[:1]))
    )
    if query:
        screenings = screenings.filter(patient_reference__icontains=query)
    if status in Status.values:
        screenings = screenings.filter(status=status)
    return screenings.order_by("-created_at", "-id")


# What a patient's history shows of each screening: a row of the list and
# the figures of the chart. The stored result is left unread but for its
# calculated values.
HISTORY_FIELDS = (
    "patient_reference", "conditions", "answers", "worst_status", "alert_count", "status", "created_at",
    "owner__username", "owner__first_name", "owner__last_name", "snapshot__id", "snapshot__version",
)


def patient_screenings(*, user, reference: str) -> list[Screening]:
    """The screenings of the patient `reference` (compared by `patient_key`:
    "A-1027" and " a-1027 " are one patient) that `user` may see (their
    own, and their team-mates' finals: `Screening.objects.visible_to`),
    oldest first, discarded drafts left out: one query (after
    `can_view_all`'s). Each has its owner's names, its snapshot's version
    (its content unread), its answers, `calculated` (the values its stored
    result worked out from other answers, or None for a result stored
    before there were any) and `replaced_by` (the id of the screening
    amending it, or None)."""
    screenings = (
        Screening.objects.visible_to(user, view_all=can_view_all(user))
        .select_related("owner", "snapshot").only(*HISTORY_FIELDS)
        .filter(patient_key=patient_key(reference), discarded_at__isnull=True)
        .annotate(
            calculated=KeyTransform("calculated", "result"),
            replaced_by=Subquery(_live_amendments().values("pk")[:1]),
        )
    )
    return list(screenings.order_by("created_at", "id"))


def open_draft(*, user, reference: str) -> Screening | None:
    """One query: `user`'s newest draft (not discarded) for the patient
    `reference` (compared by `patient_key`), or None."""
    return (
        Screening.objects.filter(
            owner=user, patient_key=patient_key(reference), status=Status.DRAFT, discarded_at__isnull=True,
        )
        .only("id", "patient_reference", "created_at").order_by("-created_at", "-id").first()
    )


def condition_names() -> dict[str, str]:
    """One query: slug -> name of every condition, active or not, for lists
    that show the conditions of past screenings."""
    return dict(Condition.objects.values_list("slug", "name"))


def criterion_wordings() -> dict[str, str]:
    """One query: key -> message of every criterion, active or not, for
    figures that name the criteria of past results."""
    return dict(Criterion.objects.values_list("key", "message"))


def amendments_of(screening: Screening) -> list[Screening]:
    """One query: the screenings that amend this one and were not
    discarded (one at most), oldest first."""
    return list(
        screening.amendments.filter(discarded_at__isnull=True)
        .only("id", "status", "created_at", "amends_id").order_by("created_at", "id")
    )


def publication(number: int | None = None):
    """One query: published rulebook version `number` (the newest when None)
    with its snapshot's version, its content left unread; or None."""
    publications = PublishedRulebook.objects.select_related("snapshot").only(
        "id", "number", "published_at", "snapshot__id", "snapshot__version"
    )
    if number is None:
        return publications.order_by("-number").first()
    return publications.filter(number=number).first()


def publication_number(screening: Screening) -> int | None:
    """One query: the number of the published version a screening was
    evaluated under: the newest publication of its snapshot made before it
    was finalised (a version may be published again later), else the
    newest one; None when its rules were never published."""
    numbers = PublishedRulebook.objects.filter(snapshot_id=screening.snapshot_id)
    if screening.finalised_at is not None:
        published_before = Case(When(published_at__lte=screening.finalised_at, then=0), default=1)
        numbers = numbers.order_by(published_before, "-number")
    else:
        numbers = numbers.order_by("-number")
    return numbers.values_list("number", flat=True).first()


def preview_records(*, limit: int | None = None, months: int = 12) -> list[Record]:
    """One query: the final screenings a rulebook preview compares, newest
    first: the newest `limit` when given, else those finalised in the last
    `months`; each as its id, conditions and the answers it was evaluated
    with (settings.RULEBOOK_PREVIEW_RECORDS)."""
    screenings = (
        Screening.objects.filter(status=Status.FINAL)
        .only("id", "conditions", "answers", "age_from_year_of_birth")
        .order_by("-finalised_at", "-id")
    )
    if limit is not None:
        screenings = screenings[:limit]
    else:
        screenings = screenings.filter(finalised_at__gte=timezone.now() - timedelta(days=365 * months // 12))
    return [Record(screening.pk, screening.conditions, screening.evaluated_answers()) for screening in screenings]
