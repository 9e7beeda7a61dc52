"""The audit key comes from the environment: production refuses to start
without one, development has its own, and a malformed one is named."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "DEBUG": "false", "SECRET_KEY": "a-long-random-production-secret-" + "x9Q2!" * 10,
    "ALLOWED_HOSTS": "screen.example.org",
}


def run(env, *command):
    return subprocess.run(
        [sys.executable, *command], cwd=ROOT, env={"PATH": os.environ["PATH"], **env}, capture_output=True, text=True,
    )


def settings_of(env):
    return run(env, "-c", "import config.settings as s; print(sorted(s.AUDIT_KEYS), s.AUDIT_KEY_ID)")


def test_production_refuses_to_start_without_an_audit_key():
    result = run(PRODUCTION, "manage.py", "check")
    assert result.returncode != 0
    assert "AUDIT_KEYS must be set when DEBUG is off" in result.stderr


def test_development_has_a_key_of_its_own():
    result = settings_of({})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['dev'] dev"


def test_the_newest_key_listed_signs_unless_another_is_named():
    keys = "k1:" + "a" * 40 + ",k2:" + "b" * 40
    assert settings_of({**PRODUCTION, "AUDIT_KEYS": keys}).stdout.strip() == "['k1', 'k2'] k2"
    assert settings_of({**PRODUCTION, "AUDIT_KEYS": keys, "AUDIT_KEY_ID": "k1"}).stdout.strip() == "['k1', 'k2'] k1"


def test_a_malformed_or_short_key_is_named_at_start_up():
    cases = {
        "no-colon-here": "AUDIT_KEYS must be id:secret pairs",
        "k1:short": "The audit key 'k1' is too short",
        "k1:" + "a" * 40 + ",k1:" + "b" * 40: "names the key 'k1' twice",
    }
    for keys, message in cases.items():
        result = settings_of({**PRODUCTION, "AUDIT_KEYS": keys})
        assert result.returncode != 0 and message in result.stderr, keys
    result = settings_of({**PRODUCTION, "AUDIT_KEYS": "k1:" + "a" * 40, "AUDIT_KEY_ID": "k9"})
    assert "AUDIT_KEY_ID names 'k9', which is not in AUDIT_KEYS" in result.stderr


def test_deploy_check_warns_while_auditing_is_switched_off():
    env = {**PRODUCTION, "AUDIT_KEYS": "k1:" + "a" * 40, "AUDIT_ENABLED": "false"}
    result = run(env, "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    assert "AUDIT_ENABLED is off" in result.stdout + result.stderr
