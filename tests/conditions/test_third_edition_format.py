"""The third edition's format (criterion `when` and `basis`, the formulary's
`count` and `partial_response_counts`, retired questions) loads through the
models' validation into the rulebook, and every mistake in it is reported
with its place in the file, loading nothing."""

from pathlib import Path

import pytest
import yaml

from conditions.loader import InvalidKnowledgeBase, knowledge_base_load, read_knowledge_base
from conditions.models import Criterion, FormularySettings, RetiredQuestion
from rulebook.versions import build_rulebook
from rules import engine

pytestmark = pytest.mark.django_db

THIRD_EDITION = Path(__file__).resolve().parent / "files" / "third_edition.yaml"


def content():
    return read_knowledge_base(THIRD_EDITION)


def criterion(data, key):
    return next(item for item in data["criteria"] if item["key"] == key)


def test_it_loads_into_the_models_and_the_rulebook():
    counts = knowledge_base_load(content())
    assert counts["retired questions"]["created"] == 1
    gated = Criterion.objects.get(key="iv-bp-exclude")
    assert (gated.when_question.code, gated.when_operator, gated.when_value) == ("route", "in", ["iv", "oral"])
    assert gated.basis == "label"
    assert Criterion.objects.get(key="breastfeeding-caution").basis == ""
    settings = FormularySettings.objects.get()
    assert (settings.count, settings.partial_response_counts) == ("distinct_drugs", False)
    assert RetiredQuestion.objects.get().maps == [
        {"answer": False, "to": {"pregnant": False, "breastfeeding": False}},
    ]

    rulebook = build_rulebook()
    spec = {c.key: c for c in rulebook.criteria}
    assert spec["iv-bp-exclude"].when == engine.EnableWhen("route", "in", ("iv", "oral"))
    assert spec["oral-cyp3a4-caution"].basis == "local_policy"
    assert spec["breastfeeding-caution"].basis == ""
    assert (rulebook.trial_count, rulebook.partial_response_counts) == ("distinct_drugs", False)
    (retired,) = rulebook.retired_questions
    assert retired.replaced_by == ("pregnant", "breastfeeding")
    assert engine.Rulebook.from_json(rulebook.to_json()) == rulebook


def test_loading_it_twice_changes_nothing():
    knowledge_base_load(content())
    counts = knowledge_base_load(content())
    assert all(group["created"] == group["updated"] == 0 for group in counts.values())


@pytest.mark.parametrize("change, expected", [
    (lambda d: criterion(d, "iv-bp-exclude").update(when={"question": "nope", "operator": "eq", "value": "iv"}),
     "criteria[1].when.question (iv-bp-exclude): there is no question “nope”."),
    (lambda d: criterion(d, "iv-bp-exclude").update(when={"question": "route", "operator": "gt", "value": 3}),
     "criteria[1].when.operator (iv-bp-exclude): “more than” does not fit a one choice question (route)"),
    (lambda d: criterion(d, "iv-bp-exclude").update(when={"question": "route", "operator": "in", "value": ["im"]}),
     "criteria[1].when.value (iv-bp-exclude): “im” is not a choice of route"),
    (lambda d: criterion(d, "iv-bp-exclude").update(when="route is iv"),
     "criteria[1].when (iv-bp-exclude): write {question: <code>, operator: <operator>, value: <value>}"),
    (lambda d: criterion(d, "iv-bp-exclude").update(when={"question": "systolic_bp", "operator": "gt", "value": 1}),
     "criteria[1].when.question (iv-bp-exclude): A criterion cannot depend on its own question"),
    (lambda d: criterion(d, "iv-bp-exclude").update(basis="hearsay"),
     "criteria[1].basis (iv-bp-exclude): Value 'hearsay' is not a valid choice."),
    (lambda d: criterion(d, "iv-bp-exclude").update(references=[]),
     "criteria[1].basis (iv-bp-exclude): A criterion whose basis is “Label (SmPC or prescribing information)” "
     "needs at least one verified reference, but it cites no reference"),
    (lambda d: criterion(d, "pregnant-exclude").update(references=["unchecked-z"]),
     "criteria[3].basis (pregnant-exclude): A criterion whose basis is “Consensus” needs at least one verified "
     "reference, but none of its references (unchecked-z) is marked verified"),
    (lambda d: d["formulary"].update(count="drugs"),
     "formulary.count: Value 'drugs' is not a valid choice."),
    (lambda d: d["formulary"].update(partial_response_counts="sometimes"),
     "formulary.partial_response_counts: “sometimes” value must be either True or False."),
    (lambda d: d["retired_questions"][0].update(code="pregnant"),
     "retired_questions[0].code (pregnant): pregnant is a question of this edition"),
    (lambda d: d["retired_questions"][0]["maps"][0]["to"].update(pregnantt=False),
     "retired_questions[0].maps (pregnant_or_breastfeeding): Mapping 1: there is no question “pregnantt”."),
    (lambda d: d["retired_questions"][0]["maps"][0]["to"].update(pregnant="no"),
     "retired_questions[0].maps (pregnant_or_breastfeeding): Mapping 1: pregnant: answer true or false."),
    (lambda d: d["retired_questions"][0]["maps"].append({"answer": False, "to": {"pregnant": True}}),
     "retired_questions[0].maps (pregnant_or_breastfeeding): Mapping 2: the answer False is mapped twice."),
    (lambda d: d.update(retired_questions={"code": "x"}),
     "retired_questions: write a list of items"),
])
def test_each_mistake_is_reported_with_its_place_and_nothing_loads(change, expected):
    data = content()
    change(data)
    with pytest.raises(InvalidKnowledgeBase) as raised:
        knowledge_base_load(data)
    assert any(problem.startswith(expected) for problem in raised.value.problems), raised.value.problems
    assert not Criterion.objects.exists()


def test_the_file_is_plain_yaml_a_lead_can_read():
    # The example in docs/knowledge-base.md reads the same as the test file.
    data = yaml.safe_load(THIRD_EDITION.read_text(encoding="utf-8"))
    assert data["retired_questions"][0]["maps"][0] == {
        "answer": False, "to": {"pregnant": False, "breastfeeding": False},
    }
