"""The audit trail is a hash chain: `manage.py verify_audit` finds any event
changed or removed, even by the table's owner, and concurrent writers never
fork the chain."""

import io
import threading

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction

from config.database import as_owner
from screening.audit import audit
from screening.models import AuditAction, AuditEvent
from tests.conftest import TEST_PASSWORD


def verify_audit():
    """(exit code, standard output, standard error) of `manage.py verify_audit`."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("verify_audit", stdout=out, stderr=err)
    except SystemExit as exit_:
        return exit_.code, out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def as_table_owner(sql, params=()):
    """Runs `sql` as the role that owns the tables (MIGRATE_DATABASE_URL on
    PostgreSQL: it may set the append-only trigger aside; the app role may
    not), committed: what someone with the owner's password could do."""
    with as_owner(), transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE screening_auditevent DISABLE TRIGGER auditevent_append_only")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE screening_auditevent ENABLE TRIGGER auditevent_append_only")


def some_events(client, user):
    """Five events written the way the app writes them: through HTTP."""
    client.post("/accounts/login/", {"username": user.username, "password": "wrong-password"})
    client.post("/accounts/login/", {"username": user.username, "password": TEST_PASSWORD})
    client.get("/screenings/999999/")
    client.post("/accounts/logout/")
    audit(AuditAction.KNOWLEDGE_BASE_CHANGED, user=user, object_type="criterion", object_key="trd-x")
    return list(AuditEvent.objects.order_by("id"))


@pytest.mark.django_db
def test_each_event_carries_the_hash_of_the_one_before(client, clinician):
    events = some_events(client, clinician)
    assert [event.action for event in events] == [
        "sign_in_failed", "sign_in", "access_denied", "sign_out", "knowledge_base_changed",
    ]
    assert events[0].previous_hash == ""
    assert [event.previous_hash for event in events[1:]] == [event.hash for event in events[:-1]]
    assert len({event.hash for event in events}) == 5


@pytest.mark.django_db
def test_verify_audit_passes_an_untouched_chain(client, clinician):
    some_events(client, clinician)
    assert verify_audit() == (0, "5 audit events verified: the chain is unbroken.\n", "")


@pytest.mark.django_db
def test_verify_audit_passes_an_empty_trail():
    assert verify_audit()[0] == 0


@pytest.mark.django_db(transaction=True)
def test_verify_audit_finds_an_event_the_owner_edited(client, clinician):
    events = some_events(client, clinician)
    as_table_owner("UPDATE screening_auditevent SET username = 'someone-else' WHERE id = %s", [events[1].pk])
    code, out, err = verify_audit()
    assert code == 1 and out == ""
    assert err.startswith(f"Broken link at audit event {events[1].pk} (")
    assert "its content does not match its hash" in err


@pytest.mark.django_db(transaction=True)
def test_verify_audit_finds_an_edit_whose_hash_was_made_again(client, clinician):
    events = some_events(client, clinician)
    edited = events[2]
    edited.username = "someone-else"
    as_table_owner("UPDATE screening_auditevent SET username = %s, hash = %s WHERE id = %s",
                   [edited.username, edited.content_hash(), edited.pk])
    code, _out, err = verify_audit()
    assert code == 1
    assert err.startswith(f"Broken link at audit event {events[3].pk} (")
    assert f"it does not follow event {edited.pk}" in err


@pytest.mark.django_db(transaction=True)
def test_verify_audit_finds_an_event_the_owner_deleted(client, clinician):
    events = some_events(client, clinician)
    as_table_owner("DELETE FROM screening_auditevent WHERE id = %s", [events[2].pk])
    code, _out, err = verify_audit()
    assert code == 1
    assert err.startswith(f"Broken link at audit event {events[3].pk} (")
    assert f"it does not follow event {events[1].pk}" in err


@pytest.mark.django_db(transaction=True)
def test_verify_audit_finds_events_deleted_from_the_end(client, clinician):
    events = some_events(client, clinician)
    as_table_owner("DELETE FROM screening_auditevent WHERE id >= %s", [events[3].pk])
    code, _out, err = verify_audit()
    assert code == 1
    assert f"Broken link after audit event {events[2].pk}" in err
    assert "events were removed from the end" in err


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_one_chain(clinician):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need a database that lets them write at once (PostgreSQL)")
    writers, each = 8, 10
    start = threading.Barrier(writers)
    failures = []

    def write():
        try:
            start.wait()
            for n in range(each):
                audit(AuditAction.KNOWLEDGE_BASE_CHANGED, username="writer", object_key=f"{n}")
        except Exception as error:  # reported below, in the test's thread
            failures.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    events = list(AuditEvent.objects.order_by("id"))
    assert len(events) == writers * each
    # one chain: no two events follow the same one
    assert len({event.previous_hash for event in events}) == len(events)
    assert verify_audit() == (0, f"{writers * each} audit events verified: the chain is unbroken.\n", "")
