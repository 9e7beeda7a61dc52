"""Middleware of our own: security headers, refusals kept out of caches,
request bodies limited in size, NUL characters kept out of the admin's
queries, idle session expiry, refusing session cookies Django could never
have set, and refusing methods no page serves."""

import time

from django.conf import settings
from django.contrib.sessions.backends.base import VALID_KEY_CHARS
from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseNotAllowed
from django.urls import reverse
from django.utils.cache import patch_cache_control

# Everything from our own origin, nothing inline, nothing from third parties:
# the app must work on a closed clinic network, and an injected script has
# nowhere to run. Bootstrap's CSS uses data: URIs for its small icons.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


def content_security_policy(get_response):
    policy = getattr(settings, "CONTENT_SECURITY_POLICY", CONTENT_SECURITY_POLICY)

    def middleware(request):
        response = get_response(request)
        response.headers.setdefault("Content-Security-Policy", policy)
        return response

    return middleware


def refusals_not_stored(get_response):
    """Every refusal or error (status 400 and above: 403, 404, 429 and the
    rest) is sent with Cache-Control: private, no-store, as every page with
    patient data is. Such a page names what was asked for (a patient
    reference, a screening), and the handlers that draw 403 and 404 pages,
    and django-axes' lockout, run outside the views that set the header."""

    def middleware(request):
        response = get_response(request)
        if response.status_code >= 400:
            patch_cache_control(response, private=True, no_store=True)
        return response

    return middleware


def request_body_limited(get_response):
    """413 for a request whose declared body (Content-Length) is larger than
    DATA_UPLOAD_MAX_MEMORY_SIZE, before anything reads it. Django's own check
    covers a form's fields but not files in a multipart body, which it
    streams to temporary files of any size; no page here takes a file, so
    nothing that large is ever read. A body without a Content-Length is
    never read by Django at all."""

    def middleware(request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0  # Django reads a malformed length as no body
        if limit is not None and declared > limit:
            return HttpResponse(
                f"This request is larger than the {limit // 1024:,} kB this site accepts.",
                status=413, content_type="text/plain; charset=utf-8",
            )
        return get_response(request)

    return middleware


def nul_in_admin_address_refused(get_response):
    """400 for an admin address whose path or query holds a NUL character.
    The admin hands filter values, search terms and autocomplete terms to the
    database as they come, and PostgreSQL answers a NUL in text with an
    error; nothing in the admin is named with one. (The app's own pages
    check their parameters in forms, and say so on the page.)"""

    def middleware(request):
        if request.path.startswith(reverse("admin:index")) and (
            "\x00" in request.path
            or any("\x00" in key or "\x00" in value for key, values in request.GET.lists() for value in values)
        ):
            return HttpResponseBadRequest(
                "This address holds a NUL character, which no page here uses.",
                content_type="text/plain; charset=utf-8",
            )
        return get_response(request)

    return middleware


SESSION_STAMP = "_ketascreen_active"


def mark_session_active(session):
    session[SESSION_STAMP] = int(time.time())


# Sent by a page's own scripts with a request no one asked for just then (a
# background save after the focus moved, say; static/js/questionnaire.js):
# such a request is no sign that anyone is at the screen.
BACKGROUND_HEADER = "X-KetaScreen-Background"


def idle_session_expiry(get_response):
    """Sessions expire SESSION_COOKIE_AGE after the last request, not after
    sign-in. Moving the expiry means writing the session; doing that at most
    once a minute keeps ordinary page views free of writes. A request marked
    as the page's own (BACKGROUND_HEADER) leaves the expiry where it is, so
    an unattended screen still signs out."""
    refresh_after = getattr(settings, "SESSION_REFRESH_SECONDS", 60)

    def middleware(request):
        if settings.SESSION_COOKIE_NAME in request.COOKIES and request.headers.get(BACKGROUND_HEADER) != "1":
            stamp = request.session.get(SESSION_STAMP)
            if stamp is not None and time.time() - stamp >= refresh_after:
                mark_session_active(request.session)
        return get_response(request)

    return middleware


def malformed_session_cookie_ignored(get_response):
    """Django's session keys are made of lowercase letters and digits; a
    cookie with anything else (a NUL byte, say, which PostgreSQL refuses
    in a lookup) is no session: the request goes on signed out."""
    valid = frozenset(VALID_KEY_CHARS)

    def middleware(request):
        key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
        if key is not None and not set(key) <= valid:
            del request.COOKIES[settings.SESSION_COOKIE_NAME]
        return get_response(request)

    return middleware


SERVED_METHODS = ("GET", "HEAD", "POST")


def unserved_methods_refused(get_response):
    """405 for any method but GET, HEAD and POST, on every URL. The app's own
    views each name the methods they serve (require_safe and friends); this
    covers Django's admin, whose views render their page for any method
    (TRACE and OPTIONS included). No page needs OPTIONS: nothing here is
    called across origins."""

    def middleware(request):
        if request.method not in SERVED_METHODS:
            return HttpResponseNotAllowed(SERVED_METHODS)
        return get_response(request)

    return middleware
