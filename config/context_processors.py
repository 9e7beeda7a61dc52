from django.conf import settings


def session_timeout(request):
    """How long a session surely lasts without a request, for the "Stay
    signed in" dialog (static/js/session.js): the idle timeout less the
    spell in which a request may leave the expiry where it was
    (config.middleware.idle_session_expiry)."""
    refresh = getattr(settings, "SESSION_REFRESH_SECONDS", 60)
    return {"session_idle_seconds": max(settings.SESSION_COOKIE_AGE - refresh, 0)}
