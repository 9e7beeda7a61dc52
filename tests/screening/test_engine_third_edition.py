"""The third edition's rule semantics on small hand-made rulebooks (no
database): a criterion's `when` and its outcome "does not apply", questions
asked only when they can matter, each reason's basis, trials counted per
different drug, partial responses, and retired questions."""

import json
from dataclasses import replace

import pytest

from rules import engine
from rules.engine import (
    CAUTION_STATUS,
    ELIGIBLE,
    EXCLUDED,
    INCOMPLETE,
    NOT_APPLICABLE,
    NOT_MET,
    Choice,
    ConditionSpec,
    CriterionSpec,
    DrugSpec,
    EnableWhen,
    QuestionSpec,
    RetiredMapping,
    RetiredQuestion,
    Rulebook,
    Section,
    enabled_questions,
    evaluate,
    unanswered_questions,
    validate_answers,
)


def criterion(key, question, operator, value=None, effect="require", when=None, basis="", conditions=()):
    return CriterionSpec(
        key=key, question=question, operator=operator, value=value, effect=effect,
        message=f"message of {key}", conditions=frozenset(conditions), references=(f"ref-{key}",),
        when=when, basis=basis,
    )


RACEMIC = EnableWhen("route", "in", ("iv", "oral"))
ORAL = EnableWhen("route", "eq", "oral")
IV = EnableWhen("route", "eq", "iv")

RULEBOOK = Rulebook(
    sections=(Section("main", "Main"),),
    questions=(
        QuestionSpec("route", "Route", "choice", "main", choices=(
            Choice("iv", "IV ketamine"), Choice("oral", "Oral ketamine"), Choice("nasal", "Esketamine"),
        )),
        QuestionSpec("systolic", "Systolic", "integer", "main", min=50, max=300, unit="mmHg"),
        QuestionSpec("cyp", "Strong CYP3A4 inhibitor", "boolean", "main"),
        QuestionSpec("cannula", "Venous access possible", "boolean", "main"),
        QuestionSpec("sex", "Sex", "choice", "main", choices=(Choice("female", "Female"), Choice("male", "Male"))),
        QuestionSpec("pregnant", "Pregnant", "boolean", "main", enable_when=EnableWhen("sex", "eq", "female")),
        QuestionSpec("dose_note", "Dose adjusted", "boolean", "main"),
    ),
    criteria=(
        criterion("bp-exclude", "systolic", "gt", 180, "exclude", when=RACEMIC, basis="label"),
        criterion("cyp-caution", "cyp", "is_true", effect="caution", when=ORAL, basis="local_policy"),
        criterion("cannula-require", "cannula", "is_true", when=IV, basis="consensus"),
        criterion("bp-monitoring-duty", "systolic", "gte", 50, "duty", when=IV),
        # `when` on a question enable-when may disable: disabled does not apply.
        criterion("pregnant-dose-caution", "dose_note", "is_false", effect="caution",
                  when=EnableWhen("pregnant", "is_true")),
    ),
    conditions=(ConditionSpec("dep", "Depression"),),
    references=(),
)

WELL = {"systolic": 120, "cyp": False, "cannula": True, "sex": "male", "dose_note": True}


def result(rulebook=RULEBOOK, **changes):
    answers = {k: v for k, v in {**WELL, **changes}.items() if v is not None}
    advisory = evaluate(rulebook, ["dep"], answers)
    (only,) = advisory.results
    return advisory, only


def without(rulebook, keys):
    return replace(rulebook, criteria=tuple(c for c in rulebook.criteria if c.key not in keys))


@pytest.mark.parametrize("changes, status, deciding, missing", [
    # `when` holds: the criterion is evaluated as any other
    ({"route": "iv", "systolic": 190}, EXCLUDED, ["bp-exclude"], []),
    ({"route": "oral", "systolic": 190}, EXCLUDED, ["bp-exclude"], []),
    ({"route": "oral", "cyp": True}, CAUTION_STATUS, ["cyp-caution"], []),
    ({"route": "iv", "cannula": False}, NOT_MET, ["cannula-require"], []),
    ({"route": "iv"}, ELIGIBLE, ["cannula-require"], []),
    # `when` answered and false: the criterion does not apply, whatever its own answer
    ({"route": "nasal", "systolic": 190}, ELIGIBLE, [], []),
    ({"route": "iv", "cyp": True}, ELIGIBLE, ["cannula-require"], []),
    # a require that does not apply is not unmet, even unanswered
    ({"route": "nasal", "cannula": False}, ELIGIBLE, [], []),
    ({"route": "oral", "cannula": None}, ELIGIBLE, [], []),
    # `when` unknown: the criterion is unknown, and the `when` question is the one to answer
    ({"route": None}, INCOMPLETE, ["bp-exclude", "cyp-caution", "cannula-require", "bp-monitoring-duty"],
     ["route"]),
    ({"route": None, "systolic": 190}, INCOMPLETE,
     ["bp-exclude", "cyp-caution", "cannula-require", "bp-monitoring-duty"], ["route"]),
    # `when` holds and its own question is unanswered: that question is the one to answer
    ({"route": "iv", "cannula": None}, INCOMPLETE, ["cannula-require"], ["cannula"]),
    # `when` on a question enable-when disables (pregnant, for a man): does not apply
    ({"route": "nasal", "dose_note": False}, ELIGIBLE, [], []),
    # ... on an enabled and answered one: applies
    ({"route": "nasal", "sex": "female", "pregnant": True, "dose_note": False}, CAUTION_STATUS,
     ["pregnant-dose-caution"], []),
    ({"route": "nasal", "sex": "female", "pregnant": False, "dose_note": False}, ELIGIBLE, [], []),
    # ... on an enabled, unanswered one: unknown, and the question to answer is named
    ({"route": "nasal", "sex": "female", "dose_note": False}, INCOMPLETE, ["pregnant-dose-caution"], ["pregnant"]),
    # ... whose own enable-when parent is unanswered: the parent is the one to answer
    ({"route": "nasal", "sex": None, "dose_note": False}, INCOMPLETE, ["pregnant-dose-caution"], ["sex"]),
])
def test_when_decides_where_a_criterion_applies(changes, status, deciding, missing):
    advisory, outcome = result(**changes)
    assert outcome.status == status
    assert [r.criterion for r in outcome.reasons] == deciding
    assert list(outcome.missing) == missing
    every_reason = [*outcome.reasons, *outcome.cautions, *advisory.alerts, *advisory.duties]
    assert NOT_APPLICABLE not in {r.outcome for r in every_reason}


@pytest.mark.parametrize("changes", [
    {"route": "nasal", "systolic": 190, "cyp": True, "cannula": False},
    {"route": "iv", "cyp": True},
    {"route": "oral", "cannula": None, "systolic": 250},
    {"route": "nasal", "sex": "female", "pregnant": False, "dose_note": False},
])
def test_a_criterion_that_does_not_apply_changes_nothing(changes):
    """The result is the one of the rulebook without the criteria whose `when` is answered and false."""
    answers = {k: v for k, v in {**WELL, **changes}.items() if v is not None}
    applies = {
        "bp-exclude": answers["route"] in ("iv", "oral"), "cyp-caution": answers["route"] == "oral",
        "cannula-require": answers["route"] == "iv", "bp-monitoring-duty": answers["route"] == "iv",
        "pregnant-dose-caution": answers.get("pregnant") is True,
    }
    trimmed = without(RULEBOOK, {key for key, holds in applies.items() if not holds})
    assert evaluate(RULEBOOK, ["dep"], answers) == evaluate(trimmed, ["dep"], answers)


@pytest.mark.parametrize("route, duties", [("iv", ["bp-monitoring-duty"]), ("oral", []), ("nasal", [])])
def test_a_duty_that_does_not_apply_is_not_on_the_checklist(route, duties):
    advisory, _ = result(route=route)
    assert [d.criterion for d in advisory.duties] == duties


# --- questions asked only when they can matter ------------------------------


def states(**answers):
    return {q.code: state for q, state in enabled_questions(RULEBOOK, ["dep"], answers)}


@pytest.mark.parametrize("answers, expected", [
    # route unanswered: the questions only `when`-limited criteria read wait on it
    ({}, {"route": True, "systolic": None, "cyp": None, "cannula": None, "sex": True, "pregnant": None,
          "dose_note": None}),
    ({"route": "oral"}, {"route": True, "systolic": True, "cyp": True, "cannula": False, "sex": True,
                         "pregnant": None, "dose_note": None}),
    ({"route": "iv"}, {"route": True, "systolic": True, "cyp": False, "cannula": True, "sex": True,
                       "pregnant": None, "dose_note": None}),
    ({"route": "nasal", "sex": "male"}, {"route": True, "systolic": False, "cyp": False, "cannula": False,
                                         "sex": True, "pregnant": False, "dose_note": False}),
    ({"route": "nasal", "sex": "female", "pregnant": True},
     {"route": True, "systolic": False, "cyp": False, "cannula": False, "sex": True, "pregnant": True,
      "dose_note": True}),
])
def test_a_question_is_asked_only_while_some_criterion_reading_it_can_apply(answers, expected):
    assert states(**answers) == expected


def test_a_when_question_stays_asked_while_anything_depends_on_it():
    # route and pregnant are `when` questions: asked even where the criteria they gate do not apply.
    assert states(route="nasal", sex="female", pregnant=False)["pregnant"] is True
    assert states(route="nasal")["route"] is True


def test_show_summary_insists_only_on_the_questions_that_can_matter():
    assert unanswered_questions(RULEBOOK, ["dep"], {"route": "oral", "sex": "male"}) == ("systolic", "cyp")
    assert unanswered_questions(RULEBOOK, ["dep"], {"route": "nasal", "sex": "male"}) == ()
    assert unanswered_questions(RULEBOOK, ["dep"], {}) == ("route", "sex")


def test_an_answer_to_a_question_that_cannot_matter_is_dropped_like_a_disabled_ones():
    validation = validate_answers(RULEBOOK, ["dep"], {"route": "iv", "cyp": True, "cannula": True})
    assert validation.is_valid
    assert validation.answers == {"route": "iv", "cannula": True}


def test_a_rulebook_without_when_asks_every_question_as_before():
    plain = replace(RULEBOOK, criteria=tuple(replace(c, when=None) for c in RULEBOOK.criteria))
    # Without `when`, route, sex and pregnant gate nothing, so no criterion reads them.
    assert states_for(plain, {}) == {"systolic": True, "cyp": True, "cannula": True, "dose_note": True}


def states_for(rulebook, answers):
    return {q.code: state for q, state in enabled_questions(rulebook, ["dep"], answers)}


# --- basis -------------------------------------------------------------------


@pytest.mark.parametrize("changes, basis", [
    ({"route": "iv", "systolic": 190}, {"bp-exclude": "label"}),
    ({"route": "oral", "cyp": True}, {"cyp-caution": "local_policy"}),
    ({"route": "iv", "cannula": False}, {"cannula-require": "consensus"}),
    ({"route": "nasal", "sex": "female", "pregnant": True, "dose_note": False},
     {"pregnant-dose-caution": "unspecified"}),
])
def test_each_reason_carries_its_criterions_basis(changes, basis):
    _, outcome = result(**changes)
    assert {r.criterion: r.basis for r in outcome.reasons} == basis
    assert {r.criterion: r.to_dict()["basis"] for r in outcome.reasons} == basis


def test_a_reason_stored_without_a_basis_reads_as_unspecified():
    advisory, _ = result(route="iv", systolic=190)
    stored = advisory.to_dict()
    for reason in stored["results"][0]["reasons"]:
        del reason["basis"]
    (reason,) = engine.Advisory.from_dict(stored).results[0].reasons
    assert (reason.basis, reason.basis_label) == ("unspecified", "Basis not specified")


# --- snapshots -----------------------------------------------------------------


def test_when_basis_and_the_new_settings_survive_a_snapshot():
    rulebook = replace(RULEBOOK, trial_count="distinct_drugs", partial_response_counts=False,
                       retired_questions=(RETIRED,))
    assert Rulebook.from_json(rulebook.to_json()) == rulebook
    assert Rulebook.from_json(rulebook.to_json()).version == rulebook.version


def test_a_rulebook_without_the_new_parts_writes_none_of_their_keys():
    plain = replace(RULEBOOK, criteria=tuple(replace(c, when=None, basis="") for c in RULEBOOK.criteria))
    data = json.loads(plain.to_json())
    assert all(set(c) == {"key", "question", "operator", "value", "effect", "message", "conditions", "references"}
               for c in data["criteria"])
    assert not {"trial_count", "partial_response_counts", "retired_questions"} & set(data)


# --- trials per different drug ---------------------------------------------------

TRIALS_RULEBOOK = Rulebook(
    sections=(Section("main", "Main"),),
    questions=(
        QuestionSpec("trials", "Trials", "trials", "main"),
        QuestionSpec("failed", "Failed trials", "integer", "main", min=0, max=50,
                     calculation="adequate_failed_trials", inputs=("trials",)),
    ),
    criteria=(criterion("two-failed-require", "failed", "gte", 2),),
    conditions=(ConditionSpec("dep", "Depression"),),
    references=(),
    formulary=(
        DrugSpec("sertraline", "Sertraline", "ssri", 50),
        DrugSpec("citalopram", "Citalopram", "ssri", 20),
    ),
)
DISTINCT = replace(TRIALS_RULEBOOK, trial_count="distinct_drugs")
NO_PARTIAL = replace(TRIALS_RULEBOOK, partial_response_counts=False)


def trial(drug, dose=100, weeks=6, outcome="no_response"):
    return {"drug": drug, "daily_dose_mg": dose, "weeks": weeks, "outcome": outcome}


@pytest.mark.parametrize("rulebook, trials, failed, counted, status", [
    # distinct drugs: the same drug twice is one treatment
    (DISTINCT, [trial("sertraline"), trial("sertraline", 150)], 1, [True, False], NOT_MET),
    # ... two different drugs are two
    (DISTINCT, [trial("sertraline"), trial("citalopram")], 2, [True, True], ELIGIBLE),
    # ... a drug whose first row is inadequate and second adequate counts once, by the second
    (DISTINCT, [trial("sertraline", 25), trial("sertraline", 100), trial("citalopram")], 2,
     [False, True, True], ELIGIBLE),
    (DISTINCT, [trial("sertraline", weeks=2), trial("sertraline"), trial("sertraline")], 1,
     [False, True, False], NOT_MET),
    # without the setting every adequate failed trial counts, as before
    (TRIALS_RULEBOOK, [trial("sertraline"), trial("sertraline", 150)], 2, [True, True], ELIGIBLE),
    # a partial response counts by default ...
    (TRIALS_RULEBOOK, [trial("sertraline", outcome="partial_response"), trial("citalopram")], 2,
     [True, True], ELIGIBLE),
    # ... and not where the formulary says it does not
    (NO_PARTIAL, [trial("sertraline", outcome="partial_response"), trial("citalopram")], 1,
     [False, True], NOT_MET),
])
def test_trials_count_as_the_formulary_says(rulebook, trials, failed, counted, status):
    advisory = evaluate(rulebook, ["dep"], {"trials": trials})
    assert advisory.calculated["failed"] == failed
    assert [t.counted for t in advisory.trials] == counted
    assert advisory.results[0].status == status


def test_a_repeated_drug_says_it_was_already_counted():
    advisory = evaluate(DISTINCT, ["dep"], {"trials": [trial("sertraline", 25), trial("sertraline"),
                                                       trial("sertraline", 200)]})
    reasons = [t.reason for t in advisory.trials]
    assert reasons[0] == "below the 50 mg minimum for sertraline"
    assert reasons[1].startswith("counted: ")
    assert reasons[2] == "sertraline already counted (trial 2): each different antidepressant counts once"


def test_a_partial_response_that_does_not_count_says_why():
    advisory = evaluate(NO_PARTIAL, ["dep"], {"trials": [trial("sertraline", outcome="partial_response")]})
    assert advisory.trials[0].reason == "a partial response, which this formulary does not count as a failed trial"


def test_a_typed_count_must_agree_with_the_distinct_drugs():
    validation = validate_answers(DISTINCT, ["dep"], {
        "trials": [trial("sertraline"), trial("sertraline")], "failed": 2,
    })
    assert validation.errors["failed"] == [
        "the number entered (2) does not match the trials listed, of which 1 counts as an adequate failed "
        "trial; clear the number (it is worked out from the trials) or correct the trials."
    ]


# --- retired questions --------------------------------------------------------------

RETIRED = RetiredQuestion(
    code="pregnant_or_breastfeeding", text="Pregnant or breastfeeding (asked before the third edition)",
    maps=(RetiredMapping(answer=False, to=(("pregnant", False), ("breastfeeding", False))),),
)
PREGNANCY = Rulebook(
    sections=(Section("main", "Main"),),
    questions=(
        QuestionSpec("pregnant", "Pregnant", "boolean", "main"),
        QuestionSpec("breastfeeding", "Breastfeeding", "boolean", "main"),
    ),
    criteria=(
        criterion("pregnant-exclude", "pregnant", "is_true", effect="exclude"),
        criterion("breastfeeding-caution", "breastfeeding", "is_true", effect="caution"),
    ),
    conditions=(ConditionSpec("dep", "Depression"),),
    references=(),
    retired_questions=(RETIRED,),
)


@pytest.mark.parametrize("answers, cleaned", [
    # false maps onto both new answers
    ({"pregnant_or_breastfeeding": False}, {"pregnant": False, "breastfeeding": False}),
    # an answer given to a new question wins over the mapping
    ({"pregnant_or_breastfeeding": False, "breastfeeding": True}, {"pregnant": False, "breastfeeding": True}),
    # an unanswered retired question maps nothing
    ({"pregnant_or_breastfeeding": None, "pregnant": True}, {"pregnant": True}),
    # true cannot say which it was, but once both new questions are answered nothing is lost
    ({"pregnant_or_breastfeeding": True, "pregnant": False, "breastfeeding": True},
     {"pregnant": False, "breastfeeding": True}),
])
def test_a_retired_answer_is_read_through_its_mapping(answers, cleaned):
    validation = validate_answers(PREGNANCY, ["dep"], answers)
    assert validation.errors == {}
    assert validation.answers == cleaned


@pytest.mark.parametrize("answers", [
    {"pregnant_or_breastfeeding": True},
    {"pregnant_or_breastfeeding": True, "pregnant": False},
    {"pregnant_or_breastfeeding": "no"},
])
def test_a_retired_answer_with_no_mapping_is_an_error_naming_the_questions_to_answer(answers):
    validation = validate_answers(PREGNANCY, ["dep"], answers)
    (message,) = validation.errors["pregnant_or_breastfeeding"]
    assert "no longer asks (Pregnant or breastfeeding (asked before the third edition))" in message
    assert message.endswith("answer pregnant, breastfeeding instead.")


def test_a_retired_answer_under_a_rulebook_without_it_is_an_unknown_code():
    plain = replace(PREGNANCY, retired_questions=())
    validation = validate_answers(plain, ["dep"], {"pregnant_or_breastfeeding": False})
    assert validation.errors == {"pregnant_or_breastfeeding": ["unknown question code."]}
