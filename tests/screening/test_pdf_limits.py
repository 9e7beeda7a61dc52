"""PDF renders are bounded: a draft's PDF is kept per revision, each user
may start a set number of draft renders a minute (429 beyond it), a render
that runs too long is stopped, and a PDF that cannot be produced is
explained and audited."""

import pytest
from django.urls import reverse

from screening import pdf, services
from screening.models import AuditAction, AuditEvent
from tests.answers import TRD_ELIGIBLE
from tests.screening.test_pdf import download, draft_for, final_for, pages

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("module_knowledge_base"),
]


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def get_pdf(client, screening):
    return client.get(reverse("screening:pdf", args=[screening.pk]))


def test_downloading_the_same_draft_revision_again_does_not_count_as_a_render(
    clinician_client, clinician, settings
):
    settings.PDF_DRAFT_RENDERS_PER_MINUTE = 1
    screening = draft_for(clinician, answers=TRD_ELIGIBLE)
    first = download(clinician_client, screening)
    assert download(clinician_client, screening) == first  # the same revision: kept, not rendered again
    assert get_pdf(clinician_client, draft_for(clinician, reference="B-2")).status_code == 429


def test_a_saved_change_gives_the_draft_a_new_pdf(clinician_client, clinician):
    screening = draft_for(clinician)
    assert "No answers have been recorded yet." in " ".join(pages(download(clinician_client, screening)))
    services.screening_save_answers(
        screening=screening, answers=TRD_ELIGIBLE, expected_revision=screening.revision,
    )
    assert "No answers have been recorded yet." not in " ".join(pages(download(clinician_client, screening)))


def test_beyond_the_draft_renders_a_minute_the_answer_is_429_with_a_clear_page(
    client, clinician, other_clinician, settings
):
    settings.PDF_DRAFT_RENDERS_PER_MINUTE = 2
    drafts = [draft_for(clinician, reference=f"R-{n}") for n in range(3)]
    client.force_login(clinician)
    download(client, drafts[0])
    download(client, drafts[1])
    refused = get_pdf(client, drafts[2])
    assert refused.status_code == 429
    assert refused["Retry-After"] == "60"
    text = refused.content.decode()
    assert "Please wait a minute before the next PDF" in text
    assert "2 new draft PDFs in the last minute" in text
    assert not AuditEvent.objects.filter(action=AuditAction.PDF_DOWNLOADED, screening=drafts[2]).exists()
    # what was rendered before, and a final screening's PDF, are still there
    download(client, drafts[0])
    download(client, final_for(clinician, reference="F-1"))
    # the limit is each user's own
    client.force_login(other_clinician)
    download(client, draft_for(other_clinician, reference="O-1"))


def test_a_render_that_runs_too_long_is_stopped_explained_and_audited(clinician_client, clinician, settings):
    screening = draft_for(clinician, answers=TRD_ELIGIBLE)
    settings.PDF_RENDER_TIMEOUT_SECONDS = 0.001  # far shorter than any render
    response = get_pdf(clinician_client, screening)
    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    assert "Producing this PDF took too long, so it was stopped" in response.content.decode()
    failed = AuditEvent.objects.get(action=AuditAction.PDF_FAILED)
    assert (failed.username, failed.screening_id) == ("clinician", screening.pk)
    # the renderer is left in working order for the next request
    settings.PDF_RENDER_TIMEOUT_SECONDS = 60
    assert "A-1027" in " ".join(pages(download(clinician_client, screening)))


def test_a_stored_pdf_that_fails_its_check_is_explained_and_audited(clinician_client, clinician, media_root):
    screening = final_for(clinician)
    stored = pdf.stored_pdf(screening)
    (media_root / stored.file.name).write_bytes(b"%PDF-1.7 not what was stored")
    response = get_pdf(clinician_client, screening)
    assert response.status_code == 503
    assert "could not be produced or checked" in response.content.decode()
    assert AuditEvent.objects.filter(action=AuditAction.PDF_FAILED, screening=screening).count() == 1
    assert not AuditEvent.objects.filter(action=AuditAction.PDF_DOWNLOADED).exists()
