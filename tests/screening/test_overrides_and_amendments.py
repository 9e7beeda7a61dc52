"""Disagreeing, and changing a final, on the record: a clinician's decision
against the advisory, with its reason, beside the advice on the summary,
the PDF and the audit trail; an amendment needs a reason and shows what
changed since the previous final."""

import pytest
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from screening import services
from screening.models import AdvisoryOverride, AuditAction, AuditEvent
from tests.answers import TRD_ELIGIBLE
from tests.screening.test_pdf import download, pages
from tests.screening.test_views import confirmed, draft_for, final_for, form_values, text

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("module_knowledge_base", "quick_password_hashing"),
]

REASON = "Patient prefers to wait until after the family move."


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def test_a_decision_against_the_advice_without_a_reason_is_refused_keeping_what_was_typed(
    clinician_client, clinician
):
    draft = draft_for(clinician, answers=TRD_ELIGIBLE)
    response = clinician_client.post(
        reverse("screening:finalise", args=[draft.pk]),
        confirmed(draft, **{"decision-trd": "do_not_proceed", "decision_reason-trd": "  "}),
    )
    assert response.status_code == 200
    assert "Give your reason for deciding against the advice." in text(response)
    assert form_values(response).get("decision-trd") == ["do_not_proceed"]  # the radio still checked
    draft.refresh_from_db()
    assert not draft.is_final and not AdvisoryOverride.objects.exists()


def test_a_decision_against_the_advice_is_shown_beside_the_advice_and_audited(
    clinician_client, clinician, media_root
):
    draft = draft_for(clinician, answers=TRD_ELIGIBLE)
    response = clinician_client.post(
        reverse("screening:finalise", args=[draft.pk]),
        confirmed(draft, **{"decision-trd": "do_not_proceed", "decision_reason-trd": REASON}),
        follow=True,
    )
    words = text(response)
    assert "Screening finalised" in words
    assert "Treatment-resistant depression Meets screening criteria Do not proceed despite the advice" in words
    assert REASON in words
    pdf_text = " ".join(pages(download(clinician_client, draft)))
    assert "Meets screening criteria Do not proceed despite the advice" in pdf_text
    assert REASON in pdf_text
    event = AuditEvent.objects.get(screening=draft, action=AuditAction.OVERRIDE_RECORDED)
    assert event.object_key == "trd: do_not_proceed against eligible"
    assert REASON not in event.object_key


def test_following_the_advice_records_no_decision_and_proceeding_on_an_eligible_result_is_refused(
    clinician_client, clinician
):
    draft = draft_for(clinician, answers=TRD_ELIGIBLE)
    refused = clinician_client.post(
        reverse("screening:finalise", args=[draft.pk]),
        confirmed(draft, **{"decision-trd": "proceed", "decision_reason-trd": REASON}),
    )
    assert refused.status_code == 200
    draft.refresh_from_db()
    assert not draft.is_final
    clinician_client.post(reverse("screening:finalise", args=[draft.pk]), confirmed(draft, **{"decision-trd": "follow"}))
    draft.refresh_from_db()
    assert draft.is_final and not AdvisoryOverride.objects.exists()
    assert "against the advice" not in text(clinician_client.get(reverse("screening:summary", args=[draft.pk])))


def test_override_rows_cannot_be_changed_or_deleted(clinician):
    draft = draft_for(clinician, answers=TRD_ELIGIBLE)
    services.screening_finalise(
        screening=draft, user=clinician, decisions={"trd": services.Override("do_not_proceed", REASON)},
    )
    override = AdvisoryOverride.objects.get(screening=draft)
    with pytest.raises(PermissionError):
        override.save()
    with pytest.raises(PermissionError):
        override.delete()
    with pytest.raises(PermissionError):
        AdvisoryOverride.objects.filter(pk=override.pk).update(reason="rewritten")
    if connection.vendor == "postgresql":
        for sql in ("UPDATE screening_advisoryoverride SET reason = 'rewritten' WHERE id = %s",
                    "DELETE FROM screening_advisoryoverride WHERE id = %s"):
            with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql, [override.pk])
    assert AdvisoryOverride.objects.get(pk=override.pk).reason == REASON


def test_an_amendment_without_a_reason_is_refused(clinician_client, clinician):
    final = final_for(clinician)
    response = clinician_client.post(reverse("screening:amend", args=[final.pk]), {"reason": " "})
    assert response.status_code == 200
    assert "Give the reason for amending this final screening." in text(response)
    assert not final.amendments.exists()


def test_an_amendment_shows_what_changed_since_the_previous_final_on_the_page_and_the_pdf(
    clinician_client, clinician, media_root
):
    final = final_for(clinician)
    response = clinician_client.post(
        reverse("screening:amend", args=[final.pk]), {"reason": "Blood pressure re-measured."},
    )
    amendment = final.amendments.get()
    assert response.status_code == 302 and amendment.amend_reason == "Blood pressure re-measured."
    services.screening_save_answers(screening=amendment, answers={**TRD_ELIGIBLE, "systolic_bp": 190})
    amendment.refresh_from_db()
    services.screening_finalise(screening=amendment, user=clinician)
    words = text(clinician_client.get(reverse("screening:summary", args=[amendment.pk])))
    assert "What changed since the previous final" in words
    assert "Why it was amended: Blood pressure re-measured." in words
    assert "120 mmHg 190 mmHg" in words
    assert "Treatment-resistant depression Meets screening criteria Not advised: exclusion present" in words
    pdf_text = " ".join(pages(download(clinician_client, amendment)))
    assert "What changed since the previous final" in pdf_text
    assert "120 mmHg 190 mmHg" in pdf_text
    assert "Meets screening criteria Not advised: exclusion present" in pdf_text
