from django.conf import settings
from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from config.middleware import mark_session_active


@never_cache
@require_safe
def healthz(request):
    """For load balancers: 200 when the database answers a real query, else 503."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        return JsonResponse({"status": "error", "database": "error"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})


def locked_out(request, *args, **kwargs):
    """django-axes calls this instead of signing in while a username is
    locked out: 429, with Retry-After giving the cool-off in seconds (the
    longest the wait can be, since a lockout starts at the last failure)."""
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    response = render(request, "registration/locked_out.html", {"minutes": seconds // 60}, status=429)
    response["Retry-After"] = str(seconds)
    return response


@never_cache
@require_POST
def session_keepalive(request):
    """"Stay signed in" (static/js/session.js): moves the idle expiry on.
    JSON, never a redirect to the sign-in page: 401 when the session has ended."""
    if not request.user.is_authenticated:
        return JsonResponse({"error": "Your session has ended. Sign in again."}, status=401)
    mark_session_active(request.session)
    return JsonResponse({"expires_in": settings.SESSION_COOKIE_AGE})
