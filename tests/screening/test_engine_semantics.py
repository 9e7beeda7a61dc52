"""The rule semantics (docs/architecture.md) on a small hand-made rulebook: no database."""

import ast
from pathlib import Path

import pytest

from rules import engine
from rules.engine import (
    CAUTION_STATUS,
    ELIGIBLE,
    EXCLUDED,
    FAILS,
    HOLDS,
    INCOMPLETE,
    NOT_MET,
    SKIPPED,
    UNKNOWN,
    Choice,
    ConditionSpec,
    CriterionSpec,
    EnableWhen,
    QuestionSpec,
    Rulebook,
    Section,
    evaluate,
)


def criterion(key, question, operator, value=None, effect="require", conditions=()):
    return CriterionSpec(
        key=key, question=question, operator=operator, value=value, effect=effect,
        message=f"message of {key}", conditions=frozenset(conditions), references=(f"ref-{key}",),
    )


RULEBOOK = Rulebook(
    sections=(Section("main", "Main"), Section("follow", "Follow-up")),
    questions=(
        QuestionSpec("age", "Age", "integer", "main", min=0, max=120, unit="years"),
        QuestionSpec("trials", "Failed trials", "integer", "main", min=0, max=30),
        QuestionSpec("history", "History of mania", "boolean", "main"),
        QuestionSpec("thoughts", "Suicidal thoughts", "choice", "main", choices=(
            Choice("none", "None"), Choice("passive", "Passive"), Choice("active", "Active"),
        )),
        QuestionSpec("meds", "Medicines", "multi_choice", "main", choices=(
            Choice("benzo", "Benzodiazepines"), Choice("maoi", "MAOI"), Choice("none", "None of these"),
        )),
        QuestionSpec("episode", "Current episode", "choice", "follow", choices=(
            Choice("depressed", "Depressed"), Choice("manic", "Manic"),
        ), enable_when=EnableWhen("history", "is_true")),
        QuestionSpec("stabiliser", "On a mood stabiliser", "boolean", "follow",
                     enable_when=EnableWhen("episode", "eq", "depressed")),
        QuestionSpec("score", "Score", "decimal", "main", min=0, max=10),
    ),
    criteria=(
        criterion("minor-exclude", "age", "lt", 18, "exclude"),
        criterion("old-caution", "age", "gte", 65, "caution"),
        criterion("history-caution", "history", "is_true", effect="caution"),
        criterion("thoughts-alert", "thoughts", "in", ("active",), "alert"),
        criterion("benzo-caution", "meds", "any_of", ("benzo",), "caution"),
        criterion("manic-exclude", "episode", "eq", "manic", "exclude"),
        criterion("trials-require", "trials", "gte", 2, conditions=["dep"]),
        criterion("bip-history-require", "history", "is_true", conditions=["bip"]),
        criterion("bip-depressed-require", "episode", "eq", "depressed", conditions=["bip"]),
        criterion("no-stabiliser-caution", "stabiliser", "is_false", effect="caution", conditions=["bip"]),
        criterion("score-require", "score", "gte", 2.5, conditions=["pain"]),
    ),
    conditions=(
        ConditionSpec("dep", "Depression", references=("dep-ref",)),
        ConditionSpec("bip", "Bipolar depression"),
        ConditionSpec("pain", "Pain"),
    ),
    references=(),
)

CALM = {"age": 40, "trials": 3, "history": False, "thoughts": "none", "meds": ["none"], "score": 5}


def status_of(condition, **changes):
    answers = {**CALM, **changes}
    answers = {code: value for code, value in answers.items() if value is not None}
    return evaluate(RULEBOOK, [condition], answers).results[0]


@pytest.mark.parametrize("condition, changes, status, deciding", [
    # 5. nothing holds against: eligible, with the requirements met as reasons
    ("dep", {}, ELIGIBLE, ["trials-require"]),
    # 1. a holding exclude wins over everything else
    ("dep", {"age": 17}, EXCLUDED, ["minor-exclude"]),
    ("dep", {"age": 17, "trials": 0}, EXCLUDED, ["minor-exclude"]),
    ("dep", {"age": 17, "thoughts": None}, EXCLUDED, ["minor-exclude"]),
    # 2. a require that fails: not met, even with other questions unanswered
    ("dep", {"trials": 1}, NOT_MET, ["trials-require"]),
    ("dep", {"trials": 1, "thoughts": None}, NOT_MET, ["trials-require"]),
    # 3. anything unknown (any effect) leaves the result incomplete
    ("dep", {"trials": None}, INCOMPLETE, ["trials-require"]),
    ("dep", {"thoughts": None}, INCOMPLETE, ["thoughts-alert"]),
    ("dep", {"age": 70, "meds": None}, INCOMPLETE, ["benzo-caution"]),
    # 4. a holding caution, nothing worse: eligible with cautions
    ("dep", {"age": 70}, CAUTION_STATUS, ["old-caution"]),
    ("dep", {"age": 70, "meds": ["benzo", "maoi"]}, CAUTION_STATUS, ["old-caution", "benzo-caution"]),
    # numeric boundaries
    ("dep", {"age": 18}, ELIGIBLE, ["trials-require"]),
    ("dep", {"age": 65}, CAUTION_STATUS, ["old-caution"]),
    ("dep", {"trials": 2}, ELIGIBLE, ["trials-require"]),
    ("pain", {"score": 2.5}, ELIGIBLE, ["score-require"]),
    ("pain", {"score": 2.4}, NOT_MET, ["score-require"]),
    # enable-when: history "no" disables the follow-ups (skipped = does not hold)
    ("dep", {"history": False, "episode": "manic"}, ELIGIBLE, ["trials-require"]),
    ("bip", {"history": False}, NOT_MET, ["bip-history-require", "bip-depressed-require"]),
    # history "yes" enables them
    ("dep", {"history": True, "episode": "manic"}, EXCLUDED, ["manic-exclude"]),
    ("dep", {"history": True}, INCOMPLETE, ["manic-exclude"]),
    ("bip", {"history": True, "episode": "depressed", "stabiliser": True}, CAUTION_STATUS, ["history-caution"]),
    ("bip", {"history": True, "episode": "depressed", "stabiliser": False}, CAUTION_STATUS,
     ["history-caution", "no-stabiliser-caution"]),
    # a require on a question disabled further down the chain is not met
    ("bip", {"history": True, "episode": "manic"}, EXCLUDED, ["manic-exclude"]),
    # an unanswered parent makes its children unknown, not skipped
    ("dep", {"history": None}, INCOMPLETE, ["history-caution", "manic-exclude"]),
])
def test_status_follows_the_rule_semantics(condition, changes, status, deciding):
    result = status_of(condition, **changes)
    assert result.status == status
    assert [reason.criterion for reason in result.reasons] == deciding


def test_every_reason_carries_message_references_outcome_and_basis():
    result = status_of("dep", trials=1)
    (reason,) = result.reasons
    # A criterion that names no basis (every one of this rulebook) reads as unspecified.
    assert reason.to_dict() == {
        "criterion": "trials-require", "question": "trials", "effect": "require",
        "outcome": FAILS, "message": "message of trials-require", "references": ["ref-trials-require"],
        "basis": "unspecified",
    }
    assert result.references == ("dep-ref",)


def test_skipped_require_reports_skipped_outcome():
    result = status_of("bip", history=False)
    assert [(r.criterion, r.outcome) for r in result.reasons] == [
        ("bip-history-require", FAILS), ("bip-depressed-require", SKIPPED),
    ]


def test_incomplete_lists_the_questions_to_answer_in_questionnaire_order():
    result = status_of("dep", thoughts=None, trials=None, meds=None)
    assert result.status == INCOMPLETE
    assert result.missing == ("trials", "thoughts", "meds")


def test_missing_names_the_unanswered_parent_not_its_disabled_follow_up():
    result = status_of("bip", history=None)
    assert result.status == INCOMPLETE
    assert result.missing == ("history",)
    assert {r.outcome for r in result.reasons} == {UNKNOWN}


def test_missing_names_the_follow_up_once_its_parent_is_answered_yes():
    result = status_of("bip", history=True)
    assert result.missing == ("episode",)
    result = status_of("bip", history=True, episode="depressed")
    assert result.missing == ("stabiliser",)


def test_answers_to_disabled_questions_are_ignored():
    with_stale_answer = status_of("dep", history=False, episode="manic", stabiliser=False)
    without = status_of("dep", history=False)
    assert with_stale_answer == without


def test_cautions_are_carried_whatever_the_status():
    result = status_of("dep", age=70, trials=0)
    assert result.status == NOT_MET
    assert [c.criterion for c in result.cautions] == ["old-caution"]


def test_alerts_are_collected_once_and_do_not_change_statuses():
    advisory = evaluate(RULEBOOK, ["dep", "pain"], {**CALM, "thoughts": "active"})
    assert [a.criterion for a in advisory.alerts] == ["thoughts-alert"]
    assert [r.status for r in advisory.results] == [ELIGIBLE, ELIGIBLE]
    assert advisory.alerts[0].outcome == HOLDS


def test_results_come_in_the_order_the_conditions_were_given():
    advisory = evaluate(RULEBOOK, ["pain", "bip", "dep"], CALM)
    assert [r.condition for r in advisory.results] == ["pain", "bip", "dep"]


def test_criteria_for_other_conditions_do_not_apply():
    # trials-require applies to dep only: pain does not need trials answered
    assert status_of("pain", trials=None).status == ELIGIBLE


def test_no_answers_at_all_is_incomplete_not_an_error():
    advisory = evaluate(RULEBOOK, ["dep", "bip", "pain"], {})
    assert {r.status for r in advisory.results} == {INCOMPLETE}
    assert advisory.alerts == ()


@pytest.mark.parametrize("operator, value, answer, holds", [
    ("is_true", None, True, True), ("is_true", None, False, False),
    ("is_false", None, False, True), ("is_false", None, True, False),
    ("eq", 3, 3, True), ("eq", 3, 4, False), ("ne", 3, 4, True), ("ne", "a", "a", False),
    ("lt", 3, 2, True), ("lt", 3, 3, False), ("lte", 3, 3, True), ("lte", 3, 4, False),
    ("gt", 3, 4, True), ("gt", 3, 3, False), ("gte", 3, 3, True), ("gte", 3, 2, False),
    ("in", ("a", "b"), "b", True), ("in", ("a", "b"), "c", False),
    ("not_in", ("a", "b"), "c", True), ("not_in", ("a", "b"), "a", False),
    ("any_of", ("a", "b"), ["b", "c"], True), ("any_of", ("a", "b"), ["c"], False),
    ("all_of", ("a", "b"), ["a", "b", "c"], True), ("all_of", ("a", "b"), ["a"], False),
    ("none_of", ("a", "b"), ["c"], True), ("none_of", ("a", "b"), ["a", "c"], False),
])
def test_operators(operator, value, answer, holds):
    assert engine._holds(operator, answer, value) is holds


def test_questions_for_includes_enable_when_parents_in_display_order():
    codes = [q.code for q in RULEBOOK.questions_for(["bip"])]
    assert codes == ["age", "history", "thoughts", "meds", "episode", "stabiliser"]
    assert "trials" not in codes and "score" not in codes


def test_snapshot_round_trips_exactly_and_evaluates_the_same():
    restored = Rulebook.from_json(RULEBOOK.to_json())
    assert restored == RULEBOOK
    assert restored.version == RULEBOOK.version
    assert len(RULEBOOK.version) == 12
    answers = {**CALM, "history": True, "episode": "depressed", "stabiliser": False}
    assert evaluate(restored, ["dep", "bip", "pain"], answers) == evaluate(
        RULEBOOK, ["dep", "bip", "pain"], answers
    )


def test_advisory_round_trips_through_its_stored_form():
    advisory = evaluate(RULEBOOK, ["dep", "bip"], {**CALM, "thoughts": "active", "age": 70})
    assert engine.Advisory.from_dict(advisory.to_dict()) == advisory


def test_rules_package_imports_only_the_standard_library_and_itself():
    """Every module of the pure `rules` package (the engine, its vocabulary)
    imports the standard library and `rules` only (import-linter checks the
    same wall in `make lint`)."""
    import sys
    modules = sorted(Path(engine.__file__).parent.glob("*.py"))
    assert Path(engine.__file__) in modules
    for module in modules:
        imported = set()
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                imported.add("rules" if node.level else (node.module or "").split(".")[0])
        assert "django" not in imported, module.name
        outside = imported - set(sys.stdlib_module_names) - {"rules"}
        assert not outside, (module.name, outside)


def test_unanswered_questions_are_the_enabled_ones_without_answers():
    assert engine.unanswered_questions(RULEBOOK, ["bip"], {}) == ("age", "history", "thoughts", "meds")
    answers = {**CALM, "history": True}
    assert engine.unanswered_questions(RULEBOOK, ["bip"], answers) == ("episode",)
    answers["episode"] = "manic"
    assert engine.unanswered_questions(RULEBOOK, ["bip"], answers) == ()
