"""Writes that touch screenings: each one validated, evaluated, saved and
audited in a single transaction, so a failure never leaves a half-saved
record, a change without its audit event or an event without its change.

Each takes `request`, the web request the change came from: its audit
event names the request's user and client address (screening.audit). None
outside the web (the `screen` command, the tests): the event then names the
user the service is given (`owner`, `user`), when it has one. A view calls
one of these and renders or redirects; it never audits a change itself.
"""

from typing import NamedTuple

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from rulebook.versions import current_rulebook, snapshot_for, version_label
from rules import engine, vocabulary
from screening.age import age_from_year_of_birth, with_age
from screening.attrition import record_outcomes
from screening.audit import audit
from screening.models import (
    AGAINST_THE_ADVICE,
    AdvisoryOverride,
    AuditAction,
    Decision,
    FinalScreeningError,
    Screening,
    Status,
)
from teams.models import Membership


class StaleScreeningError(ValidationError):
    """The screening changed since the form was opened."""


class AlreadyAmendedError(ValidationError):
    """A final screening that another screening already amends: only the newest version is amended."""

    def __init__(self, message, *, amendment: Screening):
        super().__init__(message)
        self.amendment = amendment


DISCARDED_REFUSAL = "This draft was discarded and can no longer be changed."
AMEND_REASON_NEEDED = "Give the reason for amending this final screening."
OVERRIDE_REASON_NEEDED = "Give your reason for deciding against the advice."
REASON_NEEDED = (
    "This screening is still incomplete. Give the reason for finalising it as it stands, "
    "or answer the remaining questions first."
)


def _refuse_unless_draft(locked: Screening):
    if locked.status == Status.FINAL:
        raise FinalScreeningError("This screening is final and cannot be changed; amend it instead.")
    if locked.discarded_at is not None:
        raise ValidationError(DISCARDED_REFUSAL)


def _evaluate_into(screening: Screening, rulebook: engine.Rulebook, answers: dict):
    """Evaluate `answers` (as typed) into the screening. An unanswered age
    is worked out from the year of birth on the clinic's today, and used
    when the rules read its possible values alike (screening.age)."""
    age = age_from_year_of_birth(
        rulebook, screening.conditions, answers, screening.year_of_birth, timezone.localdate(),
    )
    advisory = engine.evaluate(rulebook, screening.conditions, with_age(answers, age))
    screening.answers = answers
    screening.age_from_year_of_birth = age.to_dict() if age else None
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


def _new_draft(
    *, owner, patient_reference: str, year_of_birth: int | None, conditions, answers, rulebook: engine.Rulebook,
    amends: Screening | None = None, amend_reason: str = "",
) -> Screening:
    """A new draft stored, evaluated against `rulebook`; not audited."""
    validation = validated(rulebook, conditions, answers or {})
    screening = Screening(
        owner=owner, patient_reference=patient_reference, year_of_birth=year_of_birth,
        conditions=list(validation.conditions), amends=amends, amend_reason=amend_reason,
    )
    _evaluate_into(screening, rulebook, validation.answers)
    screening.full_clean(exclude=["snapshot", "result", "answers"])
    screening.save()
    return screening


@transaction.atomic
def screening_create(
    *, owner, patient_reference: str, year_of_birth: int | None, conditions, answers=None,
    rulebook: engine.Rulebook | None = None, request=None,
) -> Screening:
    """A new draft, evaluated against the current rulebook (incomplete
    until answered), audited as "screening created" by `owner`."""
    screening = _new_draft(
        owner=owner, patient_reference=patient_reference, year_of_birth=year_of_birth, conditions=conditions,
        answers=answers, rulebook=rulebook or current_rulebook(),
    )
    audit(AuditAction.SCREENING_CREATED, request=request, user=owner, screening=screening)
    return screening


@transaction.atomic
def screening_save_answers(
    *, screening: Screening, answers, expected_revision: int | None = None,
    rulebook: engine.Rulebook | None = None, request=None,
) -> Screening:
    """Validate and store a draft's answers with a fresh evaluation,
    audited as "answers saved".

    Locks the row; refuses a final screening, and one saved by someone else
    since `expected_revision` was read. The answers are evaluated against
    the current rulebook, so a draft follows knowledge-base edits until it
    is final (`rulebook`: the current one the caller has, else looked up).
    """
    # The stored answers, result and snapshot are replaced, not read: leave them unloaded.
    locked = (
        Screening.objects.select_for_update()
        .only("id", "conditions", "year_of_birth", "status", "revision", "discarded_at", "updated_at")
        .get(pk=screening.pk)
    )
    _refuse_unless_draft(locked)
    if expected_revision is not None and locked.revision != expected_revision:
        raise StaleScreeningError(
            "This screening was changed since you opened it. Reload it to see the latest answers."
        )
    rulebook = rulebook or current_rulebook()
    validation = validated(rulebook, locked.conditions, answers)
    _evaluate_into(locked, rulebook, validation.answers)
    locked.revision += 1
    locked.save(checked_draft=True)
    audit(AuditAction.ANSWERS_SAVED, request=request, screening=screening)
    return locked


def carried_answers(rulebook: engine.Rulebook, conditions, answers: dict) -> engine.Validation:
    """Stored answers carried over to `rulebook`: those to questions it no
    longer has are left out, and so is any it no longer accepts (listed in
    the result's `errors`, keyed by question code). An answer to a question
    it has retired is read through its mapping (engine.retired_answers); one
    no mapping reads is kept as it was stored, unread, so that the
    questionnaire can ask its new questions (it never counts as an answer)."""
    retired = {r.code for r in rulebook.retired_questions}
    known = {code: value for code, value in answers.items() if code in rulebook.question or code in retired}
    validation = engine.validate_answers(rulebook, conditions, known)
    unread = {code: known[code] for code in validation.errors if code in retired}
    if not unread:
        return validation
    errors = {code: messages for code, messages in validation.errors.items() if code not in unread}
    return validation._replace(answers={**validation.answers, **unread}, errors=errors)


class Reevaluation(NamedTuple):
    """What re-evaluating a draft under newer rules did."""

    old_version: str
    new_version: str
    old_revision: int
    revision: int
    changed: bool                  # the result differs from the one stored before
    dropped: tuple[str, ...]       # codes of answers the new rules do not accept


@transaction.atomic
def screening_reevaluate(*, screening: Screening, rulebook: engine.Rulebook, request=None) -> Reevaluation | None:
    """A draft evaluated under another rulebook, evaluated again under
    `rulebook` (the current one): stored with its new result and snapshot,
    its revision moved on, audited as "re-evaluated". None, with no query,
    when `screening` was evaluated under `rulebook` already; None too for a
    final or discarded screening, which keeps its own snapshot for ever."""
    if screening.rulebook_version == rulebook.version:
        return None
    locked = (
        Screening.objects.select_for_update()
        .only("id", "conditions", "year_of_birth", "answers", "result", "rulebook_version", "status",
              "revision", "discarded_at", "reevaluated_from", "updated_at")
        .get(pk=screening.pk)
    )
    if locked.status == Status.FINAL or locked.discarded_at is not None or locked.rulebook_version == rulebook.version:
        return None
    old_version, old_revision, old_result = locked.rulebook_version, locked.revision, locked.result
    carried = carried_answers(rulebook, locked.conditions, locked.answers)
    _evaluate_into(locked, rulebook, carried.answers)
    locked.reevaluated_from = old_version
    locked.revision += 1
    locked.save(checked_draft=True)
    audit(AuditAction.REEVALUATED, request=request, screening=screening)
    return Reevaluation(
        old_version=old_version, new_version=rulebook.version, old_revision=old_revision,
        revision=locked.revision, changed=locked.result != old_result,
        dropped=tuple(code for code in carried.errors if code in rulebook.question),
    )


def is_incomplete(result: dict) -> bool:
    """Whether any condition of a stored result is still incomplete."""
    return any(r["status"] == vocabulary.Status.INCOMPLETE for r in result.get("results", ()))


class Override(NamedTuple):
    """A clinician's decision for one condition, as the finalise form gives it."""

    decision: str   # a Decision
    reason: str = ""


def decision_field(condition: str) -> str:
    """The finalise form's field for a condition's decision (and, with
    `reason_field`, its reason): errors raised here are keyed by them."""
    return f"decision-{condition}"


def reason_field(condition: str) -> str:
    return f"decision_reason-{condition}"


def _overrides_for(result: dict, decisions: dict[str, Override]) -> list[tuple[str, str, Override]]:
    """(condition, advisory status, override) for each decision that goes
    against the stored advisory; raises ValidationError, keyed by field,
    for one that does not fit its condition's status or has no reason.
    "Follow the advice" records nothing."""
    statuses = {r["condition"]: r["status"] for r in result.get("results", ())}
    overrides, errors = [], {}
    for condition, override in decisions.items():
        if override.decision in ("", Decision.FOLLOW):
            continue
        status = statuses.get(condition)
        if status is None:
            errors[decision_field(condition)] = "This condition is no longer screened; reload the summary."
        elif override.decision not in AGAINST_THE_ADVICE.get(status, ()):
            errors[decision_field(condition)] = (
                "That is what the advice already says for this condition; choose “Follow the advice”."
            )
        elif not override.reason.strip():
            errors[reason_field(condition)] = OVERRIDE_REASON_NEEDED
        else:
            overrides.append((condition, status, override._replace(reason=override.reason.strip())))
    if errors:
        raise ValidationError(errors)
    return overrides


@transaction.atomic
def screening_finalise(
    *, screening: Screening, user, expected_revision: int | None = None, reason: str = "",
    decisions: dict[str, Override] | None = None, rulebook: engine.Rulebook | None = None, request=None,
) -> Screening:
    """Lock a draft for good: it then renders from its own snapshot forever.

    Refuses a screening saved or re-evaluated since `expected_revision` (the
    revision whose summary the clinician read), and an incomplete one
    without a `reason`, which is stored with it. With `rulebook` (the
    current one), a draft evaluated under older rules is first evaluated
    again under it (screening_reevaluate): when its result stayed the same,
    what was read stands; when it changed, it is not finalised, and the
    StaleScreeningError names both rules versions. `decisions` (by
    condition) that go against the advisory as stored are kept as
    AdvisoryOverride rows of the final, each with its advisory status and
    its reason, which is required; the final's `recorded_overrides` lists
    them. Each condition's outcome, with the criteria that decided it, the
    decision and the owner's team, is written for counting
    (screening.attrition). Audited as "finalised" (or "finalised while
    incomplete") by `user`, then "decided against the advisory" once per
    override, naming the condition, the decision and the advisory status.
    A refusal stores nothing, the re-evaluation included.
    """
    reevaluation = screening_reevaluate(screening=screening, rulebook=rulebook, request=request) if rulebook else None
    if reevaluation is not None and reevaluation.old_revision == expected_revision and not reevaluation.changed:
        expected_revision = reevaluation.revision  # the same result under the current rules: what was read stands
    # Only what finalising reads or writes: the stored answers and snapshot
    # stay unread. The owner's team comes with it, for the outcome rows.
    owner_team = Membership.objects.filter(user_id=OuterRef("owner_id")).values("team_id")[:1]
    locked = (
        Screening.objects.select_for_update()
        .only("id", "status", "revision", "result", "discarded_at", "finalise_reason",
              "finalised_at", "finalised_by", "updated_at")
        .annotate(owner_team_id=Subquery(owner_team))
        .get(pk=screening.pk)
    )
    if locked.status == Status.FINAL:
        raise FinalScreeningError("This screening is already final.")
    _refuse_unless_draft(locked)
    if expected_revision is not None and locked.revision != expected_revision:
        if reevaluation is not None:
            raise StaleScreeningError(
                f"The screening rules changed from {version_label(reevaluation.old_version)} to "
                f"{version_label(reevaluation.new_version)} since you read this summary, and the result changed. "
                "It was not finalised: read the new summary below, then finalise it."
            )
        raise StaleScreeningError(
            "This screening changed since you read its summary, so it was not finalised. "
            "Read the summary below, then finalise it."
        )
    reason = reason.strip()
    if is_incomplete(locked.result) and not reason:
        raise ValidationError({"reason": REASON_NEEDED})
    overrides = _overrides_for(locked.result, decisions or {})
    locked.finalise_reason = reason if is_incomplete(locked.result) else ""
    locked.status = Status.FINAL
    locked.finalised_at = timezone.now()
    locked.finalised_by = user
    locked.revision += 1
    locked.save(checked_draft=True)
    locked.recorded_overrides = AdvisoryOverride.objects.bulk_create([
        AdvisoryOverride(
            screening=locked, condition=condition, advisory_status=status, decision=override.decision,
            reason=override.reason, decided_by=user,
        )
        for condition, status, override in overrides
    ]) if overrides else []
    record_outcomes(screening=locked, team_id=locked.owner_team_id, overrides=locked.recorded_overrides)
    action = AuditAction.FINALISED_INCOMPLETE if locked.finalise_reason else AuditAction.FINALISED
    audit(action, request=request, user=user, screening=screening)
    for override in locked.recorded_overrides:
        audit(
            AuditAction.OVERRIDE_RECORDED, request=request, user=user, screening=screening, object_type="override",
            object_key=f"{override.condition}: {override.decision} against {override.advisory_status}",
        )
    return locked


@transaction.atomic
def screening_amend(*, screening: Screening, user, reason: str, request=None) -> Screening:
    """A new draft with the same patient, conditions and answers, pointing to
    the final screening it corrects, with the clinician's `reason` for
    amending it (required). Only the newest version of a record is
    amended: the final row is locked, so two amends at once make one draft,
    and one that another screening amends already is refused
    (AlreadyAmendedError, naming that amendment). Audited as "amended" on
    the final, then "screening created" on the new draft, both by `user`."""
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": AMEND_REASON_NEEDED})
    locked = (
        Screening.objects.select_for_update(no_key=True)
        .only("id", "status", "patient_reference", "year_of_birth", "conditions", "answers", "created_at")
        .get(pk=screening.pk)
    )
    if locked.status != Status.FINAL:
        raise ValidationError("Only a final screening can be amended; edit the draft instead.")
    existing = locked.amendments.filter(discarded_at__isnull=True).only("id", "status").first()
    if existing is not None:
        raise AlreadyAmendedError(
            f"This screening has already been amended by #{existing.pk}: "
            + ("continue that draft instead." if existing.status == Status.DRAFT else "amend the newest version instead."),
            amendment=existing,
        )
    rulebook = current_rulebook()
    conditions = [slug for slug in locked.conditions if slug in rulebook.condition]
    amendment = _new_draft(
        owner=user, patient_reference=locked.patient_reference,
        year_of_birth=locked.year_of_birth, conditions=conditions,
        answers=carried_answers(rulebook, conditions, locked.answers).answers,
        amends=locked, rulebook=rulebook, amend_reason=reason,
    )
    audit(AuditAction.AMENDED, request=request, user=user, screening=screening)
    audit(AuditAction.SCREENING_CREATED, request=request, user=user, screening=amendment)
    return amendment


@transaction.atomic
def screening_correct_details(
    *, screening: Screening, patient_reference: str, year_of_birth: int | None, conditions,
    rulebook: engine.Rulebook | None = None, request=None,
) -> Screening:
    """Correct a draft's patient reference, year of birth and conditions,
    and evaluate its answers again for the conditions now chosen (answers
    to questions that only a removed condition asked are left out, as the
    questionnaire no longer shows them). Audited as "details corrected",
    under the corrected patient reference."""
    locked = Screening.objects.select_for_update().get(pk=screening.pk)
    _refuse_unless_draft(locked)
    rulebook = rulebook or current_rulebook()
    chosen = validated(rulebook, conditions, {}).conditions
    kept = carried_answers(rulebook, chosen, locked.answers).answers
    locked.patient_reference = patient_reference
    locked.year_of_birth = year_of_birth
    locked.conditions = list(chosen)
    _evaluate_into(locked, rulebook, kept)
    locked.full_clean(exclude=["snapshot", "result", "answers", "amends", "owner"])
    locked.revision += 1
    locked.save(checked_draft=True)
    audit(AuditAction.DETAILS_CORRECTED, request=request, screening=locked)
    return locked


@transaction.atomic
def screening_discard(*, screening: Screening, request=None) -> Screening | None:
    """Mark a draft discarded: kept for the record, no longer listed or
    changed, audited as "discarded". A final screening is part of the
    record and is never discarded. Returns the discarded draft, or None
    when it had been discarded already (nothing changed, nothing audited)."""
    locked = Screening.objects.select_for_update().only("id", "status", "revision", "discarded_at", "updated_at").get(
        pk=screening.pk
    )
    if locked.status == Status.FINAL:
        raise FinalScreeningError("A final screening is part of the record and cannot be discarded; amend it instead.")
    if locked.discarded_at is not None:
        return None
    locked.discarded_at = timezone.now()
    locked.revision += 1
    locked.save(checked_draft=True)
    audit(AuditAction.DISCARDED, request=request, screening=screening)
    return locked
