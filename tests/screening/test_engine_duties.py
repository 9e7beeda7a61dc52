"""Duties (what to do at the treatment session) and a condition's licensing
and evidence grades, on a small hand-made rulebook: no database."""

import dataclasses

import pytest

from rules.engine import (
    CAUTION_STATUS,
    DUTY,
    ELIGIBLE,
    EXCLUDED,
    HOLDS,
    INCOMPLETE,
    NOT_MET,
    Advisory,
    Choice,
    ConditionSpec,
    CriterionSpec,
    EnableWhen,
    EvidenceSpec,
    QuestionSpec,
    Rulebook,
    Section,
    evaluate,
)


def criterion(key, question, operator, value=None, effect=DUTY, conditions=()):
    return CriterionSpec(
        key=key, question=question, operator=operator, value=value, effect=effect,
        message=f"message of {key}", conditions=frozenset(conditions), references=(f"ref-{key}",),
    )


RULEBOOK = Rulebook(
    sections=(Section("main", "Main"),),
    questions=(
        QuestionSpec("route", "Route", "choice", "main", choices=(
            Choice("iv", "IV ketamine"), Choice("nasal", "Esketamine nasal spray"),
        )),
        QuestionSpec("cardiac_risk", "High cardiovascular risk", "boolean", "main"),
        QuestionSpec("intent", "Active suicidal intent", "boolean", "main"),
        QuestionSpec("drives", "Drives to the clinic", "boolean", "main",
                     enable_when=EnableWhen("route", "eq", "nasal")),
        QuestionSpec("trials", "Failed trials", "integer", "main", min=0, max=30),
    ),
    criteria=(
        criterion("bp-duty", "route", "in", ("iv", "nasal")),
        criterion("ecg-duty", "cardiac_risk", "is_true", conditions=["pain"]),
        criterion("risk-assessment-duty", "intent", "is_true", conditions=["dep"]),
        criterion("no-driving-duty", "drives", "is_true"),
        criterion("intent-alert", "intent", "is_true", effect="alert"),
        criterion("trials-require", "trials", "gte", 2, effect="require", conditions=["dep"]),
        criterion("cardiac-caution", "cardiac_risk", "is_true", effect="caution", conditions=["dep"]),
    ),
    conditions=(ConditionSpec("dep", "Depression"), ConditionSpec("pain", "Pain")),
    references=(),
)

CALM = {"route": "iv", "cardiac_risk": False, "intent": False, "trials": 3}


def advisory(conditions, **changes):
    answers = {code: value for code, value in {**CALM, **changes}.items() if value is not None}
    return evaluate(RULEBOOK, conditions, answers)


def duty_keys(result: Advisory):
    return [duty.criterion for duty in result.duties]


@pytest.mark.parametrize("conditions, changes, duties", [
    # holds: collected once for the screening, in rulebook order
    (["dep"], {}, ["bp-duty"]),
    (["dep", "pain"], {}, ["bp-duty"]),
    # fails: not on the checklist
    (["dep"], {"intent": False}, ["bp-duty"]),
    # unknown: not on the checklist either (until answered)
    (["dep"], {"route": None}, []),
    # skipped (enable-when disables its question): not on the checklist
    (["dep"], {"route": "iv", "drives": True}, ["bp-duty"]),
    (["dep"], {"route": "nasal", "drives": True}, ["bp-duty", "no-driving-duty"]),
    # a duty for particular conditions: only when one of them is screened
    (["dep"], {"cardiac_risk": True}, ["bp-duty"]),
    (["pain"], {"cardiac_risk": True}, ["bp-duty", "ecg-duty"]),
    (["dep", "pain"], {"cardiac_risk": True, "intent": True}, ["bp-duty", "ecg-duty", "risk-assessment-duty"]),
    (["pain"], {"intent": True}, ["bp-duty"]),
])
def test_duties_that_hold_are_collected_once_in_rulebook_order(conditions, changes, duties):
    assert duty_keys(advisory(conditions, **changes)) == duties


def test_a_duty_is_a_screening_wide_reason_like_an_alert():
    result = advisory(["dep"], intent=True)
    (alert,) = result.alerts
    assert [d.to_dict() for d in result.duties] == [
        {"criterion": "bp-duty", "question": "route", "effect": "duty", "outcome": HOLDS,
         "message": "message of bp-duty", "references": ["ref-bp-duty"], "basis": "unspecified"},
        {"criterion": "risk-assessment-duty", "question": "intent", "effect": "duty", "outcome": HOLDS,
         "message": "message of risk-assessment-duty", "references": ["ref-risk-assessment-duty"],
         "basis": "unspecified"},
    ]
    assert alert.criterion == "intent-alert"


@pytest.mark.parametrize("changes, status", [
    ({}, ELIGIBLE),
    ({"intent": True}, ELIGIBLE),                     # a duty and an alert hold: still eligible
    ({"trials": 1, "intent": True}, NOT_MET),
    ({"cardiac_risk": True}, CAUTION_STATUS),         # the caution decides, not the duty
])
def test_a_duty_that_holds_never_changes_a_status(changes, status):
    result = advisory(["dep"], **changes).results[0]
    assert result.status == status
    assert not any(reason.effect == DUTY for reason in result.reasons)


def test_the_same_answers_without_the_duties_give_the_same_statuses():
    without = dataclasses.replace(RULEBOOK, criteria=tuple(c for c in RULEBOOK.criteria if c.effect != DUTY))
    for changes in ({}, {"intent": True}, {"cardiac_risk": True, "trials": 0}, {"route": "nasal", "drives": False}):
        answers = {**CALM, **changes}
        assert [r.status for r in evaluate(RULEBOOK, ["dep", "pain"], answers).results] == [
            r.status for r in evaluate(without, ["dep", "pain"], answers).results
        ]


def test_an_unknown_duty_leaves_the_condition_incomplete_like_any_criterion():
    result = advisory(["dep", "pain"], route=None).results
    assert [r.status for r in result] == [INCOMPLETE, INCOMPLETE]
    # the no-driving duty waits on the route too (its question depends on it)
    assert [reason.criterion for reason in result[0].reasons] == ["bp-duty", "no-driving-duty"]
    assert result[0].missing == ("route",)
    # the duty for pain only is unknown for pain, not for depression
    result = advisory(["dep", "pain"], cardiac_risk=None)
    assert [(r.condition, r.status, r.missing) for r in result.results] == [
        ("dep", INCOMPLETE, ("cardiac_risk",)), ("pain", INCOMPLETE, ("cardiac_risk",)),
    ]
    assert [r.criterion for r in result.results[1].reasons] == ["ecg-duty"]


def test_an_exclusion_still_wins_while_a_duty_is_unknown():
    rulebook = dataclasses.replace(RULEBOOK, criteria=(
        *RULEBOOK.criteria, criterion("intent-exclude", "intent", "is_true", effect="exclude"),
    ))
    result = evaluate(rulebook, ["dep"], {"intent": True, "trials": 3})
    assert result.results[0].status == EXCLUDED
    assert duty_keys(result) == ["risk-assessment-duty"]


def test_advisory_round_trips_with_duties_and_reads_one_stored_before_them():
    result = advisory(["dep"], intent=True)
    data = result.to_dict()
    assert list(data) == ["alerts", "duties", "calculated", "entered", "trials", "results"]
    assert Advisory.from_dict(data) == result
    stored_before = {key: value for key, value in data.items() if key != "duties"}
    assert Advisory.from_dict(stored_before).duties == ()
    assert Advisory.from_dict(stored_before).results == result.results


# --- licensing and evidence grades in the snapshot --------------------------

GRADED = dataclasses.replace(RULEBOOK, conditions=(
    ConditionSpec("dep", "Depression", licensing="Esketamine nasal spray is licensed; other routes off-label.",
                  evidence=(EvidenceSpec("High", "ref-a"),)),
    ConditionSpec("pain", "Pain", licensing="Off-label for every route.", evidence=(
        EvidenceSpec("Moderate", "ref-b", applies_to="CRPS"),
        EvidenceSpec("Weak", "ref-b", applies_to="Fibromyalgia", note="Short-term relief only."),
    )),
))


def test_licensing_and_evidence_survive_the_snapshot():
    restored = Rulebook.from_json(GRADED.to_json())
    assert restored == GRADED
    assert restored.version == GRADED.version
    pain = restored.condition["pain"]
    assert pain.evidence[1] == EvidenceSpec("Weak", "ref-b", "Fibromyalgia", "Short-term relief only.")
    assert GRADED.to_dict()["conditions"][1]["evidence"][0] == {
        "grade": "Moderate", "applies_to": "CRPS", "source": "ref-b", "note": "",
    }


def test_a_rulebook_without_licensing_or_evidence_writes_neither_so_its_version_stands():
    conditions = RULEBOOK.to_dict()["conditions"]
    assert conditions[0] == {"slug": "dep", "name": "Depression", "description": "", "guidance": "", "references": []}
    assert GRADED.version != RULEBOOK.version
    restored = Rulebook.from_json(RULEBOOK.to_json())
    assert restored.condition["dep"].evidence == () and restored.condition["dep"].licensing == ""
