"""Which audit events wait for the disk: reading a record is committed at
once without waiting for the write-ahead log to be flushed (PostgreSQL's
asynchronous commit); a change, and the event that records it, always
waits. Transactional, so that each request commits as it does in
production, and the knowledge base is loaded inside each test."""

import pytest
from django.db import DataError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from screening import services
from screening.audit import _insert_sql, audit
from screening.models import AuditAction, AuditEvent
from tests.answers import TRD_ELIGIBLE

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fresh_rulebook_cache", "quick_password_hashing"),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="asynchronous commit is PostgreSQL's"),
]


def synchronous_commit():
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


def audit_inserts(queries):
    return [q["sql"] for q in queries.captured_queries if q["sql"].startswith('INSERT INTO "screening_auditevent"')]


@pytest.fixture
def final(knowledge_base, clinician):
    draft = services.screening_create(
        owner=clinician, patient_reference="AC-1", year_of_birth=1980, conditions=["trd"], answers=TRD_ELIGIBLE,
    )
    return services.screening_finalise(screening=draft, user=clinician)


def test_a_view_and_a_download_are_committed_without_waiting_for_the_disk(final, clinician_client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    assert synchronous_commit() == "on"
    for name in ("screening:summary", "screening:pdf"):
        with CaptureQueriesContext(connection) as queries:
            assert clinician_client.get(reverse(name, args=[final.pk])).status_code == 200
        [insert] = audit_inserts(queries)
        assert "set_config('synchronous_commit', 'off', true)" in insert
        # Only that statement's own transaction: the connection, which the
        # next request reuses for its changes, still waits for the disk.
        assert synchronous_commit() == "on"
    events = AuditEvent.objects.filter(screening=final).order_by("id").values_list("action", "patient_reference")
    assert list(events)[-2:] == [(AuditAction.VIEWED, "AC-1"), (AuditAction.PDF_DOWNLOADED, "AC-1")]


def test_changes_and_their_events_wait_for_the_disk(knowledge_base, clinician, clinician_client):
    with CaptureQueriesContext(connection) as queries:
        created = clinician_client.post(reverse("screening:new"), {
            "patient_reference": "AC-2", "year_of_birth": "1980", "conditions": ["trd"],
        })
        assert created.status_code == 302
        screening = AuditEvent.objects.get(action=AuditAction.SCREENING_CREATED).screening
        assert clinician_client.post(
            reverse("screening:finalise", args=[screening.pk]), {"confirm": "on"}
        ).status_code == 302
    assert len(audit_inserts(queries)) == 2
    assert not any("synchronous_commit" in q["sql"] for q in queries.captured_queries)
    assert synchronous_commit() == "on"


def test_a_view_recorded_inside_a_larger_transaction_waits_with_it(final, clinician):
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        audit(AuditAction.VIEWED, user=clinician, screening=final)
        assert synchronous_commit() == "on"
    [insert] = audit_inserts(queries)
    assert "synchronous_commit" not in insert


def insert_unflushed(event):
    fields, _, unflushed = _insert_sql()
    with connection.cursor() as cursor:
        cursor.execute(unflushed, [f.get_db_prep_save(getattr(event, f.attname), connection) for f in fields])


def test_the_unflushed_statement_turns_off_only_the_flush_of_its_own_transaction(final, clinician):
    event = AuditEvent(at=timezone.now(), user=clinician, username="clinician", action=AuditAction.VIEWED,
                       screening=final, patient_reference="AC-1", ip_address="10.0.0.9")
    with transaction.atomic():
        insert_unflushed(event)
        assert synchronous_commit() == "off"
    assert synchronous_commit() == "on"
    stored = AuditEvent.objects.get(action=AuditAction.VIEWED, ip_address="10.0.0.9")
    assert (stored.at, stored.user, stored.screening, stored.patient_reference) == (
        event.at, clinician, final, "AC-1")


def test_the_unflushed_statement_refuses_a_value_too_long_as_the_plain_one_does(final, clinician):
    event = AuditEvent(at=timezone.now(), user=clinician, username="x" * 151, action=AuditAction.VIEWED,
                       screening=final, patient_reference="AC-1")
    with pytest.raises(DataError), transaction.atomic():
        insert_unflushed(event)
    assert not AuditEvent.objects.filter(username__startswith="xxx").exists()
