"""A knowledge-base file in the first edition's format (tests/conditions/
first_edition.yaml: no duties, licensing or evidence grades) still loads,
publishes under the very version the first edition's engine gave it, and
evaluates as it always did."""

from pathlib import Path

import pytest

from conditions.loader import knowledge_base_load, read_knowledge_base
from conditions.models import Condition, EvidenceGrade
from rulebook.publishing import case_library, rulebook_preview, rulebook_publish
from rulebook.versions import current_rulebook
from rules.engine import Rulebook, evaluate

pytestmark = pytest.mark.django_db

FIRST_EDITION = Path(__file__).resolve().parent / "first_edition.yaml"
# The version the first edition's engine (before duties, licensing and
# evidence grades) gives this file: a stored first-edition snapshot keeps it.
FIRST_EDITION_VERSION = "8534072a6e9e"

SAFE = {
    "age": 45, "pregnant_or_breastfeeding": False, "psychosis_history": False, "bipolar_history": False,
    "suicidal_ideation": "none", "systolic_bp": 120, "diastolic_bp": 80, "vascular_contraindication": False,
    "raised_icp": False, "unstable_cardiac": False, "ketamine_misuse_history": False,
    "hepatic_impairment": "none", "current_other_sud": False, "interacting_medicines": ["none"],
}


@pytest.fixture
def first_edition(db):
    counts = knowledge_base_load(read_knowledge_base(FIRST_EDITION), reason="First edition")
    rulebook_publish(note="The first edition.")
    return counts


def test_it_loads_and_publishes_under_the_first_editions_version(first_edition):
    assert {group: counts["created"] for group, counts in first_edition.items()} == {
        "sections": 10, "references": 23, "conditions": 8, "questions": 39, "criteria": 48, "cases": 21,
        "instruments": 0, "drugs": 0, "formulary settings": 0,
    }
    rulebook = current_rulebook()
    assert rulebook.version == FIRST_EDITION_VERSION
    assert Rulebook.from_json(rulebook.to_json()).version == FIRST_EDITION_VERSION


def test_nothing_of_the_second_edition_appears(first_edition):
    rulebook = current_rulebook()
    assert not EvidenceGrade.objects.exists()
    assert not Condition.objects.exclude(licensing="").exists()
    assert all(c.licensing == "" and c.evidence == () for c in rulebook.conditions)
    assert {c.effect for c in rulebook.criteria} == {"require", "exclude", "caution", "alert"}
    assert all(
        set(condition) == {"slug", "name", "description", "guidance", "references"}
        for condition in rulebook.to_dict()["conditions"]
    )


def test_every_case_of_the_file_gets_its_expected_status(first_edition):
    preview = rulebook_preview()
    assert preview.cases == 21
    assert preview.failing_cases == []
    assert len(case_library()) == 21


@pytest.mark.parametrize("conditions, changes, statuses, alerts", [
    (["trd"], {"mdd_current": True, "failed_antidepressant_trials": 2, "phq9_total": 15},
     {"trd": "eligible"}, []),
    (["trd"], {"age": 17, "mdd_current": True, "failed_antidepressant_trials": 2, "phq9_total": 15},
     {"trd": "excluded"}, []),
    (["trd", "ptsd"], {"suicidal_ideation": "active_plan", "systolic_bp": 150,
                       "interacting_medicines": ["benzodiazepines"], "mdd_current": True,
                       "failed_antidepressant_trials": 2, "phq9_total": 15, "ptsd_diagnosis": True},
     {"trd": "caution", "ptsd": "incomplete"}, ["all-suicidal-ideation-alert"]),
    (["chronic-pain"], {"systolic_bp": 185}, {"chronic-pain": "excluded"}, []),
])
def test_a_few_patients_get_the_results_the_first_edition_gave(first_edition, conditions, changes, statuses, alerts):
    advisory = evaluate(current_rulebook(), conditions, {**SAFE, **changes})
    assert {r.condition: r.status for r in advisory.results} == statuses
    assert [a.criterion for a in advisory.alerts] == alerts
    assert advisory.duties == ()


def test_the_cautions_of_a_first_edition_result_are_those_it_always_gave(first_edition):
    advisory = evaluate(current_rulebook(), ["trd"], {
        **SAFE, "systolic_bp": 150, "interacting_medicines": ["benzodiazepines"], "mdd_current": True,
        "failed_antidepressant_trials": 2, "phq9_total": 15,
    })
    (trd,) = advisory.results
    assert [c.criterion for c in trd.cautions] == ["all-systolic-bp-140-caution", "all-benzodiazepines-caution"]
