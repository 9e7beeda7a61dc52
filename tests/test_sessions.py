"""Signing in and out, and the sessions that carry it: Django's own session
and auth machinery, sessions in the database read through the cache."""

import pytest
from django.contrib.sessions.models import Session
from django.core.cache import cache

from tests.conftest import TEST_PASSWORD

pytestmark = pytest.mark.django_db


def sign_in(client, username):
    response = client.post("/accounts/login/", {"username": username, "password": TEST_PASSWORD})
    assert response.status_code == 302, response.content.decode()[:500]


def signed_out(response):
    return response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_signing_in_opens_a_session_and_signing_out_ends_it(client, clinician):
    sign_in(client, "clinician")
    key = client.cookies["sessionid"].value
    assert Session.objects.get(session_key=key).get_decoded()["_auth_user_id"] == str(clinician.pk)
    assert client.get("/screenings/").status_code == 200
    client.post("/accounts/logout/")
    assert not Session.objects.filter(session_key=key).exists()
    assert signed_out(client.get("/screenings/"))


def test_a_session_outlives_the_cache(client, clinician):
    """The database keeps every session: a cache that restarts or evicts
    signs nobody out."""
    sign_in(client, "clinician")
    cache.clear()
    response = client.get("/screenings/new/")
    assert response.status_code == 200
    assert 'data-testid="signed-in-user">Signed in as clinician<' in response.content.decode()


def test_a_password_changed_elsewhere_signs_the_session_out(clinician_client, clinician):
    assert clinician_client.get("/screenings/").status_code == 200
    clinician.set_password("another long password 7")
    clinician.save()
    assert signed_out(clinician_client.get("/screenings/"))


def test_a_session_of_a_deactivated_user_is_signed_out(clinician_client, clinician):
    assert clinician_client.get("/screenings/").status_code == 200
    clinician.is_active = False
    clinician.save()
    assert signed_out(clinician_client.get("/screenings/"))


def test_a_session_whose_user_no_longer_exists_is_signed_out(clinician_client, clinician):
    # Users are made inactive, never deleted (their names stand on insert-only
    # history; docs/security.md), but a session may still name an id that
    # matches nobody, e.g. after restoring an older backup.
    session = clinician_client.session
    session["_auth_user_id"] = str(clinician.pk + 10_000)
    session.save()
    assert signed_out(clinician_client.get("/screenings/"))


def test_an_expired_session_is_signed_out(clinician_client):
    Session.objects.update(expire_date="2000-01-01T00:00:00Z")
    cache.clear()  # the cached copy expires with the session
    assert signed_out(clinician_client.get("/screenings/"))


@pytest.mark.parametrize("key", ["abcdefgh\x00ijklmnop", "a" * 41, "ABCDEFGHIJKLMNOP", "abcdéfghijklmnop", "abc"])
def test_a_tampered_session_cookie_is_nobody_signed_in(client, key):
    client.cookies["sessionid"] = key
    assert signed_out(client.get("/screenings/"))
