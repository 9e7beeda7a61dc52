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
