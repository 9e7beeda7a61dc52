"""A clinician downloads the PDF of a summary in Chromium, draft and final."""

import re

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from screening import services
from screening.models import AuditAction, AuditEvent, StoredPdf
from tests.answers import TRD_ELIGIBLE
from tests.conftest import TEST_PASSWORD

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]



@pytest.fixture
def screening(knowledge_base, clinician, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return services.screening_create(
        owner=clinician, patient_reference="A-1027/B", year_of_birth=1980,
        conditions=["trd"], answers=TRD_ELIGIBLE,
    )


def sign_in(page):
    page.goto("/screenings/")
    page.get_by_label("Username").fill("clinician")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Screenings")).to_be_visible()


def download_pdf(page, artifacts_dir, name):
    with page.expect_download() as info:
        page.get_by_role("link", name="Download PDF").click()
    download = info.value
    path = artifacts_dir / name
    download.save_as(path)
    return download.suggested_filename, PdfReader(path)


def text_of(reader):
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def test_clinician_downloads_the_draft_then_the_final_pdf_from_the_summary(
    page, screening, clinician, artifacts_dir
):
    sign_in(page)
    page.goto(f"/screenings/{screening.pk}/")
    filename, reader = download_pdf(page, artifacts_dir, "summary-draft.pdf")
    assert re.fullmatch(r"ketascreen-A-1027-B-draft-\d{4}-\d{2}-\d{2}\.pdf", filename)
    assert len(reader.pages) >= 1
    text = text_of(reader)
    assert "Patient reference A-1027/B" in text
    assert "Treatment-resistant depression Meets screening criteria" in text
    assert "DRAFT" in text

    page.get_by_label("I have reviewed this summary").check()
    page.get_by_role("button", name="Finalise").click()
    expect(page.get_by_role("alert").filter(has_text="Screening finalised")).to_be_visible()
    filename, reader = download_pdf(page, artifacts_dir, "summary-final.pdf")
    assert re.fullmatch(r"ketascreen-A-1027-B-final-\d{4}-\d{2}-\d{2}\.pdf", filename)
    text = text_of(reader)
    assert "Patient reference A-1027/B" in text
    assert "Status Final: finalised" in text and "DRAFT" not in text
    assert StoredPdf.objects.filter(screening=screening).count() == 1
    assert AuditEvent.objects.filter(screening=screening, action=AuditAction.PDF_DOWNLOADED).count() == 2
