"""The third edition's parts in the admin, as a clinical lead uses them: a
criterion's `when` and basis, retired questions and the formulary's count.
Every mistake is a form error that keeps what was typed, never a 500."""

from pathlib import Path

import pytest
from django.utils.html import escape

from conditions.loader import knowledge_base_load, read_knowledge_base
from conditions.models import Criterion, FormularySettings, Question, Reference, RetiredQuestion

pytestmark = pytest.mark.django_db

THIRD_EDITION = Path(__file__).resolve().parent / "files" / "third_edition.yaml"


@pytest.fixture
def third_edition(db):
    knowledge_base_load(read_knowledge_base(THIRD_EDITION))


def change_url(instance):
    return f"/admin/conditions/{instance._meta.model_name}/{instance.pk}/change/"


def criterion_form(criterion, **changes):
    data = {
        "key": criterion.key, "question": criterion.question_id, "operator": criterion.operator,
        "value": "" if criterion.value is None else str(criterion.value), "effect": criterion.effect,
        "message": criterion.message, "basis": criterion.basis,
        "when_question": criterion.when_question_id or "", "when_operator": criterion.when_operator,
        "when_value": criterion.when_value or "",
        "conditions": [c.pk for c in criterion.conditions.all()],
        "references": [r.pk for r in criterion.references.all()],
        "order": criterion.order, "active": "on",
    }
    data.update(changes)
    return data


def assert_refused(response, field, message):
    assert response.status_code == 200
    assert escape(message) in response.content.decode()
    assert field in response.context["adminform"].form.errors


def test_a_lead_limits_a_criterion_to_a_route_and_the_change_is_kept_in_history(lead_client, third_edition):
    criterion = Criterion.objects.get(key="breastfeeding-caution")
    route = Question.objects.get(code="route")
    response = lead_client.post(change_url(criterion), criterion_form(
        criterion, when_question=route.pk, when_operator="in", when_value=["iv", "nasal"],
        basis="local_policy",
    ))
    assert response.status_code == 302, response.context["adminform"].form.errors
    criterion.refresh_from_db()
    assert (criterion.when_question, criterion.when_operator, criterion.when_value) == (route, "in", ["iv", "nasal"])
    assert criterion.basis == "local_policy"
    before = criterion.history.order_by("history_date")[0]
    assert (before.when_question_id, before.basis) == (None, "")
    page = lead_client.get(change_url(criterion)).content.decode()
    assert "Where it applies" in page


@pytest.mark.parametrize("changes, field, message", [
    (lambda route: {"when_question": route.pk, "when_operator": "gt", "when_value": "3"}, "when_operator",
     "“more than” does not fit a one choice question (route)"),
    (lambda route: {"when_question": route.pk, "when_operator": "in", "when_value": []}, "when_value",
     "The operator “is one of” needs a value: tick one or more of the question's choices."),
    (lambda route: {"when_question": "", "when_operator": "eq", "when_value": ""}, "when_question",
     "Pick the question that decides where this criterion applies"),
    (lambda route: {"when_question": route.pk, "when_operator": "", "when_value": ""}, "when_operator",
     "Pick how the answer to the when question is tested."),
    (lambda route: {"basis": "label", "references": []}, "basis",
     "A criterion whose basis is “Label (SmPC or prescribing information)” needs at least one verified "
     "reference, but it cites no reference"),
    (lambda route: {"basis": "trial", "references": [Reference.objects.get(key="unchecked-z").pk]}, "basis",
     "none of its references (unchecked-z) is marked verified"),
    (lambda route: {"basis": "folklore"}, "basis", "Select a valid choice. folklore is not one of the available"),
])
def test_a_malformed_when_or_basis_is_a_form_error_and_nothing_is_saved(
    lead_client, third_edition, changes, field, message,
):
    criterion = Criterion.objects.get(key="breastfeeding-caution")
    response = lead_client.post(
        change_url(criterion), criterion_form(criterion, **changes(Question.objects.get(code="route"))),
    )
    assert_refused(response, field, message)
    criterion.refresh_from_db()
    assert (criterion.when_question_id, criterion.basis) == (None, "")


def test_a_local_policy_needs_no_reference(lead_client, third_edition):
    criterion = Criterion.objects.get(key="breastfeeding-caution")
    response = lead_client.post(change_url(criterion), criterion_form(criterion, basis="local_policy", references=[]))
    assert response.status_code == 302


def test_the_criterion_list_shows_and_filters_by_basis(lead_client, third_edition):
    page = lead_client.get("/admin/conditions/criterion/")
    text = page.content.decode()
    assert "Label (SmPC or prescribing information)" in text and "Not specified" in text
    assert "only when route is one of iv, oral" in text
    filtered = lead_client.get("/admin/conditions/criterion/", {"basis__exact": "label"})
    assert [c.key for c in filtered.context["cl"].result_list] == ["iv-bp-exclude"]


def test_a_question_a_when_still_reads_cannot_lose_the_choice_it_uses(lead_client, third_edition):
    route = Question.objects.get(code="route")
    response = lead_client.post(change_url(route), {
        "code": "route", "text": route.text, "help_text": "", "section": route.section_id, "order": route.order,
        "kind": "choice", "choices-rows": 3,
        "choices-0-value": "iv", "choices-0-label": "IV ketamine", "choices-0-order": 10,
        "choices-1-value": "nasal", "choices-1-label": "Esketamine", "choices-1-order": 20,
        "choices-2-value": "", "choices-2-label": "", "choices-2-order": "",
    })
    assert response.status_code == 200
    assert "criterion iv-bp-exclude&#x27;s when still uses oral" in response.content.decode()


def test_a_lead_adds_a_retired_question_with_its_mapping(lead_client, third_edition):
    RetiredQuestion.objects.all().delete()
    response = lead_client.post("/admin/conditions/retiredquestion/add/", {
        "code": "pregnant_or_breastfeeding", "text": "Pregnant or breastfeeding (asked before)",
        "maps": '[{"answer": false, "to": {"pregnant": false, "breastfeeding": false}}]', "order": 0,
    })
    assert response.status_code == 302
    assert RetiredQuestion.objects.get().maps[0]["to"] == {"pregnant": False, "breastfeeding": False}
    assert lead_client.get("/admin/conditions/retiredquestion/").status_code == 200


@pytest.mark.parametrize("code, maps, message", [
    ("pregnant", "[]", "pregnant is a question of this edition"),
    ("old_one", '{"answer": false}', "Write a list of mappings"),
    ("old_one", "[{answer: false}]", "Enter a valid JSON."),
    ("old_one", '[{"answer": false, "to": {"nope": false}}]', "Mapping 1: there is no question “nope”."),
    ("old_one", '[{"answer": false, "to": {"pregnant": 3}}]', "Mapping 1: pregnant: answer true or false."),
])
def test_a_malformed_retired_question_is_a_form_error(lead_client, third_edition, code, maps, message):
    response = lead_client.post("/admin/conditions/retiredquestion/add/", {
        "code": code, "text": "Old", "maps": maps, "order": 0,
    })
    assert response.status_code == 200
    assert escape(message) in response.content.decode()
    assert not RetiredQuestion.objects.filter(code=code).exists()


def test_the_formulary_settings_say_how_trials_are_counted(lead_client, third_edition):
    settings = FormularySettings.objects.get()
    response = lead_client.post(change_url(settings), {
        "min_trial_weeks": 6, "count": "trials", "references": [r.pk for r in settings.references.all()],
    })
    assert response.status_code == 302
    settings.refresh_from_db()
    # An unticked box is "no": a partial response then does not count.
    assert (settings.min_trial_weeks, settings.count, settings.partial_response_counts) == (6, "trials", False)
    refused = lead_client.post(change_url(settings), {"min_trial_weeks": 6, "count": "each_row"})
    assert refused.status_code == 200
    assert "count" in refused.context["adminform"].form.errors
