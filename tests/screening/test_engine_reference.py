"""evaluate() against a second, independent reading of the rule semantics (docs/architecture.md).

`rules/engine.py` is itself written to follow the semantics line by
line. `reference_evaluate` below states them once more, separately and in a
different shape (one condition at a time, criteria picked by effect and
outcome), as a cross-check: two readings that agree on every answer set,
valid or not, are unlikely to share a misreading.
"""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules.engine import (
    ALERT,
    CAUTION,
    CAUTION_STATUS,
    ELIGIBLE,
    EXCLUDE,
    EXCLUDED,
    FAILS,
    HOLDS,
    INCOMPLETE,
    NOT_APPLICABLE,
    NOT_MET,
    OPERATORS,
    REQUIRE,
    SKIPPED,
    UNKNOWN,
    evaluate,
    validate_answers,
)
from tests.screening.strategies import hostile_answers, valid_answers
from tests.screening.test_engine_semantics import RULEBOOK


def reference_calculations(rulebook, answers):
    """The answers with calculated values in place, the codes not collected
    (inputs, extra items and completeness questions of a total entered
    instead), for each calculated question with only some inputs answered,
    those still to answer, and for each count worked out from a list not yet
    declared complete, the completeness questions still open."""

    def answered(code):
        return answers.get(code) not in (None, [], ())

    def declared_complete(code):
        """A list with a completeness question counts as given, even empty, once it is answered yes."""
        complete_when = rulebook.question[code].complete_when
        return bool(complete_when) and answers.get(complete_when) is True

    def still_open(code):
        complete_when = rulebook.question[code].complete_when
        return [complete_when] if complete_when and answers.get(complete_when) is not True else []

    failures = ("no_response", "partial_response") if rulebook.partial_response_counts else ("no_response",)

    def counts(trial):
        drug = {d.key: d for d in rulebook.formulary}.get(trial["drug"])
        return bool(
            drug and drug.counts_as_trial and drug.min_daily_dose_mg is not None
            and trial["daily_dose_mg"] >= drug.min_daily_dose_mg
            and trial["weeks"] >= rulebook.min_trial_weeks
            and trial["outcome"] in failures
        )

    def count(trials):
        """Adequate failed trials; with `count: distinct_drugs`, the different drugs among them."""
        counted = [t["drug"] for t in trials if counts(t)]
        return len(set(counted)) if rulebook.trial_count == "distinct_drugs" else len(counted)

    values, not_collected, waiting, open_lists = dict(answers), set(), {}, {}
    for question in rulebook.questions:
        if not question.calculation:
            continue
        entered = answers.get(question.code) is not None
        given = [code for code in question.inputs if answered(code) or (not entered and declared_complete(code))]
        if not given:
            if entered:
                extra = [i.extra_items for i in rulebook.instruments if i.total == question.code]
                completeness = [rulebook.question[code].complete_when for code in question.inputs]
                not_collected.update(question.inputs, *extra, filter(None, completeness))
        elif len(given) < len(question.inputs):
            values.pop(question.code, None)
            waiting[question.code] = [code for code in question.inputs if code not in given]
        elif question.calculation == "sum":
            values[question.code] = sum(answers[code] for code in question.inputs)
        else:
            values[question.code] = count([t for code in question.inputs for t in answers.get(code) or []])
            if open_questions := [c for code in question.inputs for c in still_open(code)]:
                open_lists[question.code] = open_questions
    return values, not_collected, waiting, open_lists


def reference_evaluate(rulebook, conditions, answers):
    """[(condition, status, [(criterion, outcome)], [caution], [missing])], [alert]"""
    answers, not_collected, waiting, open_lists = reference_calculations(rulebook, answers)
    owner = {code: q.code for q in rulebook.questions if q.calculation for code in q.inputs}
    for instrument in rulebook.instruments:
        owner.update({code: instrument.total for code in instrument.extra_items})

    def test(operator, answer, value):
        try:
            return bool(OPERATORS[operator](answer, value))
        except TypeError:
            return False

    def read(code, operator, value):
        """True, False or None: a rule on an answer. A count from a list still
        open is a floor: a rule is decided only where more rows could not
        change it ("at least" held, "at most" broken)."""
        holds = test(operator, answers[code], value)
        if code not in open_lists:
            return holds
        if operator in ("gt", "gte"):
            return True if holds else None
        if operator in ("lt", "lte"):
            return None if holds else False
        return None

    def enabled(code):
        enable_when = rulebook.question[code].enable_when
        if enable_when is None:
            return True
        parent = enabled(enable_when.question)
        if parent is not True:
            return parent
        if answers.get(enable_when.question) is None:
            return None
        return test(enable_when.operator, answers[enable_when.question], enable_when.value)

    def state_of(question):
        """True, False or None (unknown): whether a question can be read, as enable-when says."""
        state = enabled(question)
        if state is False or question in not_collected:
            return False
        if state is None or answers.get(question) is None:
            return None
        return True

    def when_state(criterion):
        """Whether the criterion's `when` holds: True, False (it does not apply) or None (unknown)."""
        when = criterion.when
        if when is None:
            return True
        readable = state_of(when.question)
        if readable is not True:
            return readable
        return read(when.question, when.operator, when.value)

    def outcome(criterion):
        applies = when_state(criterion)
        if applies is False:
            return NOT_APPLICABLE
        if applies is None:
            return UNKNOWN
        state = enabled(criterion.question)
        if state is False or criterion.question in not_collected:
            return SKIPPED
        if state is None or answers.get(criterion.question) is None:
            return UNKNOWN
        return {True: HOLDS, False: FAILS, None: UNKNOWN}[read(criterion.question, criterion.operator, criterion.value)]

    def blocking(code):
        while True:
            enable_when = rulebook.question[code].enable_when
            if enable_when is None or (
                enabled(enable_when.question) is True and answers.get(enable_when.question) is not None
            ):
                return code
            code = enable_when.question

    order = [q.code for q in rulebook.questions]
    results = []
    for slug in conditions:
        if slug not in rulebook.condition:
            continue
        applying = [(c, outcome(c)) for c in rulebook.criteria if c.applies_to(slug)]

        def pick(effect, outcomes, applying=applying):
            return [(c.key, o) for c, o in applying if (effect is None or c.effect == effect) and o in outcomes]

        cautions = pick(CAUTION, {HOLDS})
        missing = []
        if excludes := pick(EXCLUDE, {HOLDS}):
            status, reasons = EXCLUDED, excludes
        elif unmet := pick(REQUIRE, {FAILS, SKIPPED}):
            status, reasons = NOT_MET, unmet
        elif unknown := pick(None, {UNKNOWN}):
            status, reasons = INCOMPLETE, unknown
            asked = {q.code for q in rulebook.questions_for([slug])}
            questions = set()
            waits_on = {c.when.question if when_state(c) is None else c.question for c, o in applying if o == UNKNOWN}
            waits_on = {open_lists[code][0] if code in open_lists else code for code in waits_on}
            for code in {blocking(code) for code in waits_on}:
                if code in waiting:
                    questions.update(waiting[code])  # a calculated question's unanswered inputs
                elif owner.get(code) in asked and owner[code] not in waiting:
                    questions.add(owner[code])  # an item of a total not yet begun: the total
                else:
                    questions.add(code)
            missing = sorted(questions, key=order.index)
        elif cautions:
            status, reasons = CAUTION_STATUS, cautions
        else:
            status, reasons = ELIGIBLE, pick(REQUIRE, {HOLDS})
        results.append((slug, status, reasons, [key for key, _ in cautions], missing))
    alerts = [
        c.key for c in rulebook.criteria
        if c.effect == ALERT and outcome(c) == HOLDS and any(c.applies_to(slug) for slug in conditions)
    ]
    return results, alerts


def engine_view(advisory):
    results = [
        (r.condition, r.status, [(x.criterion, x.outcome) for x in r.reasons],
         [x.criterion for x in r.cautions], list(r.missing))
        for r in advisory.results
    ]
    return results, [a.criterion for a in advisory.alerts]


CONDITIONS = [c.slug for c in RULEBOOK.conditions]


@given(valid_answers(RULEBOOK))
def test_agrees_with_the_reference_on_valid_answers(answers):
    expected = reference_evaluate(RULEBOOK, CONDITIONS, answers)
    assert engine_view(evaluate(RULEBOOK, CONDITIONS, answers)) == expected
    # The same answers again give the same advisory.
    assert engine_view(evaluate(RULEBOOK, CONDITIONS, answers)) == expected


@given(hostile_answers(RULEBOOK), st.lists(st.sampled_from(CONDITIONS), min_size=1, max_size=4))
def test_agrees_with_the_reference_on_answers_of_any_type(answers, conditions):
    expected = reference_evaluate(RULEBOOK, conditions, answers)
    assert engine_view(evaluate(RULEBOOK, conditions, answers)) == expected
    assert engine_view(evaluate(RULEBOOK, conditions, answers)) == expected


def test_an_integer_answer_is_not_taken_for_a_boolean_one():
    # 1 == True in Python; a rule "is_true" holds for True only.
    question = next(q.code for q in RULEBOOK.questions if q.kind == "boolean" and q.enable_when is None)
    for answers in ({question: True}, {question: 1}, {question: True}):
        expected = reference_evaluate(RULEBOOK, CONDITIONS, answers)
        assert engine_view(evaluate(RULEBOOK, CONDITIONS, answers)) == expected


@pytest.fixture
def default_rulebook(knowledge_base):
    from rulebook.versions import build_rulebook

    return build_rulebook()


# The rulebook is the same for every example: the fixture's scope is harmless.
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_agrees_with_the_reference_on_the_default_knowledge_base(default_rulebook, data):
    answers = data.draw(valid_answers(default_rulebook))
    slugs = [c.slug for c in default_rulebook.conditions]
    conditions = data.draw(st.lists(st.sampled_from(slugs), min_size=1, unique=True))
    validation = validate_answers(default_rulebook, conditions, answers)
    expected = reference_evaluate(default_rulebook, validation.conditions, validation.answers)
    advisory = evaluate(default_rulebook, validation.conditions, validation.answers)
    assert engine_view(advisory) == expected

