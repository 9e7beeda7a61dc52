"""Every page is behind sign-in unless it is meant to be public. Adding a URL
without protection makes this test fail."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

# Public on purpose: signing in, the load balancer's check, and the admin's
# own sign-in page (the admin sends everything else there; it sends people
# on to the site's two-step sign-in).
PUBLIC = {"login", "healthz", "admin:login", "root"}
# Signing out when not signed in shows nothing and changes nothing.
HARMLESS = {"logout", "admin:logout"}
SIGN_IN_PAGES = ("/accounts/login/", "/admin/login/")
# Asked in the background by a page (autosave, "Stay signed in"): they answer
# 401 in JSON, which the page can show, rather than a sign-in page.
BACKGROUND = {"screening:answers", "session_keepalive"}
# Old addresses that moved: they send anyone on to the new one, which asks
# for sign-in itself.
MOVED = {"moved_published_versions", "moved_published_versions_page"}


def every_url(resolver=None, prefix="", namespace=""):
    """(name, example path) for every URL pattern, with 1 for each argument."""
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from every_url(pattern, route, inner)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}{pattern.name}" if pattern.name else route
            yield name, "/" + example_path(route)


def example_path(route):
    import re

    route = route.lstrip("^").rstrip("$").replace("\\Z", "").replace("\\/", "/")
    route = re.sub(r"<(?:(\w+):)?(\w+)>", lambda m: "1" if m.group(1) in (None, "int") else "x", route)
    route = re.sub(r"\(\?P<\w+>[^)]*\)", "1", route)  # admin regex routes
    return route.replace("(?:", "").replace(")?", "").replace("/?", "/")


URLS = sorted(set(every_url()))


def test_the_enumeration_finds_the_screening_pages():
    names = {name for name, _ in URLS}
    assert {"screening:list", "screening:summary", "screening:pdf", "screening:finalise"} <= names
    assert len(URLS) > 30  # the admin's pages too


@pytest.mark.django_db
@pytest.mark.parametrize("name, path", URLS)
def test_every_page_sends_anonymous_visitors_to_sign_in(client, name, path):
    if name in PUBLIC | HARMLESS or path == "/":
        return
    for method in (client.get, client.post):
        response = method(path)
        if name in BACKGROUND:
            assert response.status_code in (401, 405), (name, path, response.status_code)
            continue
        if name in MOVED:
            arrived = method(path, follow=True)
            assert arrived.redirect_chain[-1][0].startswith(SIGN_IN_PAGES), (name, path, arrived.redirect_chain)
            continue
        assert response.status_code in (302, 404, 405), (name, path, response.status_code)
        if response.status_code == 302:
            assert response["Location"].startswith(SIGN_IN_PAGES), (name, path, response["Location"])
        if response.status_code == 404:
            # only the admin answers 404 to a sign-in-protected model it does not know
            assert path.startswith("/admin/"), (name, path)


@pytest.mark.django_db
def test_public_pages_are_few(client):
    assert client.get("/accounts/login/").status_code == 200
    assert client.get("/healthz").status_code == 200
    assert client.get("/admin/login/")["Location"] == "/accounts/login/?next=/admin/"
    assert client.get("/")["Location"] == "/screenings/"
