"""The two PostgreSQL roles (see DATABASE_ROLES in config.settings): the app
role for everything the app does, the owner role for changing the schema
and emptying tables (`manage.py migrate` and `manage.py flush`)."""

from contextlib import contextmanager

from django.conf import settings
from django.db import connections


def use_role(name: str, alias: str = "default") -> None:
    """From now on the connection `alias` signs in as the role `name`
    ("owner" or "app"). Does nothing when one role does everything."""
    if not settings.DATABASE_ROLES or alias != "default":
        return
    connection = connections[alias]
    connection.close()
    connection.settings_dict.update(settings.DATABASE_ROLES[name])


def signed_in_as(name: str, alias: str = "default") -> bool:
    roles = settings.DATABASE_ROLES
    return bool(roles) and connections[alias].settings_dict["USER"] == roles[name]["USER"]


@contextmanager
def as_owner(alias: str = "default"):
    """Inside the block the connection `alias` signs in as the owner role,
    and afterwards as the app role again (both by a new connection)."""
    if not settings.DATABASE_ROLES or alias != "default" or signed_in_as("owner", alias):
        yield
        return
    use_role("owner", alias)
    try:
        yield
    finally:
        use_role("app", alias)


def app_role_append_only(connection, tables, *, undo=False) -> None:
    """On PostgreSQL, with an app role of its own, the app role may only
    read and add rows of `tables` (SELECT, INSERT): UPDATE, DELETE and
    TRUNCATE are revoked (`undo` grants UPDATE and DELETE back). Run as
    the owner, by migrations and after `migrate`; a no-op elsewhere."""
    app_role = settings.DATABASE_ROLES.get("app", {}).get("USER") if settings.DATABASE_ROLES else None
    if connection.vendor != "postgresql" or not app_role or app_role == connection.settings_dict["USER"]:
        return
    quote = connection.ops.quote_name
    names = ", ".join(quote(table) for table in tables)
    if not names:
        return
    with connection.cursor() as cursor:
        if undo:
            cursor.execute(f"GRANT UPDATE, DELETE ON {names} TO {quote(app_role)}")
        else:
            cursor.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON {names} FROM {quote(app_role)}")


def history_tables(apps) -> list[str]:
    """The tables of django-simple-history's models in `apps` (the app
    registry, or a migration's): a historical record (history_id,
    history_date, history_type) or a historical link (m2m_history_id)."""
    tables = []
    for model in apps.get_models():
        names = {field.name for field in model._meta.fields}
        if {"history_id", "history_date", "history_type"} <= names or "m2m_history_id" in names:
            tables.append(model._meta.db_table)
    return sorted(tables)
