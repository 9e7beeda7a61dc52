"""FHIR in and out through the commands: `export_fhir` prints the
Questionnaire, a form filled from it comes back through `screen` with the
result the case library expects, and what cannot be mapped is an error
naming its linkId."""

import io
import json
import sys

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from conditions.loader import DEFAULT_FILE
from rulebook.versions import current_rulebook
from screening.models import Screening
from tests.knowledge import add_trd_question
from tests.screening.test_default_knowledge_base import CALM

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("module_knowledge_base")]

# The case library as shipped: each case's answers and expected statuses.
CASES = yaml.safe_load(DEFAULT_FILE.read_text(encoding="utf-8"))["cases"]
VALUE = {"boolean": "valueBoolean", "integer": "valueInteger", "decimal": "valueDecimal"}


def run(command, *args, stdin=None):
    """The command in-process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    old_stdin = sys.stdin
    if stdin is not None:
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin.encode()))
    try:
        call_command(command, *args, stdout=out, stderr=err)
        code = 0
    except CommandError as error:
        code, err = error.returncode, io.StringIO(str(error))
    finally:
        sys.stdin = old_stdin
    return code, out.getvalue(), err.getvalue()


def export(*args):
    code, out, err = run("export_fhir", *args)
    assert code == 0, err
    questionnaire = json.loads(out)
    Questionnaire.model_validate(questionnaire)
    return questionnaire


def fill(questionnaire, conditions, answers, patient):
    """A QuestionnaireResponse as a form filler makes one from the exported
    Questionnaire alone: each answer typed by its item's type, a choice as
    the answerOption's Coding, a repeating group once per row."""

    def answer(item, value):
        if item["type"] == "choice":
            options = {o["valueCoding"]["code"]: o["valueCoding"] for o in item["answerOption"]}
            return [{"valueCoding": options[v]} for v in (value if item.get("repeats") else [value])]
        return [{VALUE[item["type"]]: value}]

    def items(children):
        filled = []
        for item in children:
            link_id = item["linkId"]
            if item["type"] == "display":
                continue
            if link_id == "conditions":
                filled.append({"linkId": link_id, "answer": answer(item, conditions)})
            elif item["type"] == "group" and item.get("repeats"):
                for row in answers.get(link_id) or []:
                    parts = [p for p in item["item"] if p["type"] != "display"]
                    filled.append({"linkId": link_id, "item": [
                        {"linkId": p["linkId"], "answer": answer(p, row[p["linkId"].removeprefix(link_id + ".")])}
                        for p in parts
                    ]})
            elif item["type"] == "group":
                if inner := items(item["item"]):
                    filled.append({"linkId": link_id, "item": inner})
            elif answers.get(link_id) is not None:
                filled.append({"linkId": link_id, "answer": answer(item, answers[link_id])})
        return filled

    response = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": f"{questionnaire['url']}|{questionnaire['version']}",
        "status": "completed",
        "subject": {"identifier": {"value": patient}},
        "item": items(questionnaire["item"]),
    }
    QuestionnaireResponse.model_validate(response)
    return response


def screened(records):
    code, out, err = run("screen", stdin=json.dumps(records))
    return code, json.loads(out) if out else None, err


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_every_library_case_filled_in_as_fhir_gives_its_expected_result(case):
    questionnaire = export()
    conditions = list(case["expected"])
    response = fill(questionnaire, conditions, case["answers"], patient="CASE-1")
    native = {"patient": "CASE-1", "conditions": conditions, "answers": case["answers"]}
    code, (from_fhir, from_native), err = screened([response, native])
    assert code == 0, (from_fhir.get("errors"), err)
    assert {r["condition"]: r["status"] for r in from_fhir["results"]} == case["expected"]
    assert from_fhir == from_native


def test_export_prints_the_version_in_force_or_the_one_asked_for():
    first = export()
    add_trd_question()  # publishes version 2, asking one question more
    second = export()
    assert (first["version"], second["version"]) == ("1", "2")
    assert second["identifier"][0]["value"] == current_rulebook().version != first["identifier"][0]["value"]
    assert first["url"] == second["url"]
    assert "ect_considered" in json.dumps(second) and "ect_considered" not in json.dumps(first)
    assert export("--number", "1") == first


def test_export_of_a_version_never_published_says_so():
    code, out, err = run("export_fhir", "--number", "99")
    assert (code, out) == (1, "")
    assert "No published version 99" in err


def test_what_a_response_cannot_map_is_an_error_naming_the_link_id_and_the_rest_is_screened():
    questionnaire = export()
    good = fill(questionnaire, ["trd"], CALM, patient="P-1")
    unknown = fill(questionnaire, ["trd"], CALM, patient="P-2")
    unknown["item"].append({"linkId": "favourite_colour", "answer": [{"valueString": "blue"}]})
    wrong_type = json.loads(json.dumps(good).replace('{"valueInteger": 45}', '{"valueString": "45"}'))
    wrong_type["subject"]["identifier"]["value"] = "P-3"
    too_old = json.loads(json.dumps(good).replace('{"valueInteger": 45}', '{"valueInteger": 400}'))
    too_old["subject"]["identifier"]["value"] = "P-4"
    no_subject = {**good, "subject": {"display": "Jane Doe"}}
    code, results, _ = screened([good, unknown, wrong_type, too_old, no_subject])
    assert code == 1
    assert [r["patient"] for r in results] == ["P-1", "P-2", "P-3", "P-4", None]
    assert results[0]["results"][0]["status"] == "eligible"
    assert results[1]["errors"] == ["linkId favourite_colour: not an item of this questionnaire."]
    assert results[2]["errors"] == ["linkId age: answer with valueInteger."]
    assert results[3]["errors"] == ["linkId age: 400 is above the maximum of 120 years."]
    assert results[4]["errors"] == ["subject: give the clinic's patient reference as subject.identifier.value."]


def test_a_resource_other_than_a_questionnaire_response_is_refused_by_name():
    code, (result,), _ = screened([{"resourceType": "Patient", "name": [{"text": "Jane Doe"}]}])
    assert code == 1
    assert result["errors"] == [
        "resourceType: “Patient” is not read here; give a QuestionnaireResponse, or a record of the native format."
    ]


def test_responses_are_read_from_json_lines_too_and_saved_as_drafts(clinician):
    response = fill(export(), ["trd"], CALM, patient="A-1027")
    native = {"patient": "A-1028", "conditions": ["trd"], "answers": CALM}
    lines = "\n".join(json.dumps(record) for record in (response, native))
    code, out, err = run("screen", "--jsonl", "--save", "--user", "clinician", stdin=lines)
    assert code == 0, err
    first, second = (json.loads(line) for line in out.splitlines())
    assert first["results"] == second["results"]
    stored = Screening.objects.get(pk=first["screening"])
    assert (stored.patient_reference, stored.conditions, stored.owner) == ("A-1027", ["trd"], clinician)
    assert stored.answers == Screening.objects.get(pk=second["screening"]).answers
