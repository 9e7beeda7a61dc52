"""Screening records from plain JSON-shaped data: the `screen` command's core.

Standard library and the engine only, so the command, the benchmark and any
future API share one path from an input object to an output object.
"""

import json
from collections.abc import Mapping

from screening import engine

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def screen_record(rulebook: engine.Rulebook, record) -> tuple[dict | str, engine.Validation | None]:
    """The output for one input object (DESIGN.md, "The `screen` command").

    Returns (output, validation). A valid record's output is its JSON text,
    built by `advisory_json`; an invalid one's is a dict with `errors`
    instead of results; validation is None when the record is not an object.
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
    return advisory_json(patient, rulebook.version, advisory), validation


def advisory_output(patient, version: str, advisory: engine.Advisory) -> dict:
    """The output object for an advisory."""
    return {
        "patient": patient,
        "rulebook_version": version,
        "alerts": [_alert_dict(a) for a in advisory.alerts],
        "results": [
            {
                "condition": r.condition,
                "status": r.status,
                "reasons": [x.to_dict() for x in r.reasons],
                "missing": list(r.missing),
                "references": list(r.references),
            }
            for r in advisory.results
        ],
    }


def advisory_json(patient, version: str, advisory: engine.Advisory) -> str:
    """`advisory_output` as compact JSON text, the same object.

    Most of an output is reasons, which are immutable and shared by every
    result of a rulebook (see `Reason.as_json`), and each condition's own
    part is the same for every patient: both are encoded once and reused,
    so a large batch costs little more than parsing its input.
    """
    results = ",".join([
        _condition_json(version, r.condition, r.references).format(
            status=r.status,
            reasons=",".join([x.as_json for x in r.reasons]),
            missing=_dumps(list(r.missing)) if r.missing else "[]",
        )
        for r in advisory.results
    ])
    alerts = ",".join([_dumps(_alert_dict(a)) for a in advisory.alerts])
    return (
        f'{{"patient":{_dumps(patient)},"rulebook_version":{_dumps(version)},'
        f'"alerts":[{alerts}],"results":[{results}]}}'
    )


_condition_templates: dict[tuple[str, str], str] = {}


def _condition_json(version, condition, references) -> str:
    """A format string for one condition's result object."""
    key = (version, condition)
    template = _condition_templates.get(key)
    if template is None:
        if len(_condition_templates) > 10_000:  # many rulebook versions in one process
            _condition_templates.clear()
        head = _dumps(condition).replace("{", "{{").replace("}", "}}")
        tail = _dumps(list(references)).replace("{", "{{").replace("}", "}}")
        template = (
            f'{{{{"condition":{head},"status":"{{status}}","reasons":[{{reasons}}],'
            f'"missing":{{missing}},"references":{tail}}}}}'
        )
        _condition_templates[key] = template
    return template


def dumps(output: dict | str) -> str:
    """An output from `screen_record` as JSON text."""
    return output if isinstance(output, str) else _dumps(output)


def _alert_dict(reason: engine.Reason) -> dict:
    return {
        "criterion": reason.criterion, "question": reason.question,
        "message": reason.message, "references": list(reason.references),
    }
