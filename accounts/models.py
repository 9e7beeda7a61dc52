from django.conf import settings
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models


class Session(AbstractBaseSession):
    """A session, with the user signed in to it as a column of its own
    (empty for a session nobody has signed in to): reading the session then
    reads its user in the same query (accounts.sessions). The pattern is
    Django's own, "extending database-backed session engines".

    A user's sessions are deleted with the user."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )

    @classmethod
    def get_session_store_class(cls):
        from accounts.sessions import SessionStore

        return SessionStore
