"""Sign-in, sessions, headers and the audit trail."""

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from conditions.models import Criterion
from screening import services
from screening.models import AuditAction, AuditEvent, Screening
from screening.services import screening_create, screening_finalise
from tests.conftest import TEST_PASSWORD
from tests.markup import parse

pytestmark = pytest.mark.django_db
on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="database triggers exist on PostgreSQL only"
)


def sign_in(client, username, password, address="10.0.0.7"):
    return client.post(
        "/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=address
    )


def test_sign_in_and_failure_are_audited_with_address(client, clinician):
    assert sign_in(client, "clinician", "wrong-password").status_code == 200
    assert sign_in(client, "clinician", TEST_PASSWORD).status_code == 302
    failed, succeeded = AuditEvent.objects.order_by("id")
    assert (failed.action, failed.username, failed.user, failed.ip_address) == (
        AuditAction.SIGN_IN_FAILED, "clinician", None, "10.0.0.7")
    assert (succeeded.action, succeeded.user, succeeded.ip_address) == (
        AuditAction.SIGN_IN, clinician, "10.0.0.7")


def test_five_failures_lock_the_username_from_that_address_for_fifteen_minutes(client, clinician):
    for _ in range(4):
        response = sign_in(client, "clinician", "wrong-password")
        assert "Please enter a correct username and password" in response.content.decode()
    fifth = sign_in(client, "clinician", "wrong-password")
    assert fifth.status_code == 429
    # now even the right password is refused, with a clear message
    locked = sign_in(client, "clinician", TEST_PASSWORD)
    assert locked.status_code == 429
    assert "refused for 15 minutes" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    # another address is not locked out for that username
    assert sign_in(client, "clinician", TEST_PASSWORD, address="10.0.0.8").status_code == 302


def test_lockout_ends_after_the_cool_off(client, clinician, settings):
    for _ in range(5):
        sign_in(client, "clinician", "wrong-password")
    settings.AXES_COOLOFF_TIME = timedelta(seconds=0)
    assert sign_in(client, "clinician", TEST_PASSWORD).status_code == 302


def test_passwords_are_hashed_with_argon2(settings, django_user_model):
    from config import settings as production

    settings.PASSWORD_HASHERS = production.PASSWORD_HASHERS
    user = django_user_model.objects.create_user("new-clinician", password="a-long-passphrase-77")
    assert user.password.startswith("argon2")


def test_short_or_common_passwords_are_refused():
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    for weak in ["short1", "password1234", "123456789012"]:
        with pytest.raises(ValidationError):
            validate_password(weak)


def test_session_ends_after_thirty_idle_minutes(client, clinician, settings):
    assert settings.SESSION_COOKIE_AGE == 30 * 60
    client.force_login(clinician)
    assert client.get("/screenings/").status_code == 200
    session = Session.objects.get(session_key=client.session.session_key)
    assert session.expire_date > timezone.now() + timedelta(minutes=29)
    Session.objects.filter(pk=session.pk).update(expire_date=timezone.now() - timedelta(seconds=1))
    # The cached copy expires with the session (cached_db gives it the
    # session's age as its timeout).
    cache.delete(client.session.cache_key)
    response = client.get("/screenings/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_activity_moves_the_session_expiry_on(client, clinician, settings):
    settings.SESSION_REFRESH_SECONDS = 0
    client.force_login(clinician)
    key = client.session.session_key
    Session.objects.filter(pk=key).update(expire_date=timezone.now() + timedelta(minutes=2))
    client.get("/screenings/")
    assert Session.objects.get(pk=key).expire_date > timezone.now() + timedelta(minutes=29)


@pytest.mark.parametrize("background", [False, True], ids=["by the clinician", "in the background"])
def test_only_the_clinicians_own_saves_move_the_session_expiry_on(client, clinician, knowledge_base, settings, background):
    # The questionnaire marks a save no one asked for just then (after the
    # focus moved, say); an unattended screen must still sign out.
    settings.SESSION_REFRESH_SECONDS = 0
    client.force_login(clinician)
    draft = screening_create(owner=clinician, patient_reference="IDLE-1", year_of_birth=None, conditions=["trd"], answers={})
    key = client.session.session_key
    Session.objects.filter(pk=key).update(expire_date=timezone.now() + timedelta(minutes=2))
    response = client.post(
        f"/screenings/{draft.pk}/answers/", {"revision": draft.revision, "age": "52"},
        headers={"X-KetaScreen-Background": "1"} if background else {},
    )
    assert response.status_code == 200
    assert Screening.objects.get(pk=draft.pk).answers == {"age": 52}
    moved = Session.objects.get(pk=key).expire_date > timezone.now() + timedelta(minutes=29)
    assert moved is not background


def test_pages_carry_security_headers(client):
    response = client.get("/accounts/login/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "default-src 'self'" in policy
    assert "unsafe-inline" not in policy and "http" not in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_no_inline_scripts_in_base_pages(client):
    page = parse(client.get("/accounts/login/").content)
    assert page.select("script")
    assert [script.attributes for script in page.select("script") if not script.get("src")] == []
    assert [script.text() for script in page.select("script") if script.text()] == []
    handlers = [(element.tag, name) for element in page.select("*") for name in element.attributes
                if name.lower().startswith("on")]
    assert handlers == []


def test_audit_events_cannot_be_changed_or_deleted(clinician):
    event = AuditEvent.objects.create(user=clinician, username="clinician", action=AuditAction.SIGN_IN)
    event.username = "someone-else"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).update(username="x")
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(pk=event.pk).username == "clinician"


@on_postgresql
def test_database_refuses_raw_changes_to_audit_events(clinician):
    event = AuditEvent.objects.create(user=clinician, username="clinician", action=AuditAction.SIGN_IN)
    for sql in ["UPDATE screening_auditevent SET username = 'x' WHERE id = %s",
                "DELETE FROM screening_auditevent WHERE id = %s"]:
        # refused by the app role's privileges, and by the trigger behind them
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [event.pk])
    assert AuditEvent.objects.filter(pk=event.pk, username="clinician").exists()


@on_postgresql
def test_database_refuses_raw_changes_to_a_final_screening(knowledge_base, clinician):
    screening = screening_create(owner=clinician, patient_reference="PG-1", year_of_birth=None,
                                 conditions=["trd"])
    with connection.cursor() as cursor:  # a draft may still change
        cursor.execute("UPDATE screening_screening SET year_of_birth = 1970 WHERE id = %s", [screening.pk])
    screening_finalise(screening=screening, user=clinician, reason="Finalised as it stands for this test.")
    for sql in ["UPDATE screening_screening SET answers = '{}' WHERE id = %s",
                "DELETE FROM screening_screening WHERE id = %s"]:
        with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [screening.pk])
    assert Screening.objects.get(pk=screening.pk).status == "final"


def test_knowledge_base_edits_are_audited_with_the_editor_and_history(knowledge_base, lead_client, lead):
    criterion = Criterion.objects.get(key="trd-phq9-require")
    history_before = criterion.history.count()
    response = lead_client.post(f"/admin/conditions/criterion/{criterion.pk}/change/", {
        "key": criterion.key, "question": criterion.question_id, "operator": "gte", "value": "12",
        "effect": "require", "message": criterion.message, "order": criterion.order, "active": "on",
        "conditions": [c.pk for c in criterion.conditions.all()],
        "references": [r.pk for r in criterion.references.all()],
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    event = AuditEvent.objects.filter(action=AuditAction.KNOWLEDGE_BASE_CHANGED).latest("id")
    assert (event.user, event.object_type, event.object_key) == (lead, "criterion", "trd-phq9-require")
    assert criterion.history.count() > history_before
    assert criterion.history.filter(history_id=event.history_id, history_user=lead).exists()


def test_audit_trail_is_read_only_in_the_admin_even_for_superusers(admin_client, admin_user):
    event = AuditEvent.objects.create(user=admin_user, username="admin", action=AuditAction.SIGN_IN)
    listing = admin_client.get("/admin/screening/auditevent/?action=sign_in")
    assert listing.status_code == 200 and "Signed in" in listing.content.decode()
    assert admin_client.get("/admin/screening/auditevent/add/").status_code == 403
    assert admin_client.post(f"/admin/screening/auditevent/{event.pk}/change/", {"username": "x"}).status_code == 403
    assert admin_client.post(f"/admin/screening/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk, username="admin").exists()


def test_answers_never_reach_the_audit_trail(knowledge_base, clinician):
    screening_create(owner=clinician, patient_reference="AUD-1", year_of_birth=None, conditions=["trd"],
                     answers={"age": 45, "suicidal_ideation": "active_plan"})
    for event in AuditEvent.objects.values():
        assert "active_plan" not in str(event)


def test_a_final_screening_cannot_be_saved_or_deleted_through_the_model(knowledge_base, clinician):
    from screening.models import FinalScreeningError

    screening = screening_create(owner=clinician, patient_reference="FIN-1", year_of_birth=None,
                                 conditions=["trd"])
    final = screening_finalise(screening=screening, user=clinician, reason="Finalised as it stands for this test.")
    stale_copy = Screening.objects.get(pk=final.pk)
    stale_copy.status = "draft"  # even an instance that claims to be a draft
    stale_copy.answers = {"age": 17}
    with pytest.raises(FinalScreeningError):
        stale_copy.save()
    with pytest.raises(FinalScreeningError):
        final.delete()
    # A caller that carries on after a service fails wraps the call in an
    # atomic block of its own (services make no savepoint of their own).
    with pytest.raises(FinalScreeningError), transaction.atomic():
        services.screening_save_answers(screening=final, answers={"age": 17})
    assert Screening.objects.get(pk=final.pk).answers == {}


def test_screenings_are_read_only_in_the_admin(knowledge_base, admin_client, clinician):
    screening = screening_create(owner=clinician, patient_reference="ADM-1", year_of_birth=None,
                                 conditions=["trd"])
    screening_finalise(screening=screening, user=clinician, reason="Finalised as it stands for this test.")
    assert admin_client.get("/admin/screening/screening/").status_code == 200
    change = admin_client.post(f"/admin/screening/screening/{screening.pk}/change/", {"patient_reference": "X"})
    assert change.status_code == 403
    delete = admin_client.post(f"/admin/screening/screening/{screening.pk}/delete/", {"post": "yes"})
    assert delete.status_code == 403
    assert Screening.objects.get(pk=screening.pk).patient_reference == "ADM-1"


# --- client addresses behind the reverse proxy ----------------------------------------


@pytest.fixture
def trusted_proxies(settings):
    """Sets TRUSTED_PROXY_COUNT as the environment would: django-axes' ipware
    settings, which the audit trail reads too."""
    from config.settings import ipware_settings

    def trust(count):
        settings.TRUSTED_PROXY_COUNT = count
        for name, value in ipware_settings(count).items():
            setattr(settings, name, value)

    return trust


def sign_in_through_proxy(client, username, password, forwarded_for):
    """A sign-in as one reverse proxy (at 127.0.0.1) passes it on."""
    return client.post("/accounts/login/", {"username": username, "password": password},
                       REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=forwarded_for)


def test_behind_one_proxy_a_lockout_is_per_client_address(client, clinician, trusted_proxies):
    trusted_proxies(1)
    for attempt in range(6):  # six failures, each from an address of its own
        response = sign_in_through_proxy(client, "clinician", "wrong-password", f"198.51.100.{attempt + 1}")
        assert response.status_code == 200
    # the clinician, at their own desk, is not locked out by anyone else's failures
    assert sign_in_through_proxy(client, "clinician", TEST_PASSWORD, "10.20.0.5").status_code == 302
    client.logout()
    for _ in range(5):
        sign_in_through_proxy(client, "clinician", "wrong-password", "198.51.100.9")
    locked = sign_in_through_proxy(client, "clinician", TEST_PASSWORD, "198.51.100.9")
    assert locked.status_code == 429
    assert sign_in_through_proxy(client, "clinician", TEST_PASSWORD, "10.20.0.5").status_code == 302
    addresses = AuditEvent.objects.filter(action=AuditAction.SIGN_IN_FAILED).values_list("ip_address", flat=True)
    assert set(addresses) == {f"198.51.100.{n}" for n in (1, 2, 3, 4, 5, 6, 9)}


def test_behind_one_proxy_what_a_client_writes_into_the_header_is_not_believed(
    client, clinician, trusted_proxies
):
    trusted_proxies(1)
    for n in range(5):  # the proxy adds the address it saw after whatever the client sent
        sign_in_through_proxy(client, "clinician", "wrong-password", f"203.0.113.{n}, 198.51.100.7")
    assert sign_in_through_proxy(client, "clinician", TEST_PASSWORD, "203.0.113.99, 198.51.100.7").status_code == 429
    failed = AuditEvent.objects.filter(action=AuditAction.SIGN_IN_FAILED)
    assert set(failed.values_list("ip_address", flat=True)) == {"198.51.100.7"}


def test_with_no_trusted_proxy_the_forwarded_header_is_ignored(client, clinician, trusted_proxies):
    trusted_proxies(0)
    for attempt in range(5):
        sign_in_through_proxy(client, "clinician", "wrong-password", f"198.51.100.{attempt + 1}")
    # every attempt came from 127.0.0.1, whatever the header said
    assert sign_in_through_proxy(client, "clinician", TEST_PASSWORD, "10.20.0.5").status_code == 429
    failed = AuditEvent.objects.filter(action=AuditAction.SIGN_IN_FAILED)
    assert set(failed.values_list("ip_address", flat=True)) == {"127.0.0.1"}


def test_a_lockout_is_audited_once_when_it_begins(client, clinician):
    for _ in range(7):
        sign_in(client, "clinician", "wrong-password")
    events = AuditEvent.objects.order_by("id")
    assert [event.action for event in events].count(AuditAction.LOCKED_OUT) == 1
    locked_out = events.get(action=AuditAction.LOCKED_OUT)
    assert (locked_out.username, locked_out.ip_address) == ("clinician", "10.0.0.7")
    assert events.filter(action=AuditAction.SIGN_IN_FAILED).count() == 7


# --- refusals are part of the record --------------------------------------------------


@pytest.mark.parametrize("page", ["", "questionnaire/", "pdf/"])
def test_asking_for_another_clinicians_screening_is_audited_as_access_denied(
    knowledge_base, client, clinician, other_clinician, page
):
    theirs = screening_create(owner=other_clinician, patient_reference="THEIRS-1", year_of_birth=None,
                              conditions=["trd"])
    client.force_login(clinician)
    response = client.get(f"/screenings/{theirs.pk}/{page}", REMOTE_ADDR="10.0.0.7")
    assert response.status_code == 404
    refusal = AuditEvent.objects.get(action=AuditAction.ACCESS_DENIED)
    assert (refusal.username, refusal.object_key, refusal.screening_id, refusal.patient_reference,
            refusal.ip_address) == ("clinician", str(theirs.pk), theirs.pk, "THEIRS-1", "10.0.0.7")
    assert not AuditEvent.objects.filter(action=AuditAction.VIEWED).exists()


def test_asking_for_a_screening_that_does_not_exist_is_audited_with_the_id_asked_for(clinician_client):
    assert clinician_client.get("/screenings/424242/").status_code == 404
    refusal = AuditEvent.objects.get(action=AuditAction.ACCESS_DENIED)
    assert (refusal.username, refusal.object_key, refusal.screening_id) == ("clinician", "424242", None)


def test_a_reader_refused_a_change_is_audited_as_access_denied(knowledge_base, client, auditor, other_clinician):
    theirs = screening_create(owner=other_clinician, patient_reference="THEIRS-2", year_of_birth=None,
                              conditions=["trd"])
    client.force_login(auditor)
    assert client.post(f"/screenings/{theirs.pk}/finalise/", {"confirm": "on"}).status_code == 403
    refusal = AuditEvent.objects.get(action=AuditAction.ACCESS_DENIED)
    assert (refusal.username, refusal.object_key) == ("auditor", str(theirs.pk))
    assert not Screening.objects.get(pk=theirs.pk).is_final
