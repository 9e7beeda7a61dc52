"""FHIR over HTTP: the questionnaire of each published version, and a final
screening as a FHIR document beside its PDF, with the PDF's access rules
and audit."""

import json

import pytest
from django.conf import settings
from django.urls import reverse
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.questionnaire import Questionnaire

from screening import services
from screening.models import AuditAction, AuditEvent
from tests.answers import TRD_ELIGIBLE
from tests.markup import parse
from tests.screening.test_fhir_round_trip import run

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("module_knowledge_base"),
]

CANONICAL = "/Questionnaire/ketascreen"


def final_for(user, conditions=("trd",), reason=""):
    draft = services.screening_create(
        owner=user, patient_reference="A-1027", year_of_birth=1980, conditions=list(conditions),
        answers=TRD_ELIGIBLE,
    )
    return services.screening_finalise(screening=draft, user=user, reason=reason)


def document(client, screening):
    response = client.get(reverse("screening:fhir", args=[screening.pk]))
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"] == "application/fhir+json"
    assert response["Content-Disposition"].startswith('attachment; filename="ketascreen-A-1027-final-')
    bundle = json.loads(response.content)
    Bundle.model_validate(bundle)
    return bundle


def resources(bundle, kind):
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def test_the_questionnaire_in_force_is_served_at_its_canonical_url_and_each_version_at_its_number(
    clinician_client,
):
    response = clinician_client.get("/fhir/Questionnaire/ketascreen/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+json"
    questionnaire = response.json()
    Questionnaire.model_validate(questionnaire)
    assert (questionnaire["url"], questionnaire["version"]) == (settings.FHIR_BASE_URL + CANONICAL, "1")
    assert clinician_client.get("/fhir/Questionnaire/ketascreen/1/").json() == questionnaire
    assert clinician_client.get("/fhir/Questionnaire/ketascreen/2/").status_code == 404


def test_the_questionnaire_needs_sign_in(client):
    response = client.get("/fhir/Questionnaire/ketascreen/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_final_screening_is_a_fhir_document_of_its_answers_advice_and_clinician(client, clinician):
    clinician.first_name, clinician.last_name = "Ada", "Lovelace"
    clinician.save()
    screening = final_for(clinician, conditions=("trd", "ptsd"), reason="PTSD checklist at the next visit.")
    client.force_login(clinician)
    summary = parse(client.get(reverse("screening:summary", args=[screening.pk])).content)
    link = summary.select_one('a[data-testid="fhir-link"]')
    assert (link.text(), link.get("href")) == ("Download FHIR document", reverse("screening:fhir", args=[screening.pk]))

    bundle = document(client, screening)
    assert bundle["type"] == "document"
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds == ["Composition", "QuestionnaireResponse", "GuidanceResponse", "GuidanceResponse", "Practitioner"]
    (composition,) = resources(bundle, "Composition")
    (response,) = resources(bundle, "QuestionnaireResponse")
    (practitioner,) = resources(bundle, "Practitioner")
    assert response["questionnaire"] == f"{settings.FHIR_BASE_URL}{CANONICAL}|1"
    assert practitioner["name"] == [{"text": "Ada Lovelace"}]
    # The patient is the clinic's identifier only: no Patient, no year of birth.
    for resource in (composition, response):
        assert resource["subject"]["identifier"]["value"] == "A-1027"
    assert "Patient" not in kinds and "1980" not in json.dumps(bundle) and "birthDate" not in json.dumps(bundle)

    stored = {r.condition: r for r in screening.advisory().results}
    advice = {}
    for guidance in resources(bundle, "GuidanceResponse"):
        parameters = {p["name"]: p for p in guidance["contained"][0]["parameter"]}
        advice[parameters["condition"]["valueCoding"]["code"]] = (
            guidance["status"], parameters["status"]["valueCode"], guidance.get("dataRequirement"))
    assert advice["trd"] == ("success", "eligible", None)
    status, ptsd_status, (requirement,) = advice["ptsd"]
    assert (status, ptsd_status) == ("data-required", "incomplete")
    assert [c["code"] for c in requirement["codeFilter"][0]["code"]] == list(stored["ptsd"].missing)
    assert "PTSD checklist at the next visit." in json.dumps(composition)


def test_the_documents_answers_screen_to_the_stored_result(clinician_client, clinician):
    screening = final_for(clinician)
    (response,) = resources(document(clinician_client, screening), "QuestionnaireResponse")
    code, out, err = run("screen", stdin=json.dumps(response))
    assert code == 0, err
    (result,) = json.loads(out)
    assert [(r["condition"], r["status"]) for r in result["results"]] == [
        (r.condition, r.status) for r in screening.advisory().results]


def test_a_final_screenings_document_is_the_same_every_time(clinician_client, clinician):
    screening = final_for(clinician)
    first = clinician_client.get(reverse("screening:fhir", args=[screening.pk])).content
    assert clinician_client.get(reverse("screening:fhir", args=[screening.pk])).content == first


def test_a_draft_has_no_fhir_document_yet(clinician_client, clinician):
    draft = services.screening_create(
        owner=clinician, patient_reference="A-1027", year_of_birth=None, conditions=["trd"], answers=TRD_ELIGIBLE)
    summary = parse(clinician_client.get(reverse("screening:summary", args=[draft.pk])).content)
    assert summary.select_one('a[data-testid="fhir-link"]') is None
    response = clinician_client.get(reverse("screening:fhir", args=[draft.pk]), follow=True)
    assert response.redirect_chain == [(reverse("screening:summary", args=[draft.pk]), 302)]
    assert "finalise it first" in parse(response.content).text()
    assert not AuditEvent.objects.filter(action=AuditAction.FHIR_DOWNLOADED).exists()


def test_downloads_are_audited_and_follow_the_pdfs_access_rules(client, clinician, other_clinician, auditor):
    screening = final_for(clinician)
    url = reverse("screening:fhir", args=[screening.pk])
    assert client.get(url).status_code == 302  # signed out: to the sign-in page
    client.force_login(other_clinician)
    assert client.get(url).status_code == 404
    assert AuditEvent.objects.filter(action=AuditAction.ACCESS_DENIED, username="other-clinician").exists()
    client.force_login(auditor)
    document(client, screening)
    client.force_login(clinician)
    response = client.get(url)
    assert set(response["Cache-Control"].split(", ")) == {"private", "no-store"}
    assert client.post(url).status_code == 405
    events = AuditEvent.objects.filter(action=AuditAction.FHIR_DOWNLOADED)
    assert sorted(events.values_list("username", "patient_reference")) == [
        ("auditor", "A-1027"), ("clinician", "A-1027")]


def test_a_document_download_makes_a_fixed_number_of_queries(
    clinician_client, clinician, django_assert_num_queries
):
    screening = final_for(clinician)
    url = reverse("screening:fhir", args=[screening.pk])
    with django_assert_num_queries(6):
        # 1. the session, and the signed-in user with it
        # 2. the screening with its owner, finaliser, snapshot and the screening it amends
        # 3. the number of the published version its snapshot was published as
        # 4. the audit chain's head, locked FOR UPDATE
        # 5. INSERT the audit event "FHIR document downloaded", chained to the head's hash
        # 6. UPDATE the head to this event
        assert clinician_client.get(url).status_code == 200


def test_the_questionnaire_makes_a_fixed_number_of_queries(clinician_client, django_assert_num_queries):
    clinician_client.get("/fhir/Questionnaire/ketascreen/")  # its rulebook is now in the cache
    with django_assert_num_queries(2):
        # 1. the session, and the signed-in user with it
        # 2. the publication asked for, with its snapshot's version (its content is cached by version)
        assert clinician_client.get("/fhir/Questionnaire/ketascreen/1/").status_code == 200
