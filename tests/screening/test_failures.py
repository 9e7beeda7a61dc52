"""A failure in the middle of saving leaves what was saved before intact."""

import pytest
from django.db import OperationalError

from screening import services
from screening.models import AdvisoryOverride, AuditEvent, ConditionOutcome, Screening
from tests.answers import TRD_ELIGIBLE
from tests.knowledge import raise_trd_threshold

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("module_knowledge_base"),
]


@pytest.fixture
def saved_draft(clinician):
    return services.screening_create(
        owner=clinician, patient_reference="FAIL-1", year_of_birth=None, conditions=["trd"],
        answers={"age": 45, "systolic_bp": 120},
    )


def the_audit_trail_goes_away(monkeypatch):
    """From now on every audit event fails to be written, as when the
    connection drops between the change and its event."""

    def database_goes_away(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(AuditEvent, "save", database_goes_away)


def stored():
    """Everything a change of a screening writes, as stored."""
    return (
        list(Screening.objects.order_by("id").values()),
        list(AdvisoryOverride.objects.values()),
        list(ConditionOutcome.objects.values()),
        AuditEvent.objects.count(),
    )


def test_database_failure_while_saving_keeps_the_previous_answers(
    client, clinician, saved_draft, trd_eligible_form, monkeypatch,
):
    client.force_login(clinician)
    client.raise_request_exception = False
    events_before = AuditEvent.objects.count()
    # The answers row is written first; the failure comes after, inside the
    # same transaction, as when the connection drops mid-request.
    the_audit_trail_goes_away(monkeypatch)
    response = client.post(f"/screenings/{saved_draft.pk}/questionnaire/", {
        **trd_eligible_form, "age": "50", "revision": saved_draft.revision, "action": "summary",
    })
    assert response.status_code == 500
    assert "nothing from it was saved" in response.content.decode()
    saved_draft.refresh_from_db()
    assert saved_draft.answers == {"age": 45, "systolic_bp": 120}
    assert saved_draft.revision == 1
    assert AuditEvent.objects.count() == events_before


def start(draft, final):
    return "/screenings/new/", {"patient_reference": "FAIL-2", "conditions": ["trd"], "start_anyway": "1"}


def autosave(draft, final):
    return f"/screenings/{draft.pk}/answers/", {"revision": draft.revision, "age": "50"}


def finalise(draft, final):
    return f"/screenings/{draft.pk}/finalise/", {
        "confirm": "on", "revision": draft.revision, "decision-trd": "do_not_proceed",
        "decision_reason-trd": "Prefers to wait.",
    }


def amend(draft, final):
    return f"/screenings/{final.pk}/amend/", {"reason": "A correction."}


def correct_details(draft, final):
    return f"/screenings/{draft.pk}/details/", {"patient_reference": "FAIL-3", "conditions": ["trd"]}


def discard(draft, final):
    return f"/screenings/{draft.pk}/discard/", {}


@pytest.mark.parametrize("change", [start, autosave, finalise, amend, correct_details, discard])
def test_a_change_whose_audit_event_cannot_be_written_is_not_stored(client, clinician, change, monkeypatch):
    draft = services.screening_create(
        owner=clinician, patient_reference="FAIL-1", year_of_birth=None, conditions=["trd"], answers=TRD_ELIGIBLE,
    )
    final = services.screening_finalise(
        screening=services.screening_create(
            owner=clinician, patient_reference="FAIL-0", year_of_birth=None, conditions=["trd"],
            answers=TRD_ELIGIBLE,
        ),
        user=clinician,
    )
    client.force_login(clinician)
    client.raise_request_exception = False
    before = stored()
    the_audit_trail_goes_away(monkeypatch)
    url, data = change(draft, final)
    response = client.post(url, data)
    assert response.status_code == 500
    assert stored() == before


def test_a_draft_is_not_evaluated_again_under_new_rules_unless_that_is_audited(client, clinician, monkeypatch):
    draft = services.screening_create(
        owner=clinician, patient_reference="FAIL-1", year_of_birth=None, conditions=["trd"], answers=TRD_ELIGIBLE,
    )
    raise_trd_threshold()
    client.force_login(clinician)
    client.raise_request_exception = False
    before = stored()
    the_audit_trail_goes_away(monkeypatch)
    assert client.get(f"/screenings/{draft.pk}/questionnaire/").status_code == 500
    assert stored() == before


def test_error_pages_are_styled_and_say_what_to_do(client, clinician, other_clinician):
    client.force_login(clinician)
    draft = services.screening_create(owner=other_clinician, patient_reference="OTHER-1", year_of_birth=None,
                                      conditions=["trd"])
    response = client.get(f"/screenings/{draft.pk}/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "Page not found" in body and "Back to screenings" in body
    assert "OTHER-1" not in body


def test_a_reader_who_is_not_the_owner_is_told_why_they_cannot_finalise(client, auditor, saved_draft):
    client.force_login(auditor)
    response = client.post(f"/screenings/{saved_draft.pk}/finalise/", {"confirm": "on"})
    assert response.status_code == 403
    assert "Only the clinician who started this screening" in response.content.decode()
    saved_draft.refresh_from_db()
    assert saved_draft.status == "draft"
