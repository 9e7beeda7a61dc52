"""Screening records from plain JSON-shaped data: the `screen` command's core.

Standard library and the engine only, so the command, the benchmark and any
future API share one path from an input object to an output object.
"""

import json
from collections.abc import Mapping

from screening import engine

FIELDS = frozenset({"patient", "conditions", "answers", "year_of_birth"})
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_string = json.encoder.encode_basestring  # what _dumps does with a str, minus its overhead


def screen_record(rulebook: engine.Rulebook, record) -> tuple[dict | str, engine.Validation | None]:
    """The output for one input object (DESIGN.md, "The `screen` command").

    Returns (output, validation). A valid record's output is its JSON text,
    built by `advisory_json`; an invalid one's is a dict with `errors`
    instead of results; validation is None when the record is not an object.
    """
    if type(record) is not dict and not isinstance(record, Mapping):
        return {
            "patient": None, "rulebook_version": rulebook.version,
            "errors": ["each record must be a JSON object with patient, conditions and answers."],
        }, None
    patient = record.get("patient")
    errors = []
    if not isinstance(patient, str) or not patient.strip():
        errors.append("patient: give the clinic's patient reference as a string.")
    if unknown_keys := record.keys() - FIELDS:
        errors.append(f"unknown fields: {', '.join(sorted(map(str, unknown_keys)))}.")
    validation = engine.validate_answers(rulebook, record.get("conditions"), record.get("answers", {}))
    if validation.errors:
        errors += validation.messages()
    if errors:
        return {"patient": patient, "rulebook_version": rulebook.version, "errors": errors}, validation
    advisory = engine.evaluate(rulebook, validation.conditions, validation.answers)
    return advisory_json(patient, rulebook.version, advisory), validation


def advisory_output(patient, version: str, advisory: engine.Advisory) -> dict:
    """The output object for an advisory."""
    return {
        "patient": patient,
        "rulebook_version": version,
        "alerts": [_alert_dict(a) for a in advisory.alerts],
        "results": [_condition_dict(r) for r in advisory.results],
    }


def _condition_dict(result: engine.ConditionResult) -> dict:
    return {
        "condition": result.condition, "status": result.status,
        "reasons": [x.to_dict() for x in result.reasons],
        "missing": list(result.missing), "references": list(result.references),
    }


def advisory_json(patient, version: str, advisory: engine.Advisory) -> str:
    """`advisory_output` as compact JSON text, the same object.

    Most of an output is reasons, and the engine shares the tuples of them
    between screenings with the same outcomes (they are immutable), so each
    condition's part is encoded once per (condition, status, reasons,
    missing) and reused: a large batch costs little more than parsing its
    input.
    """
    return "".join([
        '{"patient":', _string(patient) if type(patient) is str else _dumps(patient),
        ',"rulebook_version":', _string(version),
        ',"alerts":[', _alerts_json(advisory.alerts) if advisory.alerts else "",
        '],"results":[', ",".join([_condition_json(r) for r in advisory.results]), "]}",
    ])


# Encoded texts, by the id of the reasons (or alerts) tuple they show and
# what else they depend on. Each entry holds its tuple, so the tuple lives
# as long as the entry and its id cannot pass to another object.
_texts: dict[tuple, tuple[tuple, str]] = {}
TEXTS_LIMIT = 20_000  # about 30 MB


def _condition_json(result: engine.ConditionResult) -> str:
    """One condition's object in the output's `results`."""
    reasons = result.reasons
    key = (id(reasons), result.condition, result.status, result.missing, result.references)
    entry = _texts.get(key)
    if entry is not None and entry[0] is reasons:
        return entry[1]
    return engine.remember(_texts, key, (reasons, _dumps(_condition_dict(result))), limit=TEXTS_LIMIT)[1]


def _alerts_json(alerts: tuple[engine.Reason, ...]) -> str:
    """The objects of the output's `alerts`, comma-separated."""
    key = ("alerts", id(alerts))
    entry = _texts.get(key)
    if entry is not None and entry[0] is alerts:
        return entry[1]
    text = ",".join([_dumps(_alert_dict(a)) for a in alerts])
    return engine.remember(_texts, key, (alerts, text), limit=TEXTS_LIMIT)[1]


def dumps(output: dict | str) -> str:
    """An output from `screen_record` as JSON text."""
    return output if isinstance(output, str) else _dumps(output)


def _alert_dict(reason: engine.Reason) -> dict:
    return {
        "criterion": reason.criterion, "question": reason.question,
        "message": reason.message, "references": list(reason.references),
    }
