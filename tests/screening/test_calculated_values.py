"""Calculated values and antidepressant trials (docs/architecture.md,
"Calculated values"), on a small hand-made rulebook: no database."""

from dataclasses import replace

import pytest

from rules import engine
from rules.engine import (
    ELIGIBLE,
    INCOMPLETE,
    NOT_MET,
    Band,
    ConditionSpec,
    CriterionSpec,
    DrugSpec,
    EnableWhen,
    InstrumentSpec,
    QuestionSpec,
    Rulebook,
    ScoreOption,
    Section,
    enabled_questions,
    evaluate,
    unanswered_questions,
    validate_answers,
)


def criterion(key, question, operator, value=None, effect="require", conditions=("dep",)):
    return CriterionSpec(
        key=key, question=question, operator=operator, value=value, effect=effect,
        message=f"message of {key}", conditions=frozenset(conditions), references=(),
    )


ITEMS = ("mood_1", "mood_2", "mood_3")
RULEBOOK = Rulebook(
    sections=(Section("main", "Main"),),
    questions=(
        QuestionSpec("age", "Age", "integer", "main", min=0, max=120),
        QuestionSpec("trials", "Antidepressant trials", "trials", "main"),
        QuestionSpec("failed", "Failed trials", "integer", "main", min=0, max=30,
                     calculation="adequate_failed_trials", inputs=("trials",)),
        *(QuestionSpec(code, f"Item {code}", "integer", "main", min=0, max=3) for code in ITEMS),
        QuestionSpec("mood_difficulty", "Difficulty", "boolean", "main"),
        QuestionSpec("mood_total", "Mood total", "integer", "main", min=0, max=9,
                     calculation="sum", inputs=ITEMS),
    ),
    criteria=(
        criterion("adult-require", "age", "gte", 18),
        criterion("failed-require", "failed", "gte", 2),
        criterion("mood-require", "mood_total", "gte", 5),
        criterion("item-3-alert", "mood_3", "gte", 1, effect="alert"),
    ),
    conditions=(ConditionSpec("dep", "Depression"),),
    references=(),
    instruments=(InstrumentSpec(
        code="mood", name="Mood scale", total="mood_total", items=ITEMS,
        options=tuple(ScoreOption(score, label) for score, label in enumerate(["No", "Some", "Most", "All"])),
        bands=(Band(0, 4, "Mild"), Band(5, 9, "Severe")), references=("mood-ref",),
        extra_items=("mood_difficulty",),
    ),),
    formulary=(
        DrugSpec("sertraline", "Sertraline", "ssri", 50, ("dose-ref",)),
        DrugSpec("venlafaxine", "Venlafaxine", "snri", 75, ("dose-ref",)),
        DrugSpec("lithium", "Lithium", "augmentation", None, ("trd-ref",), counts_as_trial=False),
        DrugSpec("diazepam", "Diazepam", "other", None, (), counts_as_trial=False),
    ),
    min_trial_weeks=4,
    trial_references=("trd-ref",),
)


def trial(drug="sertraline", dose=100, weeks=6, outcome="no_response"):
    return {"drug": drug, "daily_dose_mg": dose, "weeks": weeks, "outcome": outcome}


def run(answers):
    validation = validate_answers(RULEBOOK, ["dep"], {"age": 40, **answers})
    assert validation.is_valid, validation.errors
    return evaluate(RULEBOOK, ["dep"], validation.answers)


# --- sums ------------------------------------------------------------------


@pytest.mark.parametrize("answers, value, calculated, entered, missing", [
    # every item answered: the total is their sum, worked out
    ({"mood_1": 3, "mood_2": 2, "mood_3": 1, "trials": [trial(), trial()]}, 6, {"mood_total": 6}, (), ()),
    # some answered: unknown, and the unanswered items are what is missing
    ({"mood_1": 3, "trials": [trial(), trial()]}, None, {}, (), ("mood_2", "mood_3")),
    ({"mood_1": 3, "mood_3": 0, "trials": [trial(), trial()]}, None, {}, (), ("mood_2",)),
    # none answered: the typed total stands, listed as entered
    ({"mood_total": 7, "trials": [trial(), trial()]}, 7, {}, ("mood_total",), ()),
    # none answered and no total: the total itself is missing
    ({"trials": [trial(), trial()]}, None, {}, (), ("mood_total",)),
    # items and a total that agree
    ({"mood_1": 1, "mood_2": 1, "mood_3": 1, "mood_total": 3, "trials": [trial(), trial()]}, 3,
     {"mood_total": 3}, (), ()),
])
def test_a_sum_is_worked_out_only_from_every_item(answers, value, calculated, entered, missing):
    advisory = run(answers)
    assert {k: v for k, v in advisory.calculated.items() if k == "mood_total"} == calculated
    assert advisory.entered == entered
    result = advisory.results[0]
    assert result.missing == missing
    if value is None:
        assert result.status == INCOMPLETE
        assert "mood-require" in {r.criterion for r in result.reasons}
    else:
        assert result.status == (ELIGIBLE if value >= 5 else NOT_MET)


def test_criteria_read_a_calculated_total_like_any_answer():
    low = run({"mood_1": 1, "mood_2": 1, "mood_3": 2, "trials": [trial(), trial()]})
    assert low.results[0].status == NOT_MET
    assert [r.criterion for r in low.results[0].reasons] == ["mood-require"]
    at_threshold = run({"mood_1": 1, "mood_2": 2, "mood_3": 2, "trials": [trial(), trial()]})
    assert at_threshold.results[0].status == ELIGIBLE


@pytest.mark.parametrize("answers, message", [
    ({"mood_1": 3, "mood_2": 2, "mood_3": 1, "mood_total": 5},
     "mood_total: the total entered (5) does not match the items, which add up to 6; correct the total "
     "or the items, or clear the total (it is worked out from the items)."),
    ({"mood_1": 3, "mood_total": 5},
     "mood_total: a total of 5 was entered, but only 1 of the 3 items are answered (mood_2, mood_3 not yet): "
     "answer every item, or clear the items and keep the total."),
])
def test_a_typed_total_must_agree_with_its_items(answers, message):
    validation = validate_answers(RULEBOOK, ["dep"], answers)
    assert validation.messages() == [message]


def test_an_item_of_a_total_entered_instead_is_skipped_and_raises_no_alert():
    advisory = run({"mood_total": 7, "trials": [trial(), trial()]})
    assert advisory.results[0].status == ELIGIBLE
    assert advisory.alerts == ()


def test_an_item_alert_holds_once_the_items_are_answered():
    advisory = run({"mood_1": 1, "mood_2": 2, "mood_3": 2, "trials": [trial(), trial()]})
    assert [a.criterion for a in advisory.alerts] == ["item-3-alert"]


def test_the_questionnaire_brings_in_the_items_and_extra_items_of_a_total():
    codes = [q.code for q in RULEBOOK.questions_for(["dep"])]
    assert codes == ["age", "trials", "failed", "mood_1", "mood_2", "mood_3", "mood_difficulty", "mood_total"]


@pytest.mark.parametrize("answers, insisted", [
    ({}, ("age", "failed", "mood_total")),
    ({"age": 40, "mood_1": 1}, ("failed", "mood_2", "mood_3")),
    ({"age": 40, "mood_total": 4, "failed": 2}, ()),
    ({"age": 40, "mood_1": 1, "mood_2": 1, "mood_3": 1, "trials": [trial()]}, ()),
])
def test_show_summary_insists_on_the_items_or_the_total_never_both(answers, insisted):
    assert unanswered_questions(RULEBOOK, ["dep"], answers) == insisted


def test_a_band_holds_its_totals_inclusively():
    mood = RULEBOOK.instrument["mood"]
    assert [mood.band(total).label for total in (0, 4, 5, 9)] == ["Mild", "Mild", "Severe", "Severe"]
    assert mood.band(10) is None
    assert mood.band(None) is None


# --- antidepressant trials ---------------------------------------------------


@pytest.mark.parametrize("given, counted, reason", [
    # the dose: exactly the minimum counts, just below does not
    (trial(dose=50), True, "counted: at least 50 mg a day for at least 4 weeks, with no response"),
    (trial(dose=49.9), False, "below the 50 mg minimum for sertraline"),
    (trial(dose=25), False, "below the 50 mg minimum for sertraline"),
    (trial(drug="venlafaxine", dose=75), True,
     "counted: at least 75 mg a day for at least 4 weeks, with no response"),
    (trial(drug="venlafaxine", dose=37.5), False, "below the 75 mg minimum for venlafaxine"),
    # the weeks: exactly the minimum counts, one fewer does not
    (trial(weeks=4), True, "counted: at least 50 mg a day for at least 4 weeks, with no response"),
    (trial(weeks=3), False, "3 weeks, fewer than 4"),
    (trial(weeks=3.5), False, "3.5 weeks, fewer than 4"),
    (trial(weeks=2), False, "2 weeks, fewer than 4"),
    (trial(weeks=1), False, "1 week, fewer than 4"),
    # each outcome
    (trial(outcome="no_response"), True, "counted: at least 50 mg a day for at least 4 weeks, with no response"),
    (trial(outcome="partial_response"), True,
     "counted: at least 50 mg a day for at least 4 weeks, with only a partial response"),
    (trial(outcome="response"), False, "responded"),
    (trial(outcome="stopped_side_effects"), False, "stopped for side effects"),
    (trial(outcome="stopped_other"), False, "stopped for another reason"),
    # augmentation is recorded, not counted; nor is a drug that is not an antidepressant
    (trial(drug="lithium", dose=800), False, "lithium is an augmenting agent, not counted as a trial of its own"),
    (trial(drug="diazepam", dose=10), False, "diazepam is not an antidepressant"),
    # every reason is given
    (trial(dose=25, weeks=2, outcome="stopped_side_effects"), False,
     "below the 50 mg minimum for sertraline; 2 weeks, fewer than 4; stopped for side effects"),
])
def test_each_trial_is_counted_or_given_the_reason_it_did_not_count(given, counted, reason):
    judgement = engine.judge_trial(RULEBOOK, given)
    assert (judgement.counted, judgement.reason) == (counted, reason)
    assert judgement.to_dict() == {**given, "counted": counted, "reason": reason}


def test_the_minimum_weeks_are_the_rulebooks():
    from dataclasses import replace

    six_weeks = replace(RULEBOOK, min_trial_weeks=6)
    assert engine.judge_trial(six_weeks, trial(weeks=5)).reason == "5 weeks, fewer than 6"
    assert engine.judge_trial(six_weeks, trial(weeks=6)).counted


@pytest.mark.parametrize("trials, count, status", [
    ([trial(), trial(drug="venlafaxine", dose=150)], 2, ELIGIBLE),
    ([trial(), trial(drug="venlafaxine", dose=150, outcome="response")], 1, NOT_MET),
    ([trial(), trial(drug="lithium", dose=800)], 1, NOT_MET),
    ([trial(), trial(weeks=3), trial(dose=25), trial(drug="venlafaxine", dose=75, weeks=4)], 2, ELIGIBLE),
])
def test_the_count_of_adequate_failed_trials_decides_the_requirement(trials, count, status):
    advisory = run({"mood_total": 6, "trials": trials})
    assert advisory.calculated == {"failed": count}
    assert len(advisory.trials) == len(trials)
    assert advisory.results[0].status == status


def test_a_typed_count_is_used_when_no_trials_are_given():
    for given in ({"failed": 2}, {"failed": 2, "trials": []}):
        advisory = run({"mood_total": 6, **given})
        assert (advisory.calculated, advisory.entered, advisory.trials) == ({}, ("failed", "mood_total"), ())
        assert advisory.results[0].status == ELIGIBLE


def test_a_typed_count_must_agree_with_the_trials():
    agreeing = validate_answers(RULEBOOK, ["dep"], {"failed": 1, "trials": [trial(), trial(weeks=2)]})
    assert agreeing.is_valid
    disagreeing = validate_answers(RULEBOOK, ["dep"], {"failed": 2, "trials": [trial(), trial(weeks=2)]})
    assert disagreeing.messages() == [
        "failed: the number entered (2) does not match the trials listed, of which 1 counts as an adequate "
        "failed trial; clear the number (it is worked out from the trials) or correct the trials."
    ]


@pytest.mark.parametrize("given, message", [
    ([trial(drug="prozac")],
     "trials: trial 1: “prozac” is not in the formulary; name a drug by its formulary key, e.g. sertraline."),
    ([trial(), trial(dose=0)], "trials: trial 2: the daily dose must be more than 0 and at most 100000 mg."),
    ([trial(dose=-50)], "trials: trial 1: the daily dose must be more than 0 and at most 100000 mg."),
    ([trial(dose=float("nan"))], "trials: trial 1: the daily dose must be a number, not “nan”."),
    ([trial(dose=float("inf"))], "trials: trial 1: the daily dose must be a number, not “inf”."),
    ([trial(dose="100")], "trials: trial 1: the daily dose must be a number, not “100”."),
    ([trial(dose=True)], "trials: trial 1: the daily dose must be a number, not “True”."),
    ([trial(weeks=0)], "trials: trial 1: the weeks at that dose must be more than 0 and at most 100000."),
    ([trial(outcome="better")],
     "trials: trial 1: “better” is not an outcome (no_response, partial_response, response, "
     "stopped_side_effects, stopped_other)."),
    ([{"drug": "sertraline", "weeks": 6}], "trials: trial 1: give its daily_dose_mg, outcome."),
    ([{**trial(), "notes": "x"}],
     "trials: trial 1: “notes” is not part of a trial; give drug, daily_dose_mg, weeks and outcome."),
    (["sertraline"], "trials: trial 1: give its drug, daily_dose_mg, weeks and outcome."),
    ({"drug": "sertraline"},
     'trials: list the trials, each {"drug", "daily_dose_mg", "weeks", "outcome"} (an empty list for none).'),
    ([trial()] * 51, "trials: list at most 50 trials."),
])
def test_a_malformed_trial_is_refused_with_its_number(given, message):
    assert validate_answers(RULEBOOK, ["dep"], {"trials": given}).messages() == [message]


def test_a_drug_is_found_by_key_or_name_whatever_the_case():
    validation = validate_answers(RULEBOOK, ["dep"], {"trials": [
        trial(drug="Sertraline"), trial(drug="VENLAFAXINE", dose=150.0, weeks=8.0),
    ]})
    assert validation.answers["trials"] == [trial(), trial(drug="venlafaxine", dose=150, weeks=8)]


def test_evaluate_judges_an_unknown_drug_without_raising():
    advisory = evaluate(RULEBOOK, ["dep"], {"trials": [trial(drug="prozac")]})
    assert advisory.trials[0].reason == "prozac is not in the formulary"
    assert advisory.calculated == {"failed": 0}



# --- a `when` on a calculated value -------------------------------------------

# A follow-up asked only when the mood total, worked out from its items or
# typed instead, is 5 or more.
WITH_FOLLOW_UP = replace(
    RULEBOOK,
    questions=(*RULEBOOK.questions, QuestionSpec("mood_plan", "Safety plan in place", "boolean", "main")),
    criteria=(*RULEBOOK.criteria, CriterionSpec(
        key="mood-plan-caution", question="mood_plan", operator="is_false", value=None, effect="caution",
        message="No safety plan", conditions=frozenset({"dep"}), when=EnableWhen("mood_total", "gte", 5),
    )),
)


@pytest.mark.parametrize("answers, asked", [
    ({"mood_1": 3, "mood_2": 2, "mood_3": 1}, True),    # the items add up to 6
    ({"mood_1": 1, "mood_2": 1, "mood_3": 1}, False),   # 3: the follow-up cannot matter
    ({"mood_1": 3}, None),                              # the total waits for the other items
    ({}, None),
    ({"mood_total": 7}, True),                          # typed instead of the items
    ({"mood_total": 2}, False),
    ({"mood_total": 7, "mood_1": 1}, None),             # an item given: the total is worked out, and waits
])
def test_a_question_behind_a_when_on_a_calculated_value_is_asked_by_the_worked_out_value(answers, asked):
    states = {q.code: state for q, state in enabled_questions(WITH_FOLLOW_UP, ["dep"], answers)}
    assert states["mood_plan"] is asked


def test_an_answer_behind_a_when_on_a_calculated_value_is_kept_only_while_it_can_matter():
    high = validate_answers(WITH_FOLLOW_UP, ["dep"], {"mood_1": 3, "mood_2": 2, "mood_3": 1, "mood_plan": False})
    low = validate_answers(WITH_FOLLOW_UP, ["dep"], {"mood_1": 1, "mood_2": 1, "mood_3": 1, "mood_plan": False})
    assert high.answers["mood_plan"] is False
    assert "mood_plan" not in low.answers
    (result,) = evaluate(WITH_FOLLOW_UP, ["dep"], high.answers).results
    assert [r.criterion for r in result.cautions] == ["mood-plan-caution"]

# --- snapshots ---------------------------------------------------------------


def test_a_rulebook_with_instruments_and_a_formulary_round_trips():
    restored = Rulebook.from_json(RULEBOOK.to_json())
    assert restored == RULEBOOK
    assert restored.version == RULEBOOK.version


def test_an_advisory_round_trips_with_its_calculated_values_and_trials():
    advisory = run({"mood_1": 1, "mood_2": 2, "mood_3": 2, "trials": [trial(), trial(weeks=2)]})
    data = advisory.to_dict()
    assert data["calculated"] == {"mood_total": 5, "failed": 1}
    assert data["entered"] == []
    assert [t["counted"] for t in data["trials"]] == [True, False]
    assert engine.Advisory.from_dict(data) == advisory


def test_an_advisory_stored_before_calculated_values_still_loads():
    stored = run({"mood_total": 6, "failed": 2}).to_dict()
    for key in ("calculated", "entered", "trials"):
        del stored[key]
    advisory = engine.Advisory.from_dict(stored)
    assert (advisory.calculated, advisory.entered, advisory.trials) == ({}, (), ())
    assert advisory.results[0].status == ELIGIBLE
