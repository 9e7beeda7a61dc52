"""A clinician downloads a final screening's FHIR document in Chromium."""

import json
import re

import pytest
from fhir.resources.R4B.bundle import Bundle
from playwright.sync_api import expect

from screening import services
from screening.models import AuditAction, AuditEvent
from tests.answers import TRD_ELIGIBLE
from tests.browser.test_pdf_download import sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def test_clinician_downloads_the_fhir_document_beside_the_pdf_once_final(
    page, knowledge_base, clinician, artifacts_dir
):
    screening = services.screening_create(
        owner=clinician, patient_reference="A-1027", year_of_birth=1980, conditions=["trd"],
        answers=TRD_ELIGIBLE,
    )
    sign_in(page)
    page.goto(f"/screenings/{screening.pk}/")
    expect(page.get_by_role("link", name="Download PDF")).to_be_visible()
    expect(page.get_by_role("link", name="Download FHIR document")).to_have_count(0)

    services.screening_finalise(screening=screening, user=clinician)
    page.reload()
    with page.expect_download() as info:
        page.get_by_role("link", name="Download FHIR document").click()
    download = info.value
    assert re.fullmatch(r"ketascreen-A-1027-final-\d{4}-\d{2}-\d{2}\.fhir\.json", download.suggested_filename)
    path = artifacts_dir / "summary-final.fhir.json"
    download.save_as(path)
    bundle = json.loads(path.read_text(encoding="utf-8"))
    Bundle.model_validate(bundle)
    assert bundle["type"] == "document"
    assert AuditEvent.objects.filter(action=AuditAction.FHIR_DOWNLOADED, username="clinician").count() == 1
