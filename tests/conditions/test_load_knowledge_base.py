"""`load_knowledge_base`: the shipped content loads exactly; a broken file loads nothing."""

import io
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError

from conditions.loader import DEFAULT_FILE
from conditions.models import (
    Condition,
    Criterion,
    Drug,
    FormularySettings,
    Instrument,
    Question,
    Reference,
    Section,
)

pytestmark = pytest.mark.django_db

MODELS = [Section, Reference, Condition, Question, Criterion, Instrument, Drug, FormularySettings]
# What the shipped file holds (third edition, issue 24).
SHIPPED = yaml.safe_load(DEFAULT_FILE.read_text(encoding="utf-8"))
SHIPPED_CRITERIA = len(SHIPPED["criteria"])
SHIPPED_CASES = len(SHIPPED["cases"])
SHIPPED_ROWS = sum(len(SHIPPED[group]) for group in (
    "sections", "references", "conditions", "questions", "criteria", "cases")) + len(SHIPPED["instruments"]) + len(
    SHIPPED["formulary"]["drugs"]) + 1 + len(  # the formulary's settings
    SHIPPED["retired_questions"])  # third edition (issue 24): pregnant_or_breastfeeding


def load(path=None):
    """Run the command; returns (stdout, stderr, the CommandError or None)."""
    out, err = io.StringIO(), io.StringIO()
    args = [str(path)] if path else []
    try:
        call_command("load_knowledge_base", *args, stdout=out, stderr=err)
    except CommandError as error:
        return out.getvalue(), err.getvalue(), error
    return out.getvalue(), err.getvalue(), None


def row_counts():
    return {model.__name__: model.objects.count() for model in MODELS}


def default_content():
    return yaml.safe_load(DEFAULT_FILE.read_text(encoding="utf-8"))


def at(group, key, content=None):
    """The position of an item in the shipped file, by its key: positions move
    whenever the knowledge base gains an item, keys do not."""
    content = content or default_content()
    name = {"questions": "code", "conditions": "slug"}.get(group, "key")
    return next(i for i, item in enumerate(content[group]) if isinstance(item, dict) and item[name] == key)


AGE, EPISODE, SUICIDAL = (at("questions", code) for code in ("age", "mood_episode", "suicidal_ideation"))


def write(tmp_path, content):
    path = tmp_path / "knowledge.yaml"
    path.write_text(yaml.safe_dump(content, allow_unicode=True), encoding="utf-8")
    return path


def test_default_file_is_inside_the_project():
    assert DEFAULT_FILE == Path(__file__).resolve().parents[2] / "conditions" / "knowledge" / "default.yaml"


def test_shipped_knowledge_base_loads_exactly(knowledge_base):
    # Second edition (issue 18): a treatment-route section; new questions (route,
    # label warnings, KARE eligibility), rules, duties and references.
    assert row_counts() == {
        "Section": 11, "Reference": len(SHIPPED["references"]), "Condition": 8,
        "Question": len(SHIPPED["questions"]), "Criterion": SHIPPED_CRITERIA,
        "Instrument": 3, "Drug": len(SHIPPED["formulary"]["drugs"]), "FormularySettings": 1,
    }


def test_every_shipped_criterion_states_its_basis(knowledge_base):
    """Third edition (issue 24): a clinician sees at a glance which advice is a label's, a
    guideline's, a trial's, a consensus's or the clinic's own."""
    assert [criterion.key for criterion in Criterion.objects.all() if not criterion.basis] == []


def test_every_basis_but_local_policy_rests_on_a_verified_reference(knowledge_base):
    unsupported = [
        criterion.key for criterion in Criterion.objects.prefetch_related("references")
        if criterion.basis != "local_policy"
        and not any(reference.verified for reference in criterion.references.all())
    ]
    assert unsupported == []


def test_the_basis_says_local_policy_so_the_messages_do_not(knowledge_base):
    assert [c.key for c in Criterion.objects.all() if "local policy" in c.message.lower()] == []


def test_no_shipped_criterion_rests_on_an_unverified_reference_alone(knowledge_base):
    alone = [
        criterion.key for criterion in Criterion.objects.prefetch_related("references")
        if criterion.references.exists() and not any(r.verified for r in criterion.references.all())
    ]
    assert alone == []


def test_the_unverified_references_load_marked_for_review(knowledge_base):
    unverified = Reference.objects.filter(verified=False).values_list("key", flat=True)
    # Third edition (issue 24): the McMaster dose table is cited as the textbook's table, whose
    # content was read at its address, and is verified.
    assert sorted(unverified) == ["rasmussen-2024", "sicignano-2024", "uspi-desvenlafaxine"]


def test_file_fields_map_onto_the_models(knowledge_base):
    trials = Question.objects.get(code="failed_antidepressant_trials")
    assert trials.help_text.startswith("Worked out from the trials table")
    assert (trials.min_value, trials.max_value) == (0, 30)
    assert trials.calculation == "adequate_failed_trials"
    assert [q.code for q in trials.inputs.all()] == ["antidepressant_trials"]
    age = Question.objects.get(code="age")
    assert (age.unit, age.section.key) == ("years", "patient")
    episode = Question.objects.get(code="mood_episode")
    assert episode.enable_when_question.code == "bipolar_history"
    assert (episode.enable_when_operator, episode.enable_when_value) == ("is_true", None)
    assert [c["value"] for c in episode.choices] == ["depressed", "hypomanic", "manic", "mixed", "euthymic"]
    alert = Criterion.objects.get(key="all-suicidal-ideation-alert")
    assert (alert.operator, alert.value, alert.effect) == ("in", ["active_no_plan", "active_plan"], "alert")
    assert list(alert.conditions.all()) == []
    # second edition: the alert also cites the esketamine label's boxed warning
    assert sorted(r.key for r in alert.references.all()) == ["sanacora-2017", "spravato-pi"]
    sud = Criterion.objects.get(key="sud-psychotherapy-require")
    assert sorted(c.slug for c in sud.conditions.all()) == [
        "alcohol-use-disorder", "other-substance-use-disorder",
    ]
    assert Reference.objects.get(key="feder-2014").pmid == "24740528"


def test_order_follows_the_file(knowledge_base):
    # second edition: the treatment route comes first (issue 18)
    assert list(Section.objects.values_list("key", "order")[:3]) == [
        ("treatment", 0), ("patient", 10), ("safety", 20),
    ]
    assert list(Condition.objects.values_list("slug", flat=True)[:2]) == ["trd", "ptsd"]
    assert Condition.objects.get(slug="ptsd").order == 10
    bipolar = Question.objects.filter(section__key="bipolar").values_list("code", "order")
    assert list(bipolar) == [
        ("mood_episode", 0), ("on_mood_stabiliser", 10), ("failed_bipolar_treatments", 20),
    ]
    assert Criterion.objects.get(key="trd-phq9-require").order == at("criteria", "trd-phq9-require") * 10


def test_command_reports_what_it_created():
    out, _, error = load()
    assert error is None
    assert f"Criteria: {SHIPPED_CRITERIA} created, 0 updated, 0 unchanged." in out
    assert "Instruments: 3 created, 0 updated, 0 unchanged." in out
    assert f"Drugs: {len(SHIPPED['formulary']['drugs'])} created, 0 updated, 0 unchanged." in out
    assert "Formulary settings: 1 created, 0 updated, 0 unchanged." in out
    assert f"Cases: {SHIPPED_CASES} created, 0 updated, 0 unchanged." in out
    assert f"{SHIPPED_ROWS} created, 0 updated, 0 unchanged." in out
    assert "Published version 1" in out


def test_loading_twice_changes_nothing_and_writes_no_history(knowledge_base):
    rows_before = row_counts()
    history_before = {model.__name__: model.history.count() for model in MODELS}
    out, _, error = load()
    assert error is None
    assert f"0 created, 0 updated, {SHIPPED_ROWS} unchanged." in out
    assert "Published" not in out  # nothing new to publish
    assert row_counts() == rows_before
    assert {model.__name__: model.history.count() for model in MODELS} == history_before


def test_changed_item_is_updated_in_place_with_a_history_reason(knowledge_base, tmp_path):
    content = default_content()
    content["criteria"][at("criteria", "trd-phq9-require")]["value"] = 12
    content["conditions"][0]["references"].remove("muscat-2021")
    out, _, error = load(write(tmp_path, content))
    assert error is None
    assert f"Criteria: 0 created, 1 updated, {SHIPPED_CRITERIA - 1} unchanged." in out
    assert "Conditions: 0 created, 1 updated, 7 unchanged." in out
    phq9 = Criterion.objects.get(key="trd-phq9-require")
    assert phq9.value == 12
    assert phq9.history.first().history_change_reason == "Loaded from knowledge.yaml"
    assert "muscat-2021" not in Condition.objects.get(slug="trd").references.values_list("key", flat=True)


def test_rows_missing_from_the_file_are_left_alone(knowledge_base, tmp_path):
    content = default_content()
    content["criteria"] = content["criteria"][:10]
    _, _, error = load(write(tmp_path, content))
    assert error is None
    assert Criterion.objects.count() == SHIPPED_CRITERIA


def broken_content():
    """The default content with four independent mistakes."""
    content = default_content()
    content["criteria"][at("criteria", "trd-phq9-require")]["question"] = "phq_nine_total"
    content["criteria"][at("criteria", "trd-two-failed-trials-require")]["operator"] = "any_of"
    content["criteria"][at("criteria", "all-suicidal-ideation-alert")]["value"] = ["active_no_plan", "active_with_means"]
    for question in content["questions"]:
        if question["code"] == "bipolar_history":
            question["enable_when"] = {"question": "mood_episode", "operator": "eq", "value": "manic"}
    return content


def test_broken_file_loads_nothing_and_reports_every_problem(tmp_path):
    out, err, error = load(write(tmp_path, broken_content()))
    assert error is not None
    assert "nothing was loaded" in str(error)
    assert row_counts() == {model.__name__: 0 for model in MODELS}
    problems = err.splitlines()
    phq9, trials, alert = (at("criteria", key) for key in (
        "trd-phq9-require", "trd-two-failed-trials-require", "all-suicidal-ideation-alert"))
    assert f"criteria[{phq9}].question (trd-phq9-require): there is no question “phq_nine_total”." in problems
    assert (
        f"criteria[{trials}].operator (trd-two-failed-trials-require): “includes any of” does not fit a whole "
        "number question (failed_antidepressant_trials); use “is”, “is not”, “less than”, “at most”, "
        "“more than” or “at least”."
    ) in problems
    assert (
        f"criteria[{alert}].value (all-suicidal-ideation-alert): “active_with_means” is not a choice "
        "of suicidal_ideation; its choices are: none, passive, active_no_plan, active_plan."
    ) in problems
    assert (
        f"questions[{at('questions', 'bipolar_history')}].enable_when.question (bipolar_history): This makes a cycle: "
        "bipolar_history → mood_episode → bipolar_history. "
        "Pick a question that does not depend on bipolar_history."
    ) in problems
    assert f"{len(problems)} problem(s)" in str(error)


def test_broken_file_leaves_a_loaded_knowledge_base_untouched(knowledge_base, tmp_path):
    content = broken_content()
    content["conditions"][0]["name"] = "Renamed"
    _, _, error = load(write(tmp_path, content))
    assert error is not None
    assert Condition.objects.get(slug="trd").name == "Treatment-resistant depression"
    assert Criterion.objects.get(key="trd-phq9-require").question.code == "phq9_total"


@pytest.mark.parametrize("change, expected", [
    (lambda c: c["conditions"][1]["references"].append("nobody-2020"),
     "conditions[1].references (ptsd): there is no reference “nobody-2020”."),
    (lambda c: c["criteria"][0]["conditions"].append("insomnia"),
     "criteria[0].conditions (all-age-under-18-exclude): there is no condition “insomnia”."),
    (lambda c: c["questions"][AGE].update(section="vitals"),
     f"questions[{AGE}].section (age): there is no section “vitals”."),
    (lambda c: c["questions"][EPISODE]["enable_when"].update(question="bipolar"),
     f"questions[{EPISODE}].enable_when.question (mood_episode): there is no question “bipolar”."),
    (lambda c: c["questions"][AGE].update(min=150),
     f"questions[{AGE}].max (age): The maximum (120) is below the minimum (150)."),
    (lambda c: c["questions"][SUICIDAL].update(choices=[]),
     f"questions[{SUICIDAL}].choices (suicidal_ideation): A choice question needs its choices"),
    (lambda c: c["questions"][AGE + 1].update(code="age"),
     f"questions[{AGE + 1}].code (age): “age” is already used by questions[{AGE}] (age)."),
    (lambda c: c["criteria"][0].update(severity="high"),
     "criteria[0].severity (all-age-under-18-exclude): “severity” is not a field here"),
    (lambda c: c["criteria"][0].update(references="spravato-pi"),
     "criteria[0].references (all-age-under-18-exclude): write a list of keys"),
    (lambda c: c["references"][0].update(pmid="PMID 24740528"),
     "references[0].pmid (feder-2014): A PMID is digits only, e.g. 24740528."),
    (lambda c: c["sections"].append("vitals"),
     f"sections[{len(default_content()['sections'])}]: write a mapping of fields (key, title)."),
    (lambda c: c.update(rules=[]),
     "rules: not a part of a knowledge base file"),
])
def test_each_kind_of_mistake_is_reported_with_its_place(tmp_path, change, expected):
    content = default_content()
    change(content)
    _, err, error = load(write(tmp_path, content))
    assert error is not None
    assert expected in err
    assert Criterion.objects.count() == 0


def test_file_may_not_remove_a_choice_a_stored_criterion_still_uses(knowledge_base, tmp_path):
    Criterion.objects.create(
        key="local-passive-caution", question=Question.objects.get(code="suicidal_ideation"),
        operator="eq", value="passive", effect="caution", message="Local rule.",
    )
    content = default_content()
    content["questions"][SUICIDAL]["choices"] = [
        choice for choice in content["questions"][SUICIDAL]["choices"] if choice["value"] != "passive"
    ]
    # the shipped file's own passive-thoughts caution (second edition) goes with the choice
    content["criteria"] = [c for c in content["criteria"] if c["key"] != "all-passive-suicidal-thoughts-caution"]
    _, err, error = load(write(tmp_path, content))
    assert error is not None
    assert (
        f"questions[{SUICIDAL}] (suicidal_ideation): criterion local-passive-caution in the database "
        "reads this question and would no longer fit: “passive” is not a choice"
    ) in err


def test_missing_file_is_a_one_line_error(tmp_path):
    _, _, error = load(tmp_path / "absent.yaml")
    assert str(error) == f"No file at {tmp_path / 'absent.yaml'}."


def test_yaml_syntax_error_is_a_one_line_error(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("sections:\n  - {key: patient, title: Patient\n", encoding="utf-8")
    _, _, error = load(path)
    assert str(error).startswith(f"{path} is not valid YAML at line 3, column 1:")
    assert "\n" not in str(error)


def test_if_empty_never_overwrites_edits_made_in_the_admin(db):
    call_command("load_knowledge_base", "--if-empty", verbosity=0)
    assert Criterion.objects.count() == SHIPPED_CRITERIA
    Criterion.objects.filter(key="trd-phq9-require").update(value=12)
    out = io.StringIO()
    call_command("load_knowledge_base", "--if-empty", stdout=out)
    assert "already loaded" in out.getvalue()
    assert Criterion.objects.get(key="trd-phq9-require").value == 12
