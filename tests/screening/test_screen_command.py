"""`manage.py screen` end to end: JSON in, JSON out, exit codes."""

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from rulebook.versions import current_rulebook
from screening.models import Screening
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
    assert set(trd["reasons"][0]) == {
        "criterion", "question", "effect", "outcome", "message", "references", "basis",
    }
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


def test_jsonl_malformed_line_becomes_an_error_naming_it_and_the_rest_are_screened():
    lines = json.dumps(TRD) + "\n{oops\n" + json.dumps({**TRD, "patient": "A-3"}) + "\n"
    code, out, err = screen("--jsonl", stdin=lines)
    assert code == 1
    first, broken, third = (json.loads(line) for line in out.splitlines())
    assert first["results"][0]["status"] == third["results"][0]["status"] == "eligible"
    assert third["patient"] == "A-3"
    assert broken["line"] == 2 and broken["patient"] is None and "results" not in broken
    assert broken["errors"] == ["line 2 is not valid JSON: Expecting property name enclosed in double quotes at column 2."]
    assert "1 record(s) have errors" in err


@pytest.mark.parametrize("text, problem", [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"patient": "A-1", "answers": {"age": ' + "9" * 5000 + "}}", "too many digits"),
])
def test_json_the_parser_cannot_take_exits_2_with_one_line(text, problem):
    code, out, err = screen(stdin=text)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and problem in err


def test_long_values_are_shortened_in_error_messages():
    record = {**TRD, "answers": {**CALM, "age": int("9" * 400)}, "conditions": ["trd", "x" * 500]}
    code, out, _ = screen(stdin=json.dumps(record))
    assert code == 1
    (result,) = json.loads(out)
    condition, age = result["errors"]
    assert condition.startswith("conditions: unknown condition “" + "x" * 39 + "…”")
    assert age == "age: " + "9" * 39 + "… is above the maximum of 120 years."


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


@pytest.fixture(scope="module")
def manage_py(tmp_path_factory):
    """Runs manage.py as a real process against an SQLite database of its
    own, migrated and loaded once: (exit status, stdout, stderr)."""
    import os

    env = {name: value for name, value in os.environ.items() if name != "MIGRATE_DATABASE_URL"}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path_factory.mktemp('cli') / 'cli.sqlite3'}"

    def run(*args, stdin=""):
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, input=stdin,
                              capture_output=True, text=True)
        return done.returncode, done.stdout, done.stderr

    assert run("migrate", "-v0")[0] == 0
    assert run("load_knowledge_base", "-v0")[0] == 0
    return run


def test_command_line_runs_as_integrators_call_it(manage_py):
    """A real process: exit status and streams as a shell script sees them."""
    code, out, err = manage_py("screen", stdin=json.dumps(TRD))
    assert code == 0, err
    assert json.loads(out)[0]["results"][0]["status"] == "eligible"
    assert err == ""  # a pipe is not a terminal: no progress bar
    code, out, err = manage_py("screen", stdin="{")
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1


def test_a_process_given_deep_nesting_exits_2_with_one_line(manage_py):
    code, out, err = manage_py("screen", stdin="[" * 100_000)
    assert (code, out) == (2, "")
    assert err.strip().splitlines() == ["CommandError: Input is not valid JSON: it is nested too deeply."]


def test_a_process_given_jsonl_with_a_malformed_second_line_screens_the_first_and_third(manage_py):
    lines = "\n".join([json.dumps(TRD), '{"patient": "A-2", ', json.dumps({**TRD, "patient": "A-3"})])
    code, out, err = manage_py("screen", "--jsonl", stdin=lines)
    assert code == 1
    results = [json.loads(line) for line in out.splitlines()]
    assert [r["patient"] for r in results] == ["A-1027", None, "A-3"]
    assert [r.get("line") for r in results] == [None, 2, None]
    assert results[0]["results"][0]["status"] == results[2]["results"][0]["status"] == "eligible"
    assert len(err.strip().splitlines()) == 1


# Items, trials and calculated values ---------------------------------------------

PHQ9_ITEMS = {f"phq9_{n}": score for n, score in enumerate([2, 2, 2, 2, 2, 2, 2, 2, 1], start=1)}
TRIALS = [
    {"drug": "sertraline", "daily_dose_mg": 150, "weeks": 8, "outcome": "no_response"},
    {"drug": "venlafaxine", "daily_dose_mg": 75, "weeks": 3, "outcome": "stopped_side_effects"},
    {"drug": "mirtazapine", "daily_dose_mg": 30, "weeks": 6, "outcome": "partial_response"},
    {"drug": "lithium", "daily_dose_mg": 800, "weeks": 6, "outcome": "partial_response"},
]


def without(answers, *codes):
    return {code: value for code, value in answers.items() if code not in codes}


def test_items_and_trials_are_worked_out_and_judged():
    answers = {**without(CALM, "phq9_total", "failed_antidepressant_trials"), **PHQ9_ITEMS,
               "phq9_difficulty": "very_difficult", "antidepressant_trials": TRIALS,
               "antidepressant_trials_complete": True}
    code, out, _ = screen(stdin=json.dumps({**TRD, "answers": answers}))
    assert code == 0
    (result,) = json.loads(out)
    # Third edition: a partial response is not a failed treatment (EU-PEARL counts only less than
    # 25% improvement, Sforzini 2022 recommendation 3), so mirtazapine no longer counts.
    assert result["calculated"] == {"failed_antidepressant_trials": 1, "phq9_total": 17}
    assert result["entered"] == []
    assert [(t["drug"], t["counted"], t["reason"]) for t in result["trials"]] == [
        ("sertraline", True, "counted: at least 50 mg a day for at least 4 weeks, with no response"),
        ("venlafaxine", False, "3 weeks, fewer than 4; stopped for side effects"),
        ("mirtazapine", False, "a partial response, which this formulary does not count as a failed trial"),
        ("lithium", False, "lithium is an augmenting agent, not counted as a trial of its own"),
    ]
    assert set(result["trials"][0]) == {"drug", "daily_dose_mg", "weeks", "outcome", "counted", "reason"}
    assert result["results"][0]["status"] == "not_met"
    # item 9 answered "several days": the screening-wide alert
    assert [a["criterion"] for a in result["alerts"]] == ["trd-phq9-self-harm-alert"]


def test_todays_records_give_the_same_results_with_their_totals_entered():
    code, out, _ = screen(stdin=json.dumps(TRD))
    assert code == 0
    (result,) = json.loads(out)
    assert result["calculated"] == {}
    assert result["entered"] == ["failed_antidepressant_trials", "phq9_total"]
    assert result["trials"] == []
    assert result["alerts"] == []
    assert result["results"][0]["status"] == "eligible"


def test_one_adequate_trial_does_not_meet_the_requirement_once_the_list_is_complete():
    answers = {**without(CALM, "failed_antidepressant_trials"), "antidepressant_trials": TRIALS[:2],
               "antidepressant_trials_complete": True}
    code, out, _ = screen(stdin=json.dumps({**TRD, "answers": answers}))
    assert code == 0
    (result,) = json.loads(out)
    assert result["calculated"] == {"failed_antidepressant_trials": 1}
    (trd,) = result["results"]
    assert trd["status"] == "not_met"
    assert [r["criterion"] for r in trd["reasons"]] == ["trd-two-failed-trials-require"]


def test_one_adequate_trial_in_a_list_not_declared_complete_is_incomplete():
    # More rows could still meet "at least two": the result asks whether the list is complete.
    answers = {**without(CALM, "failed_antidepressant_trials"), "antidepressant_trials": TRIALS[:2]}
    code, out, _ = screen(stdin=json.dumps({**TRD, "answers": answers}))
    assert code == 0
    ((trd,),) = [json.loads(out)[0]["results"]]
    assert trd["status"] == "incomplete"
    assert trd["missing"] == ["antidepressant_trials_complete"]


@pytest.mark.parametrize("answers, error", [
    ({"antidepressant_trials": [{**TRIALS[0], "drug": "prozac"}]},
     "antidepressant_trials: trial 1: “prozac” is not in the formulary; name a drug by its formulary key, "
     "e.g. citalopram."),
    ({**PHQ9_ITEMS, "phq9_total": 15},
     "phq9_total: the total entered (15) does not match the items, which add up to 17; correct the total or "
     "the items, or clear the total (it is worked out from the items)."),
    # Third edition: of these trials only sertraline counts (a partial response does not: Sforzini 2022).
    ({"antidepressant_trials": TRIALS, "failed_antidepressant_trials": 3},
     "failed_antidepressant_trials: the number entered (3) does not match the trials listed, of which 1 "
     "counts as an adequate failed trial; clear the number (it is worked out from the trials) or correct "
     "the trials."),
])
def test_a_bad_trial_or_a_disagreeing_total_is_an_error_naming_it(answers, error):
    code, out, _ = screen(stdin=json.dumps({**TRD, "answers": {**CALM, **answers}}))
    assert code == 1
    (result,) = json.loads(out)
    assert result["errors"] == [error]


def test_saved_screening_keeps_the_trials_and_its_result_round_trips(django_user_model):
    django_user_model.objects.create_user("clinician", password="x")
    answers = {**without(CALM, "failed_antidepressant_trials"), "antidepressant_trials": TRIALS}
    code, out, _ = screen("--save", "--user", "clinician", stdin=json.dumps({**TRD, "answers": answers}))
    assert code == 0
    (result,) = json.loads(out)
    screening = Screening.objects.get(pk=result["screening"])
    assert screening.answers["antidepressant_trials"] == TRIALS
    # Third edition: the partial response (mirtazapine) no longer counts (Sforzini 2022, recommendation 3).
    assert screening.result["calculated"] == result["calculated"] == {"failed_antidepressant_trials": 1}
    assert screening.result["trials"] == result["trials"]
    assert screening.result["entered"] == ["phq9_total"]


def test_duties_are_listed_screening_wide_shaped_like_alerts():
    from tests.knowledge import add_duties_and_evidence

    add_duties_and_evidence()
    records = [
        {"patient": "D-1", "conditions": ["trd"], "answers": {**CALM, "suicidal_ideation": "active_plan"}},
        {"patient": "D-2", "conditions": ["trd"], "answers": {**CALM, "systolic_bp": None}},
    ]
    code, out, _ = screen(stdin=json.dumps(records))
    assert code == 0
    with_bp, without_bp = json.loads(out)
    (alert,) = with_bp["alerts"]
    (duty,) = with_bp["duties"]
    assert set(duty) == set(alert) == {"criterion", "question", "message", "references"}
    assert duty == {
        "criterion": "all-bp-monitoring-duty", "question": "systolic_bp",
        "message": "Measure blood pressure before dosing, at about 40 minutes and before discharge.",
        "references": ["spravato-pi"],
    }
    # Third edition (issue 24; Spravato label boxed warning): active suicidal thoughts are a caution
    # for every condition, so D-1 reads caution, not eligible; its duty still changes nothing.
    assert [r["status"] for r in with_bp["results"]] == ["caution"]
    # unanswered, the duty is not listed, and the condition waits on its question
    assert without_bp["duties"] == []
    assert without_bp["results"][0]["status"] == "incomplete"
    assert "systolic_bp" in without_bp["results"][0]["missing"]


def test_a_screening_without_duties_lists_none():
    from tests.knowledge import without_shipped_duties_and_evidence

    without_shipped_duties_and_evidence()
    code, out, _ = screen(stdin=json.dumps(TRD))
    assert json.loads(out)[0]["duties"] == []


# Lone surrogates: JSON may write "\ud800", which no text encoding can hold ----------

LONE = "\\ud800"  # as it stands in the JSON text
SURROGATE_RECORDS = [
    f'{{"patient": "A-{LONE}", "conditions": ["trd"], "answers": {{"age": 45}}}}',
    f'{{"patient": "A-2", "conditions": ["trd"], "answers": {{"age": "{LONE}"}}}}',
    f'{{"patient": "A-3", "conditions": ["trd"], "answers": {{"x{LONE}": 1}}}}',
    f'{{"patient": "A-4", "conditions": ["trd"], "answers": {{"antidepressant_trials": '
    f'[{{"drug": "sertraline{LONE}", "daily_dose_mg": 150, "weeks": 8, "outcome": "no_response"}}]}}}}',
]
SURROGATE_PLACES = ["patient", "answers.age", "answers.x\\ud800", "answers.antidepressant_trials[0].drug"]


@pytest.mark.parametrize("jsonl", [False, True], ids=["json", "jsonl"])
def test_a_lone_surrogate_is_an_error_for_its_record_and_the_rest_are_screened(manage_py, jsonl):
    good = json.dumps(TRD)
    lines = [good, *SURROGATE_RECORDS, good]
    text = "\n".join(lines) if jsonl else "[" + ",\n".join(lines) + "]"
    code, out, err = manage_py("screen", *(["--jsonl"] if jsonl else []), stdin=text)
    assert code == 1, err
    assert "Traceback" not in err
    results = [json.loads(line) for line in out.splitlines()] if jsonl else json.loads(out)
    assert len(results) == len(lines)
    assert results[0]["results"][0]["status"] == results[-1]["results"][0]["status"] == "eligible"
    for result, place in zip(results[1:-1], SURROGATE_PLACES, strict=True):
        (error,) = result["errors"]
        assert error.startswith(f"{place}: contains a lone surrogate"), error
        assert "results" not in result
    assert [r["patient"] for r in results] == ["A-1027", None, "A-2", "A-3", "A-4", "A-1027"]
