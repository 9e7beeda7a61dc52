"""Screening records from plain JSON-shaped data: the `screen` command's core.

Standard library, the engine, screening.age and screening.fhir only, so the command, the
benchmark and any future API share one path from an input object to an output object.
"""

import json
from collections.abc import Mapping
from datetime import date

from rules import engine
from screening import fhir
from screening.age import age_from_year_of_birth, with_age

FIELDS = frozenset({"patient", "conditions", "answers", "year_of_birth"})
# Compact JSON as it is written: one line, characters as they are.
COMPACT_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def screen_record(rulebook: engine.Rulebook, record, *, on: date | None = None) -> tuple[dict, engine.Validation | None]:
    """The output object for one input object (docs/batch.md): a record of
    the native format, or a FHIR QuestionnaireResponse (told apart by its
    `resourceType`; docs/fhir.md), which gives the same output as the same
    answers in the native format.

    Returns (output, validation). A valid record's output carries its
    results (`advisory_output`); an invalid one's has `errors` instead;
    validation is None when the record is not an object. An unanswered age
    is worked out from `year_of_birth` on `on` (the clinic's today; the
    system's when None), as the web questionnaire does (screening.age).
    """
    on = on or date.today()
    if not isinstance(record, Mapping):
        return {
            "patient": None, "rulebook_version": rulebook.version,
            "errors": ["each record must be a JSON object with patient, conditions and answers."],
        }, None
    if unreadable := _lone_surrogates(record):
        # Refused before anything reads the record: no message, and no
        # output, may carry such a character, or writing it as UTF-8 fails.
        patient = record.get("patient")
        return {
            "patient": patient if isinstance(patient, str) and "patient" not in unreadable else None,
            "rulebook_version": rulebook.version,
            "errors": [f"{place}: contains a lone surrogate (an escape such as \\ud800 that stands for no "
                       "character); write the text as UTF-8 or as a complete escaped pair." for place in unreadable],
        }, None
    errors = []
    from_fhir = "resourceType" in record
    if from_fhir:
        if record.get("resourceType") != fhir.QUESTIONNAIRE_RESPONSE:
            return {"patient": None, "rulebook_version": rulebook.version, "errors": [
                f"resourceType: “{_short(str(record.get('resourceType')))}” is not read here; give a "
                "QuestionnaireResponse, or a record of the native format."
            ]}, None
        record, errors = fhir.record_from_response(rulebook, record)
    patient = record.get("patient")
    if (not from_fhir or patient is not None) and (not isinstance(patient, str) or not patient.strip()):
        errors.append("patient: give the clinic's patient reference as a string.")
    if unknown_keys := record.keys() - FIELDS:
        errors.append(f"unknown fields: {', '.join(_short(key) for key in sorted(map(str, unknown_keys)))}.")
    year_of_birth = record.get("year_of_birth")
    if year_of_birth is not None and (type(year_of_birth) is not int or not 1900 <= year_of_birth <= on.year):
        errors.append(f"year_of_birth: give a year from 1900 to {on.year} as a whole number, e.g. 1981.")
        year_of_birth = None
    validation = engine.validate_answers(rulebook, record.get("conditions"), record.get("answers", {}))
    if validation.errors:
        # A response's fields are its items: each error names the linkId.
        errors += [f"linkId {m}" if from_fhir else m for m in validation.messages()]
    if errors:
        return {"patient": patient, "rulebook_version": rulebook.version, "errors": errors}, validation
    age = age_from_year_of_birth(rulebook, validation.conditions, validation.answers, year_of_birth, on)
    advisory = engine.evaluate(rulebook, validation.conditions, with_age(validation.answers, age))
    output = advisory_output(patient, rulebook.version, advisory)
    if age is not None:
        output["age_from_year_of_birth"] = age.to_dict()
    return output, validation


def _lone_surrogates(record) -> dict[str, None]:
    """Where in a record (a key or a string value, at any depth) a lone
    surrogate is, as printable places such as `answers.antidepressant_trials[0].drug`
    (a key that holds one is shown escaped). JSON allows "\\ud800" but no text
    encoding does. The places come in record order, each once. A loop, not
    recursion: the JSON parser takes nesting as deep as Python recurses.
    A record whose JSON text encodes has none, and is not walked."""
    if _encodable_as_json(record):
        return {}
    found: dict[str, None] = {}
    pending = [("", record)]
    while pending:
        place, value = pending.pop()
        if isinstance(value, str):
            if not _encodable(value):
                found[place or "record"] = None
            continue
        if isinstance(value, Mapping):
            children = []
            for key, inner in value.items():
                text = str(key) if _encodable(str(key)) else str(key).encode("utf-8", "backslashreplace").decode()
                here = f"{place}.{text}" if place else text
                if text != str(key):
                    found[here] = None
                children.append((here, inner))
        elif isinstance(value, list):
            children = [(f"{place}[{index}]", inner) for index, inner in enumerate(value)]
        else:
            continue
        pending.extend(reversed(children))
    return found


def _encodable_as_json(record) -> bool:
    """Whether the record written as JSON encodes as UTF-8; False as well
    when it cannot be written (nested deeper than the encoder goes)."""
    try:
        text = COMPACT_JSON.encode(record)
    except (TypeError, ValueError, RecursionError):
        return False
    return _encodable(text)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def malformed_line(rulebook: engine.Rulebook, number: int, problem: str) -> dict:
    """The output object for a line of JSON Lines input that is not JSON."""
    return {
        "patient": None, "rulebook_version": rulebook.version, "line": number,
        "errors": [f"line {number} is not valid JSON: {problem}."],
    }


def _short(text: str, limit: int = 40) -> str:
    """`text`, cut to `limit` characters with an ellipsis: error messages
    never echo a long value in full."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def advisory_output(patient, version: str, advisory: engine.Advisory) -> dict:
    """The output object for an advisory: its alerts and results, the values
    worked out from other answers (`calculated`), the calculated questions
    whose total was given instead (`entered`) and every trial, judged."""
    return {
        "patient": patient,
        "rulebook_version": version,
        "alerts": [_alert_dict(a) for a in advisory.alerts],
        "duties": [_alert_dict(d) for d in advisory.duties],
        "calculated": dict(advisory.calculated),
        "entered": list(advisory.entered),
        "trials": [t.to_dict() for t in advisory.trials],
        "results": [_condition_dict(r) for r in advisory.results],
    }


def _condition_dict(result: engine.ConditionResult) -> dict:
    return {
        "condition": result.condition, "status": result.status,
        "reasons": [x.to_dict() for x in result.reasons],
        "missing": list(result.missing), "references": list(result.references),
    }


def _alert_dict(reason: engine.Reason) -> dict:
    """An alert or a duty: screening-wide, so without effect or outcome."""
    return {
        "criterion": reason.criterion, "question": reason.question,
        "message": reason.message, "references": list(reason.references),
    }


def dumps(output: dict) -> str:
    """An output object as compact JSON text, one line."""
    return COMPACT_JSON.encode(output)
