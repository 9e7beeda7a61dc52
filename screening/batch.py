"""Screening records from plain JSON-shaped data: the `screen` command's core.

Standard library and the engine only, so the command, the benchmark and any
future API share one path from an input object to an output object.
"""

import json
from collections.abc import Mapping

from screening import engine

FIELDS = frozenset({"patient", "conditions", "answers", "year_of_birth"})


def screen_record(rulebook: engine.Rulebook, record) -> tuple[dict, engine.Validation | None]:
    """The output object for one input object (docs/batch.md).

    Returns (output, validation). A valid record's output carries its
    results (`advisory_output`); an invalid one's has `errors` instead;
    validation is None when the record is not an object.
    """
    if not isinstance(record, Mapping):
        return {
            "patient": None, "rulebook_version": rulebook.version,
            "errors": ["each record must be a JSON object with patient, conditions and answers."],
        }, None
    patient = record.get("patient")
    errors = []
    if not isinstance(patient, str) or not patient.strip():
        errors.append("patient: give the clinic's patient reference as a string.")
    if unknown_keys := record.keys() - FIELDS:
        errors.append(f"unknown fields: {', '.join(_short(key) for key in sorted(map(str, unknown_keys)))}.")
    validation = engine.validate_answers(rulebook, record.get("conditions"), record.get("answers", {}))
    if validation.errors:
        errors += validation.messages()
    if errors:
        return {"patient": patient, "rulebook_version": rulebook.version, "errors": errors}, validation
    advisory = engine.evaluate(rulebook, validation.conditions, validation.answers)
    return advisory_output(patient, rulebook.version, advisory), validation


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
    return {
        "criterion": reason.criterion, "question": reason.question,
        "message": reason.message, "references": list(reason.references),
    }


def dumps(output: dict) -> str:
    """An output object as compact JSON text, one line."""
    return json.dumps(output, ensure_ascii=False, separators=(",", ":"))
