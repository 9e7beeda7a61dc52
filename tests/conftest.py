"""Shared fixtures. Browser fixtures drive Debian's Chromium through Playwright."""

import importlib
import os
import shutil
from pathlib import Path

import django.test
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
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """With two PostgreSQL roles (MIGRATE_DATABASE_URL set), the test
    database is made and migrated by the owner role, as in production."""
    from config.database import use_role

    use_role("owner")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup):
    """The tests run as the app role; the owner drops the test database."""
    from config.database import use_role

    use_role("app")
    yield
    use_role("owner")


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
    # Reduced motion turns off Bootstrap's transitions, so what a test (and
    # axe's contrast check) reads is the settled page, not a colour halfway
    # through a button's hover transition.
    context = browser.new_context(base_url=live_server.url, reduced_motion="reduce")
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


@pytest.fixture(scope="session")
def shipped_knowledge_base(django_db_setup, django_db_blocker):
    """The rows `load_knowledge_base` makes from the default knowledge base,
    captured once per session (tests/knowledge_base_rows.py)."""
    from tests.knowledge_base_rows import capture

    with django_db_blocker.unblock():
        return capture()


@pytest.fixture
def knowledge_base(db, shipped_knowledge_base):
    """The default knowledge base (conditions/knowledge/default.yaml), as loaded by
    the command: its rows written back, in milliseconds instead of seconds."""
    shipped_knowledge_base.write()


def role(name):
    from django.contrib.auth.models import Group, Permission
    from django.db.models import Q

    if name == "Clinic administrators":
        teams_role = importlib.import_module("teams.migrations.0002_clinic_administrators")
        group, created = Group.objects.get_or_create(name=name)
        if created:
            group.permissions.set(teams_role.administrator_permissions(Permission))
        return group
    roles = importlib.import_module("conditions.migrations.0002_roles").ROLES
    granted = Q(content_type__app_label="conditions", codename__in=roles[name])
    if name == "Clinical leads":  # what later migrations grant the leads
        for app_label, migration in [
            ("conditions", "conditions.migrations.0003_review_dates_and_case_library"),
            ("conditions", "conditions.migrations.0005_instruments_and_formulary"),
            ("conditions", "conditions.migrations.0006_duty_licensing_evidence_grades"),
            ("conditions", "conditions.migrations.0007_criterion_when_and_basis_trial_count_retired_questions"),
            ("rulebook", "screening.migrations.0012_published_rulebook"),  # moved to rulebook since
            ("screening", "screening.migrations.0021_criterion_attrition"),
        ]:
            codenames = importlib.import_module(migration).LEAD_PERMISSIONS
            granted |= Q(content_type__app_label=app_label, codename__in=codenames)
    group, created = Group.objects.get_or_create(name=name)
    if created:
        group.permissions.set(Permission.objects.filter(granted))
    return group


def user_in_role(username, group, **fields):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(username, password=TEST_PASSWORD, **fields)
    user.groups.add(role(group))
    return user


@pytest.fixture
def lead(db):
    """A clinical lead: staff, edits the knowledge base in the admin."""
    return user_in_role("lead", "Clinical leads", is_staff=True)


@pytest.fixture
def clinician(db):
    """A clinician: not staff, reads the knowledge base only through screenings."""
    return user_in_role("clinician", "Clinicians")


def verify_session(client, user):
    """Marks the client's session as one that passed the second factor, with
    the user's authenticator (made, confirmed, if they have none): what
    signing in through /accounts/two-factor/ leaves in a session."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return device


class Client(django.test.Client):
    """Django's test client whose force_login leaves the session a real
    sign-in would: verified by a second factor for those who must use one
    (clinical leads, staff, everyone with TWO_FACTOR_FOR_CLINICIANS). Tests
    of an unverified session use django.test.Client itself."""

    def force_login(self, user, backend=None):
        from accounts.two_factor import two_factor_required

        super().force_login(user, backend)
        if two_factor_required(user):
            verify_session(self, user)


@pytest.fixture
def client():
    return Client()


@pytest.fixture
def admin_client(db, admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


@pytest.fixture
def lead_client(client, lead):
    client.force_login(lead)
    return client


# Screening pages: the people who use them and answers that reach a
# conclusion with the default knowledge base.


@pytest.fixture(autouse=True)
def empty_cache():
    """Each test starts and ends with an empty cache: its keys never name
    old content within one database, but tests roll their databases back
    and may reuse a screening's id and revision for other content."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def clinician_client(client, clinician):
    client.force_login(clinician)
    return client


@pytest.fixture
def other_clinician(db):
    return user_in_role("other-clinician", "Clinicians")


@pytest.fixture
def auditor(db):
    """A clinician who may read every clinician's screenings (view_all_screenings)."""
    from django.contrib.auth.models import Permission

    user = user_in_role("auditor", "Clinicians")
    user.user_permissions.add(Permission.objects.get(codename="view_all_screenings"))
    return user


@pytest.fixture
def trd_eligible_form():
    """Questionnaire form data that meets the TRD criteria of the default
    knowledge base with no caution or alert; booleans as the form posts them."""
    return {
        "age": "45", "psychosis_history": "no",
        "bipolar_history": "no", "suicidal_ideation": "none", "systolic_bp": "120",
        "diastolic_bp": "80", "vascular_contraindication": "no", "raised_icp": "no",
        "unstable_cardiac": "no", "ketamine_misuse_history": "no", "hepatic_impairment": "none",
        "current_other_sud": "no", "interacting_medicines": ["none"], "mdd_current": "yes",
        "failed_antidepressant_trials": "2", "phq9_total": "15",
        # asked since the second edition of the knowledge base (issue 18)
        "route": "iv_ketamine", "bp_rise_serious_risk": "no", "hypertensive_encephalopathy_history": "no",
        "cerebrovascular_disease": "no", "cardiovascular_risk_high": "no", "ketamine_allergy": "no",
        "bladder_symptoms": "no", "cognitive_impairment": "no", "transport_home_arranged": "yes",
        # asked since the third edition (issue 24)
        "pregnant": "no", "breastfeeding": "no", "pregnancy_possible_without_contraception": "no",
        "psychosis_current": "no", "severe_coronary_or_myocardial_disease": "no", "tia_history": "no",
        "pre_eclampsia": "no", "hyperthyroidism_uncontrolled": "no", "respiratory_conditions": ["none"],
        "resting_spo2": "98", "seizure_history": "no",
    }


@pytest.fixture(scope="module")
def module_knowledge_base(shipped_knowledge_base, django_db_blocker):
    """The default knowledge base, loaded once for a module's (non-transactional)
    tests: it stays in an open transaction, each test runs in a savepoint inside
    it, and it is rolled back after the module. Loading takes seconds; this
    keeps a module of page tests fast without leaving rows for other modules."""
    from django.db import transaction

    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            shipped_knowledge_base.write()
        except BaseException:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            raise
    yield
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        outer.__exit__(None, None, None)


@pytest.fixture(scope="session", autouse=True)
def quick_password_hashing():
    """Users made in tests hash their passwords in microseconds, not a second
    (argon2's cost). A test of the production hasher overrides
    PASSWORD_HASHERS back to config.settings'."""
    from django.test import override_settings

    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture
def assert_queries():
    """`with assert_queries(n):` the block makes exactly n queries, not
    counting the savepoints that nested atomic blocks open and release
    (outside a test's transaction the outermost one is a BEGIN and COMMIT)."""
    from contextlib import contextmanager

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    @contextmanager
    def checker(expected):
        with CaptureQueriesContext(connection) as captured:
            yield
        queries = [q["sql"] for q in captured.captured_queries
                   if not q["sql"].upper().startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT"))]
        listed = "\n".join(f"{n}. {sql}" for n, sql in enumerate(queries, 1))
        assert len(queries) == expected, f"expected {expected} queries, made {len(queries)}:\n{listed}"

    return checker
