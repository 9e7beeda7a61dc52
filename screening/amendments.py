"""What an amendment changed since the final screening it amends, and the
clinician's decisions against the advisory, as the summary and PDF show
them (docs/records.md).

Both read only rows that never change once written (a final screening,
its overrides) and the amendment's own stored content, so they belong in
the summary body cached per revision (`record_context`, which
`summary.summary_context` adds).
"""

from dataclasses import dataclass

from rules import engine
from screening.models import Decision, Screening
from screening.summary import TRIAL_OUTCOMES, answer_text, status_label

UNANSWERED = "Unanswered"
NOT_SCREENED = "Not screened"


@dataclass(frozen=True)
class AnswerChange:
    code: str
    question: str
    old: str   # in words; UNANSWERED when there was no answer
    new: str


@dataclass(frozen=True)
class StatusChange:
    condition: str
    name: str
    old: str   # a status label; NOT_SCREENED when the condition was not screened
    new: str


@dataclass(frozen=True)
class Changes:
    """What an amendment changed since the final it amends."""

    amends_id: int
    amended_at: object        # the final's finalisation time (a datetime), or its creation
    reason: str               # why it was amended, in the clinician's words
    answers: tuple[AnswerChange, ...]
    statuses: tuple[StatusChange, ...]

    @property
    def nothing_changed(self) -> bool:
        return not self.answers and not self.statuses


@dataclass(frozen=True)
class OverrideRow:
    condition: str
    name: str
    advisory: str        # the advisory status label, as computed
    advisory_status: str
    decision: str        # in words, e.g. "Proceed despite the advice"
    reason: str
    decided_by: str


def _trial_words(rulebook: engine.Rulebook, trial) -> str:
    if not isinstance(trial, dict):
        return str(trial)
    drug = rulebook.drug.get(trial.get("drug"))
    outcomes = dict(TRIAL_OUTCOMES)
    parts = [
        drug.name if drug else str(trial.get("drug", "")),
        f"{_number(trial.get('daily_dose_mg'))} mg",
        f"{_number(trial.get('weeks'))} weeks",
        outcomes.get(trial.get("outcome"), str(trial.get("outcome", ""))).lower(),
    ]
    return ", ".join(part for part in parts if part.strip())


def _number(value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "" if value is None else str(value)


def value_words(rulebook: engine.Rulebook, code: str, value) -> str:
    """An answer in words, as the summary shows it; a trials answer lists
    each trial, so that a changed dose shows."""
    if value is None:
        return UNANSWERED
    question = rulebook.question.get(code)
    if question is None:
        return str(value)
    if question.kind == engine.TRIALS:
        trials = value if isinstance(value, list) else []
        if not trials:
            return "No trials listed"
        return "; ".join(_trial_words(rulebook, trial) for trial in trials)
    return answer_text(question, value, rulebook)


def changes_since(previous: Screening, current: Screening, *, rulebook: engine.Rulebook,
                  previous_rulebook: engine.Rulebook | None = None) -> Changes:
    """Each answer that differs between the final `previous` and its
    amendment `current` (in `rulebook`'s questionnaire order, then any
    question only the older rules had), with its old and new value in
    words, and each condition whose advisory status differs (one screened
    by only one of them too). `rulebook` is the amendment's,
    `previous_rulebook` the final's (the same when None)."""
    previous_rulebook = previous_rulebook or rulebook
    old_answers, new_answers = previous.answers or {}, current.answers or {}
    order = [q.code for q in rulebook.questions]
    order += [q.code for q in previous_rulebook.questions if q.code not in rulebook.question]
    order += sorted((set(old_answers) | set(new_answers)) - set(order))
    answers = []
    for code in order:
        old, new = old_answers.get(code), new_answers.get(code)
        if old == new:
            continue
        question = rulebook.question.get(code) or previous_rulebook.question.get(code)
        answers.append(AnswerChange(
            code=code, question=question.text if question else code,
            old=value_words(previous_rulebook if code in previous_rulebook.question else rulebook, code, old),
            new=value_words(rulebook if code in rulebook.question else previous_rulebook, code, new),
        ))
    statuses = []
    old_status = {r["condition"]: r["status"] for r in (previous.result or {}).get("results", ())}
    new_status = {r["condition"]: r["status"] for r in (current.result or {}).get("results", ())}
    for slug in list(new_status) + [slug for slug in old_status if slug not in new_status]:
        old, new = old_status.get(slug), new_status.get(slug)
        if old == new:
            continue
        condition = rulebook.condition.get(slug) or previous_rulebook.condition.get(slug)
        statuses.append(StatusChange(
            condition=slug, name=condition.name if condition else slug,
            old=_status_words(old), new=_status_words(new),
        ))
    return Changes(
        amends_id=previous.pk, amended_at=previous.finalised_at or previous.created_at,
        reason=current.amend_reason, answers=tuple(answers), statuses=tuple(statuses),
    )


def _status_words(status: str | None) -> str:
    return status_label(status) if status else NOT_SCREENED


def override_rows(overrides, rulebook: engine.Rulebook) -> list[OverrideRow]:
    """The clinician's decisions against the advisory, in the order of the
    screening's conditions as the rulebook names them."""
    rows = []
    for override in overrides:
        condition = rulebook.condition.get(override.condition)
        user = override.decided_by
        rows.append(OverrideRow(
            condition=override.condition, name=condition.name if condition else override.condition,
            advisory=status_label(override.advisory_status), advisory_status=override.advisory_status,
            decision=Decision(override.decision).label, reason=override.reason,
            decided_by=user.get_full_name() or user.get_username(),
        ))
    return rows


def record_context(screening: Screening, rulebook: engine.Rulebook) -> dict:
    """`changes` (Changes, for an amendment; else None) and `overrides`
    (OverrideRow, for a final screening). `screening` loaded with the
    screening it amends (`selectors.screening_detail`): 1 query for a
    final's overrides with their clinicians' names, 1 for an amendment
    whose final was evaluated under another rulebook (its snapshot); none
    for a draft that amends nothing."""
    changes = None
    previous = screening.amends if screening.amends_id else None
    if previous is not None:
        previous_rulebook = rulebook if previous.snapshot_id == screening.snapshot_id else previous.rulebook()
        changes = changes_since(previous, screening, rulebook=rulebook, previous_rulebook=previous_rulebook)
    overrides = []
    if screening.is_final:
        overrides = override_rows(screening.overrides.select_related("decided_by").order_by("id"), rulebook)
    return {"changes": changes, "overrides": overrides}
