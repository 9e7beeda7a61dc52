"""Refusals as a browser or a proxy sees them: the lockout says when to try
again, and no refusal page (403, 404, 429) is kept by any cache, like every
page with patient data."""

import pytest
from django.test import Client

from screening.services import screening_create
from tests.conftest import TEST_PASSWORD

pytestmark = pytest.mark.django_db


def not_stored(response):
    directives = {d.strip() for d in response.get("Cache-Control", "").split(",")}
    return {"private", "no-store"} <= directives


def sign_in(client, password):
    return client.post("/accounts/login/", {"username": "clinician", "password": password}, REMOTE_ADDR="10.0.0.7")


def test_the_sign_in_lockout_is_429_with_retry_after_the_cool_off(client, clinician, settings):
    for _ in range(5):
        sign_in(client, "wrong-password")
    locked = sign_in(client, TEST_PASSWORD)
    assert locked.status_code == 429
    assert locked["Retry-After"] == str(15 * 60)
    assert not_stored(locked)


def test_a_screening_that_is_not_yours_is_a_404_that_is_not_stored(
    knowledge_base, client, clinician, other_clinician
):
    theirs = screening_create(owner=other_clinician, patient_reference="THEIRS-3", year_of_birth=None,
                              conditions=["trd"])
    client.force_login(clinician)
    for path in [f"/screenings/{theirs.pk}/", "/patients/THEIRS-3/", "/screenings/424242/pdf/", "/no-such-page/"]:
        response = client.get(path)
        assert response.status_code == 404, path
        assert not_stored(response), path


def test_a_refused_change_is_a_403_that_is_not_stored(knowledge_base, client, auditor, other_clinician):
    theirs = screening_create(owner=other_clinician, patient_reference="THEIRS-4", year_of_birth=None,
                              conditions=["trd"])
    client.force_login(auditor)
    response = client.post(f"/screenings/{theirs.pk}/finalise/", {"confirm": "on"})
    assert response.status_code == 403
    assert not_stored(response)


def test_a_form_without_its_csrf_token_is_a_403_that_is_not_stored(clinician):
    client = Client(enforce_csrf_checks=True)
    client.force_login(clinician)
    response = client.post("/screenings/new/", {"patient_reference": "A-1027"})
    assert response.status_code == 403
    assert not_stored(response)


def test_the_admins_refusal_is_a_403_that_is_not_stored(admin_client):
    response = admin_client.get("/admin/screening/auditevent/add/")
    assert response.status_code == 403
    assert not_stored(response)
