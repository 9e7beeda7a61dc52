"""Building, versioning and caching the rulebook from the database."""

import pytest

from conditions.models import Condition, Criterion, EvidenceGrade, Question, Reference
from rulebook import versions as rulebook_module
from rulebook.publishing import rulebook_publish
from rulebook.versions import build_rulebook, current_rulebook, snapshot_for, working_rulebook
from rules.engine import Rulebook, evaluate
from tests.screening.test_default_knowledge_base import ALL, CALM
from tests.screening.test_views_queries import multiply_criteria

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("module_knowledge_base"),
]


SHIPPED_CRITERIA = 110  # third edition of the knowledge base (issue 24)


def test_default_rulebook_holds_the_whole_knowledge_base():
    rulebook = build_rulebook()
    # Second edition (issue 18): new questions, rules and references; the route is asked first.
    # Third edition (issue 24): the pregnancy question split in three, and the questions and
    # references of racemic ketamine's labels, breathing, seizures, the thyroid and interactions.
    # Issue 26: the trials table's completeness question.
    assert (len(rulebook.conditions), len(rulebook.questions), len(rulebook.criteria),
            len(rulebook.references)) == (8, 102, SHIPPED_CRITERIA, 53)
    assert [s.key for s in rulebook.sections][:3] == ["treatment", "patient", "safety"]
    assert rulebook.questions[0].code == "route"
    mood = rulebook.question["mood_episode"]
    assert (mood.enable_when.question, mood.enable_when.operator) == ("bipolar_history", "is_true")
    trials = next(c for c in rulebook.criteria if c.key == "trd-two-failed-trials-require")
    assert (trials.operator, trials.value, trials.effect, trials.conditions) == ("gte", 2, "require", {"trd"})


def add_evidence_grades(per_condition):
    """`per_condition` evidence grades for every condition, each from a reference."""
    references = list(Reference.objects.order_by("key")[:per_condition])
    EvidenceGrade.objects.bulk_create(
        EvidenceGrade(condition=condition, grade="Weak", applies_to=f"Kind {n}", source=references[n], order=n)
        for condition in Condition.objects.all() for n in range(per_condition)
    )


@pytest.mark.parametrize("times", [1, 10])
def test_building_takes_seventeen_queries_however_large_the_knowledge_base(times, assert_queries):
    shipped = {c.slug: len(c.evidence) for c in build_rulebook().conditions}
    multiply_criteria(times)
    add_evidence_grades(times)
    # Seventeen since the third edition: its retired questions are a table of their own.
    with assert_queries(17):
        # 1. sections
        # 2. questions, with their sections and enable-when parents
        # 3. the questions' inputs (of calculated questions)
        # 4. active criteria, with their questions and `when` questions
        # 5. the criteria's conditions
        # 6. the criteria's references
        # 7. active conditions
        # 8. the conditions' references
        # 9. the conditions' evidence grades, with their sources
        # 10. instruments, with their totals
        # 11. the instruments' extra items
        # 12. the instruments' references
        # 13. formulary drugs
        # 14. the drugs' references
        # 15. the formulary settings
        # 16. the settings' references
        # 17. retired questions
        rulebook = build_rulebook()
    assert len(rulebook.criteria) == SHIPPED_CRITERIA * times
    assert all(len(c.evidence) == shipped[c.slug] + times for c in rulebook.conditions)


def test_more_drugs_and_instruments_cost_no_more_queries(assert_queries):
    from conditions.models import Drug, Instrument

    for drug in Drug.objects.prefetch_related("references"):
        references = list(drug.references.all())
        drug.pk, drug.key = None, f"{drug.key}-copy"
        drug.save()
        drug.references.set(references)
    phq9 = Instrument.objects.get(code="phq9")
    extra = list(phq9.extra_items.all())
    Instrument.objects.filter(code="gad7").delete()
    copy = Instrument.objects.create(
        code="gad7-copy", name="Copy", total=Question.objects.get(code="gad7_total"), options=phq9.options,
        bands=[{"min": 0, "max": 21, "label": "All"}],
    )
    copy.extra_items.set(extra)
    copy.references.set(phq9.references.all())
    with assert_queries(17):  # as building always takes (retired questions are the 17th)
        rulebook = build_rulebook()
    assert (len(rulebook.formulary), len(rulebook.instruments)) == (66, 3)


def test_version_is_twelve_hex_digits_of_the_canonical_json():
    import hashlib

    rulebook = build_rulebook()
    assert rulebook.version == hashlib.sha256(rulebook.to_json().encode()).hexdigest()[:12]
    assert build_rulebook().version == rulebook.version  # deterministic


def test_restored_snapshot_is_identical_and_evaluates_the_same():
    rulebook = build_rulebook()
    restored = Rulebook.from_json(rulebook.to_json())
    assert restored == rulebook
    assert restored.to_json() == rulebook.to_json()
    answers = {**CALM, "bipolar_history": True, "mood_episode": "depressed", "on_mood_stabiliser": False,
               "failed_bipolar_treatments": 2, "suicidal_ideation": "active_no_plan"}
    assert evaluate(restored, ALL, answers) == evaluate(rulebook, ALL, answers)


def test_cached_rulebook_costs_one_query(django_assert_num_queries):
    first = current_rulebook()
    with django_assert_num_queries(1):  # the newest published version
        assert current_rulebook() == first
    working = working_rulebook()
    with django_assert_num_queries(1):  # the knowledge base's state token
        assert working_rulebook() == working


def test_any_knowledge_base_edit_rebuilds_the_working_copy():
    before = working_rulebook()
    criterion = Criterion.objects.get(key="trd-phq9-require")
    criterion.value = 12
    criterion.save()
    after = working_rulebook()
    assert after.version != before.version
    assert next(c for c in after.criteria if c.key == "trd-phq9-require").value == 12


def test_the_current_rulebook_is_the_published_one_until_the_next_publish():
    published = current_rulebook()
    assert published == build_rulebook()  # loading the knowledge base published it
    Criterion.objects.filter(key="trd-phq9-require").update(value=12)
    criterion = Criterion.objects.get(key="trd-phq9-require")
    criterion.save()  # moves the knowledge base's state
    assert current_rulebook() == published
    rulebook_publish(note="PHQ-9 threshold raised to 12.")
    after = current_rulebook()
    assert next(c for c in after.criteria if c.key == "trd-phq9-require").value == 12


@pytest.mark.parametrize("edit", [
    lambda: Criterion.objects.get(key="all-age-65-plus-caution").conditions.add(Condition.objects.get(slug="trd")),
    lambda: Condition.objects.get(slug="ocd").references.clear(),
    lambda: Criterion.objects.get(key="trd-phq9-require").delete(),
    lambda: Question.objects.filter(code="age").first().save(),
    lambda: Condition.objects.filter(slug="ocd").first().save(),
])
def test_links_deletes_and_saves_move_the_knowledge_base_state(edit):
    before = rulebook_module.knowledge_base_state()
    edit()
    assert rulebook_module.knowledge_base_state() != before


def test_inactive_criteria_and_conditions_are_left_out():
    Criterion.objects.filter(key="trd-phq9-require").update(active=False)
    Condition.objects.filter(slug="ocd").update(active=False)
    rulebook = build_rulebook()
    assert "trd-phq9-require" not in {c.key for c in rulebook.criteria}
    assert "ocd" not in rulebook.condition
    assert not any(c.conditions == {"ocd"} for c in rulebook.criteria)


def test_snapshot_is_stored_once_per_version():
    rulebook = build_rulebook()
    first = snapshot_for(rulebook)
    assert snapshot_for(rulebook).pk == first.pk
    assert first.rulebook() == rulebook


def test_a_changed_minimum_dose_is_a_difference_between_versions():
    from conditions.models import Drug
    from rulebook.publishing import rulebook_differences

    before = build_rulebook()
    Drug.objects.filter(key="sertraline").update(min_daily_dose_mg=100)
    after = build_rulebook()
    assert after.version != before.version
    formulary = next(part for part in rulebook_differences(before, after) if part.name == "formulary")
    assert formulary.changed == [("sertraline", [("min_daily_dose_mg", 50, 100)])]
    first_edition = Rulebook.from_dict({**before.to_dict(), "instruments": [], "formulary": []})
    instruments = next(part for part in rulebook_differences(first_edition, before) if part.name == "instruments")
    assert instruments.added == ["phq9", "gad7", "pcl5"]
