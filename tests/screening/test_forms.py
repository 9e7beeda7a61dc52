"""The questionnaire form on a small hand-made rulebook: no database."""

import pytest

from screening.forms import MISSING_ANSWER, QuestionnaireForm
from tests.screening.test_engine_semantics import RULEBOOK

CALM = {"age": "40", "trials": "3", "history": "no", "thoughts": "none", "meds": ["none"]}


def bound(data, conditions=("dep",), require_complete=False):
    form = QuestionnaireForm(
        {**data, "revision": "1"}, rulebook=RULEBOOK, conditions=conditions,
        require_complete=require_complete,
    )
    form.is_valid()
    return form


def test_answers_come_out_typed_for_the_engine_in_questionnaire_order():
    form = bound(CALM)
    assert form.errors == {}
    assert form.answers == {
        "age": 40, "trials": 3, "history": False, "thoughts": "none", "meds": ["none"],
    }
    assert list(form.answers) == ["age", "trials", "history", "thoughts", "meds"]


def test_an_unanswered_yes_no_question_stays_unanswered_not_no():
    form = bound({k: v for k, v in CALM.items() if k != "history"})
    assert "history" not in form.answers
    assert form.is_valid()


@pytest.mark.parametrize("score, answer, error", [
    ("2.5", 2.5, None),
    ("0", 0.0, None),
    ("10.5", None, "10.5 is above the maximum of 10."),
    ("1e400", None, "Enter a number."),
    ("two", None, "Enter a number."),
])
def test_decimal_questions_take_fractions_within_their_range(score, answer, error):
    form = bound({**CALM, "score": score}, conditions=["pain"])
    if error is None:
        assert form.answers["score"] == answer
    else:
        assert form.errors["score"] == [error]


def test_an_answer_to_a_question_enable_when_hides_is_dropped_even_when_invalid():
    form = bound({**CALM, "history": "no", "episode": "bogus", "stabiliser": "maybe"})
    assert form.errors == {}
    assert "episode" not in form.answers and "stabiliser" not in form.answers


def test_enable_when_follows_a_chain_of_questions():
    form = bound({**CALM, "history": "yes", "episode": "manic", "stabiliser": "yes"}, conditions=["bip"])
    assert form.answers["episode"] == "manic"
    assert "stabiliser" not in form.answers  # shown only for a depressed episode
    assert form.enabled(form.answers)["stabiliser"] is False


def test_an_error_on_a_shown_follow_up_question_is_kept():
    form = bound({**CALM, "history": "yes", "episode": "bogus"})
    assert form.errors == {"episode": ["Choose one of the options shown."]}


def test_show_summary_requires_exactly_the_questions_that_are_shown():
    partial = {"age": "40", "history": "yes"}
    form = bound(partial, require_complete=True)
    assert {code: messages for code, messages in form.errors.items()} == {
        code: [MISSING_ANSWER] for code in ("trials", "thoughts", "meds", "episode")
    }
    assert bound(partial).errors == {}


def test_none_of_these_with_another_medicine_is_refused_in_the_engines_words():
    form = bound({**CALM, "meds": ["benzo", "none"]})
    assert form.errors == {"meds": ["“None of these” cannot be combined with other choices."]}


def test_an_unbound_form_shows_the_saved_answers_with_yes_no_for_booleans():
    form = QuestionnaireForm(
        rulebook=RULEBOOK, conditions=["dep"], answers={"history": True, "meds": ["benzo"], "age": 40},
        initial={"revision": 3},
    )
    assert form["history"].value() == "yes"
    assert form["meds"].value() == ["benzo"]
    assert form["age"].value() == 40
    assert form["revision"].value() == 3
    assert form.enabled()["episode"] is True
