"""Screening records: screenings, their stored PDFs, overrides, outcomes and the audit trail."""

import hashlib
import hmac
import json
import re
from datetime import UTC

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models.functions import Lower, Trim
from django.urls import reverse
from django.utils import timezone

from rules import engine
from screening.age import AgeFromYear, with_age

# One rule for the form, the model's full_clean and `screen`: an identifier
# with no spaces, so a name ("Jane Doe") never passes. \A and \Z, not ^ and $:
# $ also matches before a trailing newline.
patient_reference_validator = RegexValidator(
    r"\A[A-Za-z0-9][A-Za-z0-9._/:#-]*\Z",
    "Use the clinic's patient identifier: letters, digits and - _ . / : #, with no spaces. Never a name.",
)


PATH_LIKE = re.compile(r"/|\.\.")


def new_patient_reference_validator(value):
    """The rule for a patient reference typed anew, on the new-screening and
    details forms and in `screen --save`: never "/" or ".." (a reference is
    an identifier, not a path; checked first, to say so), everything the
    model asks (`patient_reference_validator`: no spaces, no control
    characters), then the clinic's PATIENT_REFERENCE_PATTERN, read when
    called, matched in full. Screenings stored before a rule was tightened
    keep their references, and their pages."""
    if PATH_LIKE.search(value):
        raise ValidationError(
            "A patient reference is an identifier, not a path: no “/” and no “..”.", code="path_like",
        )
    patient_reference_validator(value)  # refuses control characters and spaces too
    if not re.fullmatch(settings.PATIENT_REFERENCE_PATTERN, value):
        raise ValidationError(
            f"Use the clinic's patient identifier: {settings.PATIENT_REFERENCE_DESCRIPTION}. Never a name.",
            code="pattern",
        )


class Status(models.TextChoices):
    DRAFT = "draft", "Draft"
    FINAL = "final", "Final"


class FinalScreeningError(ValidationError):
    """Raised when anything tries to change a finalised screening."""


def patient_key(reference: str) -> str:
    """A patient reference as it is compared: without the spaces around it
    and in lower case, so "A-1027" and " a-1027 " are one patient. The
    database works out the same for each screening (`Screening.patient_key`)."""
    return reference.strip().lower()


class ScreeningQuerySet(models.QuerySet):
    def visible_to(self, user, *, view_all=False):
        """The screenings `user` may open: their own, and the final screenings
        of the clinicians in their team (teams.models); every screening when
        `view_all` (selectors.can_view_all). Adds no query: the team is
        joined in, and a user in no team matches only their own."""
        if view_all:
            return self
        return self.filter(
            models.Q(owner=user)
            | models.Q(status=Status.FINAL, owner__team_membership__team__memberships__user=user)
        )


class Screening(models.Model):
    patient_reference = models.CharField(
        max_length=64, validators=[patient_reference_validator],
        help_text="The clinic's identifier for the patient. Never a name.",
    )
    # Worked out by the database from the reference, for every row, those
    # stored before it existed too (a final row is never updated): what a
    # patient's history and the open-draft check look up (`patient_key`).
    patient_key = models.GeneratedField(
        expression=Lower(Trim("patient_reference")), output_field=models.CharField(max_length=64),
        db_persist=True,
    )
    year_of_birth = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1900), MaxValueValidator(2100)]
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="screenings"
    )
    conditions = models.JSONField(default=list, help_text="Condition slugs, in the order chosen.")
    answers = models.JSONField(default=dict, blank=True, help_text="Answers keyed by question code.")
    age_from_year_of_birth = models.JSONField(
        null=True, blank=True,
        help_text="The age worked out from the year of birth when it was last evaluated (the age question "
                  "unanswered): the year, the day, the possible ages and the one the rules read (null when "
                  "they read them differently). Null when nothing was worked out.",
    )
    snapshot = models.ForeignKey("rulebook.RulebookSnapshot", on_delete=models.PROTECT, related_name="screenings")
    rulebook_version = models.CharField(max_length=12)
    result = models.JSONField(default=dict, help_text="The advisory, as evaluated and stored.")
    worst_status = models.CharField(max_length=20, blank=True)
    alert_count = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    revision = models.PositiveIntegerField(
        default=1, help_text="Moves on every save; a form posted against an older revision is refused."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finalised_at = models.DateTimeField(null=True, blank=True)
    finalised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    amends = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="amendments"
    )
    finalise_reason = models.TextField(
        blank=True, help_text="Why it was finalised while still incomplete, in the clinician's words."
    )
    amend_reason = models.TextField(
        blank=True, help_text="Why the final screening it amends was amended, in the clinician's words.",
    )
    reevaluated_from = models.CharField(
        max_length=12, blank=True,
        help_text="The rulebook version the answers were last saved under, when the rules changed since.",
    )
    discarded_at = models.DateTimeField(
        null=True, blank=True, help_text="A discarded draft is kept for the record but no longer listed."
    )

    objects = ScreeningQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("view_all_screenings", "Can view every clinician's screenings")]
        indexes = [
            models.Index(fields=["owner", "-created_at", "-id"], name="screening_owner_recent"),
            # The list page's status filter ("my drafts"), in the list's order.
            models.Index(
                fields=["owner", "status", "-created_at", "-id"], name="screening_owner_status_recent"
            ),
            models.Index(fields=["-created_at", "-id"], name="screening_recent"),
            models.Index(fields=["patient_reference"], name="screening_patient_ref"),
            models.Index(fields=["patient_key", "created_at", "id"], name="screening_patient_key"),
        ]
        constraints = [
            # One line of amendments: a screening is replaced by one live amendment at most.
            models.UniqueConstraint(
                fields=["amends"], condition=models.Q(discarded_at__isnull=True), name="screening_one_amendment",
            ),
        ]

    def __str__(self):
        return f"{self.patient_reference} ({self.created_at:%Y-%m-%d})" if self.created_at else self.patient_reference

    def save(self, *args, checked_draft=False, **kwargs):
        """Refuses to change a final screening. `checked_draft`: the caller
        locked this row (select_for_update) in the current transaction and
        found it a draft, so the check's query can be left out."""
        if self.pk is not None and not checked_draft and self.is_final_in_database():
            raise FinalScreeningError("This screening is final and cannot be changed; amend it instead.")
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("screening:summary", args=[self.pk])

    def delete(self, *args, **kwargs):
        if self.is_final_in_database():
            raise FinalScreeningError("A final screening is part of the record and cannot be deleted.")
        return super().delete(*args, **kwargs)

    def is_final_in_database(self):
        """Whether the stored row is final (whatever this instance says): 1 query."""
        return Screening.objects.filter(pk=self.pk, status=Status.FINAL).exists()

    @property
    def is_final(self):
        return self.status == Status.FINAL

    @property
    def is_discarded(self):
        return self.discarded_at is not None

    def rulebook(self) -> engine.Rulebook:
        return self.snapshot.rulebook()

    def advisory(self) -> engine.Advisory:
        return engine.Advisory.from_dict(self.result)

    def age_worked_out(self) -> AgeFromYear | None:
        """The age worked out from the year of birth at its last evaluation, if any."""
        return AgeFromYear.from_dict(self.age_from_year_of_birth)

    def evaluated_answers(self) -> dict:
        """The answers its result was evaluated with: those typed, and the
        age worked out from the year of birth when the rules used it."""
        return with_age(self.answers, self.age_worked_out())


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionError(f"{self.model._meta.verbose_name_plural} are append-only.")

    def delete(self):
        raise PermissionError(f"{self.model._meta.verbose_name_plural} are append-only.")


class AppendOnlyModel(models.Model):
    """Rows that are part of the record: written once, never changed or
    deleted through the ORM (on PostgreSQL a trigger refuses raw SQL too)."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError(f"A {self._meta.verbose_name} is part of the record and cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError(f"A {self._meta.verbose_name} is part of the record and cannot be deleted.")


class StoredPdf(AppendOnlyModel):
    """The PDF of a final screening, rendered once and kept as it was: every
    later download serves these bytes (screening.pdf). A row is never changed
    or deleted; on PostgreSQL the database itself refuses to."""

    screening = models.OneToOneField(Screening, on_delete=models.PROTECT, related_name="stored_pdf")
    # Named by screening number and hash, never by patient reference (screening.pdf).
    file = models.FileField(upload_to="screening-pdfs/", max_length=200)
    sha256 = models.CharField(max_length=64, help_text="SHA-256 of the stored bytes, in hex.")
    size = models.PositiveIntegerField(help_text="Bytes.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "stored PDF"

    def __str__(self):
        return f"PDF of screening {self.screening_id}"


class Decision(models.TextChoices):
    """What the clinician decided for a condition, beside the advisory."""

    FOLLOW = "follow", "Follow the advice"
    PROCEED = "proceed", "Proceed despite the advice"
    DO_NOT_PROCEED = "do_not_proceed", "Do not proceed despite the advice"


# The decisions that go against each advisory status: proceeding is the
# advice for an eligible condition (or one with cautions), and not
# proceeding for an excluded one or one whose criteria are not met; an
# incomplete screening advises neither, so either is a decision of the
# clinician's own.
AGAINST_THE_ADVICE = {
    engine.ELIGIBLE: (Decision.DO_NOT_PROCEED,),
    engine.CAUTION_STATUS: (Decision.DO_NOT_PROCEED,),
    engine.NOT_MET: (Decision.PROCEED,),
    engine.EXCLUDED: (Decision.PROCEED,),
    engine.INCOMPLETE: (Decision.PROCEED, Decision.DO_NOT_PROCEED),
}


class AdvisoryOverride(AppendOnlyModel):
    """A clinician's decision, for one condition of a final screening, to
    proceed or not against the advisory, with their reason. Made when the
    screening (or an amendment of it) is finalised, in the same
    transaction, and part of that final's record: never changed or deleted
    (on PostgreSQL the database refuses too). The advisory status is kept
    as it was computed; `screen` and the rules never read this."""

    screening = models.ForeignKey(Screening, on_delete=models.PROTECT, related_name="overrides")
    condition = models.CharField(max_length=100, help_text="The condition's slug.")
    advisory_status = models.CharField(max_length=20, help_text="The advisory status, as computed.")
    decision = models.CharField(
        max_length=20, choices=[(d.value, d.label) for d in (Decision.PROCEED, Decision.DO_NOT_PROCEED)],
    )
    reason = models.TextField(help_text="Why, in the clinician's words.")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "decision against the advisory"
        verbose_name_plural = "decisions against the advisory"
        ordering = ["screening", "id"]
        constraints = [
            models.UniqueConstraint(fields=["screening", "condition"], name="override_one_per_condition"),
        ]

    def __str__(self):
        return f"{self.get_decision_display()} for {self.condition} (screening {self.screening_id})"


class ConditionOutcome(AppendOnlyModel):
    """One condition's advisory outcome on one final screening, written when
    it is finalised (screening.services.screening_finalise), for counting
    (screening.attrition): the status as computed, the clinician's decision
    (`follow` unless an AdvisoryOverride went against the advice), the
    owner's team when it was finalised, and when. Holds no patient
    reference. Append-only, like the final it belongs to; an amendment's
    final has rows of its own, and the pages count only the newest final of
    a record."""

    screening = models.ForeignKey(Screening, on_delete=models.PROTECT, related_name="condition_outcomes")
    condition = models.CharField(max_length=100, help_text="The condition's slug.")
    status = models.CharField(max_length=20, help_text="The advisory status, as computed.")
    decision = models.CharField(max_length=20, choices=Decision.choices, default=Decision.FOLLOW)
    team = models.ForeignKey(
        "teams.Team", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        help_text="The owner's team when the screening was finalised (none when they were in none).",
    )
    finalised_at = models.DateTimeField()

    class Meta:
        verbose_name = "condition outcome"
        default_permissions = ()
        permissions = [("view_attrition", "Can view criterion attrition of a team's final screenings")]
        constraints = [
            models.UniqueConstraint(fields=["screening", "condition"], name="outcome_one_per_condition"),
        ]
        indexes = [models.Index(fields=["team", "finalised_at"], name="outcome_team_finalised")]

    def __str__(self):
        return f"{self.condition}: {self.status} (screening {self.screening_id})"


class DecidingCriterion(AppendOnlyModel):
    """A criterion that decided a condition outcome: one row per reason of
    the stored result (for an incomplete condition, each criterion still
    unknown). Append-only."""

    outcome = models.ForeignKey(ConditionOutcome, on_delete=models.PROTECT, related_name="deciding_criteria")
    criterion = models.CharField(max_length=100, help_text="The criterion's key.")

    class Meta:
        verbose_name = "deciding criterion"
        verbose_name_plural = "deciding criteria"
        default_permissions = ()

    def __str__(self):
        return f"{self.criterion} decided outcome {self.outcome_id}"


class AuditAction(models.TextChoices):
    SIGN_IN = "sign_in", "Signed in"
    SIGN_IN_FAILED = "sign_in_failed", "Sign-in failed"
    SIGN_OUT = "sign_out", "Signed out"
    SCREENING_CREATED = "screening_created", "Screening created"
    ANSWERS_SAVED = "answers_saved", "Answers saved"
    FINALISED = "finalised", "Finalised"
    FINALISED_INCOMPLETE = "finalised_incomplete", "Finalised while incomplete, with a reason"
    REEVALUATED = "reevaluated", "Re-evaluated under new rules"
    DETAILS_CORRECTED = "details_corrected", "Patient details or conditions corrected"
    DISCARDED = "discarded", "Draft discarded"
    AMENDED = "amended", "Amended"
    OVERRIDE_RECORDED = "override_recorded", "Decided against the advisory, with a reason"
    VIEWED = "viewed", "Summary viewed"
    COMPARED = "compared", "Compared with the current rules"
    PATIENT_VIEWED = "patient_viewed", "Patient history viewed"
    PDF_DOWNLOADED = "pdf_downloaded", "PDF downloaded"
    FHIR_DOWNLOADED = "fhir_downloaded", "FHIR document downloaded"
    KNOWLEDGE_BASE_CHANGED = "knowledge_base_changed", "Knowledge base changed"
    ACCESS_DENIED = "access_denied", "Access refused"
    LOCKED_OUT = "locked_out", "Locked out after failed sign-ins"
    PDF_FAILED = "pdf_failed", "PDF could not be produced"
    KEY_INTRODUCED = "key_introduced", "Audit key introduced: the unkeyed events before it sealed"
    SECOND_FACTOR_PASSED = "second_factor_passed", "Two-factor code accepted"
    SECOND_FACTOR_FAILED = "second_factor_failed", "Two-factor code refused"
    TWO_FACTOR_ENROLLED = "two_factor_enrolled", "Two-factor sign-in set up"
    RECOVERY_CODES_ISSUED = "recovery_codes_issued", "New recovery codes issued"
    TWO_FACTOR_RESET = "two_factor_reset", "Two-factor sign-in reset by an administrator"
    TEAM_VIEWED = "team_viewed", "A team-mate's final screening viewed"
    TEAM_PATIENT_VIEWED = "team_patient_viewed", "Patient history viewed, with team-mates' screenings"
    ATTRITION_VIEWED = "attrition_viewed", "Criterion attrition viewed"
    ATTRITION_DOWNLOADED = "attrition_downloaded", "Criterion attrition downloaded as CSV"


class AuditEvent(AppendOnlyModel):
    """Who did what, to which record, when and from where. Append-only.

    Holds patient references but never answers: no clinical data in logs.
    Knowledge-base changes point to the history row that holds the detail.

    Tamper-evident: events form several chains (`chain`, see
    screening.audit); `hash` is the HMAC-SHA256, under the key `key_id`
    names (settings.AUDIT_KEYS, held outside the database), of the event's
    own content together with the hash of the event before it in its chain
    (`previous_hash`), so changing, removing or reordering any event breaks
    a link, and nobody without the key can make the hashes again
    (`manage.py verify_audit`). `at` comes from the database's clock.

    Events written before the key was introduced have no key and no chain:
    one chain of plain SHA-256 hashes, sealed by a keyed "key introduced"
    event carrying its last hash.
    """

    at = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING,
        db_constraint=False, related_name="+",
    )
    username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=30, choices=AuditAction.choices, db_index=True)
    screening = models.ForeignKey(
        Screening, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False,
        related_name="+",
    )
    patient_reference = models.CharField(max_length=64, blank=True)
    object_type = models.CharField(max_length=40, blank=True)
    object_key = models.CharField(max_length=100, blank=True)
    history_id = models.PositiveBigIntegerField(null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    previous_hash = models.CharField(max_length=64, blank=True, help_text="The previous event's hash.")
    hash = models.CharField(
        max_length=64, blank=True,
        help_text="HMAC-SHA256 of this event and the previous hash (SHA-256 for an unkeyed event).",
    )
    chain = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The chain it belongs to; none for unkeyed events and the seal."
    )
    key_id = models.CharField(max_length=16, blank=True, help_text="The audit key its hash was made with.")

    class Meta:
        ordering = ["-at", "-id"]
        default_permissions = ("view",)

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.username or '-'} {self.get_action_display()}"

    def content_hash(self) -> str:
        """SHA-256 (hex) of this event's content and `previous_hash`: what
        `hash` holds when the event is as it was written."""
        return hashlib.sha256(_canonical(_recorded(self))).hexdigest()

    def keyed_hash(self, secret: bytes) -> str:
        """HMAC-SHA256 (hex), under `secret`, of this event's content, its
        chain, its key id and `previous_hash`: what `hash` holds for a keyed
        event as it was written."""
        content = {**_recorded(self), "chain": self.chain, "key_id": self.key_id}
        return hmac.new(secret, _canonical(content), hashlib.sha256).hexdigest()


class AuditChainHead(models.Model):
    """One row per chain of the audit trail: its latest event and hash.
    An append locks one of them (screening.audit), so two writers never
    chain to the same event; and it shows when events were removed from the
    end of its chain. A row with no chain is the unkeyed chain's head, from
    before the key was introduced."""

    chain = models.PositiveSmallIntegerField(null=True, unique=True)
    last_event_id = models.BigIntegerField(null=True)
    last_hash = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name = "audit chain head"

    def __str__(self):
        return f"audit chain {self.chain} head at event {self.last_event_id or '-'}"


def _recorded(event) -> dict:
    """What an audit event records, and so what its hash covers. A function,
    not a method, so that a migration's historical model can use it too."""
    return {
        "previous_hash": event.previous_hash,
        "at": event.at.astimezone(UTC).isoformat(),
        "user": event.user_id,
        "username": event.username,
        "action": event.action,
        "screening": event.screening_id,
        "patient_reference": event.patient_reference,
        "object_type": event.object_type,
        "object_key": event.object_key,
        "history_id": event.history_id,
        "ip_address": event.ip_address,
    }


def _canonical(content: dict) -> bytes:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
