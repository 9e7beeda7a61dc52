"""Calculated questions, instruments and the formulary: the models refuse
what the engine could not use, and the loader reads them from a file."""

import copy
import io

import pytest
import yaml
from django.core.exceptions import ValidationError
from django.core.management import call_command

from conditions.loader import InvalidKnowledgeBase, knowledge_base_load
from conditions.models import Drug, FormularySettings, Instrument, Question, Section
from rulebook.versions import build_rulebook
from tests.conditions.test_first_edition_snapshot import FIRST_EDITION

pytestmark = pytest.mark.django_db

OPTIONS = [{"score": 0, "label": "Not at all"}, {"score": 1, "label": "Some days"}, {"score": 2, "label": "Most days"}]
BANDS = [{"min": 0, "max": 2, "label": "Mild"}, {"min": 3, "max": 4, "label": "Severe"}]


@pytest.fixture
def section():
    return Section.objects.create(key="mood", title="Mood")


@pytest.fixture
def items(section):
    return [
        Question.objects.create(code=f"mood_{n}", text=f"Item {n}", kind="integer", min_value=0, max_value=2,
                                section=section, order=n)
        for n in (1, 2)
    ]


@pytest.fixture
def total(section, items):
    question = Question.objects.create(
        code="mood_total", text="Mood total", kind="integer", min_value=0, max_value=4, section=section,
        order=9, calculation="sum",
    )
    question.inputs.set(items)
    return question


def refusal(instance):
    with pytest.raises(ValidationError) as caught:
        instance.full_clean()
    return caught.value.message_dict


def planned(question, inputs, **changes):
    for name, value in changes.items():
        setattr(question, name, value)
    question._planned_inputs = inputs
    return question


# --- calculated questions -----------------------------------------------------


def test_a_sum_of_whole_number_items_is_accepted(total, items):
    total.full_clean()
    assert [q.code for q in total.inputs.all()] == ["mood_1", "mood_2"]


def test_a_sums_inputs_must_be_whole_number_questions(total, items, section):
    yes_no = Question.objects.create(code="sad", text="Sad", kind="boolean", section=section)
    assert refusal(planned(total, [*items, yes_no])) == {"inputs": [
        "sad is a yes / no question; sum of its items (whole-number questions) needs whole number questions."
    ]}


def test_a_calculated_question_cannot_be_its_own_input(total, items):
    assert refusal(planned(total, [*items, total])) == {
        "inputs": ["A calculated question cannot be its own input."]
    }


def test_a_calculated_question_is_a_whole_number_with_inputs(total, items):
    assert refusal(planned(total, items, kind="decimal")) == {
        "kind": ["A calculated question is a whole number: choose “Whole number”."]
    }
    assert refusal(planned(total, [], kind="integer")) == {
        "inputs": ["Choose the questions it is worked out from."]
    }


def test_only_a_calculated_question_has_inputs(total, items):
    assert refusal(planned(total, items, calculation="")) == {"inputs": [
        "Only a calculated question has inputs: choose a calculation, or remove the inputs."
    ]}


def test_an_input_cannot_become_another_kind_under_its_total(total, items):
    item = items[0]
    item.kind, item.min_value, item.max_value = "boolean", None, None
    assert refusal(item) == {"kind": [
        "mood_total is worked out from this question and needs it to be a whole number question; "
        "remove it from mood_total's inputs first."
    ]}


def test_adequate_failed_trials_are_worked_out_from_a_trials_question(section, items):
    trials = Question.objects.create(code="trials", text="Trials", kind="trials", section=section)
    count = Question(code="failed", text="Failed", kind="integer", min_value=0, max_value=30, section=section,
                     calculation="adequate_failed_trials")
    planned(count, [trials]).full_clean()
    assert refusal(planned(count, [items[0]])) == {"inputs": [
        "mood_1 is a whole number question; adequate failed trials (from a trials question) needs "
        "antidepressant trials questions."
    ]}


def test_a_trials_question_is_answered_not_calculated(section):
    trials = Question(code="trials", text="Trials", kind="trials", section=section, calculation="sum")
    assert "A trials question is answered, not calculated." in refusal(trials)["calculation"]


# --- instruments ----------------------------------------------------------------


def instrument(total, **changes):
    return Instrument(**{"code": "mood", "name": "Mood scale", "total": total, "options": OPTIONS,
                         "bands": BANDS, **changes})


def test_an_instrument_whose_bands_cover_every_total_is_accepted(total):
    instrument(total).full_clean()


@pytest.mark.parametrize("bands, message", [
    ([{"min": 0, "max": 2, "label": "Mild"}, {"min": 2, "max": 4, "label": "Severe"}],
     "The band “Severe” overlaps the band before it; start it at 3."),
    ([{"min": 0, "max": 1, "label": "Mild"}, {"min": 3, "max": 4, "label": "Severe"}],
     "No band covers 2; start “Severe” at 2."),
    ([{"min": 1, "max": 4, "label": "All"}], "No band covers 0; start “All” at 0."),
    ([{"min": 0, "max": 3, "label": "All"}],
     "The bands end at 3, but the highest total is 4; the last band should end at 4."),
    ([{"min": 0, "max": 2, "label": "Mild"}, {"min": 3, "max": 5, "label": "Severe"}],
     "The bands end at 5, but the highest total is 4; the last band should end at 4."),
    ([{"min": 0, "max": 4}], "Each band needs a whole-number min and max and a label; check {'min': 0, 'max': 4}."),
    ([{"min": 4, "max": 0, "label": "Odd"}], "The band “Odd” ends (0) before it starts (4)."),
    ([], "List the severity bands, e.g. " + '[{"min": 0, "max": 4, "label": "Minimal"}, '
                                           '{"min": 5, "max": 9, "label": "Mild"}].'),
])
def test_bands_must_cover_every_total_without_overlapping(total, bands, message):
    assert refusal(instrument(total, bands=bands)) == {"bands": [message]}


@pytest.mark.parametrize("options, message", [
    ([{"score": 1, "label": "Some"}, {"score": 0, "label": "None"}],
     "The scores run 0, 1, 2 … one per option, lowest first; these are 1, 0."),
    ([{"score": "0", "label": "None"}],
     "Each option needs a whole-number score and a label; check {'score': '0', 'label': 'None'}."),
    (OPTIONS[:2], "Item mood_1 is scored from 0 to 2, but the options go from 0 to 1: make them agree."),
])
def test_options_are_scored_from_zero_as_the_items_are(total, options, message):
    assert refusal(instrument(total, options=options))["options"] == [message]


def test_an_instruments_total_must_be_a_sum(section, items):
    plain = Question.objects.create(code="typed", text="Typed total", kind="integer", section=section)
    assert refusal(instrument(plain))["total"] == [
        "typed is not a sum: make it a calculated question (“Sum of its items”) whose inputs are the "
        "instrument's items."
    ]


# --- the formulary ----------------------------------------------------------------


def test_a_drug_that_counts_needs_a_positive_minimum_dose():
    assert refusal(Drug(key="sertraline", name="Sertraline", drug_class="ssri")) == {"min_daily_dose_mg": [
        "A drug that counts as a trial needs its minimum adequate daily dose, with its source."
    ]}
    assert refusal(Drug(key="sertraline", name="Sertraline", drug_class="ssri", min_daily_dose_mg=0)) == {
        "min_daily_dose_mg": ["The minimum daily dose is more than 0 mg."]
    }
    Drug(key="lithium", name="Lithium", drug_class="augmentation", counts_as_trial=False).full_clean()


def test_the_formulary_settings_are_one_row():
    FormularySettings(min_trial_weeks=4).save()
    FormularySettings(min_trial_weeks=6).save()
    assert list(FormularySettings.objects.values_list("pk", "min_trial_weeks")) == [(1, 6)]


# --- the loader -------------------------------------------------------------------


def first_edition():
    return yaml.safe_load(FIRST_EDITION.read_text(encoding="utf-8"))


def with_phq(content, **instrument_changes):
    """The first-edition file with a two-item instrument and a formulary."""
    content.pop("cases")  # its PHQ-9 total of 15 is beyond this two-item total
    content["questions"][-1:] = [
        {"code": "phq_1", "section": "depression", "kind": "integer", "min": 0, "max": 2, "text": "Item 1"},
        {"code": "phq_2", "section": "depression", "kind": "integer", "min": 0, "max": 2, "text": "Item 2"},
        {"code": "phq9_total", "section": "depression", "kind": "integer", "min": 0, "max": 4,
         "text": "PHQ total", "calculation": "sum", "inputs": ["phq_1", "phq_2"]},
    ]
    content["instruments"] = [{
        "code": "phq", "name": "PHQ", "total": "phq9_total", "items": ["phq_1", "phq_2"],
        "options": copy.deepcopy(OPTIONS), "bands": copy.deepcopy(BANDS), "references": ["kroenke-2001"], "licence": "Free to use.", **instrument_changes,
    }]
    content["formulary"] = {"min_trial_weeks": 6, "references": ["sforzini-2022"], "drugs": [
        {"key": "sertraline", "name": "Sertraline", "class": "ssri", "min_daily_dose_mg": 50,
         "references": ["kroenke-2001"]},
        {"key": "lithium", "name": "Lithium", "class": "augmentation", "counts_as_trial": False},
    ]}
    return content


def test_a_file_with_instruments_and_a_formulary_builds_them_into_the_rulebook():
    counts = knowledge_base_load(with_phq(first_edition()))
    assert (counts["instruments"]["created"], counts["drugs"]["created"], counts["formulary settings"]["created"]) \
        == (1, 2, 1)
    rulebook = build_rulebook()
    (phq,) = rulebook.instruments
    assert (phq.total, phq.items, phq.references, phq.licence) == (
        "phq9_total", ("phq_1", "phq_2"), ("kroenke-2001",), "Free to use.")
    assert [b.label for b in phq.bands] == ["Mild", "Severe"]
    assert rulebook.question["phq9_total"].calculation == "sum"
    assert rulebook.question["phq9_total"].inputs == ("phq_1", "phq_2")
    assert [(d.key, d.min_daily_dose_mg, d.counts_as_trial) for d in rulebook.formulary] == [
        ("sertraline", 50, True), ("lithium", None, False)]
    assert (rulebook.min_trial_weeks, rulebook.trial_references) == (6, ("sforzini-2022",))
    # loading again writes nothing
    again = knowledge_base_load(with_phq(first_edition()))
    assert all(count["created"] == count["updated"] == 0 for count in again.values())


@pytest.mark.parametrize("change, problem", [
    (lambda c: c["instruments"][0].update(items=["phq_1"]),
     "instruments[0].items (phq): the items must be the inputs of its total phq9_total (phq_1, phq_2); "
     "write the same questions under phq9_total's inputs."),
    (lambda c: c["instruments"][0].update(total="nowhere"), "instruments[0].total (phq): there is no question “nowhere”."),
    (lambda c: c["questions"][-1].update(inputs=["phq_1", "phq_3"]),
     "questions[8].inputs (phq9_total): there is no question “phq_3”."),
    (lambda c: c["questions"][-1].update(inputs=["phq_1", "age"]) or c["instruments"].clear(),
     None),
    (lambda c: c["formulary"]["drugs"][0].update(references=["bnf"]),
     "formulary.drugs[0].references (sertraline): there is no reference “bnf”."),
    (lambda c: c["formulary"]["drugs"][0].pop("min_daily_dose_mg"),
     "formulary.drugs[0].min_daily_dose_mg (sertraline): A drug that counts as a trial needs its minimum "
     "adequate daily dose, with its source."),
    (lambda c: c["formulary"].update(weeks=4),
     "formulary.weeks: “weeks” is not a field here; the fields are min_trial_weeks, count, partial_response_counts, references, drugs."),
    (lambda c: c["instruments"][0]["bands"].pop(),
     "instruments[0].bands (phq): The bands end at 2, but the highest total is 4; the last band should end at 4."),
])
def test_a_broken_instrument_or_formulary_is_refused_with_its_place(change, problem):
    content = with_phq(first_edition())
    change(content)
    if problem is None:  # an input that is a whole number question, like age, is accepted
        knowledge_base_load(content)
        return
    with pytest.raises(InvalidKnowledgeBase) as caught:
        knowledge_base_load(content)
    assert problem in caught.value.problems
    assert not Drug.objects.exists()


def test_the_command_reports_instruments_drugs_and_settings(tmp_path):
    path = tmp_path / "kb.yaml"
    path.write_text(yaml.safe_dump(with_phq(first_edition()), allow_unicode=True), encoding="utf-8")
    out = io.StringIO()
    call_command("load_knowledge_base", str(path), "--draft", stdout=out)
    assert "Instruments: 1 created, 0 updated, 0 unchanged." in out.getvalue()
    assert "Drugs: 2 created, 0 updated, 0 unchanged." in out.getvalue()
    assert "Formulary settings: 1 created, 0 updated, 0 unchanged." in out.getvalue()


def test_an_items_range_stays_that_of_its_instruments_options(total, items):
    instrument(total).save()
    item = items[0]
    item.max_value = 3
    assert refusal(item) == {"max_value": [
        "This question is an item of mood, whose options score 0 to 2: keep its minimum at 0 and its maximum "
        "at 2, or change the options first."
    ]}
