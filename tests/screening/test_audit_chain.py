"""The audit trail is keyed hash chains: `manage.py verify_audit` finds any
event changed, removed, back-dated or rewritten without the key, even by the
table's owner, reports each break in one line and never crashes; concurrent
writers never fork a chain, nor wait for each other's chain."""

import io
import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection, connections, transaction

from config.database import as_owner
from screening.audit import audit, seal_unkeyed_chain
from screening.models import AuditAction, AuditChainHead, AuditEvent
from tests.conftest import TEST_PASSWORD


def verify_audit(*args):
    """(exit code, standard output, standard error) of `manage.py verify_audit`."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("verify_audit", *args, stdout=out, stderr=err)
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


def breaks(err):
    """The breaks verify_audit reported: its lines but the closing count."""
    lines = err.splitlines()
    assert lines[-1].endswith(" audit events."), err
    return lines[:-1]


def move_head(chain, event):
    """Point a chain's head at `event`, as whoever rewrote the chain would."""
    AuditChainHead.objects.filter(chain=chain).update(last_event_id=event.pk, last_hash=event.hash)


@pytest.mark.django_db
def test_each_event_carries_the_keyed_hash_of_the_one_before_in_its_chain(client, clinician):
    events = some_events(client, clinician)
    assert [event.action for event in events] == [
        "sign_in_failed", "sign_in", "access_denied", "sign_out", "knowledge_base_changed",
    ]
    # one thread writing one after another stays on one chain
    assert len({event.chain for event in events}) == 1
    assert events[0].previous_hash == ""
    assert [event.previous_hash for event in events[1:]] == [event.hash for event in events[:-1]]
    assert {event.key_id for event in events} == {settings.AUDIT_KEY_ID}
    assert all(event.hash == event.keyed_hash(settings.AUDIT_KEYS[settings.AUDIT_KEY_ID]) for event in events)
    # a plain SHA-256 of the same content is not what is stored
    assert all(event.hash != event.content_hash() for event in events)
    assert [event.at for event in events] == sorted(event.at for event in events)


@pytest.mark.django_db
def test_verify_audit_passes_an_untouched_trail_and_prints_its_anchor(client, clinician):
    events = some_events(client, clinician)
    code, out, err = verify_audit()
    assert (code, err) == (0, "")
    assert out == (
        "5 audit events verified in 1 chain: the trail is unbroken.\n"
        f"Anchor: {events[-1].pk}:{events[-1].hash}\n"
    )


@pytest.mark.django_db
def test_verify_audit_passes_an_empty_trail():
    assert verify_audit() == (0, "0 audit events verified in 0 chains: the trail is unbroken.\n", "")


@pytest.mark.django_db
def test_an_anchor_checks_later_while_the_events_it_names_are_there(client, clinician):
    some_events(client, clinician)
    anchor = verify_audit()[1].splitlines()[-1].removeprefix("Anchor: ")
    audit(AuditAction.SIGN_IN, user=clinician)
    code, out, _err = verify_audit("--anchor", anchor)
    assert code == 0
    assert "The anchor's 1 event(s) are still there, unchanged." in out


@pytest.mark.django_db(transaction=True)
def test_an_anchor_finds_its_event_removed_even_when_the_chain_was_cut_back_to_it(client, clinician):
    events = some_events(client, clinician)
    anchor = verify_audit()[1].splitlines()[-1].removeprefix("Anchor: ")
    # the last event removed and the head moved back: the chain itself looks whole
    as_table_owner("DELETE FROM screening_auditevent WHERE id = %s", [events[-1].pk])
    move_head(events[-1].chain, events[-2])
    assert verify_audit()[0] == 0
    code, _out, err = verify_audit("--anchor", anchor)
    assert code == 1
    assert breaks(err) == [
        f"The anchor's event {events[-1].pk} is not in the audit trail: it was removed since the anchor was taken."
    ]


@pytest.mark.django_db
def test_an_anchor_that_cannot_be_read_is_a_clear_error():
    with pytest.raises(Exception, match="expected EVENT:HASH"):
        call_command("verify_audit", "--anchor", "12:not-a-hash", stdout=io.StringIO(), stderr=io.StringIO())


@pytest.mark.django_db(transaction=True)
def test_verify_audit_finds_an_event_the_owner_edited(client, clinician):
    events = some_events(client, clinician)
    as_table_owner("UPDATE screening_auditevent SET username = 'someone-else' WHERE id = %s", [events[1].pk])
    code, out, err = verify_audit()
    assert code == 1 and out == ""
    [problem] = breaks(err)
    assert problem.startswith(f"Broken trail at audit event {events[1].pk} (")
    assert "its content does not match its keyed hash" in problem


@pytest.mark.django_db(transaction=True)
def test_verify_audit_finds_an_unkeyed_rewrite_and_rehash(client, clinician):
    events = some_events(client, clinician)
    # From the third event on, rewritten and chained again with plain
    # SHA-256, the head moved on: every link holds, but without the key.
    previous = events[1].hash
    for event in events[2:]:
        event.username, event.previous_hash = "someone-else", previous
        event.hash = previous = event.content_hash()
        as_table_owner("UPDATE screening_auditevent SET username = %s, previous_hash = %s, hash = %s WHERE id = %s",
                       [event.username, event.previous_hash, event.hash, event.pk])
    move_head(events[0].chain, events[-1])
    code, _out, err = verify_audit()
    assert code == 1
    assert breaks(err) == [
        f"Broken trail from audit event {events[2].pk} ({describe_time(events[2])}, access_denied) to event "
        f"{events[-1].pk} in chain {events[0].chain}: the content of these 3 events does not match their keyed "
        "hashes: they were rewritten without the key."
    ]


@pytest.mark.django_db
def test_verify_audit_finds_a_back_dated_insert(client, clinician):
    """Even with the key (a compromised app host), an event slipped into a
    chain with an earlier time than the one it follows is found."""
    events = some_events(client, clinician)
    last = events[-1]
    forged = AuditEvent(
        at=events[0].at - timedelta(hours=1), action=AuditAction.FINALISED, username="clinician",
        chain=last.chain, key_id=settings.AUDIT_KEY_ID, previous_hash=last.hash,
    )
    forged.hash = forged.keyed_hash(settings.AUDIT_KEYS[settings.AUDIT_KEY_ID])
    forged.save(force_insert=True)
    move_head(last.chain, forged)
    code, _out, err = verify_audit()
    assert code == 1
    [problem] = breaks(err)
    assert problem.startswith(f"Time goes backwards at audit event {forged.pk} (")
    assert f"it is dated before event {last.pk}, which it follows in chain {last.chain}" in problem


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("which", ["first", "middle", "last"])
def test_verify_audit_finds_a_deleted_event_with_one_message(client, clinician, which):
    events = some_events(client, clinician)
    index = {"first": 0, "middle": 2, "last": 4}[which]
    as_table_owner("DELETE FROM screening_auditevent WHERE id = %s", [events[index].pk])
    code, out, err = verify_audit()
    assert code == 1 and out == ""
    [problem] = breaks(err)
    if which == "first":
        assert problem.startswith(f"Broken link at audit event {events[1].pk} (")
        assert f"it does not start chain {events[0].chain}: the events before it were removed" in problem
    elif which == "middle":
        assert problem.startswith(f"Broken link at audit event {events[3].pk} (")
        assert f"it does not follow event {events[1].pk} in chain {events[0].chain}" in problem
    else:
        assert problem == (
            f"Broken link after audit event {events[3].pk} in chain {events[0].chain}: the chain's head records "
            f"a later event ({events[4].pk}), so events were removed from the end."
        )


@pytest.mark.django_db(transaction=True)
def test_verify_audit_reports_every_break_not_only_the_first(client, clinician):
    events = some_events(client, clinician)
    as_table_owner("UPDATE screening_auditevent SET username = 'someone-else' WHERE id = %s", [events[0].pk])
    as_table_owner("DELETE FROM screening_auditevent WHERE id = %s", [events[3].pk])
    code, _out, err = verify_audit()
    assert code == 1
    problems = breaks(err)
    assert len(problems) == 2
    assert str(events[0].pk) in problems[0] and str(events[4].pk) in problems[1]


@pytest.mark.django_db
def test_events_made_with_a_key_no_longer_held_are_reported_not_crashed_on(client, clinician, settings):
    some_events(client, clinician)
    settings.AUDIT_KEYS = {"k2": b"another-key-" + b"x" * 30}
    settings.AUDIT_KEY_ID = "k2"
    code, _out, err = verify_audit()
    assert code == 1
    assert breaks(err) == [
        "5 audit event(s) were made with the key 'dev', which AUDIT_KEYS does not hold: add that key "
        "(old keys stay listed after a rotation) to check them."
    ]


@pytest.mark.django_db
def test_after_a_key_rotation_old_and_new_events_verify_with_their_own_keys(client, clinician, settings):
    some_events(client, clinician)
    settings.AUDIT_KEYS = {**settings.AUDIT_KEYS, "k2": b"the-next-key-" + b"y" * 30}
    settings.AUDIT_KEY_ID = "k2"
    newer = audit(AuditAction.SIGN_IN, user=clinician)
    assert newer.key_id == "k2"
    code, out, _err = verify_audit()
    assert code == 0 and out.startswith("6 audit events verified")


def unkeyed_events(count):
    """`count` events as they were written before the audit key: one chain
    of plain SHA-256 hashes with its head row."""
    previous, events = "", []
    for n in range(count):
        event = AuditEvent(at=datetime_at(n), action=AuditAction.SIGN_IN, username=f"user-{n}", previous_hash=previous)
        event.hash = previous = event.content_hash()
        event.save(force_insert=True)
        events.append(event)
    AuditChainHead.objects.create(chain=None, last_event_id=events[-1].pk, last_hash=previous)
    return events


def datetime_at(n):
    from datetime import UTC, datetime

    return datetime(2026, 11, 1, 9, n, tzinfo=UTC)


def describe_time(event):
    from django.utils import timezone

    return timezone.localtime(event.at).strftime("%Y-%m-%d %H:%M:%S %Z")


@pytest.mark.django_db
def test_unkeyed_events_are_sealed_by_a_keyed_event_and_the_chains_go_on_from_it(client, clinician):
    old = unkeyed_events(3)
    seal = seal_unkeyed_chain(AuditEvent, AuditChainHead)
    assert seal.action == AuditAction.KEY_INTRODUCED and seal.key_id == settings.AUDIT_KEY_ID
    assert seal.previous_hash == old[-1].hash
    new = some_events(client, clinician)[4:]
    assert new[0].previous_hash == seal.hash
    code, out, err = verify_audit()
    assert (code, err) == (0, "")
    assert out.startswith("9 audit events verified in 1 chain: the trail is unbroken.\n")


@pytest.mark.django_db(transaction=True)
def test_the_unkeyed_part_is_still_checked_as_before(client, clinician):
    old = unkeyed_events(3)
    seal_unkeyed_chain(AuditEvent, AuditChainHead)
    some_events(client, clinician)
    as_table_owner("UPDATE screening_auditevent SET username = 'someone-else' WHERE id = %s", [old[1].pk])
    as_table_owner("DELETE FROM screening_auditevent WHERE id = %s", [old[2].pk])
    code, _out, err = verify_audit()
    assert code == 1
    first, second = breaks(err)
    assert first.startswith(f"Broken link at audit event {old[1].pk} (")
    assert "its content does not match its hash" in first
    assert f"the seal does not follow the last unkeyed event ({old[1].pk})" in second


@pytest.mark.django_db(transaction=True)
def test_removing_the_seal_leaves_the_unkeyed_events_reported(client, clinician):
    old = unkeyed_events(2)
    seal = seal_unkeyed_chain(AuditEvent, AuditChainHead)
    as_table_owner("DELETE FROM screening_auditevent WHERE id = %s", [seal.pk])
    code, _out, err = verify_audit()
    assert code == 1
    unsealed, heads = breaks(err)
    assert unsealed.startswith(f"Broken trail at audit event {old[0].pk} (")
    assert "it and 1 later event(s) have no key, and no \"key introduced\" event seals them" in unsealed
    assert heads == (
        f"Chains 0, 1, 2, 3, 4, 5, 6, 7: the head records event {seal.pk}, but the chain has no events: "
        "they were removed."
    )


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_every_chain_whole(clinician):
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
    # no two events of a chain follow the same one
    assert len({(event.chain, event.previous_hash) for event in events}) == len(events)
    code, out, err = verify_audit()
    assert (code, err) == (0, "")
    assert out.startswith(f"{writers * each} audit events verified in ")


@pytest.mark.django_db(transaction=True)
def test_a_writer_does_not_wait_for_another_transaction_holding_a_chain(clinician):
    """An append holds its chain's head until its transaction ends; a second
    writer meanwhile appends to another chain instead of queueing."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's")
    holding, release, done = threading.Event(), threading.Event(), threading.Event()
    failures = []

    def hold():
        try:
            with transaction.atomic():
                audit(AuditAction.SIGN_IN, user=clinician)
                holding.set()
                release.wait(30)
        except Exception as error:
            failures.append(error)
        finally:
            connections.close_all()

    def append():
        try:
            audit(AuditAction.SIGN_OUT, user=clinician)
            done.set()
        except Exception as error:
            failures.append(error)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(30)
    writer = threading.Thread(target=append)
    writer.start()
    appended = done.wait(10)
    release.set()
    holder.join()
    writer.join()
    assert failures == []
    assert appended, "the second writer waited for the first one's transaction"
    first, second = AuditEvent.objects.order_by("id")
    assert first.chain != second.chain
    assert verify_audit()[0] == 0


@pytest.mark.django_db(transaction=True)
def test_when_every_chain_is_held_a_writer_waits_for_its_own_and_chains_after_it(clinician):
    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's")
    from screening.audit import CHAINS

    release, failures, holders = threading.Event(), [], []

    def hold(holding):
        try:
            with transaction.atomic():
                audit(AuditAction.SIGN_IN, user=clinician)
                holding.set()
                release.wait(60)
        except Exception as error:
            failures.append(error)
        finally:
            connections.close_all()

    for _ in range(CHAINS):  # one after another: each takes a chain nobody holds
        holding = threading.Event()
        holders.append(threading.Thread(target=hold, args=(holding,)))
        holders[-1].start()
        assert holding.wait(30)
    done = threading.Event()

    def append():
        try:
            audit(AuditAction.SIGN_OUT, user=clinician)
            done.set()
        except Exception as error:
            failures.append(error)
        finally:
            connections.close_all()

    writer = threading.Thread(target=append)
    writer.start()
    waited = not done.wait(2)
    release.set()
    for thread in [*holders, writer]:
        thread.join()
    assert failures == [] and waited
    last = AuditEvent.objects.order_by("id").last()
    before = AuditEvent.objects.filter(chain=last.chain).exclude(pk=last.pk).get()
    assert last.previous_hash == before.hash and last.at >= before.at
    assert verify_audit()[0] == 0
