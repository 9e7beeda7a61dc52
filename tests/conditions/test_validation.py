"""The models refuse malformed rules, each with a message that says what to write instead."""

import pytest
from django.core.exceptions import ValidationError

from conditions.models import Condition, Criterion, Question, Section

pytestmark = pytest.mark.django_db

SEVERITY = [
    {"value": "none", "label": "None"},
    {"value": "mild", "label": "Mild"},
    {"value": "severe", "label": "Severe"},
]
MEDICINES = [
    {"value": "lithium", "label": "Lithium"},
    {"value": "maoi", "label": "MAOI"},
    {"value": "none", "label": "None of these"},
]


@pytest.fixture
def section():
    return Section.objects.create(key="patient", title="Patient")


@pytest.fixture
def questions(section):
    """One saved question of each kind, by code."""
    made = [
        Question(code="age", text="Age", kind="integer", min_value=0, max_value=120, section=section),
        Question(code="weight", text="Weight", kind="decimal", section=section),
        Question(code="pregnant", text="Pregnant", kind="boolean", section=section),
        Question(code="severity", text="Severity", kind="choice", choices=SEVERITY, section=section),
        Question(code="medicines", text="Medicines", kind="multi_choice", choices=MEDICINES, section=section),
    ]
    for question in made:
        question.save()
    return {question.code: question for question in made}


def refusal(instance):
    """The message_dict of the ValidationError full_clean() raises."""
    with pytest.raises(ValidationError) as caught:
        instance.full_clean()
    return caught.value.message_dict


def criterion(question, operator, value=None):
    return Criterion(
        key="a-rule", question=question, operator=operator, value=value,
        effect="exclude", message="A message.",
    )


@pytest.mark.parametrize("code, operator, value, field, expected", [
    ("age", "any_of", [1], "operator", "“includes any of” does not fit a whole number question (age); use “is”, “is not”, “less than”, “at most”, “more than” or “at least”."),
    ("pregnant", "gte", 1, "operator", "“at least” does not fit a yes / no question (pregnant); use “is yes”, “is no”, “is” or “is not”."),
    ("medicines", "eq", "maoi", "operator", "use “includes any of”, “includes all of” or “includes none of”."),
    ("severity", "is_true", None, "operator", "“is yes” does not fit a one choice question"),
    ("age", "gte", "eighteen", "value", "“eighteen” is not a number; write e.g. 18 or 2.5."),
    ("age", "gte", True, "value", "Write a number, e.g. 18 or 2.5."),
    ("age", "gte", [18], "value", "Write a number, e.g. 18 or 2.5."),
    ("age", "gte", 17.5, "value", "age takes whole numbers; write e.g. 17."),
    ("age", "gte", 10**13, "value", "Write a number between -1000000000000 and 1000000000000"),
    ("age", "lt", None, "value", "The operator “less than” needs a value: enter a number."),
    ("pregnant", "is_true", True, "value", "“is yes” takes no value: leave the value empty."),
    ("pregnant", "eq", "yes", "value", "Choose yes or no."),
    ("severity", "in", "severe", "value", "The operator “is one of” needs one or more of the question's choices: tick at least one."),
    ("severity", "in", [], "value", "The operator “is one of” needs a value: tick one or more of the question's choices."),
    ("severity", "in", ["severe", "extreme"], "value", "“extreme” is not a choice of severity; its choices are: none, mild, severe."),
    ("severity", "eq", "extreme", "value", "“extreme” is not a choice of severity; its choices are: none, mild, severe."),
    ("medicines", "any_of", ["maoi", 3], "value", "“3” is not a choice of medicines"),
])
def test_criterion_refuses_rule_that_does_not_fit_its_question(questions, code, operator, value, field, expected):
    errors = refusal(criterion(questions[code], operator, value))
    assert expected in " ".join(errors[field])


@pytest.mark.parametrize("code, operator, value, stored", [
    ("age", "gte", 18, 18),
    ("age", "gte", "18", 18),
    ("weight", "lt", "72.5", 72.5),
    ("weight", "lt", 80.0, 80),
    ("pregnant", "is_true", None, None),
    ("pregnant", "is_false", "", None),
    ("pregnant", "eq", False, False),
    ("severity", "eq", "mild", "mild"),
    ("severity", "not_in", ["severe", "none", "severe"], ["none", "severe"]),
    ("medicines", "all_of", ["none", "lithium"], ["lithium", "none"]),
])
def test_criterion_accepts_fitting_rule_and_stores_its_value_canonically(questions, code, operator, value, stored):
    rule = criterion(questions[code], operator, value)
    rule.full_clean()
    assert rule.value == stored


def test_question_refuses_minimum_above_maximum(section):
    question = Question(code="age", text="Age", kind="integer", min_value=50, max_value=10, section=section)
    assert refusal(question)["max_value"] == ["The maximum (10) is below the minimum (50)."]


def test_question_refuses_minimum_and_maximum_on_a_yes_no_question(section):
    question = Question(code="flag", text="Flag", kind="boolean", min_value=1, section=section)
    assert refusal(question)["min_value"] == ["Only number questions have a minimum and maximum."]


@pytest.mark.parametrize("kind", ["choice", "multi_choice"])
@pytest.mark.parametrize("choices", [[], None, {"value": "a", "label": "A"}])
def test_choice_question_refuses_to_be_without_choices(section, kind, choices):
    question = Question(code="pick", text="Pick", kind=kind, choices=choices, section=section)
    assert "A choice question needs its choices: fill in a value and a label for each." in refusal(question)["choices"][0]


@pytest.mark.parametrize("choices, expected", [
    ([{"value": "a"}], "Each choice needs a value and a label, in words"),
    ([{"value": "", "label": "Empty"}], "Each choice needs a value and a label, in words"),
    ([{"value": "a", "label": "A"}, {"value": "a", "label": "Again"}], "The choice value “a” appears twice."),
])
def test_choice_question_refuses_malformed_choices(section, choices, expected):
    question = Question(code="pick", text="Pick", kind="choice", choices=choices, section=section)
    assert expected in refusal(question)["choices"][0]


def test_number_question_refuses_choices(section):
    question = Question(code="age", text="Age", kind="integer", choices=SEVERITY, section=section)
    assert refusal(question)["choices"] == ["Only choice questions have choices; empty the choice rows."]


def test_emptied_choices_become_an_empty_list(section):
    question = Question(code="flag", text="Flag", kind="boolean", choices=None, section=section)
    question.full_clean()
    assert question.choices == []


def test_question_cannot_depend_on_itself(questions):
    age = questions["age"]
    age.enable_when_question, age.enable_when_operator, age.enable_when_value = age, "gte", 1
    assert refusal(age)["enable_when_question"] == ["A question cannot depend on itself."]


def test_question_refuses_enable_when_that_makes_a_cycle(questions):
    Question.objects.filter(code="severity").update(
        enable_when_question=questions["pregnant"], enable_when_operator="is_true"
    )
    pregnant = questions["pregnant"]
    pregnant.enable_when_question = Question.objects.get(code="severity")
    pregnant.enable_when_operator, pregnant.enable_when_value = "eq", "severe"
    assert refusal(pregnant)["enable_when_question"] == [
        "This makes a cycle: pregnant → severity → pregnant. "
        "Pick a question that does not depend on pregnant."
    ]


def test_enable_when_rule_is_checked_against_the_parent_question(questions):
    weight = questions["weight"]
    weight.enable_when_question = questions["severity"]
    weight.enable_when_operator, weight.enable_when_value = "in", ["heavy"]
    errors = refusal(weight)
    assert errors["enable_when_value"] == [
        "“heavy” is not a choice of severity; its choices are: none, mild, severe."
    ]


def test_enable_when_needs_its_parent_question(questions):
    weight = questions["weight"]
    weight.enable_when_operator = "is_true"
    assert refusal(weight)["enable_when_question"] == [
        "Pick the question this one depends on, or clear the enable-when operator and value."
    ]


def test_question_refuses_to_drop_a_choice_a_criterion_still_uses(questions):
    criterion(questions["severity"], "in", ["mild", "severe"]).save()
    severity = questions["severity"]
    severity.choices = SEVERITY[:2]
    assert refusal(severity)["choices"] == [
        "criterion a-rule still uses severe; change it first, then remove the choice."
    ]


def test_question_refuses_to_drop_a_choice_an_enable_when_still_uses(questions):
    Question.objects.filter(code="weight").update(
        enable_when_question=questions["medicines"], enable_when_operator="any_of",
        enable_when_value=["maoi"],
    )
    medicines = questions["medicines"]
    medicines.choices = [MEDICINES[0], MEDICINES[2]]
    assert refusal(medicines)["choices"] == [
        "question weight's enable-when still uses maoi; change it first, then remove the choice."
    ]


def test_question_refuses_a_kind_its_criteria_no_longer_fit(questions):
    criterion(questions["age"], "gte", 18).save()
    age = questions["age"]
    age.kind, age.min_value, age.max_value = "boolean", None, None
    assert refusal(age)["kind"] == [
        "criterion a-rule reads this question with “at least”, which does not fit a yes / no question; "
        "change or remove it first."
    ]


def test_question_may_drop_a_choice_no_rule_uses(questions):
    criterion(questions["severity"], "eq", "severe").save()
    severity = questions["severity"]
    severity.choices = [SEVERITY[0], SEVERITY[2]]
    severity.full_clean()


@pytest.mark.parametrize("field, value, expected", [
    ("pmid", "PMID24740528", "A PMID is digits only, e.g. 24740528."),
    ("doi", "https://doi.org/10.1/x", "Write the DOI alone, e.g. 10.1001/jamapsychiatry.2014.62."),
])
def test_reference_refuses_malformed_identifiers(field, value, expected):
    from conditions.models import Reference

    reference = Reference(key="someone-2020", authors="Someone A", title="A title", **{field: value})
    assert refusal(reference)[field] == [expected]


def test_criterion_reads_like_the_rule(questions):
    trd = Condition.objects.create(slug="trd", name="Treatment-resistant depression")
    rule = criterion(questions["age"], "gte", 2)
    rule.effect = "require"
    rule.save()
    assert str(rule) == "All · require · age at least 2"
    rule.conditions.add(trd)
    assert str(rule) == "TRD · require · age at least 2"


def test_criterion_without_question_leaves_the_missing_field_to_the_form():
    rule = Criterion(key="a-rule", operator="gte", value=1, effect="exclude", message="A message.")
    assert "value" not in refusal(rule)
