"""The knowledge base in the admin, as a clinical lead uses it."""

import pytest
from django.utils.html import escape

from conditions.models import Condition, Criterion, Question, Reference, Section
from tests.markup import parse

pytestmark = pytest.mark.django_db


def change_url(instance):
    return f"/admin/conditions/{instance._meta.model_name}/{instance.pk}/change/"


def form_value(value):
    """A rule value as its admin widget posts it: a number as typed, ticked
    choices as a list, yes / no for a boolean, nothing for no value."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value if isinstance(value, list) else str(value)


def choice_rows(choices):
    """A question's choices as the rows widget posts them, with one blank row."""
    data = {"choices-rows": len(choices) + 1}
    for index, choice in enumerate([*choices, {"value": "", "label": ""}]):
        data[f"choices-{index}-value"] = choice["value"]
        data[f"choices-{index}-label"] = choice["label"]
        data[f"choices-{index}-order"] = (index + 1) * 10 if choice["value"] else ""
    return data


def criterion_form(criterion, **changes):
    """The change form's POST data for `criterion`, with `changes` applied."""
    data = {
        "key": criterion.key,
        "question": criterion.question_id,
        "operator": criterion.operator,
        "value": form_value(criterion.value),
        "effect": criterion.effect,
        "message": criterion.message,
        "conditions": [c.pk for c in criterion.conditions.all()],
        "references": [r.pk for r in criterion.references.all()],
        "order": criterion.order,
        "active": "on",
    }
    data.update(changes)
    return data


def question_form(question, **changes):
    data = {
        "text": question.text,
        "help_text": question.help_text,
        "section": question.section_id,
        "order": question.order,
        "kind": question.kind,
        **choice_rows(question.choices),
        "min_value": "" if question.min_value is None else question.min_value,
        "max_value": "" if question.max_value is None else question.max_value,
        "unit": question.unit,
        "enable_when_question": question.enable_when_question_id or "",
        "enable_when_operator": question.enable_when_operator,
        "enable_when_value": form_value(question.enable_when_value),
        "calculation": question.calculation,
        "inputs": [q.pk for q in question.inputs.all()],
    }
    data.update(changes)
    return data


def condition_form(client, condition, links, grades=None, **changes):
    """The condition page's POST data, its criteria inline holding `links`
    (criterion pks), its evidence grades inline holding `grades` (dicts of
    grade, applies_to, source pk, note, order; the stored ones when None)."""
    formset, evidence = (
        inline.formset for inline in client.get(change_url(condition)).context["inline_admin_formsets"]
    )
    existing = list(formset.queryset)
    data = {
        "slug": condition.slug, "name": condition.name, "description": condition.description,
        "guidance": condition.guidance, "licensing": condition.licensing, "order": condition.order,
        "active": "on", "references": [r.pk for r in condition.references.all()],
        f"{formset.prefix}-TOTAL_FORMS": len(links),
        f"{formset.prefix}-INITIAL_FORMS": len(existing),
    }
    stored = list(evidence.queryset)
    if grades is None:
        grades = [
            {"grade": g.grade, "applies_to": g.applies_to, "source": g.source_id, "note": g.note, "order": g.order}
            for g in stored
        ]
    data[f"{evidence.prefix}-TOTAL_FORMS"] = len(grades)
    data[f"{evidence.prefix}-INITIAL_FORMS"] = len(stored)
    for index, grade in enumerate(grades):
        for name, value in grade.items():
            data[f"{evidence.prefix}-{index}-{name}"] = value
        data[f"{evidence.prefix}-{index}-condition"] = condition.pk
        if index < len(stored):
            data[f"{evidence.prefix}-{index}-id"] = stored[index].pk
    for index, criterion_pk in enumerate(links):
        data[f"{formset.prefix}-{index}-criterion"] = criterion_pk
        data[f"{formset.prefix}-{index}-condition"] = condition.pk
        if index < len(existing):
            data[f"{formset.prefix}-{index}-id"] = existing[index].pk
    data.update(changes)
    return data


def assert_refused(response, message):
    assert response.status_code == 200
    assert escape(message) in response.content.decode()
    assert response.context["adminform"].form.errors


# Each validation rule, refused through the change form -----------------------


@pytest.mark.parametrize("key, changes, message", [
    ("trd-two-failed-trials-require", {"operator": "any_of"},
     "“includes any of” does not fit a whole number question (failed_antidepressant_trials); "
     "use “is”, “is not”, “less than”, “at most”, “more than” or “at least”."),
    ("trd-two-failed-trials-require", {"value": "two"}, "Enter a whole number."),
    ("trd-two-failed-trials-require", {"value": ""},
     "The operator “at least” needs a value: enter a number."),
    ("all-systolic-bp-180-caution", {"value": ""},
     "The operator “at least” needs a value: enter a number in mmHg."),
    ("all-suicidal-ideation-alert", {"value": ["active_plan", "sometimes"]},
     "Select a valid choice. sometimes is not one of the available choices."),
    ("all-suicidal-ideation-alert", {"value": []},
     "The operator “is one of” needs a value: tick one or more of the question's choices."),
    ("all-hepatic-severe-exclude", {"value": "dreadful"},
     "Select a valid choice. dreadful is not one of the available choices."),
    ("all-pregnant-exclude", {"operator": "gte"},
     "“at least” does not fit a yes / no question (pregnant); "
     "use “is yes”, “is no”, “is” or “is not”."),
    ("all-pregnant-exclude", {"operator": "eq", "value": ""},
     "The operator “is” needs a value: choose yes or no."),
])
def test_criterion_form_refuses_malformed_rule(lead_client, knowledge_base, key, changes, message):
    criterion = Criterion.objects.get(key=key)
    before = (criterion.operator, criterion.value)
    response = lead_client.post(change_url(criterion), criterion_form(criterion, **changes))
    assert_refused(response, message)
    criterion.refresh_from_db()
    assert (criterion.operator, criterion.value) == before


HEPATIC = [{"value": "none", "label": "None"}, {"value": "mild", "label": "Mild"},
           {"value": "moderate", "label": "Moderate"}, {"value": "severe", "label": "Severe (e.g. Child-Pugh C)"}]


@pytest.mark.parametrize("code, changes, message", [
    ("age", {"min_value": "130"}, "The maximum (120.000) is below the minimum (130)."),
    ("hepatic_impairment", choice_rows([]),
     "A choice question needs its choices: fill in a value and a label for each."),
    ("hepatic_impairment", {**choice_rows(HEPATIC), "choices-1-label": ""},
     "Row 2: give the choice a label (what the clinician reads)."),
    ("hepatic_impairment", {**choice_rows(HEPATIC), "choices-4-label": "Unknown"},
     "Row 5: give the choice a value (the key its answers are saved under)."),
    ("hepatic_impairment", {**choice_rows(HEPATIC), "choices-4-value": "Not known", "choices-4-label": "Not known"},
     "Row 5: “Not known” cannot be a value; use lower-case letters, digits, _ and -, e.g. active_plan."),
    ("hepatic_impairment", {**choice_rows(HEPATIC), "choices-0-order": "first"},
     "Row 1: the order is a whole number, e.g. 10."),
    ("hepatic_impairment", {**choice_rows(HEPATIC), "choices-4-value": "mild", "choices-4-label": "Mild again"},
     "The choice value “mild” appears twice."),
    ("hepatic_impairment", choice_rows(HEPATIC[:2]),
     "criterion all-hepatic-severe-exclude still uses severe; change it first, then remove the choice."),
    ("systolic_bp", {"kind": "boolean", "min_value": "", "max_value": "", "unit": ""},
     "criterion racemic-systolic-over-180-exclude reads this question with “more than”, which does not fit a yes / no question; change or remove it first."),
    ("mood_episode", {"enable_when_operator": "eq", "enable_when_value": ""},
     "The operator “is” needs a value: choose yes or no."),
    ("on_mood_stabiliser", {"enable_when_operator": "gte", "enable_when_value": "1"},
     "“at least” does not fit a yes / no question (bipolar_history); use “is yes”, “is no”, “is” or “is not”."),
])
def test_question_form_refuses_malformed_question(lead_client, knowledge_base, code, changes, message):
    question = Question.objects.get(code=code)
    before = question_form(question)
    response = lead_client.post(change_url(question), question_form(question, **changes))
    assert_refused(response, message)
    question.refresh_from_db()
    assert question_form(question) == before


def test_question_form_refuses_enable_when_on_itself(lead_client, knowledge_base):
    question = Question.objects.get(code="age")
    response = lead_client.post(change_url(question), question_form(
        question, enable_when_question=question.pk, enable_when_operator="gte", enable_when_value="1",
    ))
    assert_refused(response, "A question cannot depend on itself.")
    assert Question.objects.get(code="age").enable_when_question is None


def test_question_form_refuses_enable_when_cycle(lead_client, knowledge_base):
    parent = Question.objects.get(code="bipolar_history")
    response = lead_client.post(change_url(parent), question_form(
        parent, enable_when_question=Question.objects.get(code="mood_episode").pk,
        enable_when_operator="eq", enable_when_value="manic",
    ))
    assert_refused(
        response,
        "This makes a cycle: bipolar_history → mood_episode → bipolar_history. "
        "Pick a question that does not depend on bipolar_history.",
    )
    assert Question.objects.get(code="bipolar_history").enable_when_question is None


def test_reference_form_refuses_malformed_pmid(lead_client, knowledge_base):
    reference = Reference.objects.get(key="feder-2014")
    data = {
        "key": reference.key, "authors": reference.authors, "title": reference.title,
        "source": reference.source, "doi": reference.doi, "pmid": "PMID24740528",
        "url": "", "verified": "on", "note": "",
    }
    assert_refused(lead_client.post(change_url(reference), data), "A PMID is digits only, e.g. 24740528.")
    assert Reference.objects.get(key="feder-2014").pmid == "24740528"


def test_emptied_choices_on_a_yes_no_question_save(lead_client, knowledge_base):
    question = Question.objects.get(code="breastfeeding")
    response = lead_client.post(change_url(question), question_form(question, text="Pregnant", **choice_rows([])))
    assert response.status_code == 302
    question.refresh_from_db()
    assert (question.text, question.choices) == ("Pregnant", [])


def test_lead_can_add_a_criterion_with_its_value_stored_canonically(lead_client, knowledge_base):
    question = Question.objects.get(code="mood_episode")
    response = lead_client.post("/admin/conditions/criterion/add/", {
        "key": "bipolar-mixed-or-manic-alert", "question": question.pk, "operator": "in",
        "value": ["mixed", "manic"], "effect": "alert", "message": "Mood is elevated.",
        "order": 500, "active": "on",
    })
    assert response.status_code == 302
    assert Criterion.objects.get(key="bipolar-mixed-or-manic-alert").value == ["manic", "mixed"]


def test_a_new_criterion_asks_for_its_value_once_question_and_operator_are_chosen(lead_client, knowledge_base):
    html = lead_client.get("/admin/conditions/criterion/add/").content.decode()
    assert "Choose the question and the operator, then save" in html
    question = Question.objects.get(code="systolic_bp")
    data = {"key": "all-systolic-bp-200-alert", "question": question.pk, "operator": "gte",
            "effect": "alert", "message": "Systolic {value} {unit} or more.", "order": 500, "active": "on"}
    response = lead_client.post("/admin/conditions/criterion/add/", data)
    assert_refused(response, "The operator “at least” needs a value: enter a number in mmHg.")
    page = parse(response.content)
    assert page.select_one("form input[type=number][name=value]") and "A whole number (mmHg)." in page.text()
    assert page.form_values()["message"] == "Systolic {value} {unit} or more."
    response = lead_client.post("/admin/conditions/criterion/add/", {**data, "value": "200"})
    assert response.status_code == 302
    assert Criterion.objects.get(key="all-systolic-bp-200-alert").value == 200


# Every value widget round-trips: what the form shows is what it saves ------------------


@pytest.mark.parametrize("key, widget, words, posted, stored", [
    # a number for a comparison on a whole-number question, with its unit
    ("all-systolic-bp-180-caution", 'input[type=number][name=value][value="180"]', "", "175", 175),
    # ticks of the question's choices for a list operator
    ("all-suicidal-ideation-alert", "input[type=checkbox][name=value][value=active_plan][checked]", "",
     ["active_plan", "passive"], ["passive", "active_plan"]),
    ("all-maoi-stimulants-caution", "input[type=checkbox][name=value][value=maoi][checked]", "",
     ["lamotrigine"], ["lamotrigine"]),
    # one of the choices for "is" on a choice question
    ("all-hepatic-severe-exclude", "select[name=value] option[value=severe][selected]", "Severe (e.g. Child-Pugh C)",
     "moderate", "moderate"),
    # nothing for "is yes" / "is no"
    ("all-pregnant-exclude", "#id_value.ks-value-note", "No value: the operator says it all.", "", None),
])
def test_every_criterion_value_widget_round_trips(lead_client, knowledge_base, key, widget, words, posted, stored):
    criterion = Criterion.objects.get(key=key)
    shown = parse(lead_client.get(change_url(criterion)).content).select_one(f"form {widget}")
    assert shown and shown.text() == words
    response = lead_client.post(change_url(criterion), criterion_form(criterion))
    assert response.status_code == 302
    unchanged = criterion.value
    criterion.refresh_from_db()
    assert criterion.value == unchanged
    response = lead_client.post(change_url(criterion), criterion_form(criterion, value=posted))
    assert response.status_code == 302
    criterion.refresh_from_db()
    assert criterion.value == stored


def test_a_yes_no_value_round_trips_as_yes_and_no(lead_client, knowledge_base):
    criterion = Criterion.objects.get(key="all-pregnant-exclude")
    response = lead_client.post(change_url(criterion), criterion_form(criterion, operator="ne", value="no"))
    assert response.status_code == 302
    criterion.refresh_from_db()
    assert (criterion.operator, criterion.value) == ("ne", False)
    page = parse(lead_client.get(change_url(criterion)).content)
    assert page.select_one("form input[type=radio][name=value][value=no][checked]")
    assert page.form_values()["value"] == ["no"]
    assert lead_client.post(change_url(criterion), criterion_form(criterion)).status_code == 302
    criterion.refresh_from_db()
    assert criterion.value is False


@pytest.mark.parametrize("code, widget", [
    ("mood_episode", "No value: the operator says it all."),
])
def test_enable_when_value_widget_round_trips(lead_client, knowledge_base, code, widget):
    question = Question.objects.get(code=code)
    assert widget in lead_client.get(change_url(question)).content.decode()
    response = lead_client.post(change_url(question), question_form(
        question, enable_when_question=Question.objects.get(code="suicidal_ideation").pk,
        enable_when_operator="in", enable_when_value=["passive", "none"],
    ))
    assert response.status_code == 302
    question.refresh_from_db()
    assert question.enable_when_value == ["none", "passive"]
    page = parse(lead_client.get(change_url(question)).content)
    assert page.select_one("form input[type=checkbox][name=enable_when_value][value=passive]")
    assert sorted(page.form_values()["enable_when_value"]) == ["none", "passive"]
    assert lead_client.post(change_url(question), question_form(question)).status_code == 302
    question.refresh_from_db()
    assert question.enable_when_value == ["none", "passive"]


def test_choices_are_edited_as_rows_in_their_order(lead_client, knowledge_base):
    question = Question.objects.get(code="hepatic_impairment")
    shown = parse(lead_client.get(change_url(question)).content).form_values()
    assert (shown["choices-3-value"], shown["choices-3-label"]) == ("severe", "Severe (e.g. Child-Pugh C)")
    data = question_form(question)
    data.update({"choices-4-value": "unknown", "choices-4-label": "Not known", "choices-4-order": "5"})
    response = lead_client.post(change_url(question), data)
    assert response.status_code == 302
    question.refresh_from_db()
    assert [c["value"] for c in question.choices] == ["unknown", "none", "mild", "moderate", "severe"]
    assert question.choices[0] == {"value": "unknown", "label": "Not known"}


# Words, placeholders and drift ----------------------------------------------------


def test_a_message_placeholder_shows_the_criterions_own_value_and_unit(lead_client, knowledge_base):
    from rulebook.versions import build_rulebook

    criterion = Criterion.objects.get(key="all-systolic-bp-180-caution")
    response = lead_client.post(change_url(criterion), criterion_form(
        criterion, value="170", message="Systolic pressure {value} {unit} or more: defer treatment.",
    ))
    assert response.status_code == 302
    spec = next(c for c in build_rulebook().criteria if c.key == criterion.key)
    assert spec.message == "Systolic pressure 170 mmHg or more: defer treatment."
    assert "Systolic pressure 170 mmHg or more" in lead_client.get(change_url(criterion)).content.decode()


def test_a_message_with_an_unknown_placeholder_is_refused(lead_client, knowledge_base):
    criterion = Criterion.objects.get(key="all-systolic-bp-180-caution")
    response = lead_client.post(change_url(criterion), criterion_form(criterion, message="Over {threshold}."))
    assert_refused(response, "{threshold} is not a placeholder; a message may use {value} (the criterion's value) and {unit} (its question's unit).")


def test_the_admin_warns_when_the_message_and_the_value_drift_apart(lead_client, knowledge_base):
    criterion = Criterion.objects.get(key="trd-two-failed-trials-require")
    response = lead_client.post(change_url(criterion), criterion_form(criterion, value="3"), follow=True)
    warning = ("The message of trd-two-failed-trials-require mentions 2, but its value is 3: check the "
               "wording, or write {value} so that the message always shows the value.")
    assert warning in [str(m) for m in response.context["messages"]]
    assert escape(warning) in lead_client.get(change_url(criterion)).content.decode()
    response = lead_client.post(change_url(criterion), criterion_form(
        criterion, value="3", message="At least {value} antidepressants tried without adequate response.",
    ), follow=True)
    assert not [m for m in response.context["messages"] if "mentions" in str(m)]


def test_a_message_that_names_its_value_gives_no_warning(lead_client, knowledge_base):
    criterion = Criterion.objects.get(key="trd-phq9-require")  # "(PHQ-9 of 10 or more)", value 10
    response = lead_client.post(change_url(criterion), criterion_form(criterion), follow=True)
    assert not [m for m in response.context["messages"] if "mentions" in str(m)]


def test_the_site_header_names_the_knowledge_base(lead_client, knowledge_base):
    assert "KetaScreen knowledge base" in lead_client.get("/admin/").content.decode()


def test_question_code_cannot_change_once_created(lead_client, knowledge_base):
    question = Question.objects.get(code="age")
    form = lead_client.get(change_url(question)).context["adminform"].form
    assert "code" not in form.fields
    response = lead_client.post(change_url(question), question_form(question, code="years_old"))
    assert response.status_code == 302
    assert Question.objects.filter(code="age").exists()
    assert "code" in lead_client.get("/admin/conditions/question/add/").context["adminform"].form.fields


def test_nonsense_in_every_field_gives_form_errors_not_a_server_error(lead_client, knowledge_base):
    question = Question.objects.get(code="age")
    response = lead_client.post(change_url(question), {
        "text": "", "section": "999999", "order": "-1", "kind": "colour", "choices-rows": "many",
        "min_value": "abc", "max_value": "1e400", "enable_when_question": "nope",
        "enable_when_operator": "between", "enable_when_value": "[1,",
    })
    assert response.status_code == 200
    assert set(response.context["adminform"].form.errors) >= {
        "text", "section", "order", "kind", "min_value", "max_value",
        "enable_when_question", "enable_when_operator",
    }
    criterion = Criterion.objects.get(key="trd-phq9-require")
    response = lead_client.post(change_url(criterion), criterion_form(
        criterion, question="0", operator="", value=["x", "1e999"], effect="maybe",
        conditions=["abc"], references=["999999"],
    ))
    assert response.status_code == 200
    assert set(response.context["adminform"].form.errors) >= {
        "question", "operator", "effect", "conditions", "references",
    }
    ocd = Condition.objects.get(slug="ocd")
    own = list(Criterion.objects.filter(conditions=ocd).values_list("pk", flat=True))
    response = lead_client.post(change_url(ocd), condition_form(lead_client, ocd, [*own, "abc"]))
    assert response.status_code == 200
    assert any(response.context["inline_admin_formsets"][0].formset.errors)


@pytest.mark.parametrize("value", ["1e999999", "-0.5", "abc", "9999999999999", "12.5"])
def test_odd_numbers_give_form_errors(lead_client, knowledge_base, value):
    criterion = Criterion.objects.get(key="trd-phq9-require")
    response = lead_client.post(change_url(criterion), criterion_form(criterion, value=value))
    assert response.status_code == 200
    assert "value" in response.context["adminform"].form.errors


@pytest.mark.parametrize("model", ["section", "reference", "condition", "question", "criterion"])
def test_every_admin_page_opens(lead_client, knowledge_base, model):
    instance = {
        "section": Section, "reference": Reference, "condition": Condition,
        "question": Question, "criterion": Criterion,
    }[model].objects.first()
    base = f"/admin/conditions/{model}/"
    for url in [
        base, f"{base}add/", f"{base}?q=age", change_url(instance),
        f"{base}{instance.pk}/history/", f"{base}{instance.pk}/delete/",
        f"{base}{instance.pk}/history/{instance.history.first().history_id}/",
    ]:
        assert lead_client.get(url).status_code == 200, url


@pytest.mark.parametrize("model_name, field_name, term, expected", [
    ("criterion_conditions", "criterion", "phq9_total", "TRD · require · phq9_total at least 10"),
    ("criterion", "question", "phq9_total", "PHQ-9 total score (phq9_total)"),
    ("question", "enable_when_question", "mania",
     "History of mania or hypomania (bipolar I or II disorder, or cyclothymia) (bipolar_history)"),
    ("question", "section", "safety", "Safety screen"),
])
def test_related_fields_autocomplete(lead_client, knowledge_base, model_name, field_name, term, expected):
    response = lead_client.get("/admin/autocomplete/", {
        "app_label": "conditions", "model_name": model_name, "field_name": field_name, "term": term,
    })
    assert response.status_code == 200
    assert [result["text"] for result in response.json()["results"]] == [expected]


# History ---------------------------------------------------------------------


def test_admin_edit_is_kept_with_the_acting_user(lead_client, lead, knowledge_base):
    criterion = Criterion.objects.get(key="trd-phq9-require")
    response = lead_client.post(change_url(criterion), criterion_form(criterion, value="15"))
    assert response.status_code == 302
    latest = criterion.history.first()
    assert (latest.value, latest.history_user, latest.history_type) == (15, lead, "~")
    assert criterion.history.last().value == 10


def test_history_page_shows_who_changed_it_and_the_earlier_version(lead_client, knowledge_base):
    criterion = Criterion.objects.get(key="trd-phq9-require")
    lead_client.post(change_url(criterion), criterion_form(criterion, message="Revised wording."))
    history = lead_client.get(f"/admin/conditions/criterion/{criterion.pk}/history/")
    assert history.status_code == 200
    assert "lead" in history.content.decode()
    first = criterion.history.last()
    earlier = lead_client.get(f"/admin/conditions/criterion/{criterion.pk}/history/{first.history_id}/")
    assert earlier.status_code == 200
    assert "Requires a current moderate to severe episode" in earlier.content.decode()


# The condition page ------------------------------------------------------------


def test_condition_page_lists_its_own_and_every_condition_criteria(lead_client, knowledge_base):
    trd = Condition.objects.get(slug="trd")
    html = lead_client.get(change_url(trd)).content.decode()
    assert "Criteria for this condition" in html
    assert "Require: failed_antidepressant_trials at least 2" in html
    every_condition = {
        row.select_one("a").text(): row for row in parse(html).select(".field-criteria_for_every_condition li")
    }
    row = every_condition["all-age-under-18-exclude"]
    assert row.select_one("a").get("href") == change_url(Criterion.objects.get(key="all-age-under-18-exclude"))
    assert row.text().endswith(": Exclude: age less than 18")


def test_lead_adds_a_criterion_to_a_condition_from_its_page(lead_client, lead, knowledge_base):
    ocd = Condition.objects.get(slug="ocd")
    own = list(Criterion.objects.filter(conditions=ocd).values_list("pk", flat=True))
    phq9 = Criterion.objects.get(key="trd-phq9-require")
    response = lead_client.post(change_url(ocd), condition_form(lead_client, ocd, [*own, phq9.pk]))
    assert response.status_code == 302
    assert sorted(c.slug for c in phq9.conditions.all()) == ["ocd", "trd"]
    latest = phq9.history.first()
    assert latest.history_user == lead
    assert sorted(link.condition.slug for link in latest.conditions.all()) == ["ocd", "trd"]


def test_lead_removes_a_criterion_from_a_condition_on_its_page(lead_client, knowledge_base):
    trd = Condition.objects.get(slug="trd")
    formset_prefix_data = condition_form(lead_client, trd, list(
        Criterion.objects.filter(conditions=trd).values_list("pk", flat=True)
    ))
    prefix = next(k for k in formset_prefix_data if k.endswith("-TOTAL_FORMS")).removesuffix("-TOTAL_FORMS")
    formset_prefix_data[f"{prefix}-0-DELETE"] = "on"
    removed = Criterion.objects.get(pk=formset_prefix_data[f"{prefix}-0-criterion"])
    response = lead_client.post(change_url(trd), formset_prefix_data)
    assert response.status_code == 302
    assert not removed.conditions.filter(slug="trd").exists()
    assert removed.history.first().history_change_reason == "Conditions edited on the trd page"


# References to check -----------------------------------------------------------


def test_unverified_references_are_marked_and_filterable(lead_client, knowledge_base):
    response = lead_client.get("/admin/conditions/reference/?verified__exact=0")
    listed = [reference.key for reference in response.context["cl"].result_list]
    # Third edition (issue 24): the McMaster dose table is verified as the textbook's table.
    assert sorted(listed) == ["rasmussen-2024", "sicignano-2024", "uspi-desvenlafaxine"]
    assert response.content.decode().count("Unverified: needs checking") == 3


# Who may do what ---------------------------------------------------------------


@pytest.fixture
def staff_clinician(clinician):
    clinician.is_staff = True
    clinician.save()
    return clinician


def test_clinician_cannot_reach_the_admin(client, clinician, knowledge_base):
    client.force_login(clinician)
    criterion = Criterion.objects.get(key="trd-phq9-require")
    response = client.get(change_url(criterion))
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_staff_clinician_may_read_but_not_change(client, staff_clinician, knowledge_base):
    client.force_login(staff_clinician)
    criterion = Criterion.objects.get(key="trd-phq9-require")
    assert client.get(change_url(criterion)).status_code == 200
    response = client.post(change_url(criterion), criterion_form(criterion, value="3"))
    assert response.status_code == 403
    criterion.refresh_from_db()
    assert criterion.value == 10


def test_clinical_lead_can_save(lead_client, knowledge_base):
    criterion = Criterion.objects.get(key="trd-phq9-require")
    response = lead_client.post(change_url(criterion), criterion_form(criterion, value="3"))
    assert response.status_code == 302
    criterion.refresh_from_db()
    assert criterion.value == 3


# List pages make a fixed number of queries ---------------------------------------

# Every list page, for a lead (not a superuser), starts with 4 queries: the
# session, the user, the user's own permissions and their groups' permissions.
# Then, per page:
LIST_PAGE_QUERIES = {
    # conditions for the filter, filtered count, total count, rows with their
    # questions, the rows' conditions (one prefetch)
    "criterion": 4 + 5,
    # filtered count, total count, rows with criterion counts, their references
    "condition": 4 + 4,
    # sections for the filter, filtered count, total count, rows with their
    # sections and enable-when questions
    "question": 4 + 4,
    # filtered count, total count, rows
    "reference": 4 + 3,
    # filtered count, total count, rows with question counts
    "section": 4 + 3,
}


def make_knowledge_base(size):
    """`size` rows of each model, every criterion scoped to two conditions."""
    sections = Section.objects.bulk_create(Section(key=f"s{i}", title="S") for i in range(size))
    references = Reference.objects.bulk_create(
        Reference(key=f"ref-{i}", authors="A", title="T", verified=i % 2 == 0) for i in range(size)
    )
    conditions = Condition.objects.bulk_create(
        Condition(slug=f"condition-{i}", name=f"Condition {i}") for i in range(size)
    )
    for condition in conditions:
        condition.references.set(references[:2])
    questions = Question.objects.bulk_create(
        Question(code=f"q{i}", text="Q", kind="boolean", section=sections[i]) for i in range(size)
    )
    Question.objects.filter(code__in=[q.code for q in questions[1:]]).update(
        enable_when_question=questions[0], enable_when_operator="is_true"
    )
    criteria = Criterion.objects.bulk_create(
        Criterion(key=f"c{i}", question=questions[i], operator="is_true", effect="exclude", message="M")
        for i in range(size)
    )
    Link = Criterion.conditions.through
    Link.objects.bulk_create(
        Link(criterion=criterion, condition=condition)
        for criterion in criteria for condition in conditions[:2]
    )


@pytest.mark.parametrize("size", [10, 100])
@pytest.mark.parametrize("model", LIST_PAGE_QUERIES)
def test_list_page_queries_do_not_grow_with_rows(lead_client, django_assert_max_num_queries, model, size):
    make_knowledge_base(size)
    with django_assert_max_num_queries(LIST_PAGE_QUERIES[model]):
        response = lead_client.get(f"/admin/conditions/{model}/")
    assert response.status_code == 200
    assert response.context["cl"].result_count == size


# Review dates ------------------------------------------------------------------


def test_overdue_reviews_are_listed_and_counted_on_the_admin_home(lead_client, lead, knowledge_base):
    import datetime

    from django.utils import timezone

    today = timezone.localdate()
    Criterion.objects.filter(key="trd-phq9-require").update(review_due=today - datetime.timedelta(days=1), reviewer=lead)
    Criterion.objects.filter(key="ocd-ybocs-caution").update(review_due=today + datetime.timedelta(days=30))
    Reference.objects.filter(key__in=["feder-2014", "cohen-2018"]).update(review_due=today - datetime.timedelta(days=400))
    overdue = parse(lead_client.get("/admin/").content).select_one("#overdue-reviews")
    assert "3 overdue:" in overdue.text()
    assert {link.text(): link.get("href") for link in overdue.select('a[href$="?review=overdue"]')} == {
        "1 criterion": "/admin/conditions/criterion/?review=overdue",
        "2 references": "/admin/conditions/reference/?review=overdue",
    }
    listed = lead_client.get("/admin/conditions/criterion/?review=overdue").context["cl"].result_list
    assert [c.key for c in listed] == ["trd-phq9-require"]
    references = lead_client.get("/admin/conditions/reference/?review=overdue").context["cl"].result_list
    assert sorted(r.key for r in references) == ["cohen-2018", "feder-2014"]
    assert "Overdue:" in lead_client.get("/admin/conditions/criterion/").content.decode()


def test_a_review_date_is_set_in_the_criterion_form(lead_client, lead, knowledge_base):
    criterion = Criterion.objects.get(key="trd-phq9-require")
    response = lead_client.post(change_url(criterion), criterion_form(
        criterion, reviewer=lead.pk, review_due="2030-01-31",
    ))
    assert response.status_code == 302
    criterion.refresh_from_db()
    assert (criterion.reviewer, str(criterion.review_due)) == (lead, "2030-01-31")
    response = lead_client.post(change_url(criterion), criterion_form(criterion, review_due="31/31/2030"))
    assert_refused(response, "Enter a valid date.")


def test_references_are_listed_by_authors_year_and_title(lead_client, knowledge_base):
    rows = parse(lead_client.get("/admin/conditions/reference/").content).select("#result_list tbody tr")
    (feder,) = [row for row in rows if "Feder A, Parides MK" in row.text()]
    assert feder.select_one("td.field-year").text() == "2014"
    criterion = Criterion.objects.get(key="ptsd-diagnosis-require")
    form = lead_client.get(change_url(criterion)).content.decode()
    assert "Feder A et al. (2014) Efficacy of intravenous ketamine" in form


def test_questions_are_listed_by_their_text(lead_client, knowledge_base):
    rows = parse(lead_client.get("/admin/conditions/question/").content).select("#result_list tbody tr")
    listed = {code.text(): cell.text() for row in rows for cell in row.select("th, td")
              for code in cell.select("small.quiet")}
    assert listed["phq9_total"] == "PHQ-9 total score phq9_total"


# The case library ------------------------------------------------------------------


def answer_fields(answers):
    """A case's answers as the admin's form posts them, question by question:
    yes/no as "yes" or "no", several choices as ticks, trials as rows."""
    data = {}
    for code, answer in answers.items():
        name = f"answer__{code}"
        if isinstance(answer, bool):
            data[name] = "yes" if answer else "no"
        elif isinstance(answer, list) and answer and isinstance(answer[0], dict):
            data[f"{name}-rows"] = len(answer)
            for index, trial in enumerate(answer):
                data.update({f"{name}-{index}-{part}": value for part, value in trial.items()})
        else:
            data[name] = answer
    return data


def case_form(name="A new case", answers=None, expectations=(("trd", "eligible"),), **changes):
    data = {
        "name": name, "description": "", **answer_fields({"age": 45} if answers is None else answers),
        "expectations-TOTAL_FORMS": len(expectations), "expectations-INITIAL_FORMS": 0,
        "expectations-MIN_NUM_FORMS": 1, "expectations-MAX_NUM_FORMS": 1000,
    }
    for index, (slug, status) in enumerate(expectations):
        condition = Condition.objects.filter(slug=slug).first()
        data[f"expectations-{index}-condition"] = condition.pk if condition else slug
        data[f"expectations-{index}-status"] = status
    data.update(changes)
    return data


def test_a_lead_adds_a_test_case_with_expected_statuses_as_rows(lead_client, knowledge_base):
    from conditions.models import RuleCase

    response = lead_client.post("/admin/conditions/rulecase/add/", case_form(
        answers={"age": 45, "mdd_current": True, "interacting_medicines": ["none"]},
        expectations=[("trd", "not_met"), ("ocd", "not_met")],
    ))
    assert response.status_code == 302
    case = RuleCase.objects.get(name="A new case")
    assert case.answers == {"age": 45, "mdd_current": True, "interacting_medicines": ["none"]}
    assert sorted((e.condition.slug, e.status) for e in case.expectations.all()) == [
        ("ocd", "not_met"), ("trd", "not_met"),
    ]


@pytest.mark.parametrize("changes, field, message", [
    ({"answer__age": "forty"}, "answer__age", "Write a whole number, e.g. 3."),
    ({"answer__age": "400"}, "answer__age", "The most this question takes is 120 years."),
    ({"answer__mdd_current": "true"}, "answer__mdd_current", "Select a valid choice."),
    ({"answer__suicidal_ideation": "often"}, "answer__suicidal_ideation", "Select a valid choice."),
    ({"answer__antidepressant_trials-rows": "1", "answer__antidepressant_trials-0-drug": "sertraline",
      "answer__antidepressant_trials-0-weeks": "6"},
     "answer__antidepressant_trials", "Row 1: give the daily dose (mg)."),
    ({"name": "TRD: only one failed trial"}, "name", "Library case with this Name already exists."),
])
def test_a_malformed_test_case_gives_a_form_error(lead_client, knowledge_base, changes, field, message):
    response = lead_client.post("/admin/conditions/rulecase/add/", case_form(**changes))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert any(message in error for error in errors[field]), errors


def test_nonsense_in_a_test_cases_rows_gives_form_errors(lead_client, knowledge_base):
    response = lead_client.post("/admin/conditions/rulecase/add/", case_form(
        expectations=[("nowhere", "fine"), ("trd", "eligible"), ("trd", "caution")],
    ))
    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    assert formset.errors[0] and (formset.errors[1] or formset.non_form_errors() or formset.errors[2])


@pytest.mark.parametrize("url, queries", [
    # session, user, the user's permissions, their groups' permissions; then
    # the filtered count, the total count, the cases, their expectations
    # with their conditions; the working copy's state (its rulebook cached)
    ("/admin/conditions/rulecase/", 4 + 4 + 1),
    # the overdue criteria count, the overdue references count
    ("/admin/", 4 + 2),
])
def test_case_list_and_admin_home_keep_a_fixed_number_of_queries(
    lead_client, knowledge_base, assert_queries, url, queries,
):
    from conditions.models import RuleCase

    lead_client.get(url)
    with assert_queries(queries):
        assert lead_client.get(url).status_code == 200
    for case in list(RuleCase.objects.all()):
        case.pk, case.name = None, case.name + " (copy)"
        case.save()
    with assert_queries(queries):
        assert lead_client.get(url).status_code == 200


# Duties, licensing and evidence grades -----------------------------------------


def test_lead_adds_a_duty_criterion_kept_in_history(lead_client, lead, knowledge_base):
    response = lead_client.post("/admin/conditions/criterion/add/", {
        "key": "all-observation-duty", "question": Question.objects.get(code="systolic_bp").pk,
        "operator": "gte", "value": "60", "effect": "duty",
        "message": "Observe for at least two hours after dosing.", "order": 900, "active": "on",
        "references": [Reference.objects.get(key="spravato-pi").pk],
    })
    assert response.status_code == 302, response.context["adminform"].form.errors
    duty = Criterion.objects.get(key="all-observation-duty")
    assert (duty.effect, duty.value) == ("duty", 60)
    assert (duty.history.last().history_user, duty.history.last().history_type) == (lead, "+")
    listing = lead_client.get("/admin/conditions/criterion/", {"effect__exact": "duty"}).content.decode()
    assert "all-observation-duty" in listing and "trd-phq9-require" not in listing
    form = lead_client.get("/admin/conditions/criterion/add/").content.decode()
    assert "Duty at the treatment session" in form


def evidence_row(grade, source, applies_to="", note="", order=0):
    return {"grade": grade, "applies_to": applies_to, "source": Reference.objects.get(key=source).pk,
            "note": note, "order": order}


def without_shipped_grades(slug):
    """A condition of the shipped knowledge base with its evidence grades
    (second edition, issue 18) removed, so a test starts from none."""
    condition = Condition.objects.get(slug=slug)
    condition.evidence_grades.all().delete()
    return condition


def test_lead_adds_evidence_grades_and_licensing_on_the_condition_page(lead_client, lead, knowledge_base):
    pain = without_shipped_grades("chronic-pain")
    own = list(Criterion.objects.filter(conditions=pain).values_list("pk", flat=True))
    page = lead_client.get(change_url(pain)).content.decode()
    assert "Evidence grades (shown next to the status on the summary and PDF)" in page
    response = lead_client.post(change_url(pain), condition_form(
        lead_client, pain, own, licensing="Off-label for every route.",
        grades=[evidence_row("Moderate", "cohen-2018", "CRPS"), evidence_row("Weak", "cohen-2018", "Fibromyalgia", order=10)],
    ))
    assert response.status_code == 302
    pain.refresh_from_db()
    assert pain.licensing == "Off-label for every route."
    assert [(g.grade, g.applies_to, g.source.key) for g in pain.evidence_grades.all()] == [
        ("Moderate", "CRPS", "cohen-2018"), ("Weak", "Fibromyalgia", "cohen-2018"),
    ]
    crps = pain.evidence_grades.get(applies_to="CRPS")
    assert (crps.history.first().history_user, crps.history.first().history_type) == (lead, "+")
    # changed later: the earlier grade is kept in its history
    grades = [
        {**evidence_row("Low", "cohen-2018", "CRPS")},
        evidence_row("Weak", "cohen-2018", "Fibromyalgia", order=10),
    ]
    response = lead_client.post(change_url(pain), condition_form(lead_client, pain, own, grades=grades))
    assert response.status_code == 302
    assert [h.grade for h in crps.history.all()] == ["Low", "Moderate"]
    history = lead_client.get(f"/admin/conditions/condition/{pain.pk}/history/")
    assert history.status_code == 200


@pytest.mark.parametrize("grades, message", [
    ([{"grade": "", "applies_to": "CRPS", "source": "cohen-2018"}], "This field is required."),
    ([{"grade": "Moderate", "applies_to": "", "source": ""}], "This field is required."),
    ([{"grade": "Moderate", "applies_to": "CRPS", "source": "cohen-2018"},
      {"grade": "Weak", "applies_to": "CRPS", "source": "cohen-2018"}], "Please correct the duplicate values below."),
])
def test_a_malformed_evidence_grade_is_a_form_error_and_nothing_is_saved(lead_client, knowledge_base, grades, message):
    pain = without_shipped_grades("chronic-pain")
    own = list(Criterion.objects.filter(conditions=pain).values_list("pk", flat=True))
    rows = [
        {**row, "source": Reference.objects.get(key=row["source"]).pk if row["source"] else "", "note": "", "order": 0}
        for row in grades
    ]
    response = lead_client.post(change_url(pain), condition_form(lead_client, pain, own, grades=rows))
    assert response.status_code == 200
    assert escape(message) in response.content.decode()
    assert not pain.evidence_grades.exists()


def test_a_reference_that_grades_evidence_cannot_be_deleted(lead_client, knowledge_base):
    pain = Condition.objects.get(slug="chronic-pain")
    cohen = Reference.objects.get(key="cohen-2018")
    pain.evidence_grades.create(grade="Moderate", applies_to="CRPS", source=cohen)
    response = lead_client.post(f"/admin/conditions/reference/{cohen.pk}/delete/", {"post": "yes"})
    assert response.status_code == 200
    assert Reference.objects.filter(pk=cohen.pk).exists()


def test_an_evidence_grade_reaches_clinicians_only_once_published(lead_client, knowledge_base):
    from rulebook.publishing import rulebook_publish
    from rulebook.versions import current_rulebook

    shipped = current_rulebook().condition["chronic-pain"].evidence
    pain = without_shipped_grades("chronic-pain")
    own = list(Criterion.objects.filter(conditions=pain).values_list("pk", flat=True))
    lead_client.post(change_url(pain), condition_form(
        lead_client, pain, own, grades=[evidence_row("Moderate", "cohen-2018", "CRPS")],
    ))
    assert current_rulebook().condition["chronic-pain"].evidence == shipped
    rulebook_publish(note="Cohen's grades.")
    (grade,) = current_rulebook().condition["chronic-pain"].evidence
    assert (grade.grade, grade.applies_to, grade.source) == ("Moderate", "CRPS", "cohen-2018")
