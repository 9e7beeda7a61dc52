"""What the audit trail records: every page that shows a patient's
record, screenings saved by `screen` as by the web, and nothing twice."""

import json

import pytest
from django.urls import reverse

from screening import services
from screening.models import AuditAction, AuditEvent
from tests.answers import TRD_ELIGIBLE
from tests.screening.test_screen_command import TRD, screen

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("module_knowledge_base")]


def events(**filters):
    return list(AuditEvent.objects.filter(**filters).order_by("id").values(
        "action", "username", "screening", "patient_reference",
    ))


def test_comparing_a_final_with_the_current_rules_is_audited(clinician, clinician_client):
    draft = services.screening_create(
        owner=clinician, patient_reference="CMP-1", year_of_birth=None, conditions=["trd"], answers=TRD_ELIGIBLE,
    )
    final = services.screening_finalise(screening=draft, user=clinician)
    assert clinician_client.get(reverse("screening:compare", args=[final.pk])).status_code == 200
    assert events(action=AuditAction.COMPARED) == [
        {"action": "compared", "username": "clinician", "screening": final.pk, "patient_reference": "CMP-1"},
    ]


def test_screen_save_writes_the_same_screening_created_event_as_the_web(clinician, clinician_client):
    code, out, _err = screen("--save", "--user", "clinician", stdin=json.dumps(TRD))
    assert code == 0
    saved = json.loads(out)[0]["screening"]
    response = clinician_client.post(reverse("screening:new"), {"patient_reference": "A-1028", "conditions": ["trd"]})
    assert response.status_code == 302
    by_command, by_web = events(action=AuditAction.SCREENING_CREATED)
    assert by_command == {"action": "screening_created", "username": "clinician", "screening": saved,
                          "patient_reference": "A-1027"}
    assert by_web["action"] == by_command["action"] and by_web["username"] == by_command["username"]


def test_discarding_a_discarded_draft_changes_nothing_and_is_not_audited_again(clinician, clinician_client):
    draft = services.screening_create(
        owner=clinician, patient_reference="GONE-2", year_of_birth=None, conditions=["trd"],
    )
    url = reverse("screening:discard", args=[draft.pk])
    assert clinician_client.post(url).status_code == 302
    draft.refresh_from_db()
    discarded_at, revision = draft.discarded_at, draft.revision
    response = clinician_client.post(url)
    assert response.status_code == 302 and response["Location"] == reverse("screening:list")
    draft.refresh_from_db()
    assert (draft.discarded_at, draft.revision) == (discarded_at, revision)
    assert [e["action"] for e in events(screening=draft.pk)] == ["screening_created", "discarded"]


def test_with_auditing_switched_off_nothing_is_written(clinician, clinician_client, settings):
    """For measuring what auditing costs (bench/audit.py) only."""
    draft = services.screening_create(
        owner=clinician, patient_reference="OFF-1", year_of_birth=None, conditions=["trd"], answers=TRD_ELIGIBLE,
    )
    settings.AUDIT_ENABLED = False
    assert clinician_client.get(draft.get_absolute_url()).status_code == 200
    settings.AUDIT_ENABLED = True
    assert clinician_client.get(draft.get_absolute_url()).status_code == 200
    assert [e["action"] for e in events(screening=draft.pk)] == ["screening_created", "viewed"]
