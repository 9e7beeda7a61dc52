"""The knowledge base in the admin, as a clinical lead uses it."""

import json

import pytest
from django.utils.html import escape

from conditions.admin import CHOICES_JSON_ERROR, VALUE_JSON_ERROR
from conditions.models import Condition, Criterion, Question, Reference, Section

pytestmark = pytest.mark.django_db


def change_url(instance):
    return f"/admin/conditions/{instance._meta.model_name}/{instance.pk}/change/"


def criterion_form(criterion, **changes):
    """The change form's POST data for `criterion`, with `changes` applied."""
    data = {
        "key": criterion.key,
        "question": criterion.question_id,
        "operator": criterion.operator,
        "value": json.dumps(criterion.value),
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
        "choices": json.dumps(question.choices),
        "min_value": "" if question.min_value is None else question.min_value,
        "max_value": "" if question.max_value is None else question.max_value,
        "unit": question.unit,
        "enable_when_question": question.enable_when_question_id or "",
        "enable_when_operator": question.enable_when_operator,
        "enable_when_value": "" if question.enable_when_value is None else json.dumps(question.enable_when_value),
    }
    data.update(changes)
    return data


def condition_form(client, condition, links, **changes):
    """The condition page's POST data, its criteria inline holding `links` (criterion pks)."""
    formset = client.get(change_url(condition)).context["inline_admin_formsets"][0].formset
    existing = list(formset.queryset)
    data = {
        "slug": condition.slug, "name": condition.name, "description": condition.description,
        "guidance": condition.guidance, "order": condition.order, "active": "on",
        "references": [r.pk for r in condition.references.all()],
        f"{formset.prefix}-TOTAL_FORMS": len(links),
        f"{formset.prefix}-INITIAL_FORMS": len(existing),
    }
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
     "“any_of” does not fit a whole number question (failed_antidepressant_trials); use one of: eq, gt, gte, lt, lte, ne."),
    ("trd-two-failed-trials-require", {"value": '"two"'},
     "“two” is not a number; write e.g. 18 or 2.5."),
    ("trd-two-failed-trials-require", {"value": "two"}, VALUE_JSON_ERROR),
    ("all-suicidal-ideation-alert", {"value": '["active_plan", "sometimes"]'},
     "“sometimes” is not a choice of suicidal_ideation; its choices are: none, passive, active_no_plan, active_plan."),
    ("all-suicidal-ideation-alert", {"value": '"active_plan"'},
     'in needs a non-empty list of choice values, e.g. ["none"].'),
    ("all-pregnant-or-breastfeeding-exclude", {"value": "true"},
     "is_true takes no value: leave the value empty."),
])
def test_criterion_form_refuses_malformed_rule(lead_client, knowledge_base, key, changes, message):
    criterion = Criterion.objects.get(key=key)
    before = (criterion.operator, criterion.value)
    response = lead_client.post(change_url(criterion), criterion_form(criterion, **changes))
    assert_refused(response, message)
    criterion.refresh_from_db()
    assert (criterion.operator, criterion.value) == before


@pytest.mark.parametrize("code, changes, message", [
    ("age", {"min_value": "130"}, "The maximum (120.000) is below the minimum (130)."),
    ("hepatic_impairment", {"choices": "[]"},
     'A choice question needs its choices, e.g. [{"value": "none", "label": "None"}, {"value": "mild", "label": "Mild"}].'),
    ("hepatic_impairment", {"choices": "[{value: none}]"}, CHOICES_JSON_ERROR),
    ("hepatic_impairment", {"choices": json.dumps([{"value": "none", "label": "None"}, {"value": "mild", "label": "Mild"}])},
     "criterion all-hepatic-severe-exclude still uses severe; change it first, then remove the choice."),
    ("systolic_bp", {"kind": "boolean", "min_value": "", "max_value": "", "unit": ""},
     "criterion all-systolic-bp-180-exclude reads this question with “gte”, which does not fit a yes / no question; change or remove it first."),
    ("on_mood_stabiliser", {"enable_when_value": "yes"}, VALUE_JSON_ERROR),
    ("on_mood_stabiliser", {"enable_when_operator": "gte", "enable_when_value": "1"},
     "“gte” does not fit a yes / no question (bipolar_history); use one of: eq, is_false, is_true, ne."),
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
        enable_when_operator="eq", enable_when_value='"manic"',
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
    question = Question.objects.get(code="pregnant_or_breastfeeding")
    response = lead_client.post(change_url(question), question_form(question, choices="", text="Pregnant"))
    assert response.status_code == 302
    question.refresh_from_db()
    assert (question.text, question.choices) == ("Pregnant", [])


def test_lead_can_add_a_criterion_with_its_value_stored_canonically(lead_client, knowledge_base):
    question = Question.objects.get(code="mood_episode")
    response = lead_client.post("/admin/conditions/criterion/add/", {
        "key": "bipolar-mixed-or-manic-alert", "question": question.pk, "operator": "in",
        "value": '["mixed", "manic"]', "effect": "alert", "message": "Mood is elevated.",
        "order": 500, "active": "on",
    })
    assert response.status_code == 302
    assert Criterion.objects.get(key="bipolar-mixed-or-manic-alert").value == ["manic", "mixed"]


def test_value_field_explains_the_shape_for_each_operator(lead_client, knowledge_base):
    html = lead_client.get("/admin/conditions/criterion/add/").content.decode()
    assert "lt / lte / gt / gte: a number, e.g. 18." in html
    assert "is_true / is_false: leave empty." in html


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
        "text": "", "section": "999999", "order": "-1", "kind": "colour", "choices": '{"a": 1}',
        "min_value": "abc", "max_value": "1e400", "enable_when_question": "nope",
        "enable_when_operator": "between", "enable_when_value": "[1,",
    })
    assert response.status_code == 200
    assert set(response.context["adminform"].form.errors) >= {
        "text", "section", "order", "kind", "min_value", "max_value",
        "enable_when_question", "enable_when_operator", "enable_when_value",
    }
    criterion = Criterion.objects.get(key="trd-phq9-require")
    response = lead_client.post(change_url(criterion), criterion_form(
        criterion, question="0", operator="", value='{"x": [1, 2]}', effect="maybe",
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


@pytest.mark.parametrize("value", ['{"x": 1}', "[[1]]", '"1e999999"', "1e999999", "-0.5", "null"])
def test_odd_json_values_give_form_errors(lead_client, knowledge_base, value):
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
    ("criterion_conditions", "criterion", "phq9", "TRD · require · phq9_total ≥ 10"),
    ("criterion", "question", "phq9", "phq9_total"),
    ("question", "enable_when_question", "bipolar_h", "bipolar_history"),
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
    assert "Requires at least moderate current symptoms" in earlier.content.decode()


# The condition page ------------------------------------------------------------


def test_condition_page_lists_its_own_and_every_condition_criteria(lead_client, knowledge_base):
    trd = Condition.objects.get(slug="trd")
    html = lead_client.get(change_url(trd)).content.decode()
    assert "Criteria for this condition" in html
    assert "Require: failed_antidepressant_trials ≥ 2" in html
    assert "all-age-under-18-exclude</a>: Exclude: age &lt; 18" in html


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
    assert listed == ["rasmussen-2024", "sicignano-2024"]
    assert response.content.decode().count("Unverified: needs checking") == 2


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
