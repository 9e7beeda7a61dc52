"""The ground everything stands on: settings, health check, base page."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import DatabaseError

from tests.markup import parse

ROOT = Path(__file__).resolve().parent.parent


def settings_in_subprocess(env, *expressions):
    """Import config.settings with exactly `env` and print the expressions."""
    code = "import config.settings as s\n" + "".join(
        f"print(repr({expression}))\n" for expression in expressions
    )
    clean_env = {"PATH": os.environ["PATH"], **env}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=clean_env, capture_output=True, text=True
    )


def test_default_settings_use_sqlite_in_project_folder_with_debug_on():
    result = settings_in_subprocess(
        {}, "s.DATABASES['default']['ENGINE']", "str(s.DATABASES['default']['NAME'])", "s.DEBUG"
    )
    assert result.returncode == 0, result.stderr
    engine, name, debug = result.stdout.splitlines()
    assert engine == "'django.db.backends.sqlite3'"
    assert name == repr(str(ROOT / "db.sqlite3"))
    assert debug == "True"


def test_database_url_selects_postgresql_with_persistent_connections():
    result = settings_in_subprocess(
        {"DATABASE_URL": "postgres://keta:secret@db.example:5433/screens"},
        "s.DATABASES['default']['ENGINE']",
        "s.DATABASES['default']['HOST']",
        "s.DATABASES['default']['PORT']",
        "s.DATABASES['default']['NAME']",
        "s.DATABASES['default']['CONN_MAX_AGE']",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "'django.db.backends.postgresql'",
        "'db.example'",
        "5433",
        "'screens'",
        "60",
    ]


def test_time_zone_comes_from_environment_with_london_default():
    assert settings_in_subprocess({}, "s.TIME_ZONE").stdout.strip() == "'Europe/London'"
    result = settings_in_subprocess({"TIME_ZONE": "Europe/Dublin"}, "s.TIME_ZONE", "s.USE_TZ")
    assert result.stdout.splitlines() == ["'Europe/Dublin'", "True"]


def test_settings_refuse_to_start_without_secret_key_when_debug_off():
    result = settings_in_subprocess({"DEBUG": "false"}, "s.SECRET_KEY")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_settings_pass_deploy_checks_without_warnings():
    env = {
        "PATH": os.environ["PATH"],
        "DEBUG": "false",
        "SECRET_KEY": "a-long-random-production-secret-" + "x9Q2!" * 10,
        "ALLOWED_HOSTS": "screen.example.org",
        "AUDIT_KEYS": "k1:a-long-random-audit-key-" + "p7Z" * 12,
        "FHIR_BASE_URL": "https://screen.example.org/fhir",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNINGS" not in result.stdout + result.stderr


def test_deploy_checks_warn_while_fhir_names_start_with_the_development_address():
    env = {
        "PATH": os.environ["PATH"], "DEBUG": "false", "ALLOWED_HOSTS": "screen.example.org",
        "SECRET_KEY": "a-long-random-production-secret-" + "x9Q2!" * 10,
        "AUDIT_KEYS": "k1:a-long-random-audit-key-" + "p7Z" * 12,
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )
    assert result.returncode != 0
    assert "FHIR_BASE_URL is 'http://localhost:8000/fhir'" in result.stderr


@pytest.mark.django_db
def test_healthz_reports_ok_after_a_real_query(client, django_assert_num_queries):
    with django_assert_num_queries(1):  # SELECT 1
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


@pytest.mark.django_db
def test_healthz_reports_503_when_database_is_unreachable(client, monkeypatch):
    from django.db.backends.utils import CursorWrapper

    def unreachable(self, sql, params=None):
        raise DatabaseError("connection refused")

    monkeypatch.setattr(CursorWrapper, "execute", unreachable)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "error"


@pytest.mark.django_db
def test_root_redirects_to_screenings(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/screenings/"


@pytest.mark.django_db
def test_base_page_uses_local_bootstrap_and_nothing_external(client):
    page = parse(client.get("/accounts/login/").content)
    assert page.select_one('head link[rel=stylesheet][href="/static/bootstrap/css/bootstrap.min.css"]')
    addresses = [value.strip().lower() for element in page.select("*") for name, value in element.attributes.items()
                 if name.lower().endswith(("src", "href"))]
    assert addresses and not [address for address in addresses if address.startswith(("//", "http:", "https:"))]


@pytest.mark.django_db
def test_local_bootstrap_css_is_served(client):
    response = client.get("/static/bootstrap/css/bootstrap.min.css")
    assert response.status_code == 200
    assert b"Bootstrap" in b"".join(response.streaming_content)[:500]


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/accounts/login/", "/screenings/"])
def test_disclaimer_on_every_page(admin_client, client, url):
    for http in (client, admin_client):
        response = http.get(url, follow=True)
        assert response.status_code == 200
        assert (
            "KetaScreen gives advisory screening support; "
            "it does not replace clinical judgement." in response.content.decode()
        )
