"""The session engine (SESSION_ENGINE): Django's sessions in the database,
each read together with the user signed in to it.

Every signed-in request reads its session, then its user: two queries for
what one can answer. Here the session row names its user in a column of
its own (accounts.Session), so loading the session reads the user's row
as well, and config.auth.UserBackend makes the user from that row instead
of querying again. Django still checks that user against the session
(django.contrib.auth.get_user) exactly as it would have.
"""

from functools import cache

from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.sessions.backends import db
from django.contrib.sessions.backends.base import VALID_KEY_CHARS
from django.db import connection
from django.utils import timezone

from config import auth, rows


class SessionStore(db.SessionStore):
    """Django's database session store, keeping the user's columns as read
    with the session in `user_row` (None when no user is signed in to it)."""

    user_row = None

    @classmethod
    def get_model_class(cls):
        from accounts.models import Session

        return Session

    def _validate_session_key(self, key):
        """Only a key this store could have made (32 lowercase letters and
        digits) is looked up: a tampered cookie, one with a NUL byte say,
        is a session nobody has signed in to, never a database error."""
        return bool(key) and 8 <= len(key) <= _key_length() and set(key) <= _KEY_CHARS

    def create_model_instance(self, data):
        """The row to save: the session, and the user signed in to it."""
        session = super().create_model_instance(data)
        session.user_id = auth.user_pk(data.get(SESSION_KEY))
        return session

    def load(self):
        """As Django's load(), in one query with the user's row."""
        self.user_row = None
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        row = rows.fetch_one(_load_sql(), [self.session_key, now]) if self.session_key else None
        if row is None:
            self._session_key = None  # as Django does: a new session gets a new key
            return {}
        session_data, *user_row = row
        if user_row[0] is not None:
            self.user_row = tuple(user_row)
        return self.decode(session_data)


_KEY_CHARS = frozenset(VALID_KEY_CHARS)


@cache
def _key_length():
    """The longest key the session table holds."""
    from accounts.models import Session

    return Session._meta.get_field("session_key").max_length


@cache
def _load_sql():
    """The session's data and its user's columns (config.auth.user_columns,
    the user's id first), by session key, unless the session has expired."""
    from accounts.models import Session

    qn = connection.ops.quote_name
    user = get_user_model()._meta
    return (
        f"SELECT s.{qn('session_data')}, {auth.user_columns('u')} "
        f"FROM {qn(Session._meta.db_table)} s "
        f"LEFT OUTER JOIN {qn(user.db_table)} u ON u.{qn(user.pk.column)} = s.{qn('user_id')} "
        f"WHERE s.{qn('session_key')} = %s AND s.{qn('expire_date')} > %s"
    )
