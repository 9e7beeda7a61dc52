"""Authentication: Django's ModelBackend, reading the signed-in user faster.

The user of a request comes from the row read with its session
(accounts.sessions) when there is one, else from a query of its own, in
hand-written SQL either way: every signed-in page reads it, and building
that query through the ORM takes longer than the database takes to answer.
"""

from contextvars import ContextVar
from functools import cache

from django.contrib import auth
from django.contrib.auth import get_user_model
from django.contrib.auth import middleware as auth_middleware
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils.functional import SimpleLazyObject

from config import rows

# The session of the request whose user is being read, set only for the
# length of that call (`signed_in_user`): Django makes the backend itself
# and hands it nothing but the user's id.
_session = ContextVar("session_of_the_user_being_read", default=None)


class UserBackend(ModelBackend):
    """ModelBackend, but the user of each request is read with its session
    or in hand-written SQL. Signing in, permissions and everything else are
    ModelBackend's own."""

    def get_user(self, user_id):
        user_id = user_pk(user_id)
        if user_id is None:
            return None
        row = _row_read_with_session(user_id)
        if row is None:
            row = rows.fetch_one(_user_sql(), [user_id])
        if row is None:
            return None
        user = _user_shape().instance(row)
        return user if self.user_can_authenticate(user) else None


def user_pk(value):
    """`value` (a user id as a session keeps it, as text) as the user
    model's primary key, or None when it cannot be one."""
    if value is None:
        return None
    try:
        return get_user_model()._meta.pk.to_python(value)
    except ValidationError:
        return None


def _row_read_with_session(user_id):
    """The columns of user `user_id` as read with the current request's
    session (accounts.sessions.SessionStore.user_row), or None."""
    row = getattr(_session.get(), "user_row", None)
    if row is None or rows.value_from_db(get_user_model()._meta.pk, row[0]) != user_id:
        return None
    return row


def signed_in_user(request):
    """django.contrib.auth.get_user(request): the user signed in to the
    request's session, with every check Django makes of it, reading the
    user from the row read with the session when there is one."""
    token = _session.set(getattr(request, "session", None))
    try:
        return auth.get_user(request)
    finally:
        _session.reset(token)


class AuthenticationMiddleware(auth_middleware.AuthenticationMiddleware):
    """Django's, but request.user comes from `signed_in_user`."""

    def process_request(self, request):
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: _cached_user(request))


def _cached_user(request):
    # As django.contrib.auth.middleware.get_user: once per request.
    if not hasattr(request, "_cached_user"):
        request._cached_user = signed_in_user(request)
    return request._cached_user


@cache
def _user_shape():
    """Every column of the user model, its id first."""
    meta = get_user_model()._meta
    return rows.Shape(get_user_model(), (meta.pk, *(f for f in meta.concrete_fields if not f.primary_key)))


def user_columns(alias: str) -> str:
    """Every column of the user table known as `alias`, its id first, for a
    SELECT whose row makes the user (UserBackend)."""
    qn = connection.ops.quote_name
    return ", ".join(f"{alias}.{qn(field.column)}" for field in _user_shape().fields)


@cache
def _user_sql():
    """The SELECT of one user by id."""
    qn = connection.ops.quote_name
    meta = get_user_model()._meta
    return f"SELECT {user_columns('u')} FROM {qn(meta.db_table)} u WHERE u.{qn(meta.pk.column)} = %s"
