"""Authentication: Django's ModelBackend, reading the signed-in user faster."""

from functools import cache

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError
from django.db import connection

from config import rows


class UserBackend(ModelBackend):
    """ModelBackend, but the user of each request is read in hand-written
    SQL: every signed-in page does it, and building that query through the
    ORM takes longer than the database takes to answer it. Signing in,
    permissions and everything else are ModelBackend's own."""

    def get_user(self, user_id):
        model = get_user_model()
        try:
            user_id = model._meta.pk.to_python(user_id)
        except ValidationError:
            return None
        fields, sql = _user_query()
        row = rows.fetch_one(sql, [user_id])
        if row is None:
            return None
        user = rows.instance(model, fields, row)
        return user if self.user_can_authenticate(user) else None


@cache
def _user_query():
    """Every column of the user model, and the SELECT of one user by id."""
    qn = connection.ops.quote_name
    meta = get_user_model()._meta
    fields = meta.concrete_fields
    columns = ", ".join(qn(field.column) for field in fields)
    return fields, f"SELECT {columns} FROM {qn(meta.db_table)} WHERE {qn(meta.pk.column)} = %s"
