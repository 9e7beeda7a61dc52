"""A result never says more than the answers do (docs/architecture.md,
"Unanswered, none, and a list still open"): for every case of the case
library that is eligible, leaving out any answers, trial rows or instrument
items, together with the answer that the trials table is complete, gives
eligible or incomplete, never not met, excluded or caution. Checked on the
engine, and through the questionnaire's form and its autosave."""

from pathlib import Path

import pytest
import yaml
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules.engine import ELIGIBLE, INCOMPLETE, evaluate, validate_answers
from screening import services
from screening.models import Screening
from tests.screening.test_instruments_and_trials import as_posted, trial_rows

DEFAULT_FILE = Path(__file__).resolve().parents[2] / "conditions" / "knowledge" / "default.yaml"
CASES = yaml.safe_load(DEFAULT_FILE.read_text(encoding="utf-8"))["cases"]
# Each case with the conditions it expects eligible, and the completeness
# answer given wherever a trials table is.
ELIGIBLE_CASES = [
    (
        case["name"],
        [slug for slug, status in case["expected"].items() if status == ELIGIBLE],
        {**case["answers"], **(
            {"antidepressant_trials_complete": True} if "antidepressant_trials" in case["answers"] else {}
        )},
    )
    for case in CASES if ELIGIBLE in case["expected"].values()
]
TRIALS, COMPLETE = "antidepressant_trials", "antidepressant_trials_complete"
ALLOWED = {ELIGIBLE, INCOMPLETE}


@st.composite
def unfinished(draw):
    """An eligible case with some of its answers, trial rows and instrument
    items left out; when a trial row is left out, so is the answer that the
    table is complete (the clinician has not finished it)."""
    name, conditions, answers = draw(st.sampled_from(ELIGIBLE_CASES))
    kept = {code: value for code, value in answers.items() if draw(st.booleans())}
    if TRIALS in kept:
        rows = [row for row in kept[TRIALS] if draw(st.booleans())]
        if len(rows) < len(answers[TRIALS]):
            kept.pop(COMPLETE, None)
        if rows:
            kept[TRIALS] = rows
        else:
            kept.pop(TRIALS)
    elif TRIALS in answers:
        kept.pop(COMPLETE, None)
    return name, conditions, kept


def test_every_eligible_case_is_eligible_with_all_its_answers(default_rulebook):
    assert ELIGIBLE_CASES, "the case library has eligible cases"
    for name, conditions, answers in ELIGIBLE_CASES:
        validation = validate_answers(default_rulebook, conditions, answers)
        assert validation.is_valid, (name, validation.messages)
        statuses = {r.status for r in evaluate(default_rulebook, conditions, validation.answers).results}
        assert statuses == {ELIGIBLE}, name


@settings(max_examples=300, deadline=None)
@given(unfinished())
def test_leaving_answers_out_never_gives_more_than_incomplete(default_rulebook, drawn):
    name, conditions, answers = drawn
    validation = validate_answers(default_rulebook, conditions, answers)
    assert validation.is_valid, (name, validation.messages)
    for result in evaluate(default_rulebook, conditions, validation.answers).results:
        assert result.status in ALLOWED, (name, sorted(answers), result)


def test_one_trial_entered_of_an_unfinished_table_is_incomplete_not_unmet(default_rulebook):
    """The newcomer's draft: one failed trial so far reads incomplete, and
    names the completeness question."""
    answers = {**dict(ELIGIBLE_CASES_BY_NAME["trials"]), TRIALS: [
        {"drug": "sertraline", "daily_dose_mg": 150, "weeks": 8, "outcome": "no_response"},
    ]}
    answers.pop(COMPLETE)
    result = evaluate(default_rulebook, ["trd"], validate_answers(default_rulebook, ["trd"], answers).answers)
    assert result.results[0].status == INCOMPLETE
    assert COMPLETE in result.results[0].missing


ELIGIBLE_CASES_BY_NAME = {
    "trials": next(answers for _, _, answers in ELIGIBLE_CASES if TRIALS in answers),
}


# --- through the questionnaire's form and autosave ------------------------------------------------


def posted(answers):
    """Answers as the questionnaire's form posts them."""
    data = as_posted({code: value for code, value in answers.items() if code != TRIALS})
    data.update(trial_rows(answers.get(TRIALS, [])))
    return data


@pytest.mark.django_db
@pytest.mark.usefixtures("module_knowledge_base", "quick_password_hashing")
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drawn=unfinished(), through=st.sampled_from(["questionnaire", "answers"]))
def test_an_unfinished_screening_saved_from_the_page_is_never_more_than_incomplete(
    clinician_client, clinician, drawn, through,
):
    name, conditions, answers = drawn
    screening = services.screening_create(
        owner=clinician, patient_reference="P-1", year_of_birth=None, conditions=conditions, answers=None,
    )
    response = clinician_client.post(reverse(f"screening:{through}", args=[screening.pk]), {
        "revision": screening.revision, "action": "save", **posted(answers),
    })
    assert response.status_code in (200, 302), (name, response.status_code)
    stored = Screening.objects.get(pk=screening.pk)
    statuses = {r["condition"]: r["status"] for r in stored.result["results"]}
    assert set(statuses) == set(conditions)
    assert set(statuses.values()) <= ALLOWED, (name, sorted(answers), statuses)
