"""A count of antidepressant trials is definite only once the clinician says
the table is complete (`complete_when`, docs/architecture.md, "Unanswered,
none, and a list still open"), on a small hand-made rulebook: no database."""

import dataclasses

from rules.engine import (
    ELIGIBLE,
    INCOMPLETE,
    NOT_MET,
    ConditionSpec,
    CriterionSpec,
    DrugSpec,
    QuestionSpec,
    Rulebook,
    Section,
    evaluate,
    unanswered_questions,
)


def criterion(key, question, operator, value=None, effect="require"):
    return CriterionSpec(
        key=key, question=question, operator=operator, value=value, effect=effect,
        message=f"message of {key}", conditions=frozenset({"dep"}), references=(),
    )


RULEBOOK = Rulebook(
    sections=(Section("main", "Main"),),
    questions=(
        QuestionSpec("trials", "Antidepressant trials", "trials", "main", complete_when="trials_complete"),
        QuestionSpec("trials_complete", "That is every trial", "boolean", "main"),
        QuestionSpec("failed", "Failed trials", "integer", "main", min=0, max=30,
                     calculation="adequate_failed_trials", inputs=("trials",)),
    ),
    criteria=(criterion("failed-require", "failed", "gte", 2),),
    conditions=(ConditionSpec("dep", "Depression"),),
    references=(),
    formulary=(
        DrugSpec("sertraline", "Sertraline", "ssri", 50, ()),
        DrugSpec("venlafaxine", "Venlafaxine", "snri", 75, ()),
    ),
    min_trial_weeks=4,
)
# The same rulebook as a file without `complete_when` reads it.
AS_GIVEN = dataclasses.replace(RULEBOOK, questions=tuple(
    dataclasses.replace(q, complete_when="") for q in RULEBOOK.questions
))

SERTRALINE = {"drug": "sertraline", "daily_dose_mg": 150, "weeks": 8, "outcome": "no_response"}
VENLAFAXINE = {"drug": "venlafaxine", "daily_dose_mg": 150, "weeks": 8, "outcome": "no_response"}


def result(answers, rulebook=RULEBOOK):
    return evaluate(rulebook, ["dep"], answers).results[0]


def test_one_failed_trial_so_far_is_incomplete_and_asks_for_the_completeness_answer():
    found = result({"trials": [SERTRALINE]})
    assert found.status == INCOMPLETE
    assert found.missing == ("trials_complete",)


def test_answered_no_is_still_incomplete():
    assert result({"trials": [SERTRALINE], "trials_complete": False}).status == INCOMPLETE


def test_once_the_table_is_complete_a_short_count_is_not_met():
    found = result({"trials": [SERTRALINE], "trials_complete": True})
    assert found.status == NOT_MET
    assert [r.criterion for r in found.reasons] == ["failed-require"]


def test_a_count_that_already_meets_the_requirement_counts_before_the_table_is_complete():
    assert result({"trials": [SERTRALINE, VENLAFAXINE]}).status == ELIGIBLE


def test_an_untouched_table_is_unanswered_never_none():
    found = result({})
    assert found.status == INCOMPLETE
    assert "failed" in found.missing


def test_an_empty_table_declared_complete_is_an_explicit_none():
    found = result({"trials_complete": True})
    assert found.status == NOT_MET
    assert evaluate(RULEBOOK, ["dep"], {"trials_complete": True}).calculated == {"failed": 0}


def test_a_typed_count_stands_without_the_completeness_answer():
    assert result({"failed": 1}).status == NOT_MET
    assert result({"failed": 3}).status == ELIGIBLE
    # Nor does "Show summary" insist on the completeness answer beside a typed count.
    assert "trials_complete" not in unanswered_questions(RULEBOOK, ["dep"], {"failed": 3})


def test_show_summary_asks_for_the_completeness_answer_beside_a_table():
    assert "trials_complete" in unanswered_questions(RULEBOOK, ["dep"], {"trials": [SERTRALINE]})


def test_the_completeness_question_is_part_of_the_questionnaire():
    assert "trials_complete" in [q.code for q in RULEBOOK.questions_for(["dep"])]


def test_without_complete_when_a_table_is_read_as_given():
    assert result({"trials": [SERTRALINE]}, AS_GIVEN).status == NOT_MET
    assert "trials_complete" not in [q.code for q in AS_GIVEN.questions_for(["dep"])]
    assert AS_GIVEN.to_dict()["questions"][0].keys() == {
        "code", "text", "kind", "section", "help_text", "min", "max", "unit", "choices", "enable_when",
    }


def test_an_at_most_rule_on_an_open_count_fails_only_when_the_floor_exceeds_it():
    at_most = dataclasses.replace(
        RULEBOOK, criteria=(criterion("few-caution", "failed", "lte", 1, effect="caution"),),
    )
    assert result({"trials": [SERTRALINE]}, at_most).status == INCOMPLETE
    assert result({"trials": [SERTRALINE, VENLAFAXINE]}, at_most).status == ELIGIBLE
    assert result({"trials": [SERTRALINE], "trials_complete": True}, at_most).status == "caution"


def test_the_snapshot_keeps_complete_when():
    assert RULEBOOK.from_json(RULEBOOK.to_json()) == RULEBOOK
    assert RULEBOOK.version != AS_GIVEN.version


def test_the_shipped_table_declares_its_completeness_question(default_rulebook):
    trials = default_rulebook.question["antidepressant_trials"]
    assert trials.complete_when == "antidepressant_trials_complete"
    assert default_rulebook.question["antidepressant_trials_complete"].kind == "boolean"
