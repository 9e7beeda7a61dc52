"""Answer validation shared by the web form and the `screen` command."""

import pytest

from rules.engine import validate_answers
from tests.screening.test_engine_semantics import CALM, RULEBOOK


def validate(conditions=("dep",), **answers):
    return validate_answers(RULEBOOK, list(conditions), answers)


def test_valid_answers_pass_in_questionnaire_order():
    validation = validate(meds=["none"], age=40, trials=2)
    assert validation.is_valid
    assert list(validation.answers) == ["age", "trials", "meds"]


@pytest.mark.parametrize("code, value, message", [
    ("age", 121, "121 is above the maximum of 120 years."),
    ("age", -1, "-1 is below the minimum of 0 years."),
    ("age", "40", "“40” is not a number."),
    ("age", True, "“True” is not a number."),
    ("age", 40.5, "40.5 is not a whole number."),
    ("age", float("nan"), "enter a finite number."),
    ("history", "yes", "answer yes or no (true or false)."),
    ("history", 1, "answer yes or no (true or false)."),
    ("thoughts", "sometimes", "“sometimes” is not one of the choices (none, passive, active)."),
    ("thoughts", ["none"], "“['none']” is not one of the choices (none, passive, active)."),
    ("meds", "benzo", "choose at least one option (a list of choice values)."),
    ("meds", [], "choose at least one option (a list of choice values)."),
    ("meds", ["benzo", "none"], "“None of these” cannot be combined with other choices."),
    ("meds", ["benzo", "lsd"], "“lsd” is not one of the choices (benzo, maoi, none)."),
])
def test_invalid_answers_are_refused_with_a_message(code, value, message):
    validation = validate(**{**CALM, code: value})
    assert not validation.is_valid
    assert validation.errors == {code: [message]}
    assert code not in validation.answers
    assert validation.messages() == [f"{code}: {message}"]


def test_integral_float_is_accepted_as_a_whole_number():
    assert validate(age=40.0).answers["age"] == 40
    assert isinstance(validate(age=40.0).answers["age"], int)


def test_decimal_questions_take_fractions():
    assert validate(["pain"], score=2.5).answers["score"] == 2.5


def test_multi_choice_is_stored_in_choice_order_without_repeats():
    assert validate(meds=["maoi", "benzo", "maoi"]).answers["meds"] == ["benzo", "maoi"]


def test_unknown_question_and_condition_are_errors():
    validation = validate_answers(RULEBOOK, ["dep", "flu"], {"shoe_size": 9})
    assert validation.errors == {
        "conditions": ["unknown condition “flu”; known conditions: dep, bip, pain."],
        "shoe_size": ["unknown question code."],
    }
    assert validation.conditions == ("dep",)


def test_no_conditions_is_an_error():
    assert "conditions" in validate_answers(RULEBOOK, [], {}).errors
    assert "conditions" in validate_answers(RULEBOOK, "dep", {}).errors


def test_answers_the_chosen_conditions_do_not_ask_are_dropped_not_errors():
    validation = validate(["pain"], trials=5, score=3)
    assert validation.is_valid
    assert "trials" not in validation.answers
    # even an out-of-range one: the form for these conditions never asked it
    assert validate(["pain"], trials=500, score=3).is_valid


def test_answers_to_disabled_questions_are_dropped_even_when_invalid():
    validation = validate(history=False, episode="manic", stabiliser="maybe")
    assert validation.is_valid
    assert "episode" not in validation.answers and "stabiliser" not in validation.answers


def test_answers_to_enabled_follow_ups_are_kept_and_checked():
    validation = validate(history=True, episode="manic")
    assert validation.answers["episode"] == "manic"
    assert not validate(history=True, episode="elated").is_valid


def test_none_means_unanswered():
    validation = validate(age=None, trials=3)
    assert validation.is_valid
    assert "age" not in validation.answers
