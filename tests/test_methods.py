"""Pages answer only the methods they serve: anything else is a 405 that
names the ones they do, never the page itself."""

import pytest

from tests.test_access import URLS

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("method", ["TRACE", "OPTIONS", "PUT", "DELETE", "PATCH", "CONNECT"])
def test_no_page_answers_methods_it_does_not_serve(admin_client, method):
    answered = []
    for name, path in URLS:
        response = admin_client.generic(method, path)
        if response.status_code != 405 or b"<html" in response.content.lower():
            answered.append((name, path, response.status_code))
        else:
            assert set(response["Allow"].split(", ")) <= {"GET", "HEAD", "POST"}, (name, response["Allow"])
    assert answered == []


def test_trace_on_the_screening_list_is_refused_for_a_signed_in_clinician(clinician_client):
    response = clinician_client.trace("/screenings/")
    assert response.status_code == 405
    assert b"Screenings" not in response.content


@pytest.mark.parametrize("method, path, allowed", [
    ("post", "/screenings/", {"GET", "HEAD"}),
    ("post", "/screenings/1/", {"GET", "HEAD"}),
    ("post", "/screenings/1/pdf/", {"GET", "HEAD"}),
    ("get", "/screenings/1/finalise/", {"POST"}),
    ("get", "/screenings/1/amend/", {"POST"}),
    ("post", "/healthz", {"GET", "HEAD"}),
])
def test_each_app_page_names_the_methods_it_serves(clinician_client, method, path, allowed):
    response = getattr(clinician_client, method)(path)
    assert response.status_code == 405
    assert set(response["Allow"].split(", ")) == allowed


def test_head_is_served_where_get_is(clinician_client):
    assert clinician_client.head("/screenings/").status_code == 200
    assert clinician_client.head("/healthz").status_code == 200
