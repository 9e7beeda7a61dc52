"""Every value the admin stores as JSON, given what JSON's grammar allows but
no column or rule can hold: a form error that says so, never a 500, and
nothing saved. Through HTTP, as a clinical lead."""

import json

import pytest

from conditions.models import Criterion, Instrument, Question, RuleCase
from tests.conditions.test_admin import case_form, choice_rows, criterion_form, question_form
from tests.conditions.test_admin_instruments import instrument_form

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("module_knowledge_base")]

# JSON text a lead might paste, each refused for a reason of its own. Each
# stands where a value belongs in the field's shape (`shaped`), and alone.
HOSTILE = {
    "NUL in a string": '"a\\u0000b"',
    "NaN": "NaN",
    "Infinity": "Infinity",
    "minus Infinity": "-Infinity",
    "a float too large": "1e400",
    "a 5,000-digit integer": "9" * 5000,
    "a 400-digit integer": "9" * 400,
    "nesting 100,000 deep": "[" * 100_000 + "]" * 100_000,
    "nesting 50 deep": "[" * 50 + "]" * 50,
    "a lone surrogate": '"\\ud800"',
}
KEYS = {
    "NUL in a key": '{"a\\u0000b": 1}',
    "a lone surrogate in a key": '{"\\ud800": 1}',
}


def shaped(field, atom):
    """`atom` where the field expects a value: an answer, a score, a band's end."""
    return {
        "answers": f'{{"age": {atom}}}',
        "options": f'[{{"score": 0, "label": "No"}}, {{"score": {atom}, "label": "Yes"}}]',
        "bands": f'[{{"min": 0, "max": {atom}, "label": "All"}}]',
    }[field]


def post_case(client, text):
    return client.post("/admin/conditions/rulecase/add/", case_form(name="Hostile", answers=text))


def post_instrument(field):
    def post(client, text):
        phq9 = Instrument.objects.get(code="phq9")
        return client.post(f"/admin/conditions/instrument/{phq9.pk}/change/", instrument_form(phq9, **{field: text}))
    return post


JSON_FIELDS = {"answers": post_case, "options": post_instrument("options"), "bands": post_instrument("bands")}


def unchanged():
    phq9 = Instrument.objects.get(code="phq9")
    return (not RuleCase.objects.filter(name="Hostile").exists(), phq9.options, phq9.bands)


def assert_form_error(response, field):
    assert response.status_code == 200, response.status_code
    form = response.context["adminform"].form
    assert form.errors.get(field), form.errors
    return " ".join(form.errors[field])


@pytest.mark.parametrize("field", JSON_FIELDS)
@pytest.mark.parametrize("name", [*HOSTILE, *KEYS])
def test_hostile_json_in_an_admin_field_is_a_form_error(lead_client, field, name):
    before = unchanged()
    texts = [KEYS[name]] if name in KEYS else [HOSTILE[name], shaped(field, HOSTILE[name])]
    if name in KEYS and field != "answers":
        texts = [f"[{KEYS[name]}]"]
    for text in texts:
        message = assert_form_error(JSON_FIELDS[field](lead_client, text), field)
        assert "Server Error" not in message
    assert unchanged() == before


@pytest.mark.parametrize("name, atom, message", [
    ("NUL", '"a\\u0000b"', "NUL character"),
    ("NaN", "NaN", "NaN and Infinity are not numbers"),
    ("overflow", "1e400", "NaN and Infinity are not numbers"),
    ("huge", "9" * 5000, "too large"),
    ("deep", "[" * 5000 + "]" * 5000, "nested more than"),
    ("long", "[" * 100_000 + "]" * 100_000, "the most a field here takes is 100,000"),
    ("surrogate", '"\\ud800"', "lone surrogate"),
])
def test_the_form_error_says_what_is_wrong(lead_client, name, atom, message):
    assert message in assert_form_error(post_case(lead_client, shaped("answers", atom)), "answers")


def test_what_was_typed_is_shown_again(lead_client):
    text = shaped("answers", "NaN")
    response = post_case(lead_client, text)
    assert_form_error(response, "answers")
    assert response.context["adminform"].form["answers"].value() == text


def test_ordinary_json_still_saves(lead_client):
    response = post_case(lead_client, '{"age": 45, "mdd_current": true, "interacting_medicines": ["none"]}')
    assert response.status_code == 302
    assert RuleCase.objects.get(name="Hostile").answers["age"] == 45


# The values the admin stores as JSON from fields of their own: a choice's
# label, and a rule's value typed as a number.

@pytest.mark.parametrize("label", ["Ye\x00s"])
def test_a_hostile_choice_label_is_a_form_error(lead_client, label):
    question = Question.objects.get(code="suicidal_ideation")
    choices = [*question.choices[:-1], {"value": question.choices[-1]["value"], "label": label}]
    response = lead_client.post(
        f"/admin/conditions/question/{question.pk}/change/",
        {**question_form(question), **choice_rows(choices)},
    )
    assert assert_form_error(response, "choices")
    assert Question.objects.get(pk=question.pk).choices == question.choices


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e400", "9" * 5000, "9" * 400, "1\x00"])
def test_a_hostile_number_as_a_rule_value_is_a_form_error(lead_client, value):
    criterion = Criterion.objects.get(key="trd-phq9-require")
    response = lead_client.post(f"/admin/conditions/criterion/{criterion.pk}/change/", criterion_form(criterion, value=value))
    assert assert_form_error(response, "value")
    assert Criterion.objects.get(pk=criterion.pk).value == criterion.value
    # The same as the value of an enable-when on a whole-number question.
    question = Question.objects.get(code="bladder_symptoms")
    age = Question.objects.get(code="age")
    response = lead_client.post(f"/admin/conditions/question/{question.pk}/change/", question_form(
        question, enable_when_question=age.pk, enable_when_operator="gte", enable_when_value=value,
    ))
    assert assert_form_error(response, "enable_when_value")
    assert Question.objects.get(pk=question.pk).enable_when_question_id is None


def test_json_fields_keep_working_on_the_page(lead_client):
    phq9 = Instrument.objects.get(code="phq9")
    response = lead_client.post(f"/admin/conditions/instrument/{phq9.pk}/change/", instrument_form(phq9))
    assert response.status_code == 302
    assert json.loads(json.dumps(Instrument.objects.get(pk=phq9.pk).options)) == phq9.options
