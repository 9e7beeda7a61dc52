"""What the questionnaire page tells the clinician about answers that are
about to change without their typing: answers saved in another window
since the page was opened (a conflict, shown question by question so
either answer can be kept), and answers to questions that a change made
no longer apply (cleared on saving, with an undo on the page).

Values are given in words, as the form shows them (Yes / No, option
labels, numbers with their unit, each trial), and, for the conflict, also
as the form's own field values, so the page can put a saved answer back
into its inputs (static/js/conflicts.js)."""

import json
from typing import NamedTuple

from rules import engine
from screening.amendments import value_words

NOT_ANSWERED = "Not answered"
TRIAL_PARTS = ("drug", "daily_dose_mg", "weeks", "outcome")


def answer_words(rulebook: engine.Rulebook, code: str, value) -> str:
    """An answer in words, as the form shows it; "Not answered" when there is none."""
    if value is None:
        return NOT_ANSWERED
    return value_words(rulebook, code, value)


def _text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "" if value is None else str(value)


def field_values(question: engine.QuestionSpec, value) -> list[list[str]]:
    """A stored answer as the questionnaire's inputs would post it:
    [name, value] pairs ("yes" / "no" for a boolean, one pair per option
    ticked, a trials table's rows with its count); none when unanswered."""
    code = question.code
    if question.kind == engine.TRIALS:
        trials = [trial for trial in (value or []) if isinstance(trial, dict)]
        pairs = [[f"{code}-TOTAL_FORMS", str(len(trials))]]
        for number, trial in enumerate(trials):
            pairs += [[f"{code}-{number}-{part}", _text(trial.get(part))] for part in TRIAL_PARTS]
        return pairs
    if value is None:
        return []
    if isinstance(value, bool):
        return [[code, "yes" if value else "no"]]
    if isinstance(value, list):
        return [[code, _text(item)] for item in value]
    return [[code, _text(value)]]


class Difference(NamedTuple):
    """A question whose answer on the page differs from the one saved."""

    code: str
    text: str
    yours: str
    saved: str


class Conflict(NamedTuple):
    """The page's answers against those saved in another window since:
    the questions whose answers differ, in questionnaire order, the saved
    revision to save against, and each differing question's saved answer
    as field values."""

    revision: int
    differences: list[Difference]
    saved_values: dict[str, list[list[str]]]

    @property
    def saved_json(self) -> str:
        return json.dumps(self.saved_values)


def conflict(form, saved_answers: dict, revision: int) -> Conflict:
    """`form` (validated: the answers on the page, as saving them would
    store them) against `saved_answers` (stored at `revision`). A question
    that no longer applies on the page counts as not answered there."""
    rulebook = form.rulebook
    saved, _ = engine.retired_answers(rulebook, saved_answers or {})
    yours = form.answers_to_store(saved)
    rows, values = [], {}
    for question in form.questions:
        mine, theirs = yours.get(question.code), saved.get(question.code)
        if mine == theirs:
            continue
        rows.append(Difference(
            question.code, question.text,
            answer_words(rulebook, question.code, mine), answer_words(rulebook, question.code, theirs),
        ))
        values[question.code] = field_values(question, theirs)
    return Conflict(revision, rows, values)


class Cleared(NamedTuple):
    """An answer on the page to a question that no longer applies."""

    code: str
    text: str
    value: str


def cleared_answers(form) -> list[Cleared]:
    """The answers on the page (validated `form`) to questions the engine
    no longer enables: the server drops them on saving, so the page names them."""
    return [
        Cleared(question.code, question.text, answer_words(form.rulebook, question.code, form.not_applying[question.code]))
        for question in form.questions if question.code in form.not_applying
    ]
