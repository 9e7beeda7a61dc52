"""A condition's licensing text and evidence grades, and `duty` criteria,
from the knowledge-base file: loaded, validated, kept in history and
carried into the rulebook."""

import pytest

from conditions.loader import InvalidKnowledgeBase, knowledge_base_load
from conditions.models import Condition, Criterion, EvidenceGrade
from rulebook.versions import build_rulebook
from tests.conditions.test_load_knowledge_base import default_content

pytestmark = pytest.mark.django_db


def condition_entry(content, slug):
    return next(entry for entry in content["conditions"] if entry["slug"] == slug)


PAIN_EVIDENCE = [
    {"grade": "Moderate", "applies_to": "CRPS", "source": "cohen-2018"},
    {"grade": "Weak", "applies_to": "Fibromyalgia", "source": "cohen-2018", "note": "Short-term relief at best."},
    {"grade": "Weak", "source": "niesters-2014"},
]


def graded_content():
    content = default_content()
    pain = condition_entry(content, "chronic-pain")
    pain["licensing"] = "Off-label for every route."
    pain["evidence"] = [dict(grade) for grade in PAIN_EVIDENCE]
    return content


def test_licensing_and_evidence_load_in_file_order_with_their_sources(db):
    counts = knowledge_base_load(graded_content())
    pain = Condition.objects.get(slug="chronic-pain")
    assert pain.licensing == "Off-label for every route."
    assert [
        (g.grade, g.applies_to, g.source.key, g.note) for g in pain.evidence_grades.select_related("source")
    ] == [
        ("Moderate", "CRPS", "cohen-2018", ""),
        ("Weak", "Fibromyalgia", "cohen-2018", "Short-term relief at best."),
        ("Weak", "", "niesters-2014", ""),
    ]
    assert counts["conditions"]["created"] == len(default_content()["conditions"])


def test_they_reach_the_rulebook_and_their_sources_its_references(db):
    knowledge_base_load(graded_content())
    rulebook = build_rulebook()
    pain = rulebook.condition["chronic-pain"]
    assert pain.licensing == "Off-label for every route."
    assert [(e.grade, e.applies_to, e.source) for e in pain.evidence] == [
        ("Moderate", "CRPS", "cohen-2018"), ("Weak", "Fibromyalgia", "cohen-2018"), ("Weak", "", "niesters-2014"),
    ]
    assert {"cohen-2018", "niesters-2014"} <= set(rulebook.reference)


def test_loading_the_same_grades_again_writes_nothing(db):
    knowledge_base_load(graded_content())
    history = EvidenceGrade.history.count()
    counts = knowledge_base_load(graded_content())
    assert counts["conditions"]["updated"] == 0
    assert EvidenceGrade.history.count() == history


def test_changed_grades_replace_the_old_ones_with_history_and_count_the_condition_updated(db):
    knowledge_base_load(graded_content())
    content = graded_content()
    condition_entry(content, "chronic-pain")["evidence"][0]["grade"] = "Low"
    counts = knowledge_base_load(content, reason="Cohen regraded")
    assert counts["conditions"]["updated"] == 1
    grade = EvidenceGrade.objects.get(condition__slug="chronic-pain", applies_to="CRPS")
    assert grade.grade == "Low"
    assert grade.history.first().history_change_reason == "Cohen regraded"
    assert EvidenceGrade.history.filter(history_type="-", grade="Moderate").exists()  # the old one, kept


def test_a_first_edition_condition_without_them_has_none(db):
    knowledge_base_load(graded_content())
    # the shipped file grades chronic pain since its second edition (issue 18); a first-edition
    # entry has neither key
    first_edition = default_content()
    entry = condition_entry(first_edition, "chronic-pain")
    del entry["licensing"], entry["evidence"]
    knowledge_base_load(first_edition)
    pain = Condition.objects.get(slug="chronic-pain")
    assert pain.licensing == "" and not pain.evidence_grades.exists()


@pytest.mark.parametrize("evidence, expected", [
    ("Moderate", ".evidence (chronic-pain): write a list of grades"),
    (["Moderate"], ".evidence[0] (chronic-pain): write a mapping of fields (grade, applies_to, source, note)."),
    ([{"grade": "Moderate"}], ".evidence[0].source (chronic-pain): name the reference that gives this grade"),
    ([{"grade": "Moderate", "source": "nobody-2020"}], ".evidence[0].source (chronic-pain): there is no reference “nobody-2020”."),
    ([{"source": "cohen-2018"}], ".evidence[0].grade (chronic-pain): This field cannot be blank."),
    ([{"grade": "Moderate", "source": "cohen-2018", "level": 2}], ".evidence[0].level (chronic-pain): “level” is not a field here"),
    ([{"grade": "Moderate", "source": "cohen-2018"}, {"grade": "Weak", "source": "cohen-2018"}],
     ".evidence[1] (chronic-pain): cohen-2018 already grades the whole condition in evidence[0]."),
])
def test_a_malformed_grade_is_reported_with_its_place_and_nothing_loads(db, evidence, expected):
    content = default_content()
    condition_entry(content, "chronic-pain")["evidence"] = evidence
    with pytest.raises(InvalidKnowledgeBase) as raised:
        knowledge_base_load(content)
    assert any(problem.startswith("conditions[") and expected in problem for problem in raised.value.problems), (
        raised.value.problems
    )
    assert not Condition.objects.exists()


def test_a_duty_criterion_loads_and_reaches_the_rulebook(db):
    content = default_content()
    content["criteria"].append({
        "key": "local-bp-monitoring-duty", "question": "systolic_bp", "operator": "gte", "value": 60,
        "effect": "duty", "conditions": [], "references": ["spravato-pi"],
        "message": "Measure blood pressure before dosing, at about 40 minutes and before discharge.",
    })
    knowledge_base_load(content)
    assert Criterion.objects.get(key="local-bp-monitoring-duty").get_effect_display() == "Duty at the treatment session"
    spec = next(c for c in build_rulebook().criteria if c.key == "local-bp-monitoring-duty")
    assert spec.effect == "duty"


def test_an_unknown_effect_is_still_refused(db):
    content = default_content()
    content["criteria"][0]["effect"] = "reminder"
    with pytest.raises(InvalidKnowledgeBase) as raised:
        knowledge_base_load(content)
    assert any("criteria[0].effect (" in p and "Value 'reminder' is not a valid choice." in p for p in raised.value.problems)
