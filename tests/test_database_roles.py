"""On PostgreSQL the app signs in as a role that owns nothing
(DATABASE_URL) and migrations run as the owner (MIGRATE_DATABASE_URL): the
app role cannot rewrite history, whatever SQL it sends. The tests here run
as the app role, as the whole suite does."""

import os

import pytest
from django.conf import settings
from django.db import DatabaseError, connection, transaction

from screening import services
from screening.audit import audit
from screening.models import AuditAction, AuditEvent, Screening
from tests.answers import TRD_ELIGIBLE

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def two_roles():
    if connection.vendor != "postgresql":
        pytest.skip("the app and owner roles are PostgreSQL's; SQLite has no roles")
    if not settings.DATABASE_ROLES:
        reason = "MIGRATE_DATABASE_URL is not set, so one role owns everything"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + "; CI must test the app role (see .ci/run)")
        pytest.skip(reason)


def refused(sql, params=()):
    """Whether PostgreSQL refuses `sql` from the app role (rolled back either way)."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
            transaction.set_rollback(True)
    except DatabaseError:
        return True
    return False


def query(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def test_the_tests_run_as_the_app_role_which_owns_no_table():
    assert query("SELECT current_user") == [(settings.DATABASE_ROLES["app"]["USER"],)]
    owned = query("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tableowner = current_user")
    assert owned == []


@pytest.mark.parametrize("sql", [
    "TRUNCATE screening_auditevent",
    "TRUNCATE screening_screening CASCADE",
    "TRUNCATE screening_storedpdf",
    "ALTER TABLE screening_auditevent DISABLE TRIGGER auditevent_append_only",
    "ALTER TABLE screening_auditevent DISABLE TRIGGER ALL",
    "ALTER TABLE screening_screening DISABLE TRIGGER screening_final_is_immutable",
    "ALTER TABLE screening_storedpdf DISABLE TRIGGER storedpdf_is_immutable",
    "DROP TRIGGER auditevent_append_only ON screening_auditevent",
    "DROP TABLE screening_auditevent",
    "ALTER TABLE screening_auditevent ADD COLUMN note text",
])
def test_the_app_role_may_not_empty_alter_or_unguard_the_record(sql):
    assert refused(sql)


def test_the_app_role_may_add_audit_events_but_not_change_or_delete_them(clinician):
    event = audit(AuditAction.SIGN_IN, user=clinician)
    assert refused("UPDATE screening_auditevent SET username = 'someone-else' WHERE id = %s", [event.pk])
    assert refused("DELETE FROM screening_auditevent WHERE id = %s", [event.pk])
    privileges = {
        privilege: query("SELECT has_table_privilege('screening_auditevent', %s)", [privilege])[0][0]
        for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE")
    }
    assert privileges == {"SELECT": True, "INSERT": True, "UPDATE": False, "DELETE": False, "TRUNCATE": False}
    assert AuditEvent.objects.get(pk=event.pk).username == "clinician"


def test_stored_pdfs_are_as_closed_to_the_app_role_as_audit_events():
    for privilege in ("UPDATE", "DELETE", "TRUNCATE"):
        assert query("SELECT has_table_privilege('screening_storedpdf', %s)", [privilege]) == [(False,)]
    assert query("SELECT has_table_privilege('screening_storedpdf', 'INSERT')") == [(True,)]


def test_a_final_screening_cannot_be_changed_by_any_sql_the_app_role_may_run(knowledge_base, clinician):
    screening = services.screening_create(
        owner=clinician, patient_reference="PG-FINAL", year_of_birth=1980, conditions=["trd"],
        answers=TRD_ELIGIBLE,
    )
    services.screening_finalise(screening=screening, user=clinician)
    before = query("SELECT status, answers::text, revision FROM screening_screening WHERE id = %s", [screening.pk])
    attempts = [
        ("UPDATE screening_screening SET status = 'draft' WHERE id = %s", [screening.pk]),
        ("UPDATE screening_screening SET answers = '{}' WHERE id = %s", [screening.pk]),
        ("DELETE FROM screening_screening WHERE id = %s", [screening.pk]),
        ("TRUNCATE screening_screening CASCADE", []),
        ("ALTER TABLE screening_screening DISABLE TRIGGER ALL", []),
        ("ALTER TABLE screening_screening DISABLE TRIGGER screening_final_is_immutable", []),
        ("DROP TRIGGER screening_final_is_immutable ON screening_screening", []),
        ("ALTER TABLE screening_screening OWNER TO CURRENT_USER", []),
        ("CREATE OR REPLACE FUNCTION ketascreen_refuse_final_change() RETURNS trigger AS "
         "$$ BEGIN RETURN NEW; END; $$ LANGUAGE plpgsql", []),
        ("SET session_replication_role = replica", []),
        ("ALTER TABLE screening_screening RENAME TO screening_screening_old", []),
    ]
    for sql, params in attempts:
        assert refused(sql, params), sql
    after = query("SELECT status, answers::text, revision FROM screening_screening WHERE id = %s", [screening.pk])
    assert after == before and after[0][0] == "final"
    assert Screening.objects.get(pk=screening.pk).is_final


def test_a_draft_still_changes_as_the_app_role(knowledge_base, clinician):
    screening = services.screening_create(
        owner=clinician, patient_reference="PG-DRAFT", year_of_birth=1980, conditions=["trd"],
    )
    assert not refused("UPDATE screening_screening SET year_of_birth = 1970 WHERE id = %s", [screening.pk])


def record_tables():
    """The rulebook's snapshots and published versions, and every history
    table of the knowledge base, found from the models (a history table
    added later is checked too)."""
    from django.apps import apps

    from rulebook.models import PublishedRulebook, RulebookSnapshot

    history = [model for model in apps.get_models() if model.__name__.startswith("Historical")]
    assert len(history) >= 10  # sections, references, conditions, questions, criteria… and their links
    return [model._meta.db_table for model in (RulebookSnapshot, PublishedRulebook, *history)]


def test_the_rulebook_history_is_insert_only_for_the_app_role(knowledge_base):
    # Loading the knowledge base, as the app role, added history rows and published a version.
    assert query("SELECT count(*) FROM screening_publishedrulebook") == [(1,)]
    for table in record_tables():
        assert refused(f"UPDATE {table} SET id = id"), f"UPDATE {table}"
        assert refused(f"DELETE FROM {table}"), f"DELETE FROM {table}"
        assert refused(f"TRUNCATE {table} CASCADE"), f"TRUNCATE {table}"
        privileges = {
            privilege: query("SELECT has_table_privilege(%s, %s)", [table, privilege])[0][0]
            for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE")
        }
        assert privileges == {"SELECT": True, "INSERT": True, "UPDATE": False, "DELETE": False}, table


@pytest.mark.django_db(transaction=True)
def test_even_the_owner_cannot_change_a_snapshot_or_a_published_version(knowledge_base):
    from config.database import as_owner

    version = query("SELECT version, content FROM screening_rulebooksnapshot")
    for sql in ("UPDATE screening_rulebooksnapshot SET content = '{}'",
                "DELETE FROM screening_rulebooksnapshot",
                "UPDATE screening_publishedrulebook SET note = 'rewritten'",
                "DELETE FROM screening_publishedrulebook"):
        with as_owner():
            assert refused(sql), sql
    assert query("SELECT version, content FROM screening_rulebooksnapshot") == version
