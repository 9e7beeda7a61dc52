"""`manage.py screen` end to end: JSON in, JSON out, exit codes."""

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from screening.models import Screening
from screening.rulebook import current_rulebook
from tests.screening.test_default_knowledge_base import CALM

ROOT = Path(__file__).resolve().parents[2]
TRD = {"patient": "A-1027", "conditions": ["trd"], "answers": CALM}

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("module_knowledge_base"),
]


def screen(*args, stdin=None):
    """Run the command in-process; returns (exit code, stdout text, stderr text)."""
    out, err = io.StringIO(), io.StringIO()
    old_stdin = sys.stdin
    if stdin is not None:
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin.encode()))
    try:
        call_command("screen", *args, stdout=out, stderr=err)
        code = 0
    except CommandError as error:
        code, err = error.returncode, io.StringIO(str(error))
    finally:
        sys.stdin = old_stdin
    return code, out.getvalue(), err.getvalue()


def test_one_object_gives_an_array_with_one_result(tmp_path):
    path = tmp_path / "one.json"
    path.write_text(json.dumps(TRD))
    code, out, _ = screen(str(path))
    assert code == 0
    (result,) = json.loads(out)
    assert result["patient"] == "A-1027"
    assert result["rulebook_version"] == current_rulebook().version
    assert result["alerts"] == []
    (trd,) = result["results"]
    assert trd["condition"] == "trd"
    assert trd["status"] == "eligible"
    assert {r["criterion"] for r in trd["reasons"]} == {
        "trd-mdd-current-require", "trd-two-failed-trials-require", "trd-phq9-require"}
    assert set(trd) == {"condition", "status", "reasons", "missing", "references"}
    assert set(trd["reasons"][0]) == {"criterion", "question", "effect", "outcome", "message", "references"}
    assert "mcinnes-2022" in trd["references"]


def test_array_from_stdin_keeps_the_input_order():
    records = [
        {**TRD, "patient": "P-1", "answers": {**CALM, "bipolar_history": True, "mood_episode": "depressed",
                                               "on_mood_stabiliser": True}},
        {**TRD, "patient": "P-2", "answers": {**CALM, "suicidal_ideation": "active_plan"}},
        {**TRD, "patient": "P-3", "answers": {"age": 45}},
    ]
    code, out, _ = screen(stdin=json.dumps(records))
    assert code == 0
    results = json.loads(out)
    assert [r["patient"] for r in results] == ["P-1", "P-2", "P-3"]
    assert results[0]["results"][0]["status"] == "caution"
    assert results[0]["results"][0]["reasons"][0]["criterion"] == "all-bipolar-history-caution"
    assert results[1]["alerts"][0]["criterion"] == "all-suicidal-ideation-alert"
    assert set(results[1]["alerts"][0]) == {"criterion", "question", "message", "references"}
    assert results[2]["results"][0]["status"] == "incomplete"
    assert "phq9_total" in results[2]["results"][0]["missing"]


def test_dash_means_stdin():
    code, out, _ = screen("-", stdin=json.dumps(TRD))
    assert code == 0 and json.loads(out)[0]["patient"] == "A-1027"


def test_invalid_records_get_errors_and_exit_1_after_every_result():
    records = [
        {**TRD, "patient": "bad-1", "conditions": ["trd", "flu"]},
        {**TRD, "patient": "good"},
        {**TRD, "patient": "bad-2", "answers": {**CALM, "systolic_bp": 400, "shoe_size": 9}},
        ["not", "an", "object"],
    ]
    code, out, err = screen(stdin=json.dumps(records))
    assert code == 1
    assert "3 record(s) have errors" in err
    results = json.loads(out)
    assert len(results) == 4
    assert "results" not in results[0]
    assert any("flu" in message for message in results[0]["errors"])
    assert results[1]["results"][0]["status"] == "eligible"
    assert results[2]["errors"] == [
        "systolic_bp: 400 is above the maximum of 260 mmHg.", "shoe_size: unknown question code."]
    assert results[3]["errors"]


def test_stderr_that_is_not_a_terminal_gets_nothing_and_stdout_only_json():
    records = [{**TRD, "patient": f"N-{i}"} for i in range(3)]
    code, out, err = screen(stdin=json.dumps(records))
    assert code == 0
    assert err == ""
    assert [r["patient"] for r in json.loads(out)] == ["N-0", "N-1", "N-2"]
    code, out, err = screen("--jsonl", stdin="\n".join(json.dumps(r) for r in records))
    assert code == 0
    assert err == ""
    assert [json.loads(line)["patient"] for line in out.splitlines()] == ["N-0", "N-1", "N-2"]


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_stderr_that_is_a_terminal_shows_progress_never_in_the_json():
    records = [{**TRD, "patient": f"T-{i}"} for i in range(3)]
    out, err = io.StringIO(), Terminal()
    old_stdin = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(json.dumps(records).encode()))
    try:
        call_command("screen", stdout=out, stderr=err)
    finally:
        sys.stdin = old_stdin
    assert "/3 [" in err.getvalue()  # a bar counting towards the 3 records
    assert [r["patient"] for r in json.loads(out.getvalue())] == ["T-0", "T-1", "T-2"]


@pytest.mark.parametrize("text", ["{", "[1, 2", "not json", ""])
def test_malformed_json_exits_2_with_one_line(text):
    code, out, err = screen(stdin=text)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and "not valid JSON" in err


def test_jsonl_streams_one_result_per_line():
    lines = "\n".join(json.dumps({**TRD, "patient": f"L-{i}"}) for i in range(5)) + "\n\n"
    code, out, _ = screen("--jsonl", stdin=lines)
    assert code == 0
    results = [json.loads(line) for line in out.splitlines()]
    assert [r["patient"] for r in results] == [f"L-{i}" for i in range(5)]
    assert all(r["results"][0]["status"] == "eligible" for r in results)


def test_jsonl_malformed_line_exits_2_naming_the_line():
    lines = json.dumps(TRD) + "\n{oops\n"
    code, out, err = screen("--jsonl", stdin=lines)
    assert code == 2
    assert "Line 2" in err
    assert json.loads(out.splitlines()[0])["patient"] == "A-1027"


def test_nothing_is_stored_without_save():
    screen(stdin=json.dumps(TRD))
    assert not Screening.objects.exists()


def test_save_stores_valid_screenings_as_drafts_of_the_user(django_user_model):
    clinician = django_user_model.objects.create_user("dr-who", password="x")
    records = [TRD, {**TRD, "patient": "bad", "conditions": ["flu"]}]
    code, out, _ = screen("--save", "--user", "dr-who", stdin=json.dumps(records))
    assert code == 1
    saved = Screening.objects.get()
    assert (saved.patient_reference, saved.owner, saved.status) == ("A-1027", clinician, "draft")
    assert saved.answers["failed_antidepressant_trials"] == 2
    assert saved.result["results"][0]["status"] == "eligible"
    assert saved.rulebook_version == json.loads(out)[0]["rulebook_version"]
    assert json.loads(out)[0]["screening"] == saved.pk


def test_save_refuses_a_patient_reference_that_looks_like_a_name(django_user_model):
    django_user_model.objects.create_user("dr-who", password="x")
    code, out, _ = screen("--save", "--user", "dr-who", stdin=json.dumps({**TRD, "patient": "<b>Jane Doe's</b>"}))
    assert code == 1
    assert json.loads(out)[0]["errors"][0].startswith("patient_reference:")
    assert not Screening.objects.exists()


def test_save_needs_an_existing_user():
    code, _, err = screen("--save", stdin=json.dumps(TRD))
    assert code == 1 and "--user" in err
    code, _, err = screen("--save", "--user", "nobody", stdin=json.dumps(TRD))
    assert code == 1 and "nobody" in err


def test_command_line_runs_as_integrators_call_it(tmp_path):
    """A real process: exit status and streams as a shell script sees them."""
    env_db = {"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}"}
    import os
    env = {**os.environ, **env_db}
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([*manage, "load_knowledge_base", "-v0"], cwd=ROOT, env=env, check=True)
    done = subprocess.run([*manage, "screen"], cwd=ROOT, env=env, input=json.dumps(TRD),
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["results"][0]["status"] == "eligible"
    assert done.stderr == ""  # a pipe is not a terminal: no progress bar
    broken = subprocess.run([*manage, "screen"], cwd=ROOT, env=env, input="{", capture_output=True, text=True)
    assert broken.returncode == 2
    assert broken.stdout == ""
    assert len(broken.stderr.strip().splitlines()) == 1
