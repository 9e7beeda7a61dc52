"""Least privilege on PostgreSQL: when the app signs in as a role of its own
(DATABASE_URL) and migrations as the owner (MIGRATE_DATABASE_URL), the app
role may read and write rows and nothing more.

- SELECT, INSERT, UPDATE, DELETE on every table, now and (by default
  privileges) on every table later migrations create; no TRUNCATE, and as it
  owns nothing it cannot ALTER or DROP a table or switch a trigger off.
- Audit events and stored PDFs: SELECT and INSERT only, beside the triggers
  that refuse changes (0003, 0005), which row triggers cannot do for TRUNCATE
  or for a role that owns the table.
- The migration record: SELECT only, so the app role never migrates.
"""

from django.conf import settings
from django.db import migrations

GRANTS = """
GRANT USAGE ON SCHEMA {schema} TO {app};
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {app};
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {app};
ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app};
ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT USAGE, SELECT ON SEQUENCES TO {app};
REVOKE UPDATE, DELETE, TRUNCATE ON screening_auditevent, screening_storedpdf FROM {app};
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON django_migrations FROM {app};
"""

REVOKES = """
ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} REVOKE ALL ON TABLES FROM {app};
ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} REVOKE ALL ON SEQUENCES FROM {app};
REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {app};
REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {app};
"""


def _run(sql, schema_editor):
    connection = schema_editor.connection
    app_role = settings.DATABASE_ROLES.get("app", {}).get("USER") if settings.DATABASE_ROLES else None
    if connection.vendor != "postgresql" or not app_role or app_role == connection.settings_dict["USER"]:
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        (schema,) = cursor.fetchone()
    names = {"schema": schema_editor.quote_name(schema), "app": schema_editor.quote_name(app_role)}
    schema_editor.execute(sql.format(**names), params=None)


def grant_app_role(apps, schema_editor):
    _run(GRANTS, schema_editor)


def revoke_app_role(apps, schema_editor):
    _run(REVOKES, schema_editor)


class Migration(migrations.Migration):
    dependencies = [("screening", "0008_audit_chain")]

    operations = [migrations.RunPython(grant_app_role, revoke_app_role)]
