"""Every value the admin stores as JSON, given what JSON's grammar (or a
pasted text) allows but no column or rule can hold: a form error that says
so, never a 500, and nothing saved. Through HTTP, as a clinical lead."""

import json

import pytest

from conditions.models import Criterion, Instrument, Question
from tests.conditions.test_admin import choice_rows, criterion_form, question_form
from tests.conditions.test_admin_instruments import instrument_form

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("module_knowledge_base")]

# Text a lead might type or paste where a number or a word belongs, each
# refused for a reason of its own: in a cell of an instrument's option and
# band rows, and (tests/conditions/test_admin_no_json.py) in a case's answers.
HOSTILE = {
    "NUL in a text": "a\x00b",
    "NaN": "NaN",
    "Infinity": "Infinity",
    "minus Infinity": "-Infinity",
    "a float too large": "1e400",
    "a 5,000-digit integer": "9" * 5000,
    "a 400-digit integer": "9" * 400,
    "nesting 100,000 deep": "[" * 100_000 + "]" * 100_000,
    "nesting 50 deep": "[" * 50 + "]" * 50,
}


def post_instrument(field, part):
    def post(client, text):
        phq9 = Instrument.objects.get(code="phq9")
        rows = [dict(row) for row in getattr(phq9, field)]
        rows[-1][part] = text
        return client.post(f"/admin/conditions/instrument/{phq9.pk}/change/", instrument_form(phq9, **{field: rows}))
    return post


CELLS = {
    "an option's score": ("options", post_instrument("options", "score")),
    "a band's end": ("bands", post_instrument("bands", "max")),
}


def unchanged():
    phq9 = Instrument.objects.get(code="phq9")
    return (phq9.options, phq9.bands)


def assert_form_error(response, field):
    assert response.status_code == 200, response.status_code
    form = response.context["adminform"].form
    assert form.errors.get(field), form.errors
    return " ".join(form.errors[field])


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_text_in_an_instruments_rows_is_a_form_error(lead_client, cell, name):
    before = unchanged()
    field, post = CELLS[cell]
    message = assert_form_error(post(lead_client, HOSTILE[name]), field)
    assert "is not a whole number" in message and "Row " in message
    assert unchanged() == before


@pytest.mark.parametrize("name, text, message", [
    ("NUL", "Not\x00at all", "Row 1: A text holds a NUL character"),
    ("long", "[" * 100_000, "Row 1: the label is longer than 300 characters; shorten it."),
])
def test_a_hostile_label_says_what_is_wrong(lead_client, name, text, message):
    phq9 = Instrument.objects.get(code="phq9")
    options = [dict(row) for row in phq9.options]
    options[0]["label"] = text
    response = lead_client.post(f"/admin/conditions/instrument/{phq9.pk}/change/", instrument_form(phq9, options=options))
    assert message in assert_form_error(response, "options")
    assert unchanged() == (phq9.options, phq9.bands)


def test_what_was_typed_is_shown_again(lead_client):
    phq9 = Instrument.objects.get(code="phq9")
    response = post_instrument("bands", "max")(lead_client, "NaN")
    assert_form_error(response, "bands")
    assert f'name="bands-{len(phq9.bands) - 1}-max" value="NaN"' in response.content.decode()


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
