"""The cache: local memory with no configuration, one Redis shared by every
process and host when REDIS_URL is set."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache

ROOT = Path(__file__).resolve().parent.parent


def manage_shell(code, **env):
    """Run `code` in a new process of the app, as gunicorn workers and
    management commands are: nothing shared with this one but the
    environment and the services."""
    environment = {**os.environ, **env}
    environment = {name: value for name, value in environment.items() if value is not None}
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v", "0", "-c", code], cwd=ROOT, env=environment,
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_with_no_configuration_each_process_keeps_its_own_cache():
    code = "from django.core.cache import caches; c = caches['default']; c.set('k', 'v'); print(type(c).__name__, c.get('k'))"
    env = {name: value for name, value in os.environ.items() if name != "REDIS_URL"}
    result = subprocess.run([sys.executable, "manage.py", "shell", "-v", "0", "-c", code], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "LocMemCache v"


def test_two_processes_share_an_entry_through_redis():
    if not settings.REDIS_URL:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI runs the suite with REDIS_URL set; it is not")
        pytest.skip("REDIS_URL is not set: the cache is this process's own")
    key, value = f"shared-{secrets.token_hex(4)}", secrets.token_hex(8)
    manage_shell(f"from django.core.cache import cache; cache.set({key!r}, {value!r}, 60)")
    assert cache.get(key) == value
    cache.set(key, "changed here", 60)
    assert manage_shell(f"from django.core.cache import cache; print(cache.get({key!r}))") == "changed here"
