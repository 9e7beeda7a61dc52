"""Shared fixtures. Browser fixtures drive Debian's Chromium through Playwright."""

import importlib
import io
import os
import shutil
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in the test thread; Django refuses
# ORM calls from such a thread unless told it is fine (the tests are sync).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def _chromium_path():
    """The Chromium to drive: $CHROMIUM, else Debian's, else None (Playwright's own)."""
    candidate = os.environ.get("CHROMIUM") or "/usr/bin/chromium"
    if Path(candidate).exists():
        return candidate
    return shutil.which("chromium")


@pytest.fixture(scope="session")
def browser():
    in_ci = os.environ.get("CI", "").lower() == "true"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - playwright is in requirements-dev
        if in_ci:
            pytest.fail(f"Playwright is not installed: {exc}")
        pytest.skip(f"Playwright is not installed: {exc}")
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(
                executable_path=_chromium_path(), headless=True, args=CHROMIUM_ARGS
            )
        except Exception as exc:
            reason = f"no Chromium to run browser tests ({exc.__class__.__name__}: {exc})"
            if in_ci:
                pytest.fail(reason + "; CI must run them")
            print(f"\nSkipping browser tests: {reason}")
            pytest.skip(reason)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def artifacts_dir():
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


# The knowledge base and the people who use it. The roles (groups) come from
# the conditions roles migration; a transactional test's flush removes them,
# so the user fixtures make a missing group again from the same definition.

TEST_PASSWORD = "a-long-test-password-4f9c"


@pytest.fixture
def knowledge_base(db):
    """The default knowledge base (conditions/knowledge/default.yaml), as loaded by the command."""
    from django.core.management import call_command

    call_command("load_knowledge_base", stdout=io.StringIO())


def role(name):
    from django.contrib.auth.models import Group, Permission

    roles = importlib.import_module("conditions.migrations.0002_roles").ROLES
    group, created = Group.objects.get_or_create(name=name)
    if created:
        group.permissions.set(
            Permission.objects.filter(content_type__app_label="conditions", codename__in=roles[name])
        )
    return group


@pytest.fixture
def lead(db, django_user_model):
    """A clinical lead: staff, edits the knowledge base in the admin."""
    user = django_user_model.objects.create_user("lead", password=TEST_PASSWORD, is_staff=True)
    user.groups.add(role("Clinical leads"))
    return user


@pytest.fixture
def clinician(db, django_user_model):
    """A clinician: not staff, reads the knowledge base only through screenings."""
    user = django_user_model.objects.create_user("clinician", password=TEST_PASSWORD)
    user.groups.add(role("Clinicians"))
    return user


@pytest.fixture
def lead_client(client, lead):
    client.force_login(lead)
    return client
