"""The FHIR mapping (screening.fhir) against the engine, for any answers:
the exported Questionnaire enables exactly the questions the engine asks,
its calculated expressions give the engine's values, and a
QuestionnaireResponse reads back as the answers it was made of. FHIRPath is
evaluated by fhirpathpy; every resource is validated with fhir.resources'
R4B models."""

import copy
import functools

import pytest
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from fhirpathpy import compile as fhirpath_compile
from fhirpathpy.models import models
from hypothesis import given, settings
from hypothesis import strategies as st

from rules import engine
from screening import fhir
from tests.screening.strategies import ANY_JSON, valid_answers

BASE = "https://screen.example.org/fhir"

# The shipped rulebook is read from the database once (default_rulebook); the
# mark lets that session fixture create the test database.
pytestmark = pytest.mark.django_db

# A rulebook whose enable-when uses every operator of the grammar, on every
# kind of parent, with half the children asked for condition "two" only
# (so the item is also limited to a condition) and one chain of three.
_PARENTS = (
    engine.QuestionSpec("p_bool", "Parent yes/no", engine.BOOLEAN, "s"),
    engine.QuestionSpec("p_int", "Parent whole number", engine.INTEGER, "s", min=0, max=10, unit="years"),
    engine.QuestionSpec("p_dec", "Parent number", engine.DECIMAL, "s", min=0, max=10, unit="mmHg"),
    engine.QuestionSpec("p_choice", "Parent choice", engine.CHOICE, "s",
                        choices=tuple(engine.Choice(v, v.upper()) for v in "abc")),
    engine.QuestionSpec("p_multi", "Parent choices", engine.MULTI_CHOICE, "s",
                        choices=tuple(engine.Choice(v, v.upper()) for v in "abc")),
)
_RULES = (
    ("p_bool", "is_true", None), ("p_bool", "is_false", None), ("p_bool", "eq", True), ("p_bool", "ne", False),
    ("p_int", "eq", 3), ("p_int", "ne", 3), ("p_int", "lt", 5), ("p_int", "lte", 5), ("p_int", "gt", 5),
    ("p_int", "gte", 5), ("p_dec", "lte", 2.5), ("p_dec", "gt", 2.5),
    ("p_choice", "eq", "a"), ("p_choice", "ne", "a"), ("p_choice", "in", ("a", "b")),
    ("p_choice", "not_in", ("a",)),
    ("p_multi", "any_of", ("a", "b")), ("p_multi", "all_of", ("a", "b")), ("p_multi", "none_of", ("a",)),
)
_CHILDREN = tuple(
    engine.QuestionSpec(f"c{index}_{operator}", f"Child {index}", engine.BOOLEAN, "s",
                        enable_when=engine.EnableWhen(parent, operator, value))
    for index, (parent, operator, value) in enumerate(_RULES)
)
_GRANDCHILD = engine.QuestionSpec("g", "Grandchild", engine.BOOLEAN, "s",
                                  enable_when=engine.EnableWhen("c0_is_true", "is_true"))
OPERATORS = engine.Rulebook(
    sections=(engine.Section("s", "Section"),),
    questions=(*_PARENTS, *_CHILDREN, _GRANDCHILD),
    criteria=tuple(
        engine.CriterionSpec(f"{q.code}-caution", q.code, "is_true", None, engine.CAUTION, "…",
                             conditions=frozenset({"two"}) if index % 2 else frozenset())
        for index, q in enumerate((*_CHILDREN, _GRANDCHILD))
    ),
    conditions=(engine.ConditionSpec("one", "One"), engine.ConditionSpec("two", "Two")),
    references=(),
)


def items_by_link_id(items):
    found = {}
    for item in items:
        found[item["linkId"]] = item
        found.update(items_by_link_id(item.get("item", [])))
    return found


def answers_of(response, link_id):
    return [
        answer for item in items_by_link_id(response["item"]).values() if item["linkId"] == link_id
        for answer in item.get("answer", [])
    ]


@functools.cache
def compiled(expression):
    return fhirpath_compile(expression, models["r4"])


def fhirpath(response, expression):
    return compiled(expression)(response, {"resource": response})


def _value(answer):
    value = next(v for k, v in answer.items() if k.startswith("value"))
    return value["code"] if isinstance(value, dict) else value


COMPARE = {
    "=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}


def item_enabled(item, response) -> bool:
    """Whether FHIR R4 and SDC enable the item for this response: its
    enableWhenExpression, or its enableWhen and enableBehavior."""
    for extension in item.get("extension", []):
        if extension["url"] == fhir.EXT_ENABLE_WHEN_EXPRESSION:
            return fhirpath(response, extension["valueExpression"]["expression"]) == [True]
    results = []
    for condition in item.get("enableWhen", []):
        answers = answers_of(response, condition["question"])
        wanted = _value({k.replace("answer", "value"): v for k, v in condition.items() if k.startswith("answer")})
        if condition["operator"] == "exists":
            results.append(bool(answers) == wanted)
        else:
            results.append(any(COMPARE[condition["operator"]](_value(a), wanted) for a in answers))
    if not results:
        return True
    return any(results) if item.get("enableBehavior") == "any" else all(results)


def form_filler(questionnaire_items, response, codes) -> dict:
    """What a form filler shows: each question's item enabled or not, once
    the answers of disabled items are removed (as SDC has them removed) and
    nothing changes any more."""
    response = copy.deepcopy(response)
    while True:
        enabled = {code: item_enabled(questionnaire_items[code], response) for code in codes}
        removed = False
        for item in items_by_link_id(response["item"]).values():
            if enabled.get(item["linkId"]) is False and item.get("answer"):
                item["answer"], removed = [], True
        if not removed:
            return enabled


@pytest.fixture(scope="module", params=["default", "every operator"])
def rulebook(request):
    if request.param == "every operator":
        return OPERATORS
    return request.getfixturevalue("default_rulebook")


def chosen_conditions(rulebook):
    return st.lists(st.sampled_from([c.slug for c in rulebook.conditions]), min_size=1, unique=True)


def test_the_questionnaire_is_valid_r4_with_every_question_as_an_item(rulebook):
    questionnaire = fhir.questionnaire(rulebook, base=BASE, number=7)
    Questionnaire.model_validate(questionnaire)
    assert questionnaire["version"] == "7"
    assert questionnaire["identifier"][0]["value"] == rulebook.version
    items = items_by_link_id(questionnaire["item"])
    assert {q.code for q in rulebook.questions} <= set(items)
    for question in rulebook.questions:
        item = items[question.code]
        assert item["text"] == question.text
        assert item["type"] == fhir.FHIR_TYPE[question.kind]
        options = [o["valueCoding"]["code"] for o in item.get("answerOption", [])]
        assert options == list(question.choice_values)
        assert item.get("repeats", False) == (question.kind in (engine.MULTI_CHOICE, engine.TRIALS))
        units = [e["valueCoding"]["display"] for e in item.get("extension", []) if e["url"] == fhir.EXT_UNIT]
        assert units == ([question.unit] if question.unit else [])
    conditions = items[fhir.CONDITIONS]
    assert conditions["repeats"] and conditions["required"]
    assert [o["valueCoding"]["code"] for o in conditions["answerOption"]] == [c.slug for c in rulebook.conditions]


def test_operators_fhir_cannot_say_become_fhirpath_and_the_rest_enable_when():
    items = items_by_link_id(fhir.questionnaire(OPERATORS, base=BASE, number=1)["item"])
    by_expression = {
        code for code, item in items.items()
        if any(e["url"] == fhir.EXT_ENABLE_WHEN_EXPRESSION for e in item.get("extension", []))
    }
    every_condition = {q.code for index, q in enumerate(_CHILDREN) if index % 2 == 0}
    assert {c for c in every_condition if c.split("_", 1)[1] in ("ne", "not_in", "none_of")} == (
        by_expression & every_condition
    )
    assert all("enableWhen" not in items[code] for code in by_expression)  # never both


@settings(max_examples=40)
@given(data=st.data())
def test_a_form_filler_enables_exactly_the_questions_the_engine_asks(rulebook, data):
    conditions = data.draw(chosen_conditions(rulebook))
    raw = data.draw(valid_answers(rulebook))
    answers = engine.validate_answers(rulebook, conditions, raw).answers
    items = items_by_link_id(fhir.questionnaire(rulebook, base=BASE, number=1)["item"])
    response = fhir.questionnaire_response(
        rulebook, base=BASE, number=1, conditions=conditions, answers=answers, patient="P-1")
    asked = {q.code: enabled for q, enabled in engine.enabled_questions(rulebook, conditions, answers)}
    shown = form_filler(items, response, [q.code for q in rulebook.questions])
    for question in rulebook.questions:
        assert shown[question.code] == (asked.get(question.code) is True), question.code


@settings(max_examples=25)
@given(data=st.data())
def test_calculated_expressions_give_the_engines_values(default_rulebook, data):
    rulebook = default_rulebook
    conditions = [c.slug for c in rulebook.conditions]
    answers = engine.validate_answers(rulebook, conditions, data.draw(valid_answers(rulebook))).answers
    worked = engine.calculate(rulebook, answers)
    response = fhir.questionnaire_response(
        rulebook, base=BASE, number=1, conditions=conditions, answers=answers, patient="P-1")
    items = items_by_link_id(fhir.questionnaire(rulebook, base=BASE, number=1)["item"])
    assert rulebook.calculated_questions
    for question in rulebook.calculated_questions:
        (expression,) = [
            e["valueExpression"]["expression"] for e in items[question.code]["extension"]
            if e["url"] == fhir.EXT_CALCULATED_EXPRESSION
        ]
        value = fhirpath(response, expression)
        expected = [worked.calculated[question.code]] if question.code in worked.calculated else []
        assert value == expected, question.code


@settings(max_examples=40)
@given(data=st.data())
def test_a_response_reads_back_as_the_answers_it_was_made_of(rulebook, data):
    conditions = data.draw(chosen_conditions(rulebook))
    answers = engine.validate_answers(rulebook, conditions, data.draw(valid_answers(rulebook))).answers
    response = fhir.questionnaire_response(
        rulebook, base=BASE, number=3, conditions=conditions, answers=answers, patient="A-1027")
    QuestionnaireResponse.model_validate(response)
    assert response["questionnaire"] == f"{BASE}/Questionnaire/ketascreen|3"
    record, problems = fhir.record_from_response(rulebook, response)
    assert problems == []
    assert record == {"patient": "A-1027", "conditions": conditions, "answers": answers}


def test_a_trial_history_is_a_repeating_group_of_drug_dose_weeks_and_outcome(default_rulebook):
    items = items_by_link_id(fhir.questionnaire(default_rulebook, base=BASE, number=1)["item"])
    (trials,) = [q for q in default_rulebook.questions if q.kind == engine.TRIALS]
    group = items[trials.code]
    assert group["type"] == "group" and group["repeats"]
    parts = {item["linkId"]: item for item in group["item"] if item["type"] != "display"}
    assert list(parts) == [f"{trials.code}.{name}" for name in engine.TRIAL_FIELDS]
    assert [o["valueCoding"]["code"] for o in parts[f"{trials.code}.drug"]["answerOption"]] == [
        d.key for d in default_rulebook.formulary]
    assert parts[f"{trials.code}.daily_dose_mg"]["type"] == "decimal"
    assert [o["valueCoding"]["code"] for o in parts[f"{trials.code}.outcome"]["answerOption"]] == list(
        engine.TRIAL_OUTCOMES)


def _first(rulebook, kind):
    return next(q for q in rulebook.questions if q.kind == kind and not q.calculation)


def test_each_item_a_response_cannot_map_is_named_by_its_link_id(default_rulebook):
    rulebook = default_rulebook
    boolean, number = _first(rulebook, engine.BOOLEAN), _first(rulebook, engine.INTEGER)
    multi, trials = _first(rulebook, engine.MULTI_CHOICE), _first(rulebook, engine.TRIALS)
    condition = rulebook.conditions[0].slug
    response = {"resourceType": "QuestionnaireResponse", "status": "completed",
                "subject": {"identifier": {"value": "P-9"}}, "item": [
        {"linkId": "conditions", "answer": [{"valueString": condition}]},
        {"linkId": "not-a-question", "answer": [{"valueBoolean": True}]},
        {"linkId": boolean.code, "answer": [{"valueBoolean": True}, {"valueBoolean": False}]},
        {"linkId": number.code, "answer": [{"valueString": "forty"}]},
        {"linkId": multi.code, "answer": [{"valueString": multi.choices[0].value}]},
        {"linkId": trials.code, "item": [{"linkId": f"{trials.code}.colour", "answer": [{"valueString": "red"}]}]},
        {"linkId": trials.code, "answer": [{"valueString": "sertraline"}]},
    ]}
    record, problems = fhir.record_from_response(rulebook, response)
    assert problems == [
        "linkId not-a-question: not an item of this questionnaire.",
        f"linkId {boolean.code}: takes one answer.",
        f"linkId {number.code}: answer with valueInteger.",
        f"linkId {trials.code}.colour: not a part of a trial in {trials.code}.",
        f"linkId {trials.code}: a trial is one repetition of this group, with its drug, daily_dose_mg, weeks "
        "and outcome items; not an answer.",
    ]
    assert record["conditions"] == [condition]
    assert record["answers"][multi.code] == [multi.choices[0].value]  # a choice may come as valueString
    assert boolean.code not in record["answers"] and number.code not in record["answers"]


def _response_shaped(rulebook):
    """QuestionnaireResponses of any JSON in the places a reader looks."""
    codes = st.sampled_from(["conditions", *(q.code for q in rulebook.questions),
                             *(f"section:{s.key}" for s in rulebook.sections)])
    value_keys = st.sampled_from(["valueBoolean", "valueInteger", "valueDecimal", "valueString", "valueCoding"])
    answers = ANY_JSON | st.lists(st.dictionaries(value_keys, ANY_JSON, max_size=2), max_size=3)
    leaf = st.fixed_dictionaries({"linkId": codes | ANY_JSON}, optional={"answer": answers, "item": ANY_JSON})
    item = st.recursive(
        leaf, lambda children: st.fixed_dictionaries({"linkId": codes, "item": st.lists(children, max_size=3)}),
        max_leaves=6,
    )
    return st.fixed_dictionaries({"resourceType": st.just("QuestionnaireResponse")}, optional={
        "subject": ANY_JSON, "status": ANY_JSON, "item": st.lists(item, max_size=6) | ANY_JSON})


@settings(max_examples=150)
@given(data=st.data())
def test_screen_never_fails_on_a_hostile_response_and_names_what_it_cannot_map(default_rulebook, data):
    from screening.batch import screen_record

    response = data.draw(_response_shaped(default_rulebook))
    output, _ = screen_record(default_rulebook, response)
    assert ("errors" in output) != ("results" in output)
    assert all(isinstance(message, str) for message in output.get("errors", []))
