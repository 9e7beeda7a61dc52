"""Two first downloads of a final screening's PDF at the same moment, from
two connections: one render, one stored file. Transactional, so the
knowledge base is loaded inside the test (its own module keeps it apart from
test_pdf's module-wide knowledge base)."""

import threading
from unittest import mock

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from screening import pdf, services
from screening.models import StoredPdf
from tests.answers import TRD_ELIGIBLE

pytestmark = [
    pytest.mark.django_db(transaction=True),
]



def test_two_first_downloads_at_once_render_and_store_one_pdf(knowledge_base, clinician, settings, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("needs row locks between connections (PostgreSQL); SQLite has one writer at a time")
    settings.MEDIA_ROOT = tmp_path
    screening = services.screening_finalise(
        screening=services.screening_create(
            owner=clinician, patient_reference="A-1027", year_of_birth=1980,
            conditions=["trd"], answers=TRD_ELIGIBLE,
        ),
        user=clinician,
    )
    render_pdf = pdf.render_pdf
    both_ready = threading.Barrier(2)
    responses = []

    def slow_render(screening):
        rendered = render_pdf(screening)
        threading.Event().wait(0.5)  # the other download arrives meanwhile
        return rendered

    def first_download():
        try:
            client = Client()
            client.force_login(clinician)
            both_ready.wait(timeout=10)
            responses.append(client.get(reverse("screening:pdf", args=[screening.pk])))
        finally:
            connection.close()

    with mock.patch.object(pdf, "render_pdf", side_effect=slow_render) as render:
        threads = [threading.Thread(target=first_download) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    assert [response.status_code for response in responses] == [200, 200]
    assert responses[0].content == responses[1].content
    assert render.call_count == 1
    assert StoredPdf.objects.count() == 1
    assert len(list(tmp_path.rglob("*.pdf"))) == 1
