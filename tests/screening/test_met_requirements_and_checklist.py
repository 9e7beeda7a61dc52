"""What a result shows, and never more: each eligible or caution condition
lists the requirements it met with the patient's values; the checklist for
the treatment session appears only when some condition may be treated; an
unfinished trials table reads incomplete, links to what is missing and is
finalised only with a reason. On the summary page and the PDF (read back
with pypdf)."""

import pytest
from django.urls import reverse

from screening import services
from screening.models import Screening, Status
from tests.answers import TRD_ELIGIBLE
from tests.knowledge import add_duties_and_evidence
from tests.markup import parse
from tests.screening.test_pdf import body_text, download

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("module_knowledge_base", "quick_password_hashing"),
]

SERTRALINE = {"drug": "sertraline", "daily_dose_mg": 150, "weeks": 8, "outcome": "no_response"}
VENLAFAXINE = {"drug": "venlafaxine", "daily_dose_mg": 150, "weeks": 8, "outcome": "no_response"}
WITH_TRIALS = {
    **{k: v for k, v in TRD_ELIGIBLE.items() if k != "failed_antidepressant_trials"},
    "antidepressant_trials": [SERTRALINE, VENLAFAXINE], "phq9_total": 18,
}
BP_DUTY = "Measure blood pressure before dosing, at about 40 minutes and before discharge."
NO_SESSION = "No treatment session is indicated yet"


def draft(user, answers, conditions=("trd",)):
    return services.screening_create(
        owner=user, patient_reference="M-1", year_of_birth=None, conditions=list(conditions), answers=answers,
    )


def summary(client, screening):
    response = client.get(reverse("screening:summary", args=[screening.pk]))
    assert response.status_code == 200
    return parse(response.content)


def pdf_words(client, screening):
    return body_text(download(client, screening), Screening.objects.get(pk=screening.pk))


def test_a_caution_card_lists_the_requirements_it_met_with_the_patients_values(clinician_client, clinician):
    screening = draft(clinician, {**WITH_TRIALS, "bladder_symptoms": True})
    soup = summary(clinician_client, screening)
    met = soup.select_one("[data-testid=met-requirements]")
    assert met is not None, "a caution card shows what was met"
    answers = [a.text() for a in met.select("[data-testid=patient-answer]")]
    assert any("2 (sertraline, venlafaxine)" in a for a in answers), answers
    assert any("18" in a for a in answers), answers
    words = pdf_words(clinician_client, screening)
    assert "Requirements met" in words
    assert "2 (sertraline, venlafaxine)" in words


def test_an_eligible_card_names_the_trials_it_counted(clinician_client, clinician):
    screening = draft(clinician, WITH_TRIALS)
    soup = summary(clinician_client, screening)
    answers = [a.text() for a in soup.select("[data-testid=patient-answer]")]
    assert any("2 (sertraline, venlafaxine)" in a for a in answers), answers
    assert soup.select_one("[data-testid=met-requirements]") is None  # listed once, under what decided it


def test_the_checklist_appears_only_when_some_condition_may_be_treated(clinician_client, clinician):
    add_duties_and_evidence()
    eligible = draft(clinician, TRD_ELIGIBLE)
    soup = summary(clinician_client, eligible)
    assert soup.select_one("[data-testid=duties]") is not None
    assert soup.select_one("[data-testid=no-treatment-session]") is None
    assert BP_DUTY in pdf_words(clinician_client, eligible)

    excluded = draft(clinician, {**TRD_ELIGIBLE, "pregnant": True})
    soup = summary(clinician_client, excluded)
    assert soup.select_one("[data-testid=duties]") is None
    assert NO_SESSION in soup.select_one("[data-testid=no-treatment-session]").text()
    words = pdf_words(clinician_client, excluded)
    assert NO_SESSION in words and BP_DUTY not in words


def test_an_unfinished_trials_table_is_incomplete_links_to_the_completeness_question_and_needs_a_reason(
    clinician_client, clinician,
):
    answers = {**WITH_TRIALS, "antidepressant_trials": [SERTRALINE]}
    screening = draft(clinician, answers)
    soup = summary(clinician_client, screening)
    links = [a.get("href") for a in soup.select("[data-testid=missing] a")]
    assert any(href.endswith("#question-antidepressant_trials_complete") for href in links), links
    assert "Criteria not met" not in soup.text()

    screening.refresh_from_db()
    refused = clinician_client.post(
        reverse("screening:finalise", args=[screening.pk]), {"confirm": "on", "revision": screening.revision},
    )
    assert refused.status_code in (200, 400)
    assert Screening.objects.get(pk=screening.pk).status == Status.DRAFT
    clinician_client.post(reverse("screening:finalise", args=[screening.pk]), {
        "confirm": "on", "revision": screening.revision, "reason": "Trial history still being gathered from the GP.",
    })
    assert Screening.objects.get(pk=screening.pk).status == Status.FINAL


def test_the_table_declared_complete_with_one_trial_is_not_met(clinician_client, clinician):
    screening = draft(clinician, {
        **WITH_TRIALS, "antidepressant_trials": [SERTRALINE], "antidepressant_trials_complete": True,
    })
    statuses = {r["condition"]: r["status"] for r in Screening.objects.get(pk=screening.pk).result["results"]}
    assert statuses == {"trd": "not_met"}
