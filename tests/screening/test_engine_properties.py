"""Properties of evaluate() that hold for every answer set (hypothesis)."""

from hypothesis import given, settings
from hypothesis import strategies as st

from rules.engine import (
    EXCLUDE,
    INCOMPLETE,
    STATUS_ORDER,
    CriterionSpec,
    Rulebook,
    evaluate,
    validate_answers,
)
from tests.screening.strategies import hostile_answers, valid_answers
from tests.screening.test_engine_semantics import RULEBOOK

CONDITIONS = [c.slug for c in RULEBOOK.conditions]


def rank(status):
    """Higher is worse: eligible < caution < incomplete < not_met < excluded."""
    return STATUS_ORDER.index(status)


@given(hostile_answers(RULEBOOK))
def test_evaluate_never_raises_on_validated_hostile_input(raw):
    validation = validate_answers(RULEBOOK, CONDITIONS, raw)
    advisory = evaluate(RULEBOOK, CONDITIONS, validation.answers)
    assert len(advisory.results) == len(CONDITIONS)


@given(hostile_answers(RULEBOOK))
def test_evaluate_does_not_raise_even_on_unvalidated_input(raw):
    evaluate(RULEBOOK, CONDITIONS, raw)


@given(valid_answers(RULEBOOK), st.randoms())
def test_statuses_are_deterministic_whatever_the_answer_order(answers, rnd):
    items = list(answers.items())
    rnd.shuffle(items)
    assert evaluate(RULEBOOK, CONDITIONS, answers) == evaluate(RULEBOOK, CONDITIONS, dict(items))


@given(valid_answers(RULEBOOK), st.data())
def test_adding_a_holding_exclusion_never_improves_a_status(answers, data):
    answered = [q for q in RULEBOOK.questions if q.code in answers and q.kind != "multi_choice"]
    if not answered:
        return
    question = data.draw(st.sampled_from(answered))
    extra = CriterionSpec(
        key="added-exclude", question=question.code, operator="eq",
        value=answers[question.code], effect=EXCLUDE, message="added",
    )
    stricter = Rulebook(
        sections=RULEBOOK.sections, questions=RULEBOOK.questions,
        criteria=(*RULEBOOK.criteria, extra), conditions=RULEBOOK.conditions, references=(),
    )
    before = evaluate(RULEBOOK, CONDITIONS, answers)
    after = evaluate(stricter, CONDITIONS, answers)
    for old, new in zip(before.results, after.results, strict=True):
        assert rank(new.status) >= rank(old.status)


@given(valid_answers(RULEBOOK), st.data())
def test_removing_an_answer_never_turns_incomplete_into_a_better_status(answers, data):
    if not answers:
        return
    removed = data.draw(st.sampled_from(sorted(answers)))
    fewer = {code: value for code, value in answers.items() if code != removed}
    before = evaluate(RULEBOOK, CONDITIONS, answers)
    after = evaluate(RULEBOOK, CONDITIONS, fewer)
    for old, new in zip(before.results, after.results, strict=True):
        if old.status == INCOMPLETE:
            assert rank(new.status) >= rank(INCOMPLETE)


@settings(max_examples=50)
@given(valid_answers(RULEBOOK, allow_missing=False))
def test_full_valid_answers_are_never_incomplete(answers):
    validation = validate_answers(RULEBOOK, CONDITIONS, answers)
    assert validation.is_valid
    for result in evaluate(RULEBOOK, CONDITIONS, validation.answers).results:
        assert result.status != INCOMPLETE
        assert result.missing == ()

