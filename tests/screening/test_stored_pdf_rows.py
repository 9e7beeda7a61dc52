"""A stored PDF's row, once read from the database after it was committed,
is kept by the process: later downloads send the same bytes with one query
fewer, and still check the file against its SHA-256 every time.
Transactional, so that the row is committed as in production."""

import pytest
from django.urls import reverse

from screening import caching, pdf, services
from tests.answers import TRD_ELIGIBLE

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fresh_rulebook_cache", "quick_password_hashing"),
]


@pytest.fixture
def final(knowledge_base, clinician, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    draft = services.screening_create(
        owner=clinician, patient_reference="SP-1", year_of_birth=1980, conditions=["trd"], answers=TRD_ELIGIBLE,
    )
    return services.screening_finalise(screening=draft, user=clinician)


def download(client, screening):
    return client.get(reverse("screening:pdf", args=[screening.pk]))


def test_later_downloads_read_the_stored_row_once(final, clinician_client, django_assert_num_queries):
    first = download(clinician_client, final).content  # renders and stores it
    assert len(caching.stored_pdfs) == 0  # stored in this request: not kept until read back
    with django_assert_num_queries(4):
        # the session with its user, the screening, its stored PDF's row, the audit event
        second = download(clinician_client, final).content
    with django_assert_num_queries(3):
        # as above, but the row this process read already
        third = download(clinician_client, final).content
    assert first == second == third and first.startswith(b"%PDF")


def test_a_kept_row_still_refuses_a_changed_file(final, clinician_client, tmp_path):
    download(clinician_client, final)
    download(clinician_client, final)
    assert len(caching.stored_pdfs) == 1
    [path] = tmp_path.rglob("*.pdf")
    path.write_bytes(path.read_bytes()[:-16] + b"%%EOF tampered\n")
    with pytest.raises(pdf.StoredPdfError, match="does not match"):
        pdf.pdf_bytes(final)
