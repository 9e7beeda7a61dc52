"""A trimmed knowledge base of the first edition (no instruments, formulary or
calculated questions) still loads, evaluates and keeps its version."""

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command

from rulebook.versions import build_rulebook
from rules.engine import Rulebook, evaluate, validate_answers

FILES = Path(__file__).resolve().parent / "files"
FIRST_EDITION = FILES / "first_edition.yaml"
# The version the first edition's code gave this file's rulebook, and its
# snapshot as that code stored it.
FIRST_EDITION_VERSION = "c338776c1ba2"
SNAPSHOT = FILES / "first_edition_snapshot.json"


def test_a_stored_first_edition_snapshot_loads_with_the_same_version():
    text = SNAPSHOT.read_text(encoding="utf-8")
    rulebook = Rulebook.from_json(text)
    assert rulebook.version == FIRST_EDITION_VERSION
    assert rulebook.to_json() == text
    assert (rulebook.instruments, rulebook.formulary, rulebook.min_trial_weeks) == ((), (), 4)


@pytest.mark.django_db
def test_a_first_edition_file_loads_and_builds_the_same_rulebook():
    call_command("load_knowledge_base", str(FIRST_EDITION), "--draft", stdout=io.StringIO())
    rulebook = build_rulebook()
    assert rulebook.version == FIRST_EDITION_VERSION
    assert rulebook == Rulebook.from_json(SNAPSHOT.read_text(encoding="utf-8"))


def test_a_first_edition_rulebook_evaluates_typed_totals_as_before():
    rulebook = Rulebook.from_json(SNAPSHOT.read_text(encoding="utf-8"))
    answers = {"age": 45, "suicidal_ideation": "active_plan", "bipolar_history": False, "mdd_current": True,
               "failed_antidepressant_trials": 2}
    validation = validate_answers(rulebook, ["trd"], answers)
    assert validation.is_valid
    advisory = evaluate(rulebook, ["trd"], validation.answers).to_dict()
    # As the first edition's code gave it, plus the (empty) new parts, and
    # each reason's basis, unspecified as a first-edition criterion has none.
    expected = {**json.loads(
        '{"alerts": [{"criterion": "all-suicidal-ideation-alert", "question": "suicidal_ideation", '
        '"effect": "alert", "outcome": "holds", "message": "Active suicidal thoughts reported: assess today.", '
        '"references": ["sanacora-2017"]}], "results": [{"condition": "trd", "status": "incomplete", '
        '"reasons": [{"criterion": "trd-phq9-require", "question": "phq9_total", "effect": "require", '
        '"outcome": "unknown", "message": "Requires a PHQ-9 of 10 or more.", "references": ["kroenke-2001"]}], '
        '"cautions": [], "missing": ["phq9_total"], "references": ["sforzini-2022"]}]}'
    ), "duties": [], "calculated": {}, "entered": [], "trials": []}
    for reason in [*expected["alerts"], *(r for result in expected["results"] for r in result["reasons"])]:
        reason["basis"] = "unspecified"
    assert advisory == expected
