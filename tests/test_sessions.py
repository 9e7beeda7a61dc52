"""Sessions carry the user signed in to them (accounts.Session), so that a
signed-in request reads its session and its user in one query; Django still
checks that user against the session exactly as before."""

import pytest
from django.contrib.auth import SESSION_KEY
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Session
from tests.conftest import TEST_PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quick_password_hashing")]


def sign_in(client, username):
    response = client.post("/accounts/login/", {"username": username, "password": TEST_PASSWORD})
    assert response.status_code == 302, response.content.decode()[:500]


def session_row(client):
    return Session.objects.get(session_key=client.cookies["sessionid"].value)


def test_signing_in_records_the_user_on_the_session_and_signing_out_removes_it(client, clinician):
    sign_in(client, "clinician")
    assert session_row(client).user_id == clinician.pk
    key = client.cookies["sessionid"].value
    client.post("/accounts/logout/")
    assert not Session.objects.filter(session_key=key).exists()


def test_a_signed_in_page_reads_the_user_with_the_session(clinician_client, clinician):
    with CaptureQueriesContext(connection) as queries:
        response = clinician_client.get("/screenings/new/")
    assert response.status_code == 200
    assert 'data-testid="signed-in-user">Signed in as clinician<' in response.content.decode()
    reads_of_users = [q["sql"] for q in queries if '"auth_user"' in q["sql"]]
    assert len(reads_of_users) == 1 and '"accounts_session"' in reads_of_users[0]


def test_a_session_row_naming_another_user_still_signs_in_the_user_of_its_data(
    clinician_client, clinician, other_clinician
):
    """The column only saves a query: who is signed in is what the signed
    session data says, checked as Django checks it."""
    Session.objects.filter(user=clinician).update(user=other_clinician)
    response = clinician_client.get("/screenings/new/")
    assert 'data-testid="signed-in-user">Signed in as clinician<' in response.content.decode()


def test_a_password_changed_elsewhere_signs_the_session_out(clinician_client, clinician):
    assert clinician_client.get("/screenings/").status_code == 200
    clinician.set_password("another long password 7")
    clinician.save()
    response = clinician_client.get("/screenings/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_users_sessions_are_deleted_with_the_user(client, django_user_model):
    user = django_user_model.objects.create_user("leaver", password=TEST_PASSWORD)
    client.force_login(user)
    user_id = user.pk
    assert Session.objects.filter(user_id=user_id).count() == 1
    user.delete()
    assert not Session.objects.filter(user_id=user_id).exists()


def test_an_expired_session_is_signed_out(clinician_client):
    Session.objects.update(expire_date="2000-01-01T00:00:00Z")
    response = clinician_client.get("/screenings/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_session_nobody_signed_in_to_has_no_user(client, clinician):
    session = client.session  # a fresh anonymous session, saved
    session["something"] = 1
    session.save()
    row = Session.objects.get(session_key=session.session_key)
    assert row.user_id is None and SESSION_KEY not in row.get_decoded()
    assert client.get("/screenings/").status_code == 302


@pytest.mark.parametrize("key", ["abcdefgh\x00ijklmnop", "a" * 41, "ABCDEFGHIJKLMNOP", "abcdéfghijklmnop", "abc"])
def test_a_tampered_session_cookie_is_nobody_signed_in(client, key):
    client.cookies["sessionid"] = key
    response = client.get("/screenings/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
