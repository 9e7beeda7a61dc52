"""The knowledge-base file's schema: the loader and an editor's checking agree,
every problem names its path, and the JSON Schema in docs/ is never stale."""

import io
import json
from pathlib import Path

import jsonschema
import pytest
from django.core.management import call_command

from conditions.kb_schema import json_schema
from conditions.loader import (
    DEFAULT_FILE,
    InvalidKnowledgeBase,
    knowledge_base_plan,
    read_knowledge_base,
)

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = ROOT / "docs" / "knowledge-base.schema.json"
EDITIONS = [DEFAULT_FILE, ROOT / "tests" / "conditions" / "first_edition.yaml",
            ROOT / "tests" / "conditions" / "second_edition.yaml"]


def editor_errors(data):
    """What an editor checking against the committed JSON Schema reports: paths as the loader writes them."""
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))
    return sorted(
        "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in deepest(error).absolute_path)
        .lstrip(".")
        for error in validator.iter_errors(data)
    )


def deepest(error):
    """An optional part (anyOf: the part or null) reports where it fails within, as an editor shows it."""
    return max((deepest(inner) for inner in error.context), key=lambda e: len(e.absolute_path), default=error)


def test_the_committed_json_schema_is_the_generated_one():
    out = io.StringIO()
    call_command("knowledge_base_schema", stdout=out)
    assert json.loads(SCHEMA_FILE.read_text(encoding="utf-8")) == json.loads(out.getvalue()), (
        "docs/knowledge-base.schema.json is stale: regenerate it with "
        "`python manage.py knowledge_base_schema --write` and commit it."
    )


@pytest.mark.parametrize("path", EDITIONS, ids=lambda path: path.name)
def test_every_edition_fits_the_schema_an_editor_checks_against(path):
    assert editor_errors(read_knowledge_base(path)) == []


def test_the_schema_describes_the_file_for_editors():
    schema = json_schema()
    assert set(schema["properties"]) == {
        "sections", "references", "conditions", "questions", "criteria", "instruments",
        "formulary", "retired_questions", "cases",
    }
    criterion = schema["$defs"]["Criterion"]["properties"]
    assert "is_true" in json.dumps(criterion["operator"]) and "duty" in json.dumps(criterion["effect"])


def mistaken(change):
    data = read_knowledge_base(DEFAULT_FILE)
    change(data)
    return data


@pytest.mark.django_db
@pytest.mark.parametrize("change, path, problem", [
    (lambda d: d["sections"][0].update(title=123), "sections[0].title", "sections[0].title (treatment): write text, not 123."),
    (lambda d: d["criteria"][12].update(effect="reminder"), "criteria[12].effect", "criteria[12].effect ("),
    (lambda d: d["questions"][1].update(min="none"), "questions[1].min", "questions[1].min (age): "),
    (lambda d: d["instruments"][0]["bands"][1].update(max="nine"), "instruments[0].bands[1].max",
     "instruments[0].bands (phq9): Each band needs a whole-number min and max"),
    (lambda d: d["cases"][0]["expected"].update(trd="fine"), "cases[0].expected.trd",
     "cases[0].expected"),
])
def test_a_mistake_is_reported_at_its_path_by_the_loader_and_by_an_editor(change, path, problem):
    data = mistaken(change)
    assert editor_errors(data) == [path]
    with pytest.raises(InvalidKnowledgeBase) as refused:
        knowledge_base_plan(data)
    assert [found for found in refused.value.problems if found.startswith(problem)], refused.value.problems
