"""A screening as part of the record, through HTTP: no stale result, no lost
work, one line of amendments, reasons for finalising incomplete, an
identifier for a patient reference, corrections and discarding, clearer
summaries and PDFs, and no cached copy of any patient page."""

import io
import json
import re

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from pypdf import PdfReader

from conditions.models import Condition
from rulebook.publishing import rulebook_publish
from screening import services
from screening.models import AuditAction, AuditEvent, Screening, Status
from tests import markup
from tests.answers import TRD_ELIGIBLE
from tests.knowledge import add_trd_question, raise_trd_threshold
from tests.screening.test_screen_command import TRD, screen
from tests.screening.test_views import (
    confirmed,
    draft_for,
    final_for,
    form_values,
    page_of,
    text,
    without,
)

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("module_knowledge_base"),
]


@pytest.fixture
def media_root(settings, tmp_path):
    """Stored PDFs go to a folder of the test's own."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def actions(screening):
    return list(AuditEvent.objects.filter(screening=screening).order_by("id").values_list("action", flat=True))


# --- 1. no stale result ---------------------------------------------------------


def test_a_draft_under_older_rules_is_evaluated_again_when_its_summary_opens(clinician_client, clinician):
    draft = draft_for(clinician, answers=TRD_ELIGIBLE)
    old_version = draft.rulebook_version
    add_trd_question()

    words = text(clinician_client.get(reverse("screening:summary", args=[draft.pk])))
    draft.refresh_from_db()
    assert draft.rulebook_version != old_version
    # One wording for versions (issue 25): the published number and the start of the hash.
    assert f"saved under Rules version 1 ({old_version[:7]})" in words
    assert f"worked out again under Rules version 2 ({draft.rulebook_version[:7]})" in words
    # second edition (issue 18): the condition's evidence grades and licensing follow its status
    assert re.search(r"Treatment-resistant depression Incomplete Evidence for treating it .+ Still to answer", words)
    assert "Has ECT been considered?" in words  # the new question, still to answer
    assert AuditAction.REEVALUATED in actions(draft)


def test_a_raised_threshold_changes_a_stale_drafts_result_when_it_opens(clinician_client, clinician):
    draft = draft_for(clinician, answers=TRD_ELIGIBLE)
    raise_trd_threshold()
    words = text(clinician_client.get(reverse("screening:summary", args=[draft.pk])))
    assert "Treatment-resistant depression Criteria not met" in words
    assert "Patient's answer: 2" in words


def test_a_stale_draft_shows_its_new_question_unanswered_on_the_questionnaire(clinician_client, clinician):
    draft = draft_for(clinician, answers=TRD_ELIGIBLE)
    old_version = draft.rulebook_version
    add_trd_question()
    response = clinician_client.get(reverse("screening:questionnaire", args=[draft.pk]))
    assert f"saved under Rules version 1 ({old_version[:7]})" in text(response)
    assert form_values(response)["ect_considered"] == []
    assert form_values(response)["age"] == "45"


def test_finalising_after_the_rules_changed_the_result_shows_the_new_summary_instead(clinician_client, clinician):
    draft = draft_for(clinician, answers=TRD_ELIGIBLE)
    read = confirmed(draft)  # the clinician read the summary under the old rules
    raise_trd_threshold()
    response = clinician_client.post(reverse("screening:finalise", args=[draft.pk]), read)
    words = text(response)
    draft.refresh_from_db()
    assert draft.status == Status.DRAFT
    assert "the result changed. It was not finalised: read the new summary below" in words
    assert "Criteria not met" in words
    assert form_values(response)["revision"] == str(draft.revision)
    assert AuditAction.FINALISED not in actions(draft)


def test_finalising_after_the_rules_changed_but_not_the_result_finalises_under_the_new_rules(
    clinician_client, clinician
):
    draft = draft_for(clinician, answers=TRD_ELIGIBLE)
    read = confirmed(draft)
    condition = Condition.objects.get(slug="trd")
    condition.guidance = "Offer alongside psychotherapy, reviewed this week."
    condition.save()
    rulebook_publish(note="Guidance reviewed.")
    response = clinician_client.post(reverse("screening:finalise", args=[draft.pk]), read)
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.status == Status.FINAL
    summary = text(clinician_client.get(reverse("screening:summary", args=[draft.pk])))
    assert "Offer alongside psychotherapy, reviewed this week." in summary


def test_finalising_a_screening_saved_since_it_was_read_is_refused(clinician_client, clinician):
    draft = draft_for(clinician, answers=TRD_ELIGIBLE)
    read = confirmed(draft)
    services.screening_save_answers(screening=draft, answers={**TRD_ELIGIBLE, "age": 70})
    response = clinician_client.post(reverse("screening:finalise", args=[draft.pk]), read)
    assert "changed since you read its summary, so it was not finalised" in text(response)
    assert Screening.objects.get(pk=draft.pk).status == Status.DRAFT


def test_a_final_screening_keeps_its_snapshot_when_the_rules_change(clinician_client, clinician):
    final = final_for(clinician)
    raise_trd_threshold()
    words = text(clinician_client.get(reverse("screening:summary", args=[final.pk])))
    assert "Meets screening criteria" in words
    assert Screening.objects.get(pk=final.pk).rulebook_version == final.rulebook_version


def test_another_reader_is_told_a_draft_is_behind_the_rules_without_changing_it(client, auditor, clinician):
    draft = draft_for(clinician, answers=TRD_ELIGIBLE)
    raise_trd_threshold()
    client.force_login(auditor)
    words = text(client.get(reverse("screening:summary", args=[draft.pk])))
    assert f"evaluated under Rules version 1 ({draft.rulebook_version[:7]}); the current rules are Rules version 2" in words
    assert Screening.objects.get(pk=draft.pk).revision == draft.revision


# --- 2. no lost work -------------------------------------------------------------


def answers_form(screening, answers):
    screening.refresh_from_db()
    return {**answers, "revision": screening.revision}


def test_autosave_stores_valid_answers_and_names_the_refused_ones(clinician_client, clinician, trd_eligible_form):
    draft = draft_for(clinician)
    response = clinician_client.post(
        reverse("screening:answers", args=[draft.pk]),
        answers_form(draft, {**trd_eligible_form, "systolic_bp": "400"}),
    )
    assert response.status_code == 200
    body = response.json()
    draft.refresh_from_db()
    assert body["revision"] == draft.revision
    assert re.fullmatch(r"\d{2}:\d{2}", body["saved_at"])
    assert body["not_saved"] == [{
        "question": "systolic_bp", "text": "Resting systolic blood pressure",
        "errors": ["400 is above the maximum of 260 mmHg."],
    }]
    assert draft.answers == without(TRD_ELIGIBLE, "systolic_bp")
    assert AuditAction.ANSWERS_SAVED in actions(draft)


def test_a_refused_answer_keeps_the_one_saved_before(clinician_client, clinician, trd_eligible_form):
    draft = draft_for(clinician, answers=TRD_ELIGIBLE)
    clinician_client.post(
        reverse("screening:answers", args=[draft.pk]), answers_form(draft, {**trd_eligible_form, "age": "4o"})
    )
    assert Screening.objects.get(pk=draft.pk).answers["age"] == 45


def test_autosave_against_an_older_revision_is_refused_with_409(clinician_client, clinician, trd_eligible_form):
    draft = draft_for(clinician)
    form = answers_form(draft, trd_eligible_form)
    services.screening_save_answers(screening=draft, answers={"age": 50})
    response = clinician_client.post(reverse("screening:answers", args=[draft.pk]), form)
    assert response.status_code == 409
    assert "changed in another window" in response.json()["error"]
    assert Screening.objects.get(pk=draft.pk).answers == {"age": 50}


def test_autosave_409_lists_only_the_answers_that_differ_in_words_with_the_saved_ones_as_field_values(
    clinician_client, clinician
):
    draft = draft_for(clinician, answers={"age": 45, "bipolar_history": False})
    form = answers_form(draft, {"age": "45", "bipolar_history": "yes", "systolic_bp": "130"})
    services.screening_save_answers(screening=draft, answers={"age": 45, "bipolar_history": False, "systolic_bp": 120})
    response = clinician_client.post(reverse("screening:answers", args=[draft.pk]), form)
    assert response.status_code == 409
    body = response.json()
    draft.refresh_from_db()
    assert body["conflict"] is True and body["revision"] == draft.revision
    panel = markup.parse(body["html"]).select_one("[data-conflicts]")
    rows = {
        row.get("data-difference"): [label.text() for label in row.select("label")]
        for row in panel.select("[data-difference]")
    }
    assert rows == {
        "bipolar_history": ["Keep yours: Yes", "Take the answer saved in the other window: No"],
        "systolic_bp": ["Keep yours: 130 mmHg", "Take the answer saved in the other window: 120 mmHg"],
    }
    assert json.loads(panel.get("data-saved")) == {
        "bipolar_history": [["bipolar_history", "no"]], "systolic_bp": [["systolic_bp", "120"]],
    }
    assert panel.get("data-revision") == str(draft.revision)
    assert draft.answers == {"age": 45, "bipolar_history": False, "systolic_bp": 120}


def test_autosave_over_the_very_answers_saved_in_another_window_is_stored(clinician_client, clinician):
    draft = draft_for(clinician)
    form = answers_form(draft, {"age": "52"})
    services.screening_save_answers(screening=draft, answers={"age": 52})
    response = clinician_client.post(reverse("screening:answers", args=[draft.pk]), form)
    assert response.status_code == 200
    draft.refresh_from_db()
    assert response.json()["revision"] == draft.revision and draft.answers == {"age": 52}


def test_autosave_after_the_session_ended_answers_401_in_json_not_a_sign_in_page(client, clinician, trd_eligible_form):
    draft = draft_for(clinician)
    response = client.post(reverse("screening:answers", args=[draft.pk]), answers_form(draft, trd_eligible_form))
    assert response.status_code == 401
    assert "Your session has ended" in response.json()["error"]
    assert Screening.objects.get(pk=draft.pk).answers == {}


def test_autosave_needs_the_csrf_token(clinician, trd_eligible_form):
    client = Client(enforce_csrf_checks=True)
    client.force_login(clinician)
    draft = draft_for(clinician)
    response = client.post(reverse("screening:answers", args=[draft.pk]), answers_form(draft, trd_eligible_form))
    assert response.status_code == 403
    assert Screening.objects.get(pk=draft.pk).answers == {}


@pytest.mark.parametrize("origin, status", [("http://testserver", 200), ("https://elsewhere.example", 403)])
def test_autosave_takes_a_beacon_from_its_own_page_only(clinician, trd_eligible_form, origin, status):
    # A page being closed sends what is not yet saved with navigator.sendBeacon
    # (static/js/questionnaire.js): the form's fields with its token, the
    # cookies and an Origin header, and no header of the page's own choosing.
    client = Client(enforce_csrf_checks=True)
    client.force_login(clinician)
    draft = draft_for(clinician)
    page = markup.parse(client.get(reverse("screening:questionnaire", args=[draft.pk])).content)
    token = page.select_one("form input[name=csrfmiddlewaretoken]").get("value")
    response = client.post(
        reverse("screening:answers", args=[draft.pk]),
        {**answers_form(draft, trd_eligible_form), "csrfmiddlewaretoken": token}, headers={"Origin": origin},
    )
    assert response.status_code == status
    assert (Screening.objects.get(pk=draft.pk).answers == TRD_ELIGIBLE) is (status == 200)


def test_autosave_refuses_a_final_screening(clinician_client, clinician, trd_eligible_form):
    final = final_for(clinician)
    response = clinician_client.post(reverse("screening:answers", args=[final.pk]), answers_form(final, trd_eligible_form))
    assert response.status_code == 409
    assert "final" in response.json()["error"]


def test_stay_signed_in_moves_the_session_on_and_needs_a_session(clinician_client):
    response = clinician_client.post(reverse("session_keepalive"))
    assert response.status_code == 200 and response.json()["expires_in"] > 0
    response = Client().post(reverse("session_keepalive"))
    assert response.status_code == 401 and "Sign in again" in response.json()["error"]


# --- 3. one line of amendments -----------------------------------------------------


def test_a_replaced_final_cannot_be_amended_again(clinician_client, clinician):
    final = final_for(clinician)
    clinician_client.post(reverse("screening:amend", args=[final.pk]), {"reason": "A correction."})
    amendment = Screening.objects.get(amends=final)
    response = clinician_client.post(reverse("screening:amend", args=[final.pk]), {"reason": "A correction."}, follow=True)
    words = text(response)
    assert f"already been amended by #{amendment.pk}: continue that draft instead" in words
    assert f"Replaced by #{amendment.pk}" in words
    assert "Amend" not in [button.text() for button in page_of(response).select("button")]
    assert Screening.objects.filter(amends=final).count() == 1


def test_two_amendments_of_one_final_cannot_both_be_stored(clinician):
    final = final_for(clinician)
    amendment = services.screening_amend(screening=final, user=clinician, reason="A correction.")
    with pytest.raises(ValidationError):
        Screening(
            owner=clinician, patient_reference=final.patient_reference, conditions=final.conditions,
            amends=final, snapshot=amendment.snapshot, rulebook_version=amendment.rulebook_version,
        ).validate_constraints()
    amendment.pk = None  # a copy of it, saved past the model's checks
    with pytest.raises(IntegrityError), transaction.atomic():
        amendment.save()


def test_the_list_marks_replaced_versions(clinician_client, clinician):
    final = final_for(clinician, reference="LINE-1")
    amendment = services.screening_amend(screening=final, user=clinician, reason="A correction.")
    services.screening_finalise(screening=amendment, user=clinician)
    words = text(clinician_client.get(reverse("screening:list")))
    assert words.count(f"Replaced by #{amendment.pk}") == 1
    newest = services.screening_amend(screening=amendment, user=clinician, reason="A correction.")
    assert f"Replaced by #{newest.pk}" in text(clinician_client.get(reverse("screening:list")))


def test_a_final_whose_amendment_was_discarded_can_be_amended_again(clinician_client, clinician):
    final = final_for(clinician)
    amendment = services.screening_amend(screening=final, user=clinician, reason="A correction.")
    clinician_client.post(reverse("screening:discard", args=[amendment.pk]))
    response = clinician_client.post(reverse("screening:amend", args=[final.pk]), {"reason": "A correction."})
    assert response.status_code == 302
    assert Screening.objects.filter(amends=final, discarded_at__isnull=True).count() == 1


# --- 4. finalising an incomplete screening needs a reason ---------------------------


def test_an_incomplete_screening_is_not_finalised_without_a_reason(clinician_client, clinician):
    draft = draft_for(clinician, answers={"age": 45})
    response = clinician_client.post(reverse("screening:finalise", args=[draft.pk]), confirmed(draft))
    assert "Give the reason for finalising it as it stands" in text(response)
    assert Screening.objects.get(pk=draft.pk).status == Status.DRAFT


def test_an_incomplete_screening_finalised_with_a_reason_shows_it_on_summary_and_pdf(clinician_client, clinician):
    draft = draft_for(clinician, answers={"age": 45})
    summary = page_of(clinician_client.get(reverse("screening:summary", args=[draft.pk])))
    assert summary.select_one("form [name=reason]")
    reason = "Patient declined the remaining questions; reviewed in clinic."
    response = clinician_client.post(
        reverse("screening:finalise", args=[draft.pk]), confirmed(draft, reason=reason), follow=True
    )
    words = text(response)
    assert "Screening finalised" in words
    assert f"Finalised while incomplete. The clinician's reason: {reason}" in words
    assert actions(draft)[-2] == AuditAction.FINALISED_INCOMPLETE
    assert Screening.objects.get(pk=draft.pk).finalise_reason == reason
    pdf = clinician_client.get(reverse("screening:pdf", args=[draft.pk]))
    assert reason in pdf_words(pdf.content)


def test_a_complete_screening_needs_no_reason(clinician_client, clinician):
    draft = draft_for(clinician, answers=TRD_ELIGIBLE)
    assert page_of(clinician_client.get(reverse("screening:summary", args=[draft.pk]))).select_one("[name=reason]") is None
    clinician_client.post(reverse("screening:finalise", args=[draft.pk]), confirmed(draft))
    assert Screening.objects.get(pk=draft.pk).status == Status.FINAL


# --- 5. the patient reference is an identifier ---------------------------------------


NOT_IDENTIFIERS = ["John Smith", "A-1027\n", "A-1027 ", " A-1027", "Jane\tDoe"]


@pytest.mark.parametrize("reference", NOT_IDENTIFIERS)
def test_the_model_refuses_a_reference_that_is_not_an_identifier(clinician, reference):
    with pytest.raises(ValidationError) as refused:
        services.screening_create(owner=clinician, patient_reference=reference, year_of_birth=None, conditions=["trd"])
    assert "with no spaces" in str(refused.value)


@pytest.mark.parametrize("reference", ["Jane Doe", "A-1027\n"])
def test_screen_save_refuses_a_reference_that_is_not_an_identifier(django_user_model, reference):
    django_user_model.objects.create_user("dr-who", password="x")
    code, out, _ = screen("--save", "--user", "dr-who", stdin=json.dumps({**TRD, "patient": reference}))
    assert code == 1
    assert json.loads(out)[0]["errors"][0].startswith("patient_reference: Use the clinic's patient identifier")
    assert not Screening.objects.exists()


def test_the_new_screening_form_refuses_a_name(clinician_client):
    response = clinician_client.post(reverse("screening:new"), {"patient_reference": "Jane Doe", "conditions": ["trd"]})
    assert "with no spaces" in text(response)
    assert form_values(response)["patient_reference"] == "Jane Doe"
    assert not Screening.objects.exists()


def test_a_drafts_reference_year_and_conditions_can_be_corrected(clinician_client, clinician):
    draft = draft_for(clinician, answers=TRD_ELIGIBLE, reference="A-1072")
    page = clinician_client.get(reverse("screening:details", args=[draft.pk]))
    assert form_values(page)["patient_reference"] == "A-1072"
    response = clinician_client.post(reverse("screening:details", args=[draft.pk]), {
        "patient_reference": "A-1027", "year_of_birth": "1979", "conditions": ["trd", "chronic-pain"],
    })
    assert response["Location"] == reverse("screening:questionnaire", args=[draft.pk])
    draft.refresh_from_db()
    assert (draft.patient_reference, draft.year_of_birth, draft.conditions) == ("A-1027", 1979, ["trd", "chronic-pain"])
    assert draft.answers["age"] == 45
    assert [r["condition"] for r in draft.result["results"]] == ["trd", "chronic-pain"]
    assert actions(draft)[-1] == AuditAction.DETAILS_CORRECTED


def test_a_correction_with_a_name_is_refused_and_keeps_what_was_typed(clinician_client, clinician):
    draft = draft_for(clinician, reference="A-1072")
    response = clinician_client.post(reverse("screening:details", args=[draft.pk]), {
        "patient_reference": "Jane Doe", "conditions": ["trd"],
    })
    assert "with no spaces" in text(response) and form_values(response)["patient_reference"] == "Jane Doe"
    assert Screening.objects.get(pk=draft.pk).patient_reference == "A-1072"


def test_a_final_screenings_details_cannot_be_corrected(clinician_client, clinician):
    final = final_for(clinician, reference="A-1072")
    response = clinician_client.post(reverse("screening:details", args=[final.pk]), {
        "patient_reference": "A-1027", "conditions": ["trd"],
    }, follow=True)
    assert "This screening is final" in text(response)
    assert Screening.objects.get(pk=final.pk).patient_reference == "A-1072"


def test_a_discarded_draft_is_kept_audited_and_hidden_from_the_list(clinician_client, clinician):
    draft = draft_for(clinician, reference="GONE-1")
    response = clinician_client.post(reverse("screening:discard", args=[draft.pk]), follow=True)
    assert "The draft for GONE-1 was discarded" in text(response)
    assert "GONE-1" not in text(clinician_client.get(reverse("screening:list")))
    draft.refresh_from_db()
    assert draft.discarded_at is not None and actions(draft)[-1] == AuditAction.DISCARDED
    summary = text(clinician_client.get(reverse("screening:summary", args=[draft.pk])))
    assert "This draft was discarded" in summary and "Finalise" not in summary
    questionnaire = clinician_client.get(reverse("screening:questionnaire", args=[draft.pk]), follow=True)
    assert "This draft was discarded and can no longer be changed." in text(questionnaire)


def test_a_final_screening_cannot_be_discarded(clinician_client, clinician):
    final = final_for(clinician, reference="KEEP-1")
    response = clinician_client.post(reverse("screening:discard", args=[final.pk]), follow=True)
    assert "A final screening is part of the record and cannot be discarded" in text(response)
    assert Screening.objects.get(pk=final.pk).discarded_at is None
    assert "KEEP-1" in text(clinician_client.get(reverse("screening:list")))


# --- 6. clearer summaries ---------------------------------------------------------------


HIGH_PRESSURE = {**TRD_ELIGIBLE, "systolic_bp": 148, "age": 70}


def test_each_deciding_criterion_shows_the_patients_answer_with_its_unit(clinician_client, clinician):
    draft = draft_for(clinician, answers=HIGH_PRESSURE)
    words = text(clinician_client.get(reverse("screening:summary", args=[draft.pk])))
    assert "Systolic pressure above 140 mmHg" in words
    assert "Question: Resting systolic blood pressure · Patient's answer: 148 mmHg" in words


def test_an_eligible_result_lists_the_requirements_met_with_their_answers(clinician_client, clinician):
    draft = draft_for(clinician, answers=TRD_ELIGIBLE)
    words = text(clinician_client.get(reverse("screening:summary", args=[draft.pk])))
    assert "Requirement met: Treatment resistance means no adequate response to at least two different" in words
    assert re.search(r"Requirement met: Requires a current moderate to severe episode .*?Patient's answer: 15\b", words)


def test_cautions_for_every_condition_are_shown_once_above_the_cards(clinician_client, clinician):
    draft = draft_for(clinician, conditions=["trd", "chronic-pain"], answers=HIGH_PRESSURE)
    words = text(clinician_client.get(reverse("screening:summary", args=[draft.pk])))
    assert words.count("Systolic pressure above 140 mmHg") == 1
    assert words.count("65 or older") == 1
    assert words.index("Cautions for every condition screened") < words.index("Treatment-resistant depression")
    assert words.count("2 cautions for every condition screened (listed above) also apply.") == 2


def test_the_pdf_shows_answers_and_the_screening_wide_cautions_once(clinician_client, clinician):
    draft = draft_for(clinician, conditions=["trd", "chronic-pain"], answers=HIGH_PRESSURE)
    words = pdf_words(clinician_client.get(reverse("screening:pdf", args=[draft.pk])).content)
    assert "Cautions for every condition screened" in words
    assert words.count("Systolic pressure above 140 mmHg") == 1
    assert "Patient's answer: 148 mmHg" in words


# --- 8. the PDF ---------------------------------------------------------------------------


def pdf_words(content):
    return " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(content)).pages)


def test_draft_and_final_pdfs_have_different_file_names(clinician_client, clinician, media_root):
    draft = draft_for(clinician, answers=TRD_ELIGIBLE, reference="A-1027")
    draft_name = clinician_client.get(reverse("screening:pdf", args=[draft.pk]))["Content-Disposition"]
    services.screening_finalise(screening=draft, user=clinician)
    final_name = clinician_client.get(reverse("screening:pdf", args=[draft.pk]))["Content-Disposition"]
    assert re.search(r'filename="ketascreen-A-1027-draft-\d{4}-\d{2}-\d{2}\.pdf"', draft_name)
    assert re.search(r'filename="ketascreen-A-1027-final-\d{4}-\d{2}-\d{2}\.pdf"', final_name)


def test_a_final_pdf_names_the_clinician_in_full_with_a_signature_block(clinician_client, clinician, media_root):
    clinician.first_name, clinician.last_name = "Alex", "Morgan"
    clinician.save()
    final = final_for(clinician)
    words = pdf_words(clinician_client.get(reverse("screening:pdf", args=[final.pk])).content)
    assert "Clinician Alex Morgan" in words
    assert "Signature Clinician Alex Morgan Role Clinician Date" in words
    draft = draft_for(clinician)
    assert "Signature Clinician" not in pdf_words(clinician_client.get(reverse("screening:pdf", args=[draft.pk])).content)


# --- 9. no cached copy of a patient page ------------------------------------------------------


def screening_url_names():
    names = []
    for pattern in get_resolver().url_patterns:
        if isinstance(pattern, URLResolver) and pattern.namespace == "screening":
            names += [entry.name for entry in pattern.url_patterns if isinstance(entry, URLPattern)]
    return names


def test_every_screening_page_is_enumerated():
    assert {"list", "new", "summary", "questionnaire", "answers", "details", "discard", "finalise", "amend", "pdf", "patient"} <= set(
        screening_url_names()
    )


def patient_page_names():
    """Every screening page but the FHIR Questionnaire and the criteria
    catalogue, which are the published rules, the same for every patient,
    and hold no patient data."""
    return [name for name in screening_url_names() if not name.startswith(("fhir_questionnaire", "catalogue"))]


@pytest.mark.parametrize("name", patient_page_names())
@pytest.mark.parametrize("method", ["get", "post"])
def test_every_screening_page_tells_browsers_not_to_keep_it(clinician_client, clinician, name, method, media_root):
    draft = draft_for(clinician, answers=TRD_ELIGIBLE)
    if name in ("list", "new", "attrition", "attrition_csv"):
        url = reverse(f"screening:{name}")
    elif name == "patient":
        url = reverse("screening:patient", args=[draft.patient_reference])
    else:
        url = reverse(f"screening:{name}", args=[draft.pk])
    response = getattr(clinician_client, method)(url)
    directives = {part.strip() for part in response.get("Cache-Control", "").split(",")}
    assert {"private", "no-store"} <= directives, (name, method, response.status_code)


def test_the_screening_admin_is_not_kept_either(admin_client, clinician):
    draft = draft_for(clinician)
    for url in (reverse("admin:screening_screening_changelist"), reverse("admin:screening_screening_change", args=[draft.pk])):
        directives = {part.strip() for part in admin_client.get(url).get("Cache-Control", "").split(",")}
        assert {"private", "no-store"} <= directives


# --- 7. phone and print (what HTTP can tell; Chromium shows the rest) -----------------------


def test_pages_have_a_skip_link_a_collapsing_navigation_and_a_favicon(clinician_client):
    page = page_of(clinician_client.get(reverse("screening:list")))
    skip = page.select_one("body a.ks-skip-link.visually-hidden-focusable")
    assert (skip.text(), skip.get("href")) == ("Skip to main content", "#content")
    assert page.select_one("#content")
    toggle = page.select_one("nav.navbar.navbar-expand-md [data-bs-toggle=collapse]")
    assert "collapse" in page.select_one(toggle.get("data-bs-target")).get("class").split()
    favicon = page.select_one("head link[rel=icon]").get("href")
    assert clinician_client.get(favicon).status_code == 200
    assert clinician_client.get("/static/bootstrap/js/bootstrap.bundle.min.js").status_code == 200

