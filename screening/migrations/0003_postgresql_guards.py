"""On PostgreSQL, the database itself refuses to change a final screening or
any audit event, whatever path the change comes from (raw SQL, a bulk
update, another application). Other databases rely on the model guards."""

from django.db import migrations

GUARDS = """
CREATE OR REPLACE FUNCTION ketascreen_refuse_final_change() RETURNS trigger AS $$
BEGIN
    IF OLD.status = 'final' THEN
        RAISE EXCEPTION 'screening % is final and cannot be changed', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER screening_final_is_immutable
    BEFORE UPDATE OR DELETE ON screening_screening
    FOR EACH ROW EXECUTE FUNCTION ketascreen_refuse_final_change();

CREATE OR REPLACE FUNCTION ketascreen_refuse_audit_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only'
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER auditevent_append_only
    BEFORE UPDATE OR DELETE ON screening_auditevent
    FOR EACH ROW EXECUTE FUNCTION ketascreen_refuse_audit_change();
"""

DROP_GUARDS = """
DROP TRIGGER IF EXISTS auditevent_append_only ON screening_auditevent;
DROP FUNCTION IF EXISTS ketascreen_refuse_audit_change();
DROP TRIGGER IF EXISTS screening_final_is_immutable ON screening_screening;
DROP FUNCTION IF EXISTS ketascreen_refuse_final_change();
"""


def add_guards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(GUARDS, params=None)


def drop_guards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_GUARDS, params=None)


class Migration(migrations.Migration):
    dependencies = [("screening", "0002_audit_event")]

    operations = [migrations.RunPython(add_guards, drop_guards)]
