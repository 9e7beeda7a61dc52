"""Hypothesis strategies for answers to any rulebook's questions."""

from hypothesis import strategies as st

from rules.engine import BOOLEAN, CHOICE, DECIMAL, INTEGER, MULTI_CHOICE, TRIAL_OUTCOMES, TRIALS

ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=8,
)


def valid_trials(rulebook):
    """Lists of trials of the rulebook's formulary drugs, around each one's boundaries."""
    trial = st.fixed_dictionaries({
        "drug": st.sampled_from([d.key for d in rulebook.formulary]),
        "daily_dose_mg": st.integers(min_value=1, max_value=400) | st.sampled_from([37.5, 49.9, 50, 75]),
        "weeks": st.integers(min_value=1, max_value=12) | st.sampled_from([3.5, 4.0]),
        "outcome": st.sampled_from(TRIAL_OUTCOMES),
    })
    return st.lists(trial, max_size=4)


def valid_answer(question, rulebook=None):
    if question.kind == TRIALS:
        return valid_trials(rulebook)
    if question.kind == BOOLEAN:
        return st.booleans()
    if question.kind == INTEGER:
        return st.integers(min_value=int(question.min or 0), max_value=int(question.max or 1000))
    if question.kind == DECIMAL:
        return st.floats(min_value=question.min or 0, max_value=question.max or 1000)
    values = [choice.value for choice in question.choices]
    if question.kind == CHOICE:
        return st.sampled_from(values)
    if question.kind == MULTI_CHOICE:
        others = [v for v in values if v != "none"]
        lists = st.lists(st.sampled_from(others), min_size=1, unique=True)
        return st.just(["none"]) | lists if "none" in values else lists
    raise AssertionError(question.kind)


def valid_answers(rulebook, *, allow_missing=True):
    """Answers to a random subset (or all) of the rulebook's questions."""
    fields = {}
    for question in rulebook.questions:
        answer = valid_answer(question, rulebook)
        fields[question.code] = st.none() | answer if allow_missing else answer
    return st.fixed_dictionaries(fields).map(
        lambda answers: {code: value for code, value in answers.items() if value is not None}
    )


def hostile_answers(rulebook):
    """Known question codes mapped to values of any type."""
    codes = [q.code for q in rulebook.questions]
    return st.dictionaries(st.sampled_from(codes), ANY_JSON | st.sampled_from([True, "none", ["none"], 3]))
