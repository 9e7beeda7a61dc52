"""The signed-in user is read by config.auth.UserBackend in hand-written SQL:
it must load what the ORM loads and refuse what ModelBackend refuses."""

import pytest
from django.contrib.auth import get_user_model

from config.auth import UserBackend

pytestmark = pytest.mark.django_db


def test_loads_every_field_as_the_orm_does(clinician):
    clinician.first_name, clinician.email = "Ada", "ada@example.org"
    clinician.save()
    loaded = UserBackend().get_user(clinician.pk)
    expected = get_user_model().objects.get(pk=clinician.pk)
    fields = [f.attname for f in expected._meta.concrete_fields]
    assert [getattr(loaded, f) for f in fields] == [getattr(expected, f) for f in fields]
    assert loaded.groups.filter(name="Clinicians").exists()


def test_an_id_of_no_user_finds_none(clinician):
    for user_id in (clinician.pk + 1000, str(clinician.pk + 1000), "not-a-number", ""):
        assert UserBackend().get_user(user_id) is None
    assert UserBackend().get_user(str(clinician.pk)) == clinician


def test_a_session_of_a_deactivated_user_is_signed_out(clinician_client, clinician):
    assert clinician_client.get("/screenings/").status_code == 200
    clinician.is_active = False
    clinician.save()
    response = clinician_client.get("/screenings/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_session_of_a_deleted_user_is_signed_out(clinician_client, clinician):
    get_user_model().objects.filter(pk=clinician.pk).delete()
    response = clinician_client.get("/screenings/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_signing_in_with_the_form_uses_this_backend(client, clinician, quick_password_hashing):
    clinician.set_password("a long enough password 1")
    clinician.save()
    response = client.post("/accounts/login/", {"username": "clinician", "password": "a long enough password 1"})
    assert response.status_code == 302
    assert client.session["_auth_user_backend"] == "config.auth.UserBackend"
    assert client.get("/screenings/").status_code == 200
