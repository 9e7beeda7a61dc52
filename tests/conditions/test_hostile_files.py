"""`load_knowledge_base` given hostile files: one line on standard error,
exit 1 within seconds, and the database as it was. Run as a real process,
since a crash in the YAML parser (a segfault) would take pytest with it."""

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from conditions.loader import read_knowledge_base
from conditions.models import RuleCase
from tests.conditions.test_load_knowledge_base import SHIPPED

ROOT = Path(__file__).resolve().parents[2]
MAX_FILE_BYTES = 1024 * 1024  # the documented limit (docs/security.md)


def alias_bomb():
    """Nine levels of nine aliases each, inside a test case's answers:
    a few hundred bytes that stand for 9**9 strings."""
    lines = ["cases:", "  - name: bomb", "    answers:", "      a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    previous = "a"
    for name in "bcdefghi":
        lines.append(f"      {name}: &{name} [{', '.join([f'*{previous}'] * 9)}]")
        previous = name
    return "\n".join(lines) + "\n"


HOSTILE = {
    "alias bomb": (alias_bomb(), "stands for more than 100,000 values once its aliases are expanded"),
    "deep nesting": ("sections: " + "[" * 100_000 + "\n", "nests more than 40 levels deep"),
    "long integer": ("sections: []\nformulary: {min_trial_weeks: " + "9" * 10_000 + "}\n",
                     "a number in it has too many digits"),
    "over the size limit": ("sections: []\n" + ("# " + "x" * 98 + "\n") * (MAX_FILE_BYTES // 100 + 1),
                            "is larger than 1 MB"),
    "NUL character": ('sections: [{key: patient, title: "Pa\\0tient"}]\n', "the value at line 1 holds a NUL"),
    "infinity": ("sections: []\nformulary:\n  min_trial_weeks: .inf\n", "the number at line 3 is not finite"),
    "a binary value": ("sections: [{key: !!binary aGVsbG8=, title: x}]\n", "is tagged tag:yaml.org,2002:binary"),
}


@pytest.fixture(scope="module")
def manage_py(tmp_path_factory):
    """manage.py as a real process on an SQLite database of its own, with
    the shipped knowledge base loaded: (exit status, stdout, stderr)."""
    env = {name: value for name, value in os.environ.items() if name != "MIGRATE_DATABASE_URL"}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path_factory.mktemp('kb') / 'kb.sqlite3'}"

    def run(*args):
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
        return done.returncode, done.stdout, done.stderr

    assert run("migrate", "-v0")[0] == 0
    assert run("load_knowledge_base", "-v0")[0] == 0
    run.database = run("dumpdata", "conditions", "screening.publishedrulebook")
    return run


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_file_is_refused_in_one_line_and_changes_nothing(manage_py, tmp_path, name):
    content, reason = HOSTILE[name]
    path = tmp_path / "hostile.yaml"
    path.write_text(content, encoding="utf-8")
    code, out, err = manage_py("load_knowledge_base", str(path))
    assert code == 1, err[-2000:]
    assert out == ""
    (line,) = err.strip().splitlines()
    assert line.startswith(f"CommandError: {path}") and reason in line, line
    assert manage_py("dumpdata", "conditions", "screening.publishedrulebook") == manage_py.database


def test_the_shipped_file_is_within_every_limit():
    assert read_knowledge_base(ROOT / "conditions" / "knowledge" / "default.yaml")["sections"]


@pytest.mark.django_db
@pytest.mark.parametrize("case, problem", [
    ("{name: NaN age, answers: {age: .nan}, expected: {trd: incomplete}}", "the number at line 2 is not finite"),
    ("{name: [a, list], answers: {}, expected: {trd: incomplete}}", "cases[0].name: give the case a name."),
])
def test_an_odd_test_case_is_a_problem_not_a_crash(knowledge_base, tmp_path, case, problem):
    path = tmp_path / "odd.yaml"
    path.write_text(f"cases:\n  - {case}\n", encoding="utf-8")
    err = io.StringIO()
    with pytest.raises(CommandError) as refused:
        call_command("load_knowledge_base", str(path), "--draft", verbosity=0, stderr=err)
    assert problem in f"{refused.value}\n{err.getvalue()}"
    assert RuleCase.objects.count() == len(SHIPPED["cases"])
