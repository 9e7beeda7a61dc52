"""Authentication: Django's ModelBackend, reading the signed-in user faster."""

from functools import cache

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db import connection


class UserBackend(ModelBackend):
    """ModelBackend, but the user of each request is read in hand-written
    SQL: every signed-in page does it, and building that query through the
    ORM takes longer than the database takes to answer it. Signing in,
    permissions and everything else are ModelBackend's own."""

    def get_user(self, user_id):
        found = list(get_user_model()._default_manager.raw(_user_sql(), [user_id]))
        if not found:
            return None
        return found[0] if self.user_can_authenticate(found[0]) else None


@cache
def _user_sql() -> str:
    qn = connection.ops.quote_name
    meta = get_user_model()._meta
    columns = ", ".join(qn(field.column) for field in meta.concrete_fields)
    return f"SELECT {columns} FROM {qn(meta.db_table)} WHERE {qn(meta.pk.column)} = %s"
