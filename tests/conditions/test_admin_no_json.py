"""The lead's tools without JSON: a library case answered question by
question, through HTTP as a clinical lead's browser posts the form."""

import json

import pytest

from conditions.models import RuleCase
from tests.conditions.test_admin import case_form
from tests.markup import parse

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("module_knowledge_base")]


def form_as_posted(html):
    """The change form's fields as a browser posts them unchanged."""
    page = parse(html)
    data = {}
    for field in page.select("form#rulecase_form input[name], form#rulecase_form select[name], "
                             "form#rulecase_form textarea[name]"):
        name = field.get("name")
        if "__row__" in name or "__prefix__" in name:
            continue  # the rows the script copies
        if field.tag == "select":
            chosen = field.select("option[selected]") or field.select("option")[:1]
            value = chosen[0].get("value", chosen[0].text()) if chosen else ""
        elif field.tag == "textarea":
            value = field.text()
        elif field.get("type") in ("radio", "checkbox"):
            if field.get("checked") is None:
                continue
            value = field.get("value", "on")
        elif field.get("type") in ("submit", "button"):
            continue
        else:
            value = field.get("value", "")
        data.setdefault(name, []).append(value)
    return data


def canonical(answers):
    return json.dumps(answers, sort_keys=True)


def test_every_library_case_saves_back_exactly_as_the_file_wrote_it(lead_client):
    cases = list(RuleCase.objects.all())
    assert any("antidepressant_trials" in case.answers for case in cases)
    for case in cases:
        url = f"/admin/conditions/rulecase/{case.pk}/change/"
        response = lead_client.post(url, form_as_posted(lead_client.get(url).content))
        assert response.status_code == 302, (case.name, response.context["adminform"].form.errors)
        assert canonical(RuleCase.objects.get(pk=case.pk).answers) == canonical(case.answers), case.name


def test_the_case_page_asks_each_question_in_its_own_words(lead_client):
    case = RuleCase.objects.get(name="TRD: a partial response is not a failed treatment")
    html = lead_client.get(f"/admin/conditions/rulecase/{case.pk}/change/").content.decode()
    page = parse(html)
    assert page.select_one("textarea[name=answers]") is None
    assert "Little interest or pleasure in doing things" in html
    age = page.select_one("input[name=answer__age]")
    assert (age.get("type"), age.get("min"), age.get("max")) == ("number", "0", "120")
    # yes/no with an explicit unanswered choice; this case answers it yes
    mdd = {r.get("value"): r.get("checked") is not None for r in page.select("input[name=answer__mdd_current]")}
    assert mdd == {"": False, "yes": True, "no": False}
    assert "Not answered" in page.select_one("#id_answer__mdd_current").text()
    # the trials as rows: drug, dose, weeks, outcome
    assert page.select_one("select[name=answer__antidepressant_trials-1-outcome] option[selected]").get("value") == (
        "partial_response"
    )
    assert page.select_one("input[name=answer__antidepressant_trials-0-daily_dose_mg]").get("value") == "150"


def test_a_lead_answers_question_by_question_and_unanswered_stays_out(lead_client):
    fields = case_form(name="Answered by hand", answers={})
    fields.update({
        "answer__age": "52", "answer__mdd_current": "yes", "answer__bipolar_history": "no",
        "answer__psychosis_history": "",  # "Not answered"
        "answer__suicidal_ideation": "passive", "answer__interacting_medicines": ["none"],
        "answer__systolic_bp": "",
        "answer__antidepressant_trials-rows": "3",
        "answer__antidepressant_trials-0-drug": "sertraline", "answer__antidepressant_trials-0-daily_dose_mg": "150",
        "answer__antidepressant_trials-0-weeks": "8", "answer__antidepressant_trials-0-outcome": "no_response",
        "answer__antidepressant_trials-2-drug": "venlafaxine", "answer__antidepressant_trials-2-daily_dose_mg": "37.5",
        "answer__antidepressant_trials-2-weeks": "6.5", "answer__antidepressant_trials-2-outcome": "partial_response",
    })
    response = lead_client.post("/admin/conditions/rulecase/add/", fields)
    assert response.status_code == 302, response.context["adminform"].form.errors
    answers = RuleCase.objects.get(name="Answered by hand").answers
    assert answers == {
        "age": 52, "mdd_current": True, "bipolar_history": False, "suicidal_ideation": "passive",
        "interacting_medicines": ["none"],
        "antidepressant_trials": [
            {"drug": "sertraline", "daily_dose_mg": 150, "weeks": 8, "outcome": "no_response"},
            {"drug": "venlafaxine", "daily_dose_mg": 37.5, "weeks": 6.5, "outcome": "partial_response"},
        ],
    }
    assert type(answers["age"]) is int and type(answers["antidepressant_trials"][0]["daily_dose_mg"]) is int


HOSTILE_CELLS = ["NaN", "Infinity", "-Infinity", "1e400", "9" * 5000, "9" * 400, "4\x005", "[" * 5000]


@pytest.mark.parametrize("text", HOSTILE_CELLS)
def test_hostile_text_in_an_answer_is_a_form_error_and_is_kept(lead_client, text):
    fields = case_form(name="Hostile", answers={})
    fields.update({
        "answer__age": text, "answer__systolic_bp": text,
        "answer__antidepressant_trials-rows": "1", "answer__antidepressant_trials-0-drug": "sertraline",
        "answer__antidepressant_trials-0-daily_dose_mg": text, "answer__antidepressant_trials-0-weeks": "8",
        "answer__antidepressant_trials-0-outcome": "no_response",
    })
    response = lead_client.post("/admin/conditions/rulecase/add/", fields)
    assert response.status_code == 200
    form = response.context["adminform"].form
    for name in ["answer__age", "answer__systolic_bp", "answer__antidepressant_trials"]:
        assert form.errors.get(name), (name, form.errors)
    assert "Row 1: the daily dose (mg)" in " ".join(form.errors["answer__antidepressant_trials"])
    shown = text.replace("\x00", "\ufffd") if "\x00" in text else text
    assert form["answer__age"].value() in (text, shown)
    assert not RuleCase.objects.filter(name="Hostile").exists()


def test_the_case_list_says_which_cases_pass_with_the_working_copy(lead_client):
    from conditions.models import Criterion

    html = lead_client.get("/admin/conditions/rulecase/").content.decode()
    rows = {row.select_one("th").text(): row.text() for row in parse(html).select("#result_list tbody tr")}
    assert rows and all("Passes" in text for text in rows.values())
    # A draft change to a threshold: the cases it breaks say so, in words.
    Criterion.objects.filter(key="trd-two-failed-trials-require").update(value=3)
    from rulebook.versions import bump_knowledge_base_revision

    bump_knowledge_base_revision()
    html = lead_client.get("/admin/conditions/rulecase/").content.decode()
    rows = {row.select_one("th").text(): row.text() for row in parse(html).select("#result_list tbody tr")}
    failing = rows["TRD: two failed trials, moderate depression"]
    assert "Fails" in failing and "trd: expected meets screening criteria, gives criteria not met" in failing
    assert "Passes" in rows["TRD: only one failed trial"]


def test_a_cases_history_pages_open(lead_client):
    case = RuleCase.objects.first()
    case.answers = {**case.answers, "age": 50}
    case.save()
    base = f"/admin/conditions/rulecase/{case.pk}/history/"
    assert lead_client.get(base).status_code == 200
    response = lead_client.get(f"{base}{case.history.first().history_id}/")
    assert response.status_code == 200
    assert parse(response.content).select_one("input[name=answer__age]").get("value") == "50"
