"""Screening records from plain JSON-shaped data: the `screen` command's core.

Standard library and the engine only, so the command, the benchmark and any
future API share one path from an input object to an output object.
"""

from collections.abc import Mapping
from functools import lru_cache

from screening import engine


def screen_record(rulebook: engine.Rulebook, record) -> tuple[dict, engine.Validation | None]:
    """The output object for one input object (DESIGN.md, "The `screen` command").

    Returns the output and the validation (None when the record is not even
    an object). An invalid record's output has `errors` instead of results.
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
    unknown_keys = sorted(set(record) - {"patient", "conditions", "answers", "year_of_birth"})
    if unknown_keys:
        errors.append(f"unknown fields: {', '.join(map(str, unknown_keys))}.")
    validation = engine.validate_answers(rulebook, record.get("conditions"), record.get("answers", {}))
    errors += validation.messages()
    if errors:
        return {"patient": patient, "rulebook_version": rulebook.version, "errors": errors}, validation
    advisory = engine.evaluate(rulebook, validation.conditions, validation.answers)
    return advisory_output(patient, rulebook.version, advisory), validation


def advisory_output(patient, version: str, advisory: engine.Advisory) -> dict:
    return {
        "patient": patient,
        "rulebook_version": version,
        "alerts": [_alert(a) for a in advisory.alerts],
        "results": [
            {
                "condition": r.condition,
                "status": r.status,
                "reasons": [_reason(x) for x in r.reasons],
                "missing": list(r.missing),
                "references": list(r.references),
            }
            for r in advisory.results
        ],
    }


# Reasons are immutable and few (one per criterion and outcome); their output
# objects are built once and shared, which keeps large batches fast.
@lru_cache(maxsize=4096)
def _reason(reason: engine.Reason) -> dict:
    return reason.to_dict()


@lru_cache(maxsize=1024)
def _alert(reason: engine.Reason) -> dict:
    return {
        "criterion": reason.criterion, "question": reason.question,
        "message": reason.message, "references": list(reason.references),
    }
