"""What a final screening says cannot be rewritten underneath it: on
PostgreSQL the rulebook snapshots, the published rulebooks and every
history table of the knowledge base (django-simple-history) become
insert-only for the app role, as audit events and stored PDFs are (0009).

- Grants: the app role keeps SELECT and INSERT and loses UPDATE, DELETE and
  TRUNCATE on them. The history tables are found from the models, here and
  after every `migrate` (screening.apps), so a later history table is
  covered too.
- Triggers refuse UPDATE and DELETE of snapshots and published rulebooks to
  every role, the owner included, as 0003 does for audit events: a
  snapshot is what a final's summary and PDF say. (TRUNCATE, which `flush`
  uses to empty tables between tests, fires no row trigger; the app role
  may not TRUNCATE.)
On SQLite, and with one role doing everything, the grants are no-ops.
"""

from django.db import migrations

from config.database import app_role_append_only, history_tables

RECORD_TABLES = ["screening_rulebooksnapshot", "screening_publishedrulebook"]

GUARDS = """
CREATE OR REPLACE FUNCTION ketascreen_refuse_record_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% rows are part of the record and cannot be changed or deleted', TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
""" + "".join(f"""
CREATE TRIGGER {table}_append_only
    BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION ketascreen_refuse_record_change();
""" for table in RECORD_TABLES)

DROP_GUARDS = "".join(
    f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};\n" for table in RECORD_TABLES
) + "DROP FUNCTION IF EXISTS ketascreen_refuse_record_change();\n"


def guard(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(GUARDS, params=None)
    app_role_append_only(schema_editor.connection, RECORD_TABLES + history_tables(apps))


def unguard(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(DROP_GUARDS, params=None)
    app_role_append_only(schema_editor.connection, RECORD_TABLES + history_tables(apps), undo=True)


class Migration(migrations.Migration):
    dependencies = [
        ("screening", "0015_keyed_audit_chains"),
        ("conditions", "0007_criterion_when_and_basis_trial_count_retired_questions"),
    ]

    operations = [migrations.RunPython(guard, unguard)]
