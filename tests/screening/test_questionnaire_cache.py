"""The questionnaire's form, as a draft's stored answers show it, is kept in
Django's cache (templates/screening/questionnaire.html) by the draft, its
revision, the rules version and the age the year of birth gives today. A
clinician still sees their own draft as last saved, under the rules in
force, with the token of their own session and only the errors of what
they sent."""

from datetime import date
from unittest import mock

import pytest
from django.urls import reverse

from screening import services
from tests.answers import TRD_ELIGIBLE
from tests.conftest import Client
from tests.knowledge import add_trd_question
from tests.screening.test_views import draft_for, form_values, html, text

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("module_knowledge_base"),
]


def questionnaire(client, draft):
    response = client.get(reverse("screening:questionnaire", args=[draft.pk]))
    assert response.status_code == 200
    return response


@pytest.mark.parametrize("save", ["screening:questionnaire", "screening:answers"], ids=["save-draft", "autosave"])
def test_the_questionnaire_opened_after_a_save_shows_the_answers_saved(clinician_client, clinician, save):
    draft = draft_for(clinician, answers={"age": 45})
    assert form_values(questionnaire(clinician_client, draft))["age"] == "45"
    response = clinician_client.post(
        reverse(save, args=[draft.pk]), {"revision": draft.revision, "age": "52", "action": "save"},
    )
    assert response.status_code in (200, 302)
    values = form_values(questionnaire(clinician_client, draft))
    assert values["age"] == "52"
    assert values["revision"] == str(draft.revision + 1)


def test_two_drafts_of_two_clinicians_each_show_their_own_answers(client, clinician, other_clinician):
    mine = draft_for(clinician, answers={"age": 45, "systolic_bp": 120})
    theirs = draft_for(other_clinician, answers={"age": 70, "systolic_bp": 150})
    # The same conditions, revision and rules: only the draft tells the two apart.
    assert (mine.revision, mine.rulebook_version) == (theirs.revision, theirs.rulebook_version)
    client.force_login(clinician)
    colleague = Client()
    colleague.force_login(other_clinician)
    for _ in range(2):  # rendered, then from the cache
        assert {k: v for k, v in form_values(questionnaire(client, mine)).items() if k in ("age", "systolic_bp")} == {
            "age": "45", "systolic_bp": "120",
        }
        theirs_page = form_values(questionnaire(colleague, theirs))
        assert (theirs_page["age"], theirs_page["systolic_bp"]) == ("70", "150")
    assert colleague.get(reverse("screening:questionnaire", args=[mine.pk])).status_code == 404


def test_two_drafts_of_one_clinician_each_show_their_own_answers(clinician_client, clinician):
    first = draft_for(clinician, reference="TWO-1", answers={"age": 45})
    second = draft_for(clinician, reference="TWO-2", answers={"age": 61})
    for _ in range(2):
        assert form_values(questionnaire(clinician_client, first))["age"] == "45"
        assert form_values(questionnaire(clinician_client, second))["age"] == "61"


def test_a_rules_publication_changes_the_questionnaire(clinician_client, clinician):
    draft = draft_for(clinician, answers=TRD_ELIGIBLE)
    assert "Has ECT been considered?" not in text(questionnaire(clinician_client, draft))
    add_trd_question()
    page = questionnaire(clinician_client, draft)
    assert "Has ECT been considered?" in text(page)
    assert form_values(page)["ect_considered"] == []


def test_a_refused_answer_and_its_error_show_only_on_the_page_that_sent_it(clinician_client, clinician):
    draft = draft_for(clinician, answers={"age": 45})
    questionnaire(clinician_client, draft)
    response = clinician_client.post(reverse("screening:questionnaire", args=[draft.pk]), {
        "revision": draft.revision, "age": "46", "systolic_bp": "hundred", "action": "save",
    })
    assert response.status_code == 200
    assert form_values(response)["systolic_bp"] == "hundred"
    assert 'data-testid="error-summary"' in html(response)
    page = questionnaire(clinician_client, draft)
    assert (form_values(page)["age"], form_values(page)["systolic_bp"]) == ("46", "")
    assert 'data-testid="error-summary"' not in html(page) and "is-invalid" not in html(page)


def test_each_session_posts_the_questionnaire_with_a_token_of_its_own(clinician):
    """Two browsers of one clinician: the second page comes from the
    cache, and its form still saves with the second browser's token."""
    draft = draft_for(clinician, answers={"age": 45})
    browsers = [Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)]
    pages = []
    for browser in browsers:
        browser.force_login(clinician)
        pages.append(form_values(questionnaire(browser, draft)))
    assert pages[0]["csrfmiddlewaretoken"] != pages[1]["csrfmiddlewaretoken"]
    sent = {name: value for name, value in pages[1].items() if value not in ("", [])}
    response = browsers[1].post(
        reverse("screening:questionnaire", args=[draft.pk]), {**sent, "age": "47", "action": "save"},
    )
    assert response.status_code == 302
    assert form_values(questionnaire(browsers[0], draft))["age"] == "47"


def test_the_age_from_the_year_of_birth_follows_the_day(clinician_client, clinician):
    """The draft is not saved between the two days: only the day changed."""
    draft = services.screening_create(
        owner=clinician, patient_reference="Y-1", year_of_birth=2008, conditions=["trd"],
        answers={"systolic_bp": 120},
    )
    with mock.patch("django.utils.timezone.localdate", return_value=date(2026, 7, 1)):
        assert "makes the patient 17 or 18 today" in text(questionnaire(clinician_client, draft))
    with mock.patch("django.utils.timezone.localdate", return_value=date(2026, 12, 31)):
        assert "from the year of birth (2008): 18 today" in text(questionnaire(clinician_client, draft))
