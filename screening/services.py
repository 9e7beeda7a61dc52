"""Writes that touch screenings: each one validated, evaluated and saved in a
single transaction, so a failure never leaves a half-saved record.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from screening import engine
from screening.models import FinalScreeningError, Screening, Status
from screening.rulebook import current_rulebook, snapshot_for


class StaleScreeningError(ValidationError):
    """The screening changed since the form was opened."""


def _evaluate_into(screening: Screening, rulebook: engine.Rulebook, answers: dict):
    advisory = engine.evaluate(rulebook, screening.conditions, answers)
    screening.answers = answers
    screening.snapshot = snapshot_for(rulebook)
    screening.rulebook_version = rulebook.version
    screening.result = advisory.to_dict()
    screening.worst_status = advisory.worst_status() or ""
    screening.alert_count = len(advisory.alerts)


def validated(rulebook: engine.Rulebook, conditions, answers) -> engine.Validation:
    """Validate, raising ValidationError keyed by field when anything is wrong."""
    validation = engine.validate_answers(rulebook, conditions, answers)
    if not validation.is_valid:
        raise ValidationError(validation.errors)
    return validation


@transaction.atomic
def screening_create(
    *, owner, patient_reference: str, year_of_birth: int | None, conditions, answers=None,
    amends: Screening | None = None, rulebook: engine.Rulebook | None = None,
) -> Screening:
    """A new draft, evaluated against the current rulebook (incomplete until answered)."""
    rulebook = rulebook or current_rulebook()
    validation = validated(rulebook, conditions, answers or {})
    screening = Screening(
        owner=owner, patient_reference=patient_reference, year_of_birth=year_of_birth,
        conditions=list(validation.conditions), amends=amends,
    )
    _evaluate_into(screening, rulebook, validation.answers)
    screening.full_clean(exclude=["snapshot", "result", "answers"])
    screening.save()
    return screening


@transaction.atomic
def screening_save_answers(
    *, screening: Screening, answers, expected_revision: int | None = None,
    rulebook: engine.Rulebook | None = None,
) -> Screening:
    """Validate and store a draft's answers with a fresh evaluation.

    Locks the row; refuses a final screening, and one saved by someone else
    since `expected_revision` was read. The answers are evaluated against
    the current rulebook, so a draft follows knowledge-base edits until it
    is final (`rulebook`: the current one the caller has, else looked up).
    """
    # The stored answers, result and snapshot are replaced, not read: leave them unloaded.
    locked = (
        Screening.objects.select_for_update()
        .only("id", "conditions", "status", "revision", "updated_at")
        .get(pk=screening.pk)
    )
    if locked.status == Status.FINAL:
        raise FinalScreeningError("This screening is final and cannot be changed; amend it instead.")
    if expected_revision is not None and locked.revision != expected_revision:
        raise StaleScreeningError(
            "This screening was changed since you opened it. Reload it to see the latest answers."
        )
    rulebook = rulebook or current_rulebook()
    validation = validated(rulebook, locked.conditions, answers)
    _evaluate_into(locked, rulebook, validation.answers)
    locked.revision += 1
    locked.save(checked_draft=True)
    return locked


@transaction.atomic
def screening_finalise(*, screening: Screening, user) -> Screening:
    """Lock a draft for good: it then renders from its own snapshot forever."""
    # Only what finalising reads or writes: the stored answers, result and snapshot stay unread.
    locked = (
        Screening.objects.select_for_update()
        .only("id", "status", "revision", "finalised_at", "finalised_by", "updated_at")
        .get(pk=screening.pk)
    )
    if locked.status == Status.FINAL:
        raise FinalScreeningError("This screening is already final.")
    locked.status = Status.FINAL
    locked.finalised_at = timezone.now()
    locked.finalised_by = user
    locked.revision += 1
    locked.save(checked_draft=True)
    return locked


def screening_amend(*, screening: Screening, user) -> Screening:
    """A new draft with the same patient, conditions and answers, pointing to
    the final screening it corrects."""
    if screening.status != Status.FINAL:
        raise ValidationError("Only a final screening can be amended; edit the draft instead.")
    rulebook = current_rulebook()
    conditions = [slug for slug in screening.conditions if slug in rulebook.condition]
    known = {code: value for code, value in screening.answers.items() if code in rulebook.question}
    return screening_create(
        owner=user, patient_reference=screening.patient_reference,
        year_of_birth=screening.year_of_birth, conditions=conditions,
        answers=engine.validate_answers(rulebook, conditions, known).answers,
        amends=screening, rulebook=rulebook,
    )
